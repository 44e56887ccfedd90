"""The chart console: chart groups (list, create, edit, delete, "Sync now" for imported ones),
a group's charts with the ``helm repo add`` command and an upload form, a chart's versions with
their values.yaml, the install form (preview, install), and releases (list, a release's
revisions, upgrade, roll back, uninstall).

Who reads a group is ``apps.charts.access`` (public, its owner, the project's members, or
``pullChart``); a group the user may not read, or another tenant's, is 404. Writes are judged
like the ChartMuseum API and the releases API (``createChartGroup`` … on ``chartgroup:<g>``,
``pushChart`` on ``…/chart:*``, ``createRelease`` … on ``cluster:<c>/namespace:<ns>/release:<r>``)
and go through ``apps.charts.services`` / ``apps.charts.releases``; the audit middleware
records each, named here. A cluster that cannot be reached is said so on the page.
"""

from __future__ import annotations

import json

import yaml
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _

from apps.authz.enforcer import can_any, check, restrict
from apps.charts import access, releases, services
from apps.charts.choices import ReleaseStatus
from apps.charts.models import Chart, ChartGroup, ChartVersion, Release
from apps.clusters import k8s
from apps.clusters.models import Cluster
from apps.core import safeyaml
from apps.core.errors import Conflict
from apps.projects.models import Project, ProjectNamespace

from ..forms.charts import ChartGroupForm, ChartUploadForm, ReleaseForm, UpgradeForm
from .base import ConsoleDenied
from .registry import RegistryAreaView, field_errors

PAGE_SIZE = 200


def portal_base(request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


class ChartsAreaView(RegistryAreaView):
    """A page or action about chart groups."""

    def groups(self):
        return ChartGroup.objects.in_scope(self.scope).select_related("tenant", "project")

    def readable_group(self, name: str) -> ChartGroup:
        """The group if the user may read it (else 404, like the ChartMuseum API)."""
        if "\x00" in name:
            raise Http404
        found = [g for g in self.groups().filter(name=name)[:2] if self.may_read(g)]
        if len(found) != 1:
            raise Http404(_("No chart group %(name)s.") % {"name": name})
        return found[0]

    def may_read(self, group: ChartGroup) -> bool:
        user = self.request.user
        return access.can_read(user, group) or access.allowed(
            user, "getChartGroup", group.authz_resource, group
        )

    def group_allowed(self, action: str, group: ChartGroup, resource: str | None = None) -> bool:
        return access.allowed(self.request.user, action, resource or group.authz_resource, group)

    def require_group(self, action: str, group: ChartGroup, resource: str | None = None):
        resource = resource or group.authz_resource
        self.name_for_audit(action, resource)
        self.request.audit_tenant = group.tenant
        if not self.group_allowed(action, group, resource):
            raise ConsoleDenied(action, resource, _("no policy of yours allows it"))

    def chart_of(self, group: ChartGroup, name: str) -> Chart:
        chart = Chart.objects.filter(group=group, name=name).first()
        if (
            chart is None
            or not access.can_read(self.request.user, group, name)
            and not (self.group_allowed("getChartGroup", group))
        ):
            raise Http404(_("No chart %(name)s in this group.") % {"name": name})
        chart.group = group
        return chart

    def version_of(self, chart: Chart, version: str) -> ChartVersion:
        found = ChartVersion.objects.filter(chart=chart, version=version).first()
        if found is None:
            raise Http404(_("No version %(version)s of this chart.") % {"version": version})
        found.chart = chart
        return found

    def projects(self, tenant) -> list[str]:
        return list(
            restrict(Project.objects.filter(tenant=tenant), self.request.user, "getProject")
            .order_by("name")
            .values_list("name", flat=True)
        )


# -- groups --------------------------------------------------------------------------------------
class GroupListView(ChartsAreaView):
    """The chart groups the user may read."""

    template_name = "console/charts/groups.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = [
            g
            for g in self.groups().annotate(chart_total=Count("charts")).order_by("name")
            if self.may_read(g)
        ]
        for row in rows:
            row.may_update = self.group_allowed("updateChartGroup", row)
            row.may_delete = self.group_allowed("deleteChartGroup", row)
        tenant = self.scope.tenant
        context.update(
            title=_("Chart groups"),
            groups=rows,
            show_tenant=self.scope.all_tenants,
            may_create=tenant is not None
            and self.allowed("createChartGroup", "chartgroup:*", tenant),
        )
        return context


class GroupFormView(ChartsAreaView):
    """Create (``createChartGroup``) or edit (``updateChartGroup``) a chart group."""

    template_name = "console/charts/group_form.html"
    creating = True

    def setup_group(self):
        if self.creating:
            if self.scope.tenant is None:
                raise ConsoleDenied(
                    "createChartGroup",
                    "chartgroup:*",
                    _("choose a tenant first (the tenant switcher at the top)"),
                )
            self.authorize_on("createChartGroup", "chartgroup:*", self.scope.tenant)
            return None
        group = self.readable_group(self.kwargs["group"])
        self.require_group("updateChartGroup", group)
        return group

    def get(self, request, *args, **kwargs):
        self.object = group = self.setup_group()
        initial = {}
        if group is not None:
            initial = {
                "display_name": group.display_name,
                "visibility": group.visibility,
                "project": group.project.name if group.project_id else "",
                "import_url": group.import_url,
                "import_username": group.import_username,
                "description": group.description,
            }
        tenant = group.tenant if group else self.scope.tenant
        form = ChartGroupForm(
            initial=initial, projects=self.projects(tenant), editing=group is not None
        )
        return self.render_to_response(self.get_context_data(form=form))

    def post(self, request, *args, **kwargs):
        self.object = group = self.setup_group()
        tenant = group.tenant if group else self.scope.tenant
        form = ChartGroupForm(
            request.POST, projects=self.projects(tenant), editing=group is not None
        )
        if not form.is_valid():
            self.note_failure(_("Invalid form: %(fields)s") % {"fields": ", ".join(form.errors)})
            return self.render_to_response(self.get_context_data(form=form), status=400)
        data = form.cleaned_data
        project = None
        if data.get("project"):
            project = Project.objects.filter(tenant=tenant, name=data["project"]).first()
        fields = {
            "display_name": data.get("display_name", ""),
            "description": data.get("description", ""),
            "visibility": data["visibility"],
            "project": project,
            "import_url": data.get("import_url", ""),
            "import_username": data.get("import_username", ""),
            # write-only: empty when editing keeps the stored password
            "import_password": data.get("import_password") or (None if group else ""),
        }
        try:
            if group is None:
                resource = f"chartgroup:{data['name']}"
                request.audit_resource = resource
                self.authorize_on("createChartGroup", resource, tenant)
                group = services.create_group(
                    actor=request.user, tenant=tenant, name=data["name"], **fields
                )
            else:
                group = services.update_group(actor=request.user, group=group, **fields)
        except ValidationError as exc:
            self.note_failure(exc)
            field_errors(form, exc)
            return self.render_to_response(self.get_context_data(form=form), status=400)
        return self.redirect(reverse("console:chart-group", args=[group.name]))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        group = self.object
        context.update(
            group=group,
            title=(_("Edit chart group %(name)s") % {"name": group.name})
            if group
            else _("New chart group"),
        )
        return context


class GroupDeleteView(ChartsAreaView):
    http_method_names = ["post"]

    def post(self, request, group: str):
        found = self.readable_group(group)
        self.require_group("deleteChartGroup", found)
        services.delete_group(actor=request.user, group=found)
        return self.redirect(reverse("console:chart-groups"))


class GroupSyncView(ChartsAreaView):
    """Resync an imported group now; the group page shows what the sync did."""

    http_method_names = ["post"]

    def post(self, request, group: str):
        found = self.readable_group(group)
        self.require_group("updateChartGroup", found)
        if not found.import_url:
            self.note_failure(_("Only an imported group can be synced."))
        else:
            from apps.charts.tasks import sync_chart_group

            # As the API does: a Celery task; the group page shows its report when done.
            sync_chart_group.delay(found.pk)
            messages.info(request, _("Sync started: reload the page for its report."))
        return self.redirect(reverse("console:chart-group", args=[found.name]))


class GroupView(ChartsAreaView):
    """One group: its charts, the ``helm repo add`` command, the upload form."""

    template_name = "console/charts/group.html"

    def get(self, request, *args, **kwargs):
        self.group = self.readable_group(kwargs["group"])
        return self.render_to_response(self.get_context_data(upload=ChartUploadForm()))

    def post(self, request, *args, **kwargs):
        """Upload a chart archive (``pushChart``), with its provenance file if given."""
        group = self.group = self.readable_group(kwargs["group"])
        self.require_group("pushChart", group, access.chart_resource(group))
        request.audit_action = "pushChart"
        form = ChartUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            self.note_failure(_("Invalid form: %(fields)s") % {"fields": ", ".join(form.errors)})
            return self.render_to_response(self.get_context_data(upload=form), status=400)
        prov = form.cleaned_data.get("prov")
        try:
            version = services.upload_chart(
                actor=request.user,
                group=group,
                archive=form.cleaned_data["chart"].read(),
                provenance=prov.read() if prov else None,
                force=form.cleaned_data.get("force", False),
            )
        except ValidationError as exc:
            self.note_failure(exc)
            field_errors(form, exc, {"version": "chart"})
            return self.render_to_response(self.get_context_data(upload=form), status=400)
        request.audit_resource = access.chart_resource(group, version.chart.name, version.version)
        return self.redirect(
            reverse("console:chart", args=[group.name, version.chart.name])
            + f"#version-{version.version}"
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        group = self.group
        charts = list(Chart.objects.filter(group=group).order_by("name")[:PAGE_SIZE])
        alias = f"{group.tenant.slug}-{group.name}"
        context.update(
            title=group.display_name or group.name,
            group=group,
            charts=charts,
            repo_url=f"{portal_base(self.request)}/chart/{group.tenant.slug}/{group.name}",
            repo_alias=alias,
            may_push=self.group_allowed("pushChart", group, access.chart_resource(group)),
            may_update=self.group_allowed("updateChartGroup", group),
            may_delete=self.group_allowed("deleteChartGroup", group),
        )
        return context


class ChartView(ChartsAreaView):
    """One chart: its versions, each with its values.yaml and an install link; deleting a
    version (``deleteChartVersion``, POST) when allowed."""

    template_name = "console/charts/chart.html"

    def post(self, request, *args, **kwargs):
        group = self.readable_group(kwargs["group"])
        chart = self.chart_of(group, kwargs["chart"])
        number = (request.POST.get("version") or "").replace("\x00", "")[:64]
        version = self.version_of(chart, number)
        self.require_group(
            "deleteChartVersion", group, access.chart_resource(group, chart.name, number)
        )
        services.delete_version(actor=request.user, version=version)
        if Chart.objects.filter(pk=chart.pk).exists():
            return self.redirect(reverse("console:chart", args=[group.name, chart.name]))
        return self.redirect(reverse("console:chart-group", args=[group.name]))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        group = self.readable_group(kwargs["group"])
        chart = self.chart_of(group, kwargs["chart"])
        versions = list(
            ChartVersion.objects.filter(chart=chart)
            .select_related("pushed_by")
            .order_by("-created_at")[:PAGE_SIZE]
        )
        for version in versions:
            version.may_delete = access.can_delete(
                self.request.user, group, chart.name, version.version
            )
        context.update(
            title=f"{group.name}/{chart.name}",
            group=group,
            chart=chart,
            versions=versions,
            repo_url=f"{portal_base(self.request)}/chart/{group.tenant.slug}/{group.name}",
            repo_alias=f"{group.tenant.slug}-{group.name}",
            # installing somewhere: a platform right, or one held in a project
            may_install=can_any(self.request.user, "createRelease", model=ProjectNamespace),
            may_push=self.group_allowed(
                "pushChart", group, access.chart_resource(group, chart.name)
            ),
            upload=ChartUploadForm(),
        )
        return context


# -- install -------------------------------------------------------------------------------------
def _values(text: str) -> dict:
    loaded = safeyaml.load(text or "", field="values")
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ValidationError({"values": _("The values must be a YAML mapping.")})
    return loaded


def _objects(docs: list[dict]) -> list[dict]:
    return [
        {
            "kind": d.get("kind", ""),
            "name": (d.get("metadata") or {}).get("name", ""),
            "namespace": (d.get("metadata") or {}).get("namespace", ""),
        }
        for d in docs
    ]


class InstallView(ChartsAreaView):
    """Install a chart version: cluster, namespace, release name and values; "Preview"
    renders the objects (nothing is applied), "Install" installs (``releases.install``)."""

    template_name = "console/charts/install.html"

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.preview = None

    def load(self):
        group = self.readable_group(self.kwargs["group"])
        chart = self.chart_of(group, self.kwargs["chart"])
        self.version = self.version_of(chart, self.kwargs["version"])
        self.group = group
        clusters = list(
            restrict(Cluster.objects.filter(tenant=group.tenant), self.request.user, "getCluster")
            .select_related("credential", "tenant")
            .order_by("name")
        )
        self.clusters = {c.name: c for c in clusters}

    def form(self, data=None):
        choices = [
            (c.name, f"{c.display_name or c.name} ({c.name})") for c in self.clusters.values()
        ]
        initial = {"values": self.version.values, "name": self.version.chart.name}
        return ReleaseForm(data, clusters=choices, initial=initial)

    def get(self, request, *args, **kwargs):
        self.load()
        return self.render_to_response(self.get_context_data(form=self.form()))

    def post(self, request, *args, **kwargs):
        # Chart values may hold passwords under any key: kept out of the audit trail whole.
        request.audit_redact_keys = ("values",)
        self.load()
        form = self.form(request.POST)
        previewing = "preview" in request.POST
        if not form.is_valid():
            if not previewing:
                self.note_failure(
                    _("Invalid form: %(fields)s") % {"fields": ", ".join(form.errors)}
                )
            return self.render_to_response(self.get_context_data(form=form), status=400)
        data = form.cleaned_data
        cluster = self.clusters[data["cluster"]]
        namespace, name = data["namespace"], data["name"]
        path = releases.release_path(cluster, namespace, name)
        self.name_for_audit("createRelease", path)
        request.audit_tenant = cluster.tenant
        try:
            values = _values(data.get("values", ""))
            if previewing:
                docs = releases.render(
                    chart_version=self.version, name=name, namespace=namespace, values=values
                )
                self.preview = _objects(docs)
                request.audit_message = "preview: rendered, nothing applied"
                return self.render_to_response(self.get_context_data(form=form))
            release = releases.install(
                actor=request.user,
                cluster=cluster,
                namespace=namespace,
                name=name,
                chart_version=self.version,
                values=values,
            )
        except ValidationError as exc:
            self.note_failure(exc)
            field_errors(form, exc, {"chart": "__all__"})
            return self.render_to_response(self.get_context_data(form=form), status=400)
        except PermissionDenied as exc:
            self.note_failure(exc, denied=True)
            form.add_error(None, str(exc))
            return self.render_to_response(self.get_context_data(form=form), status=403)
        except (k8s.ClusterError, Conflict) as exc:
            self.note_failure(cluster_message(cluster, exc))
            form.add_error(None, cluster_message(cluster, exc))
            return self.render_to_response(self.get_context_data(form=form), status=400)
        return self.redirect(release_url(release))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        version = self.version
        suggestions = list(
            restrict(
                ProjectNamespace.objects.filter(cluster__in=list(self.clusters.values())),
                self.request.user,
                "getProjectNamespace",
            )
            .select_related("cluster")
            .order_by("cluster__name", "namespace")
        )
        context.update(
            title=_("Install %(chart)s %(version)s")
            % {"chart": version.chart.name, "version": version.version},
            group=self.group,
            chart=version.chart,
            version=version,
            namespace_suggestions=suggestions,
            preview=self.preview,
        )
        return context


def cluster_message(cluster, exc) -> str:
    """What the cluster's failure says ("Cluster X is unreachable: …" for a cluster down)."""
    return str(getattr(exc, "detail", exc))


def release_url(release: Release) -> str:
    return reverse("console:release", args=[release.cluster.name, release.namespace, release.name])


# -- releases ------------------------------------------------------------------------------------
class ReleaseListView(ChartsAreaView):
    """The releases of the clusters the user may read, those the user may list."""

    template_name = "console/charts/releases.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        clusters = restrict(Cluster.objects.in_scope(self.scope), user, "getCluster")
        rows = Release.objects.filter(cluster__in=clusters).select_related(
            "cluster", "tenant", "project"
        )
        wanted_cluster = (self.request.GET.get("cluster") or "").replace("\x00", "")[:63]
        wanted_ns = (self.request.GET.get("namespace") or "").replace("\x00", "")[:63]
        if wanted_cluster:
            rows = rows.filter(cluster__name=wanted_cluster)
        if wanted_ns:
            rows = rows.filter(namespace=wanted_ns)
        wanted_project = (self.request.GET.get("project") or "").replace("\x00", "")[:63]
        if wanted_project:
            rows = rows.filter(project__name=wanted_project)
        rows = [
            r
            for r in rows.order_by("cluster__name", "namespace", "name")[:PAGE_SIZE]
            if check(user, "getRelease", r.authz_resource, tenant=r.tenant)
        ]
        context.update(
            title=_("Releases"),
            releases=rows,
            cluster=wanted_cluster,
            namespace=wanted_ns,
            project=wanted_project,
        )
        return context


class ReleaseView(ChartsAreaView):
    """One release: its revisions, and upgrade, roll back, uninstall when allowed."""

    template_name = "console/charts/release.html"

    def load(self) -> Release:
        user = self.request.user
        cluster = (
            restrict(Cluster.objects.in_scope(self.scope), user, "getCluster")
            .select_related("credential", "tenant")
            .filter(name=self.kwargs["cluster"])
            .first()
        )
        release = None
        if cluster is not None:
            release = (
                Release.objects.select_related(
                    "tenant", "project", "chart_version__chart__group__tenant"
                )
                .filter(
                    cluster=cluster, namespace=self.kwargs["namespace"], name=self.kwargs["name"]
                )
                .first()
            )
        if release is None or not check(
            user, "getRelease", release.authz_resource, tenant=release.tenant
        ):
            raise Http404(_("Release not found."))
        release.cluster = cluster
        self.request.audit_tenant = release.tenant
        self.release = release
        return release

    def upgrade_form(self, data=None):
        release = self.release
        versions = []
        chart = release.chart_version.chart if release.chart_version_id else None
        if chart is not None:
            versions = list(
                ChartVersion.objects.filter(chart=chart)
                .order_by("-created_at")
                .values_list("version", flat=True)[:PAGE_SIZE]
            )
        live = release.revisions.filter(revision=release.revision).first()
        values = ""
        if (
            live is not None
            and live.values
            and self.allowed("updateRelease", release.authz_resource, release.tenant)
        ):
            try:
                loaded = json.loads(live.values)
                values = yaml.safe_dump(loaded, sort_keys=False) if loaded else ""
            except ValueError:
                values = ""
        initial = {"version": release.chart_version_name, "values": values}
        return UpgradeForm(data, versions=versions, initial=initial)

    def get(self, request, *args, **kwargs):
        self.load()
        return self.render_to_response(self.get_context_data(form=self.upgrade_form()))

    def post(self, request, *args, **kwargs):
        request.audit_redact_keys = ("values",)  # they may hold passwords under any key
        release = self.load()
        operation = request.POST.get("operation", "")
        form = self.upgrade_form(request.POST if operation in ("upgrade", "preview") else None)
        user = request.user
        action = {
            "preview": "updateRelease",
            "upgrade": "updateRelease",
            "rollback": "rollbackRelease",
            "uninstall": "deleteRelease",
        }.get(operation)
        if action is None:
            raise Http404
        self.authorize_on(action, release.authz_resource, release.tenant)
        try:
            if operation in ("upgrade", "preview"):
                if not form.is_valid():
                    self.note_failure(
                        _("Invalid form: %(fields)s") % {"fields": ", ".join(form.errors)}
                    )
                    return self.render_to_response(self.get_context_data(form=form), status=400)
                chart = release.chart_version.chart if release.chart_version_id else None
                version = (
                    ChartVersion.objects.filter(chart=chart, version=form.cleaned_data["version"])
                    .select_related("chart__group__tenant", "chart__group__project")
                    .first()
                )
                values = _values(form.cleaned_data.get("values", ""))
                if operation == "preview":
                    # A dry run on the cluster: each object's diff against the live one.
                    request.audit_message = "preview: dry run, nothing applied"
                    planned = releases.preview(
                        actor=user,
                        cluster=release.cluster,
                        namespace=release.namespace,
                        name=release.name,
                        chart_version=version,
                        values=values,
                    )
                    context = self.get_context_data(form=form, planned=planned)
                    return self.render_to_response(context)
                releases.upgrade(actor=user, release=release, chart_version=version, values=values)
            elif operation == "rollback":
                try:
                    number = int(request.POST.get("revision", ""))
                except ValueError:
                    raise ValidationError({"revision": _("Choose a revision.")}) from None
                releases.rollback(actor=user, release=release, revision=number)
            else:
                releases.uninstall(actor=user, release=release)
        except ValidationError as exc:
            self.note_failure(exc)
            field_errors(form, exc, {"chart": "version"})
            return self.render_to_response(self.get_context_data(form=form), status=400)
        except PermissionDenied as exc:
            self.note_failure(exc, denied=True)
            form.add_error(None, str(exc))
            return self.render_to_response(self.get_context_data(form=form), status=403)
        except (k8s.ClusterError, Conflict) as exc:
            message = cluster_message(release.cluster, exc)
            self.note_failure(message)
            form.add_error(None, message)
            return self.render_to_response(self.get_context_data(form=form), status=400)
        return self.redirect(release_url(release))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        release = Release.objects.select_related("tenant", "cluster").get(pk=self.release.pk)
        resource, tenant = release.authz_resource, release.tenant
        live = release.status not in (ReleaseStatus.UNINSTALLED,)
        context.update(
            title=release.name,
            release=release,
            revisions=list(release.revisions.select_related("created_by").order_by("-revision")),
            may_upgrade=live and self.allowed("updateRelease", resource, tenant),
            may_rollback=live and self.allowed("rollbackRelease", resource, tenant),
            may_uninstall=live and self.allowed("deleteRelease", resource, tenant),
        )
        return context
