"""Projects in the admin. Every write goes through ``apps.projects.services`` (the quota rules,
the parent's quota, the refusal to delete a project that still owns something) and is audited
by the audit middleware like any admin request."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.authz import check
from apps.core.admin import TenantScopedAdmin, human_quantity, phase_badge, table
from apps.core.admin_links import console_link

from . import quota, services
from .models import Project, ProjectCluster, ProjectNamespace


class _DryRun(Exception):
    """Raised to roll a validation run of a service back."""


def _hard_of(form) -> dict:
    return form.cleaned_data.get("hard") or {}


class ProjectClusterFormSet(forms.BaseInlineFormSet):
    """The project's quota per cluster, judged by the service before anything is saved: the
    same rules (and messages) as the API."""

    request = None  # set by ProjectClusterInline.get_formset
    quota_editable = False  # likewise: may the user change the quota (else it is shown only)

    def wanted(self) -> dict | None:
        """{cluster name: {"hard": …}} of the rows kept in the form; None when the user may
        not change the quota (the inline is read-only: the quota stays as it is)."""
        if not self.quota_editable:
            return None
        out = {}
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or not form.cleaned_data:
                continue
            if form.cleaned_data.get("DELETE") or form.cleaned_data.get("cluster") is None:
                continue
            out[form.cleaned_data["cluster"].name] = {"hard": _hard_of(form)}
        return out

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        for form in self.forms if self.quota_editable else ():
            if getattr(form, "cleaned_data", None) and not form.cleaned_data.get("DELETE"):
                try:
                    quota.normalize(_hard_of(form))
                except quota.QuotaError as exc:
                    form.add_error("hard", str(exc))
        if any(self.errors):
            return
        try:
            with transaction.atomic():
                save_project(self.request, self.instance, self.wanted())
                raise _DryRun
        except _DryRun:
            pass
        except ValidationError as exc:
            raise forms.ValidationError(
                [f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()]
                if hasattr(exc, "error_dict")
                else exc.messages
            ) from exc


def save_project(request, project: Project, clusters: dict | None) -> Project:
    """Create or update ``project`` (an unsaved instance carrying the form's values) through
    the services, with ``clusters`` as its quota (None: the quota is left as it is)."""
    if project.pk is None:
        tenant = project.tenant if project.tenant_id else request.user.tenant
        return services.create_project(
            actor=request.user,
            tenant=tenant,
            display_name=project.display_name,
            name=project.name,
            description=project.description,
            parent=project.parent,
            clusters=clusters,
        )
    return services.update_project(
        actor=request.user,
        project=project,
        display_name=project.display_name,
        description=project.description,
        parent=project.parent,
        clusters=clusters,
    )


class ProjectClusterInline(admin.TabularInline):
    model = ProjectCluster
    formset = ProjectClusterFormSet
    extra = 0
    fields = ["cluster", "hard", "updated_at"]
    readonly_fields = ["updated_at"]

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.request = request
        formset.quota_editable = self._project_may(request, obj)
        return formset

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "cluster" and not request.user.is_superuser:
            field.queryset = field.queryset.filter(tenant_id=request.user.tenant_id)
        return field

    # A new project's quota is part of creating it; an existing one's is changed with
    # updateProjectQuota, as through the API (updateProject alone renames and describes).
    def _project_may(self, request, obj) -> bool:
        project_admin = self.admin_site._registry[Project]
        if obj is None:
            return project_admin.has_add_permission(request)
        return project_admin.has_change_permission(request, obj) and bool(
            check(request.user, services.QUOTA_ACTION, obj.authz_resource, tenant=obj.tenant)
        )

    def has_add_permission(self, request, obj=None):
        return self._project_may(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._project_may(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._project_may(request, obj)

    def has_view_permission(self, request, obj=None):
        return True


class ProjectNamespaceInline(admin.TabularInline):
    """The project's namespaces, read-only here (they are created, resized, moved and
    deleted through the namespace API, which talks to the cluster)."""

    model = ProjectNamespace
    extra = 0
    can_delete = False
    fields = ["namespace_link", "cluster_link", "phase", "hard", "used", "reconciled_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return True

    @admin.display(description="Namespace")
    def namespace_link(self, obj):
        return obj.namespace

    @admin.display(description="Cluster")
    def cluster_link(self, obj):
        url = reverse("admin:clusters_cluster_change", args=[obj.cluster_id])
        return format_html('<a href="{}">{}</a>', url, obj.cluster.name)


@admin.register(Project)
class ProjectAdmin(TenantScopedAdmin):
    """Projects: quota per cluster inline (validated by the same service as the API), their
    namespaces and members shown. Deleting a project that still owns namespaces or
    sub-projects is refused, naming them."""

    list_display = ["name", "display_name", "tenant", "parent", "phase_shown", "cluster_names"]
    list_filter = ["phase", "tenant"]
    search_fields = ["name", "display_name", "description"]
    list_select_related = ["tenant", "parent"]
    readonly_fields = [
        "console",
        "phase_shown",
        "message",
        "quota_shown",
        "members",
        "created_by",
        "created_at",
        "updated_at",
    ]
    fields = ["tenant", "name", "display_name", "description", "parent", *readonly_fields]
    inlines = [ProjectClusterInline, ProjectNamespaceInline]
    actions = ["delete_projects"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("clusters__cluster")

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return [*fields, "name"] if obj is not None else fields

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # bypasses the service: see delete_projects
        return actions

    @admin.display(description=gettext_lazy("Phase"), ordering="phase")
    def phase_shown(self, obj):
        return phase_badge(obj.phase, obj.get_phase_display())

    @admin.display(description=gettext_lazy("Console"))
    def console(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        return console_link("console:project", project=obj.name) or "—"

    @admin.display(description=gettext_lazy("Quota and use per cluster"))
    def quota_shown(self, obj):
        """Per cluster and resource: the quota, what namespaces and sub-projects were given
        (allocated), what the namespaces use and what is left, with units."""
        from .api.projects import quota_report

        if obj is None or obj.pk is None:
            return "—"
        rows = []
        for cluster, report in quota_report(obj)["clusters"].items():
            for name in sorted(report["hard"]):
                rows.append(
                    (
                        cluster,
                        name,
                        *(
                            human_quantity(name, report[part][name])
                            if name in report[part]
                            else "—"
                            for part in ("hard", "allocated", "used", "left")
                        ),
                    )
                )
        if not rows:
            return _("no quota on any cluster")
        return table(
            [_("Cluster"), _("Resource"), _("Quota"), _("Allocated"), _("Used"), _("Left")],
            format_html_join(
                "",
                '<tr><td>{}</td><th scope="row">{}</th><td>{}</td><td>{}</td><td>{}</td>'
                "<td>{}</td></tr>",
                rows,
            ),
        )

    @admin.display(description="Clusters")
    def cluster_names(self, obj):
        return ", ".join(row.cluster.name for row in obj.clusters.all())

    @admin.display(description="Members")
    def members(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        rows = [(m.id, ", ".join(m.roles)) for m in services.members_of(obj)]
        if not rows:
            return "none"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}: {}</li>", rows))

    # -- writes through the services ------------------------------------------------------------
    def save_model(self, request, obj, form, change):
        """Saved together with the quota inline in :meth:`save_related` (one service call)."""

    def save_related(self, request, form, formsets, change):
        quota_formset = next(f for f in formsets if isinstance(f, ProjectClusterFormSet))
        saved = save_project(request, form.instance, quota_formset.wanted())
        # The admin goes on with its own instance (change message, redirect): make it the
        # saved row.
        form.instance.__dict__.update(saved.__dict__)
        for formset in formsets:  # the change message reads what each formset saved
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        for project in objs:
            blockers = services.deletion_blockers(project)
            if blockers:
                protected = [*protected, f"{project.name}: {' and '.join(blockers)}"]
        return deleted, counts, perms_needed, protected

    def delete_model(self, request, obj):
        services.delete_project(actor=request.user, project=obj)

    @admin.action(description="Delete selected projects (refused while they own something)")
    def delete_projects(self, request, queryset):
        for project in queryset:
            if not self.has_delete_permission(request, project):
                self.message_user(request, f"{project.name}: not allowed", messages.ERROR)
                continue
            try:
                services.delete_project(actor=request.user, project=project)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
            else:
                self.message_user(request, f"{project.name} deleted")
