from apps.core.api.viewsets import PortalModelViewSet

from .. import services
from ..models import Tenant
from .serializers import TenantSerializer


class TenantViewSet(PortalModelViewSet):
    """Tenants. Platform administrators create and delete them; a tenant's users see (and
    its administrators edit) their own tenant only."""

    queryset = Tenant.objects.all()
    serializer_class = TenantSerializer
    lookup_field = "slug"
    authz_kind = "Tenant"
    authz_platform_actions = frozenset({"create", "destroy"})
    tenant_field = ""
    filterset_fields = ["is_active"]
    search_fields = ["slug", "display_name"]
    ordering_fields = ["slug", "display_name", "created_at"]

    def scoped_queryset(self, queryset):
        scope = self.scope
        if scope.tenant is not None:
            return queryset.filter(pk=scope.tenant.pk)
        return queryset if scope.all_tenants else queryset.none()

    def object_tenant(self, obj):
        return obj

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.create_tenant(
            actor=self.request.user,
            slug=data["slug"],
            display_name=data.get("display_name", ""),
            admin_username=data.get("admin_username"),
            admin_password=data.get("admin_password"),
        )

    def perform_update(self, serializer):
        data = {
            k: v for k, v in serializer.validated_data.items() if k in ("display_name", "is_active")
        }
        serializer.instance = services.update_tenant(
            actor=self.request.user, tenant=serializer.instance, **data
        )

    def perform_destroy(self, instance):
        services.delete_tenant(actor=self.request.user, tenant=instance)
