"""``/api/v1/clusters/<c>/monitoring/``: a cluster's metric collection settings and how the
last collection went. GET needs getCluster, PUT/PATCH updateCluster on ``cluster:<c>``; the
Prometheus token is write-only (``has_prometheus_token`` says whether one is stored)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.authz import check, restrict
from apps.clusters.models import Cluster
from apps.tenants.scope import resolve_scope

from .. import monitors
from ..models import ClusterMonitor


class ClusterMonitorSerializer(serializers.ModelSerializer):
    cluster = serializers.CharField(source="cluster.name", read_only=True)
    prometheus_token = serializers.CharField(
        write_only=True, required=False, allow_blank=True, trim_whitespace=True
    )
    has_prometheus_token = serializers.SerializerMethodField()

    class Meta:
        model = ClusterMonitor
        fields = [
            "cluster",
            "enabled",
            "source",
            "prometheus_url",
            "prometheus_token",
            "has_prometheus_token",
            "prometheus_verify_tls",
            "last_collected_at",
            "last_duration_ms",
            "last_series",
            "last_error",
            "consecutive_failures",
        ]
        read_only_fields = [
            "last_collected_at",
            "last_duration_ms",
            "last_series",
            "last_error",
            "consecutive_failures",
        ]

    def get_has_prometheus_token(self, obj) -> bool:
        return bool(obj.prometheus_token)


class ClusterMonitorView(APIView):
    """A cluster's monitoring settings."""

    permission_classes = [IsAuthenticated]
    serializer_class = ClusterMonitorSerializer
    authz_doc = "getCluster (GET) / updateCluster (PUT, PATCH) on cluster:<cluster>"

    def _cluster(self, request, name: str) -> Cluster:
        visible = restrict(
            Cluster.objects.in_scope(resolve_scope(request)), request.user, "getCluster"
        )
        cluster = visible.select_related("tenant").filter(name=name).first()
        if cluster is None:
            raise exceptions.NotFound(f"Cluster '{name}' not found.")
        request._request.audit_tenant = cluster.tenant
        return cluster

    def _authorize(self, request, cluster: Cluster, action: str) -> None:
        resource = f"cluster:{cluster.name}"
        request._request.audit_action, request._request.audit_resource = action, resource
        decision = check(request.user, action, resource, tenant=cluster.tenant)
        if not decision:
            raise exceptions.PermissionDenied(
                f"You are not allowed to {action} on {resource}: {decision.reason}."
            )

    @extend_schema(responses=ClusterMonitorSerializer)
    def get(self, request, cluster: str):
        found = self._cluster(request, cluster)
        self._authorize(request, found, "getCluster")
        return Response(ClusterMonitorSerializer(monitors.monitor_for(found)).data)

    @extend_schema(request=ClusterMonitorSerializer, responses=ClusterMonitorSerializer)
    def put(self, request, cluster: str):
        return self._update(request, cluster, partial=False)

    @extend_schema(request=ClusterMonitorSerializer, responses=ClusterMonitorSerializer)
    def patch(self, request, cluster: str):
        return self._update(request, cluster, partial=True)

    def _update(self, request, cluster: str, partial: bool):
        found = self._cluster(request, cluster)
        self._authorize(request, found, "updateCluster")
        monitor = monitors.monitor_for(found)
        body = ClusterMonitorSerializer(monitor, data=request.data, partial=partial)
        body.is_valid(raise_exception=True)
        monitor = monitors.update_monitor(
            actor=request.user, monitor=monitor, **body.validated_data
        )
        return Response(ClusterMonitorSerializer(monitor).data)
