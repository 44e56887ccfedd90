"""Registry namespaces in the admin (tenant-scoped; the permission layer decides), with their
repositories and tags shown read-only (they come from the registry, not from forms); garbage
collections for the platform administrator (``garbageCollectRegistry``): adding one starts
a run, each row is its report."""

from django.contrib import admin

from apps.authz import check
from apps.core.admin import TenantScopedAdmin

from . import services
from .models import GarbageCollection, RegistryNamespace, Repository


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


@admin.register(GarbageCollection)
class GarbageCollectionAdmin(admin.ModelAdmin):
    """Reports of the registry's garbage collections. "Add" starts one (no fields: it runs
    over the whole storage); rows are never edited or deleted."""

    list_display = [
        "id",
        "status",
        "triggered_by",
        "created_at",
        "finished_at",
        "blobs_deleted",
        "manifests_deleted",
        "bytes_freed",
    ]
    list_filter = ["status"]
    list_select_related = ["triggered_by"]
    readonly_fields = [
        "status",
        "triggered_by",
        "created_at",
        "started_at",
        "finished_at",
        "blobs_marked",
        "blobs_deleted",
        "manifests_deleted",
        "bytes_before",
        "bytes_after",
        "bytes_freed",
        "output",
        "error",
    ]

    def get_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def _allowed(self, request) -> bool:
        user = request.user
        return user.is_active and user.is_staff and check(user, "garbageCollectRegistry", "*")

    def has_module_permission(self, request) -> bool:
        return bool(self._allowed(request))

    def has_view_permission(self, request, obj=None) -> bool:
        return bool(self._allowed(request))

    def has_add_permission(self, request) -> bool:
        return bool(self._allowed(request))

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        run = services.start_garbage_collection(actor=request.user)
        obj.pk = run.pk
        obj.__dict__.update({k: v for k, v in run.__dict__.items() if not k.startswith("_")})
