from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.core.api.viewsets import PortalModelViewSet

from .. import services, visibility
from ..models import Cluster
from .serializers import (
    ClusterImportSerializer,
    ClusterOperationSerializer,
    ClusterSerializer,
    CredentialInputSerializer,
    NodeSerializer,
)


class ClusterViewSet(PortalModelViewSet):
    """Clusters of the tenant. Create imports one (probing it first); delete forgets it."""

    queryset = Cluster.objects.select_related("tenant", "credential")
    serializer_class = ClusterSerializer
    lookup_field = "name"
    lookup_value_regex = r"cls-[a-z0-9]+"
    authz_kind = "Cluster"
    authz_extra_actions = {
        "health_check": "updateCluster",
        "sync": "updateCluster",
        "rotate_credential": "updateCluster",
        "operations": "getCluster",
        "inventory": "listNodes",
    }
    filterset_fields = ["phase", "type"]
    search_fields = ["name", "display_name", "server"]
    ordering_fields = ["name", "display_name", "created_at", "phase"]

    def authz_object(self, obj):
        resource, tenant = super().authz_object(obj)
        if getattr(self, "action", None) == "inventory":
            # The node inventory is the nodes: judged on their path, as the node list is
            # (a cluster readable through a project does not make its nodes readable).
            resource = f"{resource}/node:*"
            self.request._request.audit_resource = resource
        return resource, tenant

    def get_serializer_class(self):
        if self.action == "create":
            return ClusterImportSerializer
        if self.action == "rotate_credential":
            return CredentialInputSerializer
        return ClusterSerializer

    @extend_schema(request=ClusterImportSerializer, responses={201: ClusterSerializer})
    def create(self, request, *args, **kwargs):
        body = ClusterImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        cluster = services.import_cluster(
            actor=request.user,
            tenant=self.tenant_for_write(),
            display_name=body.validated_data["display_name"],
            spec=body.to_spec(),
            labels=body.validated_data.get("labels"),
        )
        request._request.audit_resource = cluster.authz_resource
        cluster = Cluster.objects.select_related("tenant", "credential").get(pk=cluster.pk)
        return Response(ClusterSerializer(cluster).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        data = {
            k: v for k, v in serializer.validated_data.items() if k in ("display_name", "labels")
        }
        serializer.instance = services.update_cluster(
            actor=self.request.user, cluster=serializer.instance, **data
        )

    def perform_destroy(self, instance):
        services.delete_cluster(actor=self.request.user, cluster=instance)

    @extend_schema(request=None, responses=ClusterSerializer)
    @action(detail=True, methods=["post"], url_path="health-check")
    def health_check(self, request, name=None):
        """Probe the cluster now and update its phase and conditions."""
        cluster = services.check_health(self.get_object())
        return Response(ClusterSerializer(cluster).data)

    @extend_schema(request=None, responses=ClusterSerializer)
    @action(detail=True, methods=["post"])
    def sync(self, request, name=None):
        """Refresh the node inventory now."""
        cluster = services.sync_nodes(self.get_object())
        return Response(ClusterSerializer(cluster).data)

    @extend_schema(request=CredentialInputSerializer, responses=ClusterSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-credential")
    def rotate_credential(self, request, name=None):
        """Replace the cluster credential (probed first; the old one stays on failure)."""
        cluster = self.get_object()
        body = CredentialInputSerializer(data={**request.data, "server": cluster.server})
        body.is_valid(raise_exception=True)
        cluster = services.rotate_credential(
            actor=request.user, cluster=cluster, spec=body.to_spec()
        )
        return Response(ClusterSerializer(cluster).data)

    # Bounded lists (the latest 50 operations, the cluster's nodes): not paginated.
    @extend_schema(responses=ClusterOperationSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def operations(self, request, name=None):
        """The latest 50 operations the user may see (:func:`visibility.visible_operations`:
        a project member sees those about its own namespaces)."""
        cluster = self.get_object()
        ops = visibility.visible_operations(request.user, cluster, cluster.operations.all())[:50]
        return Response(ClusterOperationSerializer(ops, many=True).data)

    @extend_schema(responses=NodeSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def inventory(self, request, name=None):
        """The node inventory as last synced (live node objects: the resources API)."""
        return Response(NodeSerializer(self.get_object().nodes.all(), many=True).data)
