"""Business clusters the portal manages, their credentials, operations and node inventory."""

from __future__ import annotations

import secrets
import string

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.crypto import EncryptedTextField
from apps.core.models import TenantScopedManager, TenantScopedModel
from apps.core.paths import path_expression

from .choices import ClusterPhase, ClusterType, OperationKind, OperationPhase

_ALPHABET = string.ascii_lowercase + string.digits


def generate_cluster_name() -> str:
    return "cls-" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


class Cluster(TenantScopedModel):
    """A Kubernetes cluster imported into a tenant (TKEStack ``Cluster``, type Imported).

    ``conditions`` follow TKEStack: ``[{type, status, reason, message, lastProbeTime,
    lastTransitionTime}]``; ``phase`` summarises them.
    """

    name = models.CharField(max_length=32, default=generate_cluster_name, editable=False)
    display_name = models.CharField(max_length=128)
    type = models.CharField(
        max_length=16, choices=ClusterType.choices, default=ClusterType.IMPORTED
    )
    server = models.URLField(max_length=512, help_text="API server address")
    phase = models.CharField(
        max_length=16, choices=ClusterPhase.choices, default=ClusterPhase.INITIALIZING
    )
    conditions = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)
    version = models.CharField(max_length=64, blank=True)
    node_count = models.PositiveIntegerField(default=0)
    architectures = models.JSONField(default=list, blank=True)
    gpu_summary = models.JSONField(default=dict, blank=True)
    capacity = models.JSONField(default=dict, blank=True)
    allocatable = models.JSONField(default=dict, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    # The overview's last answer from the cluster (nodes, ready_nodes, pods, capacity,
    # allocatable), shown marked stale when the cluster is slower than the overview's budget.
    inventory = models.JSONField(default=dict, blank=True)
    inventory_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_probe_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name"], name="clusters_cluster_unique_name"),
            models.UniqueConstraint(
                fields=["tenant", "display_name"],
                name="clusters_cluster_unique_display_name_per_tenant",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.display_name})"

    # A cluster is also readable in the domain of every project that spans it.
    authz_project_field = "project_quotas__project__name"
    authz_project_reads_only = True

    @property
    def authz_resource(self) -> str:
        return f"cluster:{self.name}"

    @staticmethod
    def authz_path_expression():
        return path_expression("cluster:", "name")


class ClusterCredential(models.Model):
    """How the portal authenticates to a cluster. Every secret column is encrypted at rest
    (``PORTAL_ENCRYPTION_KEYS``) and never returned by the API, the admin or a log line."""

    cluster = models.OneToOneField(Cluster, on_delete=models.CASCADE, related_name="credential")
    ca_data = EncryptedTextField(blank=True)
    token = EncryptedTextField(blank=True)
    client_cert = EncryptedTextField(blank=True)
    client_key = EncryptedTextField(blank=True)
    insecure_skip_tls_verify = models.BooleanField(default=False)
    impersonate_user = models.CharField(max_length=253, blank=True)
    impersonate_groups = models.JSONField(default=list, blank=True)
    rotated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"credential of {self.cluster.name}"

    def __repr__(self) -> str:
        return f"<ClusterCredential {self.cluster_id}>"

    @property
    def kind(self) -> str:
        if self.token:
            return "token"
        if self.client_cert:
            return "client certificate"
        return "none"


class ClusterOperation(TenantScopedModel):
    """A long operation on a cluster, recorded step by step (TKEStack condition steps) so a
    retried task resumes where it stopped and the console can show progress."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="operations")
    kind = models.CharField(max_length=32, choices=OperationKind.choices)
    target = models.CharField(
        max_length=128,
        blank=True,
        help_text="What in the cluster the operation is about (namespace:<name>); empty when "
        "it is about the cluster itself.",
    )
    phase = models.CharField(
        max_length=16, choices=OperationPhase.choices, default=OperationPhase.PENDING
    )
    steps = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["cluster", "-created_at"], name="clusters_op_cluster_idx")]

    def __str__(self) -> str:
        return f"{self.kind} of {self.cluster.name}: {self.phase}"

    def step_done(self, name: str) -> bool:
        return any(s["name"] == name and s["status"] == "True" for s in self.steps)

    def record_step(self, name: str, ok: bool, message: str = "") -> None:
        """Record (or re-record) one step as done or failed, and save."""
        now = timezone.now().isoformat()
        self.steps = [s for s in self.steps if s["name"] != name] + [
            {"name": name, "status": "True" if ok else "False", "message": message, "time": now}
        ]
        self.save(update_fields=["steps", "updated_at"])


class Node(models.Model):
    """The last seen state of one node of a cluster (refreshed by the sync task)."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="nodes")
    name = models.CharField(max_length=253)
    architecture = models.CharField(max_length=32, blank=True)
    os_image = models.CharField(max_length=256, blank=True)
    kubelet_version = models.CharField(max_length=64, blank=True)
    ready = models.BooleanField(default=False)
    unschedulable = models.BooleanField(default=False)
    gpus = models.PositiveIntegerField(default=0)
    capacity = models.JSONField(default=dict, blank=True)
    allocatable = models.JSONField(default=dict, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["cluster", "name"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "name"], name="clusters_node_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.cluster.name}/{self.name}"
