from django.contrib import admin

from apps.core.admin import TenantScopedAdmin

from .models import TerminalSession, TerminalSettings


@admin.register(TerminalSettings)
class TerminalSettingsAdmin(TenantScopedAdmin):
    """A tenant's terminal settings (whether sessions are recorded)."""

    list_display = ["tenant", "record_sessions"]
    list_filter = ["record_sessions"]


@admin.register(TerminalSession)
class TerminalSessionAdmin(TenantScopedAdmin):
    """Read-only: sessions are written by the terminal; replay them in the console."""

    list_display = [
        "started_at",
        "tenant",
        "username",
        "cluster_name",
        "namespace",
        "pod",
        "node",
        "container",
        "exit_code",
        "recording_bytes",
    ]
    list_filter = ["tenant", "tty", "recording_capped"]
    search_fields = ["username", "cluster_name", "namespace", "pod", "node"]
    date_hierarchy = "started_at"
    exclude = ["recording"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name != "recording"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
