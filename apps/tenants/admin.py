from django.contrib import admin

from apps.core.admin import TenantScopedAdmin

from .models import Tenant


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    tenant_field = ""
    platform_verbs = frozenset({"add", "delete"})
    list_display = ["slug", "display_name", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["slug", "display_name"]
    readonly_fields = ["created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("slug")
        return fields
