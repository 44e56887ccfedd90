from django.contrib import admin

from apps.core.admin import TenantScopedAdmin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(TenantScopedAdmin):
    """Read-only: the audit trail is written by the portal, never edited."""

    list_display = [
        "created_at",
        "tenant",
        "username",
        "channel",
        "action",
        "resource",
        "status_code",
        "outcome",
        "duration_ms",
    ]
    list_filter = ["outcome", "channel", "method", "tenant"]
    search_fields = ["username", "action", "resource", "path", "request_id"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
