"""``/api/v1/clusters/<c>/alarm-policies/`` (CRUD, ``copy``, ``batch-delete``),
``…/alarm-records/`` (list, get), ``…/alarm-silences/`` (CRUD, ``expire``),
``…/alertmanager-webhook/`` (get, patch, ``rotate``) and the webhook itself,
``/api/v1/monitor/alertmanager/<c>/`` (apps.monitoring.alerts.alertmanager).

Authorization (``manage.py authz_actions``): ``listAlarmPolicies`` … ``deleteAlarmPolicy`` on
``cluster:<c>/alarmpolicy:<name>`` or, for workload and pod policies,
``cluster:<c>/namespace:<ns>/alarmpolicy:<name>`` (decided in the project owning the
namespace); records ``…/alarmrecord:<id>``; silences ``…/alarmsilence:<id>``; the webhook's
settings ``getCluster`` / ``updateCluster`` on ``cluster:<c>``. A cluster the user may not
read, and other tenants' objects, are 404. A policy's (and the webhook's) writer may add only
the receivers, receiver groups and channels they may read (``services.check_recipients``):
else 400 on that field, for a copy too.
"""

from __future__ import annotations

from django.db.models import Count, Q
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.authz import check, restrict
from apps.clusters.models import Cluster
from apps.core.api.viewsets import PortalViewSetMixin

from ..alerts import services
from ..alerts.choices import NAMESPACED_TYPES, RecordState
from ..alerts.models import (
    AlarmMetric,
    AlarmPolicy,
    AlarmRecord,
    AlarmSilence,
    AlertmanagerWebhook,
)

NAME_LOOKUP = r"[A-Za-z0-9][A-Za-z0-9._-]{0,59}"


# -- serializers -----------------------------------------------------------------------------
class NotifyWaySerializer(serializers.Serializer):
    channel = serializers.CharField(max_length=253)
    template = serializers.CharField(max_length=253)


class AlarmMetricSerializer(serializers.ModelSerializer):
    class Meta:
        model = AlarmMetric
        fields = ["id", "metric", "evaluator", "threshold", "continue_periods", "unit"]
        read_only_fields = ["id"]
        extra_kwargs = {"unit": {"required": False}}
        validators = []  # the service checks the policy's conditions together


class AlarmPolicySerializer(serializers.ModelSerializer):
    cluster = serializers.CharField(source="cluster.name", read_only=True)
    metrics = AlarmMetricSerializer(many=True)
    objects = serializers.ListField(
        child=serializers.CharField(max_length=253), required=False, source="object_names"
    )
    receivers = serializers.ListField(child=serializers.CharField(max_length=253), required=False)
    receiver_groups = serializers.ListField(
        child=serializers.CharField(max_length=253), required=False
    )
    notify_ways = NotifyWaySerializer(many=True, required=False)
    firing = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = AlarmPolicy
        fields = [
            "id",
            "name",
            "cluster",
            "type",
            "namespace",
            "workload_kind",
            "objects_type",
            "objects",
            "statistics_period",
            "metrics",
            "receivers",
            "receiver_groups",
            "notify_ways",
            "repeat_interval",
            "enabled",
            "firing",
            "last_evaluated_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "last_evaluated_at", "created_at", "updated_at"]
        validators = []  # name uniqueness per cluster: the service (with the field named)

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        if "notify_ways" in values:
            values["notify_ways"] = [dict(w) for w in values["notify_ways"]]
        if "metrics" in values:
            values["metrics"] = [dict(m) for m in values["metrics"]]
        return values


class CopySerializer(serializers.Serializer):
    name = serializers.CharField(max_length=60)


class BatchDeleteSerializer(serializers.Serializer):
    names = serializers.ListField(
        child=serializers.CharField(max_length=60), min_length=1, max_length=500
    )


class AlarmRecordSerializer(serializers.ModelSerializer):
    cluster = serializers.CharField(source="cluster.name", read_only=True)
    policy = serializers.CharField(source="policy.name", read_only=True, default=None)

    class Meta:
        model = AlarmRecord
        fields = [
            "id",
            "cluster",
            "policy",
            "source",
            "metric_name",
            "object_key",
            "labels",
            "annotations",
            "fingerprint",
            "state",
            "value",
            "evaluator",
            "threshold",
            "unit",
            "history",
            "periods_held",
            "started_at",
            "fired_at",
            "resolved_at",
            "last_evaluated_at",
            "last_notified_at",
            "notify_count",
        ]
        read_only_fields = fields


class AlarmSilenceSerializer(serializers.ModelSerializer):
    policy = serializers.CharField(max_length=60)
    active = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", read_only=True, default="")

    class Meta:
        model = AlarmSilence
        fields = [
            "id",
            "policy",
            "object_key",
            "metric",
            "starts_at",
            "ends_at",
            "comment",
            "active",
            "created_by",
            "created_at",
        ]
        read_only_fields = ["id", "active", "created_by", "created_at"]
        extra_kwargs = {"starts_at": {"required": False}}

    def get_active(self, obj) -> bool:
        return obj.active()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["policy"] = instance.policy.name
        return data


class AlertmanagerWebhookSerializer(serializers.ModelSerializer):
    cluster = serializers.CharField(source="cluster.name", read_only=True)
    receivers = serializers.ListField(child=serializers.CharField(max_length=253), required=False)
    receiver_groups = serializers.ListField(
        child=serializers.CharField(max_length=253), required=False
    )
    notify_ways = NotifyWaySerializer(many=True, required=False)
    url = serializers.SerializerMethodField()

    class Meta:
        model = AlertmanagerWebhook
        fields = [
            "cluster",
            "url",
            "token_prefix",
            "receivers",
            "receiver_groups",
            "notify_ways",
            "repeat_interval",
            "annotation_routing",
            "rotated_at",
            "last_used_at",
        ]
        read_only_fields = ["cluster", "url", "token_prefix", "rotated_at", "last_used_at"]

    def get_url(self, obj) -> str:
        return f"/api/v1/monitor/alertmanager/{obj.cluster.name}/"


# -- views -----------------------------------------------------------------------------------
class _InCluster(PortalViewSetMixin):
    """Routes under one cluster: the cluster must be one the user may read (else 404)."""

    def cluster(self) -> Cluster:
        cached = getattr(self, "_cluster", None)
        if cached is None:
            visible = restrict(
                Cluster.objects.in_scope(self.scope), self.request.user, "getCluster"
            )
            cached = visible.select_related("tenant").filter(name=self.kwargs["cluster"]).first()
            if cached is None:
                raise exceptions.NotFound(f"Cluster '{self.kwargs['cluster']}' not found.")
            self._cluster = cached
        return cached

    def base(self) -> str:
        return f"cluster:{self.kwargs.get('cluster', '<cluster>')}"

    def scoped_queryset(self, queryset):
        return queryset.in_scope(self.scope).filter(cluster=self.cluster())

    def require(self, action_name: str, resource: str, tenant) -> None:
        decision = check(self.request.user, action_name, resource, tenant=tenant)
        if not decision:
            raise exceptions.PermissionDenied(
                f"You are not allowed to {action_name} on {resource}: {decision.reason}."
            )


def _policy_path(cluster: str, policy_type, namespace, name: str) -> str:
    if policy_type in NAMESPACED_TYPES and namespace:
        return f"cluster:{cluster}/namespace:{namespace}/alarmpolicy:{name}"
    return f"cluster:{cluster}/alarmpolicy:{name}"


class AlarmPolicyViewSet(_InCluster, viewsets.ModelViewSet):
    """Alarm policies of a cluster (TKEStack ``AlarmPolicy``)."""

    queryset = (
        AlarmPolicy.objects.select_related("cluster", "tenant")
        .prefetch_related("metrics")
        .annotate(firing=Count("records", filter=Q(records__state=RecordState.FIRING)))
    )
    serializer_class = AlarmPolicySerializer
    lookup_field = "name"
    lookup_value_regex = NAME_LOOKUP
    authz_kind = "AlarmPolicy"
    authz_extra_actions = {"copy": "createAlarmPolicy", "batch_delete": "deleteAlarmPolicy"}
    filterset_fields = ["type", "namespace", "enabled"]
    search_fields = ["name"]
    ordering_fields = ["name", "type", "created_at"]

    def authz_resource_path(self) -> str:
        request = getattr(self, "request", None)
        data = request.data if request is not None and self.action == "create" else {}
        data = data if isinstance(data, dict) else {}
        name = self.kwargs.get("name") or "*"
        return _policy_path(
            self.kwargs.get("cluster", "<cluster>"), data.get("type"), data.get("namespace"), name
        )

    def check_permissions(self, request):
        if getattr(self, "action", None) == "batch_delete":
            # Each named policy is checked on its own path in the action.
            if not request.user or not request.user.is_authenticated:
                raise exceptions.NotAuthenticated()
            return
        super().check_permissions(request)

    def _path_of(self, data: dict, name: str) -> str:
        return _policy_path(self.cluster().name, data.get("type"), data.get("namespace"), name)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        name = data.pop("name")
        cluster = self.cluster()
        # What is judged is what is stored: the validated type and namespace.
        resource = self._path_of(data, name)
        self.require("createAlarmPolicy", resource, cluster.tenant)
        serializer.instance = services.create_policy(
            actor=self.request.user, tenant=cluster.tenant, cluster=cluster, name=name, **data
        )
        self.request._request.audit_resource = serializer.instance.authz_resource

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("name", None)
        policy = serializer.instance
        moved = {
            "type": data.get("type", policy.type),
            "namespace": data.get("namespace", policy.namespace),
        }
        resource = self._path_of(moved, policy.name)
        if resource != policy.authz_resource:
            self.require("updateAlarmPolicy", resource, policy.tenant)
        serializer.instance = services.update_policy(actor=self.request.user, policy=policy, **data)

    def perform_destroy(self, instance):
        services.delete_policy(actor=self.request.user, policy=instance)

    def _fresh(self, policy) -> dict:
        return AlarmPolicySerializer(self.get_queryset().get(pk=policy.pk)).data

    def update(self, request, *args, **kwargs):
        super().update(request, *args, **kwargs)
        return Response(self._fresh(self.get_object()))

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        return Response(
            AlarmPolicySerializer(
                self.queryset.model.objects.filter(pk=serializer.instance.pk)
                .select_related("cluster")
                .prefetch_related("metrics")
                .annotate(firing=Count("records", filter=Q(records__state=RecordState.FIRING)))
                .get()
            ).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=CopySerializer, responses={201: AlarmPolicySerializer})
    @action(detail=True, methods=["post"])
    def copy(self, request, cluster=None, name=None):
        """A new policy with this one's settings and conditions, named ``name``."""
        source = self.get_object()
        body = CopySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        new_name = body.validated_data["name"]
        resource = _policy_path(source.cluster.name, source.type, source.namespace, new_name)
        self.require("createAlarmPolicy", resource, source.tenant)
        copied = services.copy_policy(actor=request.user, policy=source, name=new_name)
        request._request.audit_resource = copied.authz_resource
        copied = AlarmPolicy.objects.filter(pk=copied.pk)
        return Response(
            AlarmPolicySerializer(
                copied.select_related("cluster")
                .prefetch_related("metrics")
                .annotate(firing=Count("records", filter=Q(records__state=RecordState.FIRING)))
                .get()
            ).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=BatchDeleteSerializer, responses={200: BatchDeleteSerializer})
    @action(detail=False, methods=["post"], url_path="batch-delete")
    def batch_delete(self, request, cluster=None):
        """Delete the named policies, all or none: a name the user cannot see is 404, one
        they may see but not delete 403."""
        body = BatchDeleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        names = list(dict.fromkeys(body.validated_data["names"]))
        visible = restrict(
            AlarmPolicy.objects.in_scope(self.scope).filter(cluster=self.cluster()),
            request.user,
            "getAlarmPolicy",
        ).filter(name__in=names)
        found = {p.name: p for p in visible.select_related("cluster", "tenant")}
        missing = [n for n in names if n not in found]
        if missing:
            raise exceptions.NotFound(f"No alarm policy named {', '.join(missing)}.")
        for policy in found.values():
            self.require("deleteAlarmPolicy", policy.authz_resource, policy.tenant)
        request._request.audit_resource = f"{self.base()}/alarmpolicy:{','.join(names)}"
        deleted = services.delete_policies(actor=request.user, policies=list(found.values()))
        return Response({"names": deleted})


class AlarmRecordViewSet(_InCluster, viewsets.ReadOnlyModelViewSet):
    """Alarm records (history) of a cluster, newest first. Filters: ``state``, ``policy``
    (name), ``metric``, ``object``, ``since`` / ``until`` (on ``started_at``)."""

    queryset = AlarmRecord.objects.select_related("cluster", "policy__cluster")
    serializer_class = AlarmRecordSerializer
    authz_kind = "AlarmRecord"
    ordering_fields = ["started_at", "fired_at", "resolved_at", "state"]

    def authz_resource_path(self) -> str:
        pk = self.kwargs.get("pk") or "*"
        return f"{self.base()}/alarmpolicy:*/alarmrecord:{pk}"

    def get_queryset(self):
        queryset = super().get_queryset()
        params = self.request.query_params
        if params.get("state"):
            queryset = queryset.filter(state__in=params["state"].split(","))
        if params.get("policy"):
            queryset = queryset.filter(policy__name=params["policy"])
        if params.get("metric"):
            queryset = queryset.filter(metric_name=params["metric"])
        if params.get("object"):
            queryset = queryset.filter(object_key=params["object"])
        for name, lookup in (("since", "started_at__gte"), ("until", "started_at__lt")):
            if params.get(name):
                when = serializers.DateTimeField().to_internal_value(params[name])
                queryset = queryset.filter(**{lookup: when})
        return queryset


class AlarmSilenceViewSet(_InCluster, viewsets.ModelViewSet):
    """Silences of a cluster's alarm policies; ``expire`` ends one now."""

    queryset = AlarmSilence.objects.select_related(
        "policy__cluster", "policy__tenant", "created_by", "tenant"
    )
    serializer_class = AlarmSilenceSerializer
    authz_kind = "AlarmSilence"
    authz_extra_actions = {"expire": "updateAlarmSilence"}
    ordering_fields = ["starts_at", "ends_at", "created_at"]

    def scoped_queryset(self, queryset):
        return queryset.in_scope(self.scope).filter(policy__cluster=self.cluster())

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.request.query_params.get("policy"):
            queryset = queryset.filter(policy__name=self.request.query_params["policy"])
        if self.request.query_params.get("active") in ("true", "1"):
            from django.utils import timezone

            now = timezone.now()
            queryset = queryset.filter(starts_at__lte=now, ends_at__gt=now)
        return queryset

    def _policy(self, name: str) -> AlarmPolicy:
        visible = restrict(
            AlarmPolicy.objects.in_scope(self.scope).filter(cluster=self.cluster()),
            self.request.user,
            "getAlarmPolicy",
        )
        policy = visible.select_related("cluster", "tenant").filter(name=name).first()
        if policy is None:
            raise exceptions.ValidationError({"policy": [f"No alarm policy named {name}."]})
        return policy

    def authz_resource_path(self) -> str:
        pk = self.kwargs.get("pk") or "*"
        request = getattr(self, "request", None)
        if request is not None and self.action == "create" and isinstance(request.data, dict):
            name = self.request.data.get("policy")
            policy = (
                AlarmPolicy.objects.filter(cluster__name=self.kwargs.get("cluster"), name=name)
                .select_related("cluster")
                .first()
                if isinstance(name, str)
                else None
            )
            if policy is not None:
                return f"{policy.authz_resource}/alarmsilence:*"
        return f"{self.base()}/alarmpolicy:*/alarmsilence:{pk}"

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        policy = self._policy(data.pop("policy"))
        self.require("createAlarmSilence", f"{policy.authz_resource}/alarmsilence:*", policy.tenant)
        serializer.instance = services.create_silence(
            actor=self.request.user, policy=policy, **data
        )
        self.request._request.audit_resource = serializer.instance.authz_resource

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        if "policy" in data and data.pop("policy") != serializer.instance.policy.name:
            raise exceptions.ValidationError({"policy": ["A silence stays on its policy."]})
        serializer.instance = services.update_silence(
            actor=self.request.user, silence=serializer.instance, **data
        )

    def perform_destroy(self, instance):
        services.delete_silence(actor=self.request.user, silence=instance)

    @extend_schema(request=None, responses=AlarmSilenceSerializer)
    @action(detail=True, methods=["post"])
    def expire(self, request, cluster=None, pk=None):
        """End the silence now."""
        silence = services.expire_silence(actor=request.user, silence=self.get_object())
        return Response(AlarmSilenceSerializer(silence).data)


class AlertmanagerWebhookViewSet(_InCluster, viewsets.GenericViewSet):
    """The cluster's Alertmanager webhook: its URL, the token's first characters and where
    alerts naming no policy go; ``rotate`` makes a new token and shows it this once."""

    serializer_class = AlertmanagerWebhookSerializer
    queryset = AlertmanagerWebhook.objects.select_related("cluster", "tenant")
    authz_kind = "Cluster"
    authz_extra_actions = {
        "retrieve": "getCluster",
        "partial_update": "updateCluster",
        "rotate": "updateCluster",
    }
    lookup_field = "cluster"

    def authz_resource_path(self) -> str:
        return self.base()

    def authz_object(self, obj):
        self.request._request.audit_resource = self.base()
        return self.base(), obj.tenant

    def get_object(self):
        cluster = self.cluster()
        self.check_object_permissions(self.request, cluster)
        webhook = AlertmanagerWebhook.objects.filter(cluster=cluster).first()
        if webhook is None and self.action != "rotate":
            raise exceptions.NotFound(
                f"Cluster '{cluster.name}' has no Alertmanager webhook yet: rotate makes one."
            )
        if webhook is not None:
            webhook.cluster = cluster
        return webhook

    def retrieve(self, request, cluster=None):
        return Response(AlertmanagerWebhookSerializer(self.get_object()).data)

    def partial_update(self, request, cluster=None):
        webhook = self.get_object()
        body = AlertmanagerWebhookSerializer(webhook, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        if "notify_ways" in data:
            data["notify_ways"] = [dict(w) for w in data["notify_ways"]]
        webhook = services.update_webhook(actor=request.user, webhook=webhook, **data)
        return Response(AlertmanagerWebhookSerializer(webhook).data)

    @extend_schema(request=None, responses=AlertmanagerWebhookSerializer)
    def rotate(self, request, cluster=None):
        """A new token (the old one stops working now); the answer is the only place it is
        shown."""
        self.get_object()
        webhook, token = services.rotate_webhook_token(actor=request.user, cluster=self.cluster())
        return Response({**AlertmanagerWebhookSerializer(webhook).data, "token": token})
