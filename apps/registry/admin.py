"""Registry namespaces in the admin (tenant-scoped; the permission layer decides), with their
repositories and tags shown read-only (they come from the registry, not from forms)."""

from django.contrib import admin

from apps.core.admin import TenantScopedAdmin

from . import services
from .models import RegistryNamespace, Repository


class RepositoryInline(admin.TabularInline):
    model = Repository
    extra = 0
    fields = ["name", "pull_count", "push_count", "size", "updated_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        # Whoever may see the namespace (the parent admin decided) sees its repositories.
        return True


@admin.register(RegistryNamespace)
class RegistryNamespaceAdmin(TenantScopedAdmin):
    list_display = ["name", "tenant", "visibility", "project", "storage_quota_bytes", "created_at"]
    list_filter = ["visibility", "tenant"]
    search_fields = ["name", "display_name", "description"]
    list_select_related = ["tenant", "project"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    fields = [
        "tenant",
        "name",
        "display_name",
        "description",
        "visibility",
        "project",
        "storage_quota_bytes",
        *readonly_fields,
    ]
    inlines = [RepositoryInline]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return fields + ["name"] if obj is not None else fields

    def save_model(self, request, obj, form, change):
        if change:
            services.update_namespace(actor=request.user, namespace=obj)
        else:
            obj.created_by = request.user
            super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        services.delete_namespace(actor=request.user, namespace=obj)
