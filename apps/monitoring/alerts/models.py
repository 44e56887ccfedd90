"""Alarm policies (TKEStack's ``AlarmPolicy``), the records their evaluation opens, silences,
the notices sent, and each cluster's Alertmanager webhook.

Resource paths (authz): a cluster or node policy is ``cluster:<c>/alarmpolicy:<name>``, a
workload or pod policy ``cluster:<c>/namespace:<ns>/alarmpolicy:<name>`` (decided in the
project owning the namespace); a record ``<policy path>/alarmrecord:<id>`` (a record from
Alertmanager that matched no policy: ``cluster:<c>/alarmrecord:<id>``); a silence
``<policy path>/alarmsilence:<id>``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Case, Q, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import TenantScopedModel
from apps.core.paths import path_expression

from .choices import (
    NAMESPACED_TYPES,
    Evaluator,
    NoticeKind,
    ObjectsType,
    PolicyType,
    RecordSource,
    RecordState,
    WorkloadKind,
)

policy_name_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
    _("Use letters, digits, '.', '_' and '-', starting with a letter or digit."),
)


def _project_namespace(related_name="+"):
    """The ProjectNamespace owning (cluster, namespace), joined on both columns (no column of
    its own): the project domain a namespaced policy is decided in, for ``restrict``."""
    return models.ForeignObject(
        "projects.ProjectNamespace",
        on_delete=models.DO_NOTHING,
        from_fields=["cluster", "namespace"],
        to_fields=["cluster", "namespace"],
        related_name=related_name,
        null=True,
    )


class AlarmPolicy(TenantScopedModel):
    """An alarm policy on one cluster: which objects (the cluster, nodes, workloads or pods of a
    namespace), which metrics with which conditions, and whom to notify how. Evaluated every
    ``statistics_period`` seconds; each (metric, object) whose condition holds for
    ``continue_periods`` periods in a row fires."""

    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.CASCADE, related_name="alarm_policies"
    )
    name = models.CharField(max_length=60, validators=[policy_name_validator])
    type = models.CharField(max_length=16, choices=PolicyType.choices)
    namespace = models.CharField(max_length=63, blank=True)
    workload_kind = models.CharField(max_length=16, choices=WorkloadKind.choices, blank=True)
    objects_type = models.CharField(
        max_length=8, choices=ObjectsType.choices, default=ObjectsType.ALL
    )
    # TKEStack's ``AlarmObjects`` (``objects`` in the API; ``objects`` is the manager here).
    object_names = models.JSONField(
        default=list,
        blank=True,
        help_text="Names of the nodes, workloads or pods watched when objects_type is part.",
    )
    statistics_period = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(60), MaxValueValidator(300)],
        help_text="Seconds each evaluation averages over (60–300).",
    )
    receivers = models.JSONField(default=list, blank=True)
    receiver_groups = models.JSONField(default=list, blank=True)
    notify_ways = models.JSONField(
        default=list, blank=True, help_text='[{"channel": "<name>", "template": "<name>"}]'
    )
    repeat_interval = models.PositiveIntegerField(
        default=3600,
        validators=[MinValueValidator(60)],
        help_text="Seconds between notices while a record keeps firing.",
    )
    enabled = models.BooleanField(default=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True, db_index=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    project_namespace = _project_namespace()

    class Meta:
        ordering = ["cluster_id", "name"]
        verbose_name_plural = "alarm policies"
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "name"], name="monitoring_alarmpolicy_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name

    authz_project_field = "project_namespace__project__name"

    @property
    def namespaced(self) -> bool:
        return self.type in NAMESPACED_TYPES

    @property
    def authz_resource(self) -> str:
        cluster = self.cluster.name
        if self.namespaced:
            return f"cluster:{cluster}/namespace:{self.namespace}/alarmpolicy:{self.name}"
        return f"cluster:{cluster}/alarmpolicy:{self.name}"

    @staticmethod
    def authz_path_expression(prefix: str = ""):
        return _policy_path(prefix)


def _policy_path(prefix: str, *tail: str):
    """The policy path expression (fields under ``prefix``), followed by ``tail``."""
    p = prefix
    return Case(
        When(
            **{f"{p}namespace": ""},
            then=path_expression(
                "cluster:", f"{p}cluster__name", "/alarmpolicy:", f"{p}name", *tail
            ),
        ),
        default=path_expression(
            "cluster:",
            f"{p}cluster__name",
            "/namespace:",
            f"{p}namespace",
            "/alarmpolicy:",
            f"{p}name",
            *tail,
        ),
    )


class AlarmMetric(models.Model):
    """One condition of a policy (TKEStack ``AlarmMetric``): the period average of ``metric``
    compared with ``threshold`` by ``evaluator``, for ``continue_periods`` periods."""

    policy = models.ForeignKey(AlarmPolicy, on_delete=models.CASCADE, related_name="metrics")
    metric = models.CharField(
        max_length=96, help_text="The catalogue's full name, e.g. k8s_pod_cpu_core_used."
    )
    evaluator = models.CharField(max_length=2, choices=Evaluator.choices)
    threshold = models.FloatField()
    continue_periods = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    unit = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["policy_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "metric", "evaluator", "threshold"],
                name="monitoring_alarmmetric_unique_condition",
            )
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.get_evaluator_display()} {self.threshold:g}"


class AlarmRecord(TenantScopedModel):
    """One alarm of one (policy, metric, object): pending while the condition has held fewer
    than ``continue_periods`` periods, firing after, resolved when it stopped. At most one
    record per (policy, metric, object) is open (pending or firing) at a time — a partial
    unique index; a record from a cluster's Alertmanager is deduplicated by its fingerprint."""

    cluster = models.ForeignKey("clusters.Cluster", on_delete=models.CASCADE, related_name="+")
    policy = models.ForeignKey(
        AlarmPolicy, on_delete=models.CASCADE, null=True, blank=True, related_name="records"
    )
    # A removed condition leaves its records as history (its open ones are closed first).
    metric = models.ForeignKey(
        AlarmMetric, on_delete=models.SET_NULL, null=True, blank=True, related_name="records"
    )
    source = models.CharField(
        max_length=16, choices=RecordSource.choices, default=RecordSource.EVALUATION
    )
    metric_name = models.CharField(max_length=128, blank=True)
    object_key = models.CharField(
        max_length=512, blank=True, help_text="The object in the catalogue's key form."
    )
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    fingerprint = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=16, choices=RecordState.choices, db_index=True)
    value = models.FloatField(null=True, blank=True, help_text="The last evaluated value.")
    evaluator = models.CharField(max_length=2, choices=Evaluator.choices, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    unit = models.CharField(max_length=16, blank=True)
    history = models.JSONField(
        default=list, blank=True, help_text="The latest evaluations: [[time, value], …]."
    )
    periods_held = models.PositiveIntegerField(default=0)
    evaluations = models.PositiveIntegerField(
        default=0, help_text="Bumped by every change: concurrent evaluators never both win."
    )
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    fired_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    last_notified_at = models.DateTimeField(null=True, blank=True)
    notify_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["cluster", "state"], name="monitoring_record_open")]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "metric", "object_key"],
                condition=Q(state__in=["pending", "firing"]),
                name="monitoring_alarmrecord_one_open",
            ),
            models.UniqueConstraint(
                fields=["cluster", "fingerprint"],
                condition=Q(state__in=["pending", "firing"]) & ~Q(fingerprint=""),
                name="monitoring_alarmrecord_one_open_fingerprint",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric_name} {self.object_key or '(cluster)'} {self.state}"

    authz_project_field = "policy__project_namespace__project__name"

    @property
    def authz_resource(self) -> str:
        if self.policy_id is None:
            return f"cluster:{self.cluster.name}/alarmrecord:{self.pk}"
        return f"{self.policy.authz_resource}/alarmrecord:{self.pk}"

    @staticmethod
    def authz_path_expression():
        return Case(
            When(
                policy__isnull=True,
                then=path_expression("cluster:", "cluster__name", "/alarmrecord:", "id"),
            ),
            default=_policy_path("policy__", "/alarmrecord:", "id"),
        )


class AlarmSilence(TenantScopedModel):
    """While it lasts (``starts_at`` ≤ now < ``ends_at``), records of the policy — of one
    object and one metric when named — still change state but send no notice."""

    policy = models.ForeignKey(AlarmPolicy, on_delete=models.CASCADE, related_name="silences")
    object_key = models.CharField(max_length=512, blank=True)
    metric = models.CharField(max_length=128, blank=True)
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(db_index=True)
    comment = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at", "-id"]

    def __str__(self) -> str:
        return f"silence of {self.policy_id} until {self.ends_at:%Y-%m-%d %H:%M}"

    authz_project_field = "policy__project_namespace__project__name"

    def active(self, now=None) -> bool:
        now = now or timezone.now()
        return self.starts_at <= now < self.ends_at

    def covers(self, metric_name: str, object_key: str) -> bool:
        return (not self.metric or self.metric == metric_name) and (
            not self.object_key or self.object_key == object_key
        )

    @property
    def authz_resource(self) -> str:
        return f"{self.policy.authz_resource}/alarmsilence:{self.pk}"

    @staticmethod
    def authz_path_expression():
        return _policy_path("policy__", "/alarmsilence:", "id")


class AlarmNotice(models.Model):
    """One notice sent for a record (fired, each repeat, recovered): the unique ``sequence``
    per record is what keeps a retried evaluation from notifying twice."""

    record = models.ForeignKey(AlarmRecord, on_delete=models.CASCADE, related_name="notices")
    sequence = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=NoticeKind.choices)
    silenced = models.BooleanField(default=False)
    message_request = models.CharField(
        max_length=64, blank=True, help_text="The apps.notify MessageRequest created, if any."
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["record_id", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["record", "sequence"], name="monitoring_alarmnotice_unique_sequence"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} notice {self.sequence} of record {self.record_id}"


class AlertmanagerWebhook(TenantScopedModel):
    """The endpoint a cluster's own Alertmanager posts to
    (``/api/v1/monitor/alertmanager/<cluster>/``): its bearer token, stored as a SHA-256 hash
    and shown once, and where alerts that name no policy go (its receivers, or with
    ``annotation_routing`` the ones an alert's annotations name)."""

    cluster = models.OneToOneField(
        "clusters.Cluster", on_delete=models.CASCADE, related_name="alertmanager_webhook"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField(max_length=12, help_text="The token's first characters.")
    receivers = models.JSONField(default=list, blank=True)
    receiver_groups = models.JSONField(default=list, blank=True)
    notify_ways = models.JSONField(default=list, blank=True)
    repeat_interval = models.PositiveIntegerField(default=3600, validators=[MinValueValidator(60)])
    annotation_routing = models.BooleanField(
        default=False,
        help_text=_(
            "Let an alert's annotations (receivers, receiverGroups, notifyWay) choose who is "
            "notified. Whoever writes the cluster's alerting rules can then reach any receiver "
            "of the tenant: only a tenant administrator may turn it on."
        ),
    )
    rotated_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["cluster_id"]

    def __str__(self) -> str:
        return f"Alertmanager webhook of {self.cluster_id}"

    @property
    def authz_resource(self) -> str:
        return f"cluster:{self.cluster.name}"
