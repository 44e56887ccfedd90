from django.contrib import admin, messages
from django.utils.html import format_html

from apps.core.admin import TenantScopedAdmin

from . import k8s, services
from .models import Cluster, ClusterOperation, Node

_PHASE_COLOURS = {
    "Running": "#1a7f37",
    "Failed": "#b3261e",
    "Initializing": "#9a6700",
    "Terminating": "#57606a",
}


class ClusterOperationInline(admin.TabularInline):
    model = ClusterOperation
    extra = 0
    can_delete = False
    fields = ["kind", "phase", "steps", "attempts", "message", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Cluster)
class ClusterAdmin(TenantScopedAdmin):
    """Clusters are imported through the API or ``manage.py importcluster`` (which probe
    them); here operators watch them and trigger checks. Credentials are never shown."""

    list_display = [
        "name",
        "display_name",
        "tenant",
        "phase_badge",
        "version",
        "node_count",
        "last_probe_at",
    ]
    list_filter = ["phase", "tenant"]
    search_fields = ["name", "display_name", "server"]
    readonly_fields = [
        "name",
        "server",
        "phase",
        "conditions",
        "message",
        "version",
        "node_count",
        "architectures",
        "gpu_summary",
        "capacity",
        "allocatable",
        "consecutive_failures",
        "last_probe_at",
        "created_by",
        "created_at",
    ]
    fields = ["tenant", "display_name", "labels", *readonly_fields]
    inlines = [ClusterOperationInline]
    actions = ["check_health_now", "sync_nodes_now"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="Phase", ordering="phase")
    def phase_badge(self, obj):
        return format_html(
            '<b style="color:{}">{}</b>', _PHASE_COLOURS.get(obj.phase, "#57606a"), obj.phase
        )

    @admin.action(description="Check health now")
    def check_health_now(self, request, queryset):
        for cluster in queryset.select_related("credential"):
            cluster = services.check_health(cluster)
            self.message_user(request, f"{cluster.name}: {cluster.phase}")

    @admin.action(description="Sync nodes")
    def sync_nodes_now(self, request, queryset):
        for cluster in queryset.select_related("credential"):
            try:
                cluster = services.sync_nodes(cluster)
            except k8s.ClusterError as exc:
                self.message_user(request, str(exc.detail), messages.ERROR)
                continue
            self.message_user(request, f"{cluster.name}: {cluster.node_count} nodes")


@admin.register(Node)
class NodeAdmin(TenantScopedAdmin):
    tenant_field = "cluster__tenant"
    list_display = ["name", "cluster", "architecture", "ready", "unschedulable", "gpus"]
    list_filter = ["architecture", "ready"]
    search_fields = ["name", "cluster__name"]

    def tenant_of(self, request, obj=None):
        return request.user.tenant if obj is None else obj.cluster.tenant

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
