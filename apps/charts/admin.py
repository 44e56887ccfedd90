"""Chart groups in the admin (tenant-scoped; the permission layer decides), with their charts
and versions read-only (they come from uploads and imports, not from forms). Archives are never
shown; the import password is write-only (the form never shows the stored one). Releases are
read-only with their revisions (installs, upgrades, rollbacks and uninstalls touch a cluster:
they go through the API or the console); their values and manifests are never shown here."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from apps.authz import check, restrict
from apps.core.admin import TenantScopedAdmin

from . import services
from .models import Chart, ChartGroup, ChartVersion, Release, ReleaseRevision


class ChartInline(admin.TabularInline):
    model = Chart
    extra = 0
    fields = ["name", "latest_version", "pull_count", "updated_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return True  # whoever may see the group (the parent admin decided) sees its charts


class ChartGroupForm(forms.ModelForm):
    import_url = forms.URLField(
        required=False,
        max_length=1024,
        assume_scheme="https",
        help_text=ChartGroup._meta.get_field("import_url").help_text,
    )
    import_password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the stored password (it is never shown).",
    )

    class Meta:
        model = ChartGroup
        fields = [
            "tenant",
            "name",
            "display_name",
            "description",
            "visibility",
            "owner",
            "project",
            "import_url",
            "import_username",
            "import_password",
        ]

    def clean_import_password(self):
        value = self.cleaned_data.get("import_password")
        if not value and self.instance.pk:
            return self.instance.import_password
        return value


@admin.register(ChartGroup)
class ChartGroupAdmin(TenantScopedAdmin):
    form = ChartGroupForm
    list_display = ["name", "tenant", "visibility", "owner", "project", "import_url"]
    list_filter = ["visibility", "tenant"]
    search_fields = ["name", "display_name", "description"]
    list_select_related = ["tenant", "project", "owner"]
    readonly_fields = ["last_synced_at", "sync_message", "created_by", "created_at", "updated_at"]
    fields = [
        "tenant",
        "name",
        "display_name",
        "description",
        "visibility",
        "owner",
        "project",
        "import_url",
        "import_username",
        "import_password",
        *readonly_fields,
    ]
    inlines = [ChartInline]
    actions = ["resync"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return fields + ["name"] if obj is not None else fields

    def save_model(self, request, obj, form, change):
        if change:
            services.update_group(actor=request.user, group=obj)
        else:
            obj.created_by = request.user
            super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        services.delete_group(actor=request.user, group=obj)

    @admin.action(description="Resync from the imported repository")
    def resync(self, request, queryset):
        from .tasks import sync_chart_group

        queued = 0
        for group in queryset.exclude(import_url=""):
            if check(request.user, "updateChartGroup", group.authz_resource, group.tenant):
                sync_chart_group.delay(group.pk)
                queued += 1
        self.message_user(request, f"Resync queued for {queued} chart group(s).")


class _InGroupAdmin(TenantScopedAdmin):
    """Charts and versions: visible when their group is (restricted in SQL), read-only;
    judged on their own resource path in their group's tenant."""

    group_path = "group"

    def tenant_of(self, request, obj=None):
        if obj is None:
            return request.user.tenant
        return self._group(obj).tenant

    def _group(self, obj) -> ChartGroup:
        return obj.group if isinstance(obj, Chart) else obj.chart.group

    def get_queryset(self, request):
        queryset = admin.ModelAdmin.get_queryset(self, request)
        groups = restrict(ChartGroup.objects.all(), request.user, "getChartGroup")
        if not request.user.is_superuser:
            groups = groups.filter(tenant_id=request.user.tenant_id)
        return queryset.filter(**{f"{self.group_path}__in": groups})

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Chart)
class ChartAdmin(_InGroupAdmin):
    list_display = ["name", "group", "latest_version", "pull_count", "updated_at"]
    search_fields = ["name", "description"]
    list_select_related = ["group", "group__tenant"]
    fields = ["group", "name", "description", "icon", "latest_version", "pull_count"]
    readonly_fields = fields

    def has_delete_permission(self, request, obj=None):
        return False  # versions are deleted one by one (the chart goes with its last)


@admin.register(ChartVersion)
class ChartVersionAdmin(_InGroupAdmin):
    group_path = "chart__group"
    list_display = ["chart", "version", "app_version", "size", "has_provenance", "created_at"]
    search_fields = ["chart__name", "version"]
    list_select_related = ["chart", "chart__group", "chart__group__tenant"]
    fields = [
        "chart",
        "version",
        "app_version",
        "api_version",
        "description",
        "digest",
        "size",
        "has_provenance",
        "source_url",
        "pushed_by",
        "created_at",
        "metadata",
        "values",
    ]
    readonly_fields = fields

    def resource_of(self, obj=None) -> str:
        if obj is None:
            return "chartgroup:*/chart:*/version:*"
        return f"{obj.chart.authz_resource}/version:{obj.version}"

    def delete_model(self, request, obj):
        services.delete_version(actor=request.user, version=obj)

    def delete_queryset(self, request, queryset):
        for version in queryset:
            services.delete_version(actor=request.user, version=version)


class ReleaseRevisionInline(admin.TabularInline):
    model = ReleaseRevision
    extra = 0
    fields = [
        "revision",
        "chart_name",
        "chart_version_name",
        "status",
        "description",
        "created_by",
        "created_at",
    ]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return True  # whoever may see the release (the parent admin decided) sees its history


@admin.register(Release)
class ReleaseAdmin(TenantScopedAdmin):
    list_display = [
        "name",
        "namespace",
        "cluster",
        "chart_name",
        "chart_version_name",
        "status",
        "revision",
        "updated_at",
    ]
    list_filter = ["status", "tenant"]
    search_fields = ["name", "namespace", "chart_name"]
    list_select_related = ["tenant", "cluster", "project"]
    fields = [
        "tenant",
        "cluster",
        "namespace",
        "name",
        "project",
        "chart_name",
        "chart_version_name",
        "status",
        "revision",
        "message",
        "created_by",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields
    inlines = [ReleaseRevisionInline]

    def resource_of(self, obj=None) -> str:
        if obj is None:
            return "cluster:*/namespace:*/release:*"
        return obj.authz_resource

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
