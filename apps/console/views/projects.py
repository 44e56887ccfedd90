"""The project console: the projects list and a project's page — quotas per cluster with usage
bars, namespaces (create with quota, delete, move to another project), members and their
roles, and the project kubeconfig.

Every action goes through the same service functions as the REST API
(``apps/projects/services.py``, ``apps/projects/namespaces.py``) and is authorized the same
way (``apps/projects/api/``: the same action names on the same resource paths, in the same
order — the object must be visible first, else 404, then the action is checked, else 403),
so one audit event is written per action, by the audit middleware, named as the API names it.
The actions answer HTMX with the section they changed; without HTMX they redirect back.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from apps.accounts import reauth
from apps.audit.choices import Outcome
from apps.authz.choices import PolicyScope
from apps.authz.enforcer import check, restrict
from apps.authz.models import Policy
from apps.clusters import k8s
from apps.clusters.models import Cluster
from apps.core import quantity
from apps.projects import namespaces as project_namespaces
from apps.projects import services
from apps.projects.access import portal_for
from apps.projects.api.projects import ProjectKubeconfigView, quota_report
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from apps.tenants.scope import Scope

from .base import ConsoleDenied, ConsoleView

# The quota a namespace form offers (any other resource goes through the API).
NAMESPACE_QUOTA_FIELDS = (
    ("hard_cpu", "requests.cpu"),
    ("hard_memory", "requests.memory"),
    ("hard_pods", "pods"),
)
KUBECONFIG_LIFETIMES = ("1h", "8h", "24h", "7d")


# -- lookups ------------------------------------------------------------------------------------
def visible_project(request, scope, name: str) -> Project:
    """The project if the user may see it (``getProject``), else 404 — like the API."""
    project = (
        restrict(Project.objects.in_scope(scope), request.user, "getProject")
        .select_related("tenant", "parent")
        .filter(name=name)
        .first()
    )
    if project is None:
        raise Http404(f"Project '{name}' not found.")
    return project


def namespaces_path(project: Project, cluster: str = "*", namespace: str = "*") -> str:
    return f"project:{project.name}/cluster:{cluster}/namespace:{namespace}"


def _percent(used: str | None, hard: str | None) -> int | None:
    if not hard:
        return None
    try:
        limit = quantity.parse(hard)
        amount = quantity.parse(used or "0")
    except (ValueError, InvalidOperation):
        return None
    if limit <= 0:
        return 100 if amount > 0 else 0
    return int(min(Decimal(100), amount * 100 / limit))


def quota_rows(project: Project) -> list[dict]:
    """Per cluster the project spans: each resource's hard, allocated and used (with units)
    and how full it is, from the API's quota report."""
    report = quota_report(project)
    rows = []
    for cluster, figures in report["clusters"].items():
        resources = []
        for name, hard in sorted(figures["hard"].items()):
            used = figures["used"].get(name, "0")
            percent = _percent(used, hard)
            resources.append(
                {
                    "name": name,
                    "hard": hard,
                    "used": used,
                    "allocated": figures["allocated"].get(name, "0"),
                    "left": figures["left"].get(name, ""),
                    "percent": percent,
                    "level": "danger"
                    if (percent or 0) >= 90
                    else "warning"
                    if (percent or 0) >= 70
                    else "success",
                }
            )
        rows.append({"cluster": cluster, "resources": resources})
    return rows


def _errors(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {field: list(errors) for field, errors in exc.message_dict.items()}
    return {"__all__": list(exc.messages)}


def _split(errors: dict, fields: tuple[str, ...], aliases: dict | None = None):
    """(errors of the form's fields, the others): shown next to a field, or above the form."""
    by_field: dict[str, list[str]] = {}
    other: list[str] = []
    for key, found in (errors or {}).items():
        key = (aliases or {}).get(key, key)
        if key in fields:
            by_field.setdefault(key, []).extend(found)
        else:
            other.extend(found)
    return by_field, other


# -- pages ---------------------------------------------------------------------------------------
class ProjectListView(ConsoleView):
    """The projects the user may list: a business user sees only theirs."""

    template_name = "console/projects/list.html"
    authz_action = "listProjects"
    authz_model = Project

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        projects = list(
            restrict(Project.objects.in_scope(self.scope), user, "listProjects")
            .select_related("tenant", "parent")
            .prefetch_related(
                Prefetch(
                    "clusters",
                    queryset=ProjectCluster.objects.select_related("cluster").order_by(
                        "cluster__name"
                    ),
                )
            )
            .annotate(namespace_count=Count("namespaces"))
            .order_by("name")
        )
        roles = {p["name"]: p["roles"] for p in portal_for(user)["projects"]}
        for project in projects:
            project.my_roles = roles.get(project.name, [])
        context.update(title=_("Projects"), projects=projects)
        return context


class ProjectSections:
    """What a project page shows, section by section, each only to those who may see it."""

    def __init__(self, request, project: Project):
        self.request, self.project, self.user = request, project, request.user

    def allowed(self, action: str, resource: str) -> bool:
        return bool(check(self.user, action, resource, tenant=self.project.tenant))

    def quota(self) -> dict:
        if not self.allowed("getProjectQuota", self.project.authz_resource):
            return {"quota_visible": False}
        return {"quota_visible": True, "quotas": quota_rows(self.project)}

    def namespaces(self, form=None, errors=None, refusal=None) -> dict:
        project = self.project
        by_field, other = _split(errors, ("cluster", "namespace", "hard"))
        context = {
            "project": project,
            "ns_form": form or {},
            "ns_errors": by_field,
            "ns_other_errors": other,
            "ns_refusal": refusal,
            "quota_fields": NAMESPACE_QUOTA_FIELDS,
        }
        if not self.allowed("listProjectNamespaces", namespaces_path(project)):
            context["namespaces_visible"] = False
            return context
        rows = list(
            restrict(
                ProjectNamespace.objects.filter(project=project),
                self.user,
                "listProjectNamespaces",
            )
            .select_related("project", "cluster")
            .order_by("cluster__name", "namespace")
        )
        spans = list(project.clusters.select_related("cluster").order_by("cluster__name"))
        # Where a namespace may move: the other projects of the tenant the user may see that
        # span its cluster (one query each, whatever the number of rows).
        others = list(
            restrict(
                Project.objects.filter(tenant_id=project.tenant_id).exclude(pk=project.pk),
                self.user,
                "getProject",
            ).order_by("name")
        )
        spanning: dict[int, list[Project]] = {}
        by_id = {p.pk: p for p in others}
        for project_id, cluster_id in ProjectCluster.objects.filter(
            project_id__in=list(by_id)
        ).values_list("project_id", "cluster_id"):
            spanning.setdefault(cluster_id, []).append(by_id[project_id])
        for row in rows:
            row.may_delete = self.allowed("deleteProjectNamespace", row.authz_resource)
            row.may_move = self.allowed("moveProjectNamespace", row.authz_resource)
            row.destinations = sorted(spanning.get(row.cluster_id, []), key=lambda p: p.name)
        context.update(
            namespaces_visible=True,
            namespaces=rows,
            spans=spans,
            may_create_namespace=bool(spans)
            and self.allowed("createProjectNamespace", namespaces_path(project)),
        )
        return context

    def members(self, form=None, errors=None, refusal=None) -> dict:
        project = self.project
        by_field, other = _split(
            errors, ("kind", "name", "roles"), {"user": "name", "group": "name"}
        )
        context = {
            "project": project,
            "member_form": form or {},
            # the roles ticked in a refused or invalid add-member form, ticked again
            "member_roles_chosen": form.getlist("roles") if hasattr(form, "getlist") else [],
            "member_errors": by_field,
            "member_other_errors": other,
            "member_refusal": refusal,
        }
        everyone = services.member_resource(project.name, "*")
        if not self.allowed("listProjectMembers", everyone):
            context["members_visible"] = False
            return context
        rows = services.members_of(project)
        for member in rows:
            resource = services.member_resource(project.name, member.id)
            member.may_update = self.allowed("updateProjectMember", resource)
            member.may_remove = self.allowed("deleteProjectMember", resource)
        context.update(
            members_visible=True,
            members=rows,
            roles=list(
                Policy.objects.filter(tenant_id=project.tenant_id, scope=PolicyScope.PROJECT)
                .order_by("name")
                .values_list("name", flat=True)
            ),
            may_add_member=self.allowed("createProjectMember", everyone),
        )
        return context

    def kubeconfig(self) -> dict:
        return {
            "may_kubeconfig": self.allowed("getProjectKubeconfig", self.project.authz_resource),
            "kubeconfig_lifetimes": KUBECONFIG_LIFETIMES,
            "session_fresh": reauth.session_is_fresh(self.request.session),
        }


class ProjectView(ConsoleView):
    """One project: quotas per cluster, namespaces, members, the kubeconfig download."""

    template_name = "console/projects/detail.html"
    # Nobody who may read no project anywhere gets further (403); a project the user may not
    # read is 404, as in the API.
    authz_action = "getProject"
    authz_model = Project

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        project = visible_project(self.request, self.scope, kwargs["project"])
        sections = ProjectSections(self.request, project)
        context.update(title=project.display_name or project.name, project=project)
        context.update(sections.quota())
        context.update(sections.namespaces())
        context.update(sections.members())
        context.update(sections.kubeconfig())
        return context


# -- actions ------------------------------------------------------------------------------------
class ProjectAction(ConsoleView):
    """A POST on a project page. ``act()`` authorizes like the API and calls the service; a
    refusal or an invalid form is shown in the section (HTMX) or on the console's 403 page,
    and the audit event says so."""

    http_method_names = ["post"]
    section = ""  # "namespaces" | "members"
    audit_name = ""

    def post(self, request, project: str, **kwargs):
        self.project = visible_project(request, self.scope, project)
        # The audit row belongs to the project's tenant (the middleware reads the request's
        # scope), as the API's does.
        request._portal_scope = (request.user, Scope(tenant=self.project.tenant))
        request.audit_action = self.audit_name
        request.audit_resource = self.project.authz_resource
        form = request.POST
        errors, refusal, done = {}, None, ""
        try:
            done = self.act(form, **kwargs)
        except PermissionDenied as exc:
            if not request.htmx:
                raise
            request.audit_outcome, request.audit_message = Outcome.DENIED, str(exc)[:500]
            refusal = self._refusal(exc)
        except ValidationError as exc:
            request.audit_outcome = Outcome.FAILURE
            request.audit_message = "; ".join(m for ms in _errors(exc).values() for m in ms)[:500]
            errors = _errors(exc)
        except k8s.ClusterError as exc:
            request.audit_outcome, request.audit_message = Outcome.FAILURE, str(exc)[:500]
            errors = {"__all__": [str(exc)]}
        else:
            form = {}
        if not request.htmx:
            if done:
                messages.success(request, done)
            for field_errors in errors.values():
                for message in field_errors:
                    messages.error(request, message)
            return HttpResponseRedirect(reverse("console:project", args=[self.project.name]))
        sections = ProjectSections(request, self.project)
        if self.section == "namespaces":
            context = sections.namespaces(form, errors, refusal)
            template = "console/projects/_namespaces.html"
        else:
            context = sections.members(form, errors, refusal)
            template = "console/projects/_members.html"
        context["done"] = done
        context["quotas_oob"] = self.section == "namespaces"
        if context["quotas_oob"]:
            context.update(sections.quota())
        return render(request, template, context)

    def _refusal(self, exc) -> dict:
        if isinstance(exc, ConsoleDenied):
            return {
                "reason": str(exc),
                "action": exc.action,
                "resource": exc.resource,
                "project": exc.project,
            }
        return {"reason": str(exc)}

    def authorize_action(self, action: str, resource: str) -> None:
        """Refuse (403) unless ``action`` on ``resource`` is allowed; names the audit row."""
        self.request.audit_action, self.request.audit_resource = action, resource
        decision = check(self.request.user, action, resource, tenant=self.project.tenant)
        if not decision:
            raise ConsoleDenied(action, resource, decision.reason, self.project.name)

    def act(self, form, **kwargs) -> str:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def namespace_row(self, cluster: str, namespace: str, action: str) -> ProjectNamespace:
        """The namespace if the user may see it (getProjectNamespace, else 404), then
        ``action`` on it (else 403) — the API's detail route."""
        row = (
            restrict(
                ProjectNamespace.objects.filter(project=self.project),
                self.request.user,
                "getProjectNamespace",
            )
            .select_related("project", "cluster", "tenant")
            .filter(cluster__name=cluster, namespace=namespace)
            .first()
        )
        self.request.audit_resource = namespaces_path(self.project, cluster, namespace)
        if row is None:
            raise Http404(f"Project {self.project.name} has no namespace {namespace} on {cluster}.")
        self.authorize_action(action, row.authz_resource)
        return row


class NamespaceCreateView(ProjectAction):
    section = "namespaces"
    audit_name = "createProjectNamespace"

    def act(self, form, **kwargs) -> str:
        project = self.project
        name = (form.get("namespace") or "").strip()
        project_namespaces.validate_name(name)  # before it becomes part of a resource path
        cluster_name = (form.get("cluster") or "").strip()
        cluster = (
            Cluster.objects.select_related("credential")
            .filter(tenant=project.tenant, name=cluster_name)
            .first()
        )
        if cluster is None:
            message = _("No cluster named %(name)s.") % {"name": cluster_name}
            raise ValidationError({"cluster": message})
        resource = namespaces_path(project, cluster.name, name)
        self.authorize_action("createProjectNamespace", resource)
        hard = {
            resource: form.get(field).strip()
            for field, resource in NAMESPACE_QUOTA_FIELDS
            if (form.get(field) or "").strip()
        }
        project_namespaces.create_namespace(
            actor=self.request.user, project=project, cluster=cluster, namespace=name, hard=hard
        )
        return _("Namespace %(namespace)s is being created on %(cluster)s.") % {
            "namespace": name,
            "cluster": cluster.name,
        }


class NamespaceDeleteView(ProjectAction):
    section = "namespaces"
    audit_name = "deleteProjectNamespace"

    def act(self, form, cluster: str, namespace: str) -> str:
        row = self.namespace_row(cluster, namespace, "deleteProjectNamespace")
        project_namespaces.delete_namespace(actor=self.request.user, row=row)
        return _("Namespace %(namespace)s is being deleted.") % {"namespace": namespace}


class NamespaceMoveView(ProjectAction):
    section = "namespaces"
    audit_name = "moveProjectNamespace"

    def act(self, form, cluster: str, namespace: str) -> str:
        row = self.namespace_row(cluster, namespace, "moveProjectNamespace")
        user = self.request.user
        wanted = (form.get("destination") or "").strip()
        destination = (
            restrict(Project.objects.filter(tenant=row.tenant), user, "getProject")
            .filter(name=wanted)
            .first()
        )
        if destination is None:
            message = _("No project named %(name)s.") % {"name": wanted}
            raise ValidationError({"destination": message})
        there = namespaces_path(destination, row.cluster.name, row.namespace)
        if not any(
            check(user, action, there, tenant=row.tenant)
            for action in ("createProjectNamespace", "importProjectNamespace")
        ):
            why = _("neither it nor importProjectNamespace is allowed")
            raise ConsoleDenied("createProjectNamespace", there, why, destination.name)
        project_namespaces.move_namespace(actor=user, row=row, destination=destination)
        return _("Namespace %(namespace)s is moving to %(project)s.") % {
            "namespace": namespace,
            "project": destination.display_name or destination.name,
        }


class MemberAddView(ProjectAction):
    section = "members"
    audit_name = "createProjectMember"

    def act(self, form, **kwargs) -> str:
        kind = form.get("kind") or "user"
        name = (form.get("name") or "").strip()
        if kind not in ("user", "group"):
            raise ValidationError({"kind": _("Choose user or group.")})
        if not name:
            raise ValidationError({"name": _("Give the user's or group's name.")})
        member_id = name if kind == "user" else services.GROUP_MARK + name
        self.authorize_action(
            "createProjectMember", services.member_resource(self.project.name, member_id)
        )
        services.add_member(
            actor=self.request.user,
            project=self.project,
            kind=kind,
            name=name,
            roles=form.getlist("roles"),
        )
        return _("%(name)s is now a member of the project.") % {"name": name}


class MemberView(ProjectAction):
    """Change a member's roles, or remove them (the ``remove`` route)."""

    section = "members"
    remove = False

    def act(self, form, member: str) -> str:
        project, user = self.project, self.request.user
        resource = services.member_resource(project.name, member)
        self.request.audit_resource = resource
        found = services.find_member(project, member)
        if found is None or not check(user, "getProjectMember", resource, tenant=project.tenant):
            raise Http404(f"Project {project.name} has no member '{member}'.")
        if self.remove:
            self.authorize_action("deleteProjectMember", resource)
            services.remove_member(actor=user, project=project, member=found)
            return _("%(name)s is no longer a member.") % {"name": found.name}
        self.authorize_action("updateProjectMember", resource)
        services.set_member_roles(
            actor=user, project=project, member=found, roles=form.getlist("roles")
        )
        return _("%(name)s's roles were changed.") % {"name": found.name}


class MemberUpdateView(MemberView):
    audit_name = "updateProjectMember"


class MemberRemoveView(MemberView):
    audit_name = "deleteProjectMember"
    remove = True


class KubeconfigView(ConsoleView):
    """The project kubeconfig, as ``POST /api/v1/projects/<p>/kubeconfig`` gives it (the same
    view: same authorization, key minting and audit): a session signed in too long ago is sent
    to re-authenticate first, and comes back to the project page."""

    http_method_names = ["post"]

    def post(self, request, project: str):
        found = visible_project(request, self.scope, project)
        back = reverse("console:project", args=[found.name])
        if not reauth.session_is_fresh(request.session):
            request.audit_action = "getProjectKubeconfig"
            request.audit_resource = found.authz_resource
            request.audit_outcome = Outcome.DENIED
            request.audit_message = "re-authentication required"
            request._portal_scope = (request.user, Scope(tenant=found.tenant))
            return HttpResponseRedirect(reauth.reauth_url(back))
        request.META["HTTP_ACCEPT"] = "application/yaml"
        response = ProjectKubeconfigView.as_view()(request, name=found.name)
        if response.status_code == 200:
            return response
        detail = (getattr(response, "data", None) or {}).get("detail") or _("refused")
        if response.status_code == 403:
            raise ConsoleDenied(
                "getProjectKubeconfig", found.authz_resource, str(detail), found.name
            )
        if response.status_code == 404:
            raise Http404(str(detail))
        messages.error(request, str(detail))
        return HttpResponseRedirect(back)
