"""``/api/v1/projects/`` (projects, their quota and members), ``/api/v1/projects/<p>/kubeconfig``
and ``/api/v1/portal/``.

Authorization (``manage.py authz_actions``): a project is ``project:<p>``, read in its own
domain and changed (renamed, re-quota'd, deleted) in the platform's, so a project owner manages
the project's members and namespaces but not its quota; members are
``project:<p>/member:<username>`` or ``project:<p>/member:@<group>``, judged in the project's
domain. A project the user may not see is 404 on every route below it.
"""

from __future__ import annotations

import yaml
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.authz import check, restrict
from apps.clusters.proxy.views import (
    KUBECONFIG_SCHEMA,
    KubeconfigDownloadView,
    build_kubeconfig,
)
from apps.core.api.pagination import PortalPagination
from apps.core.api.viewsets import PortalModelViewSet
from apps.tenants.scope import resolve_scope

from .. import quota, services
from ..access import portal_for
from ..filtersets import ProjectFilterSet
from ..models import Project, ProjectCluster, ProjectNamespace
from .serializers import (
    MemberRolesSerializer,
    MemberSerializer,
    PortalSerializer,
    ProjectSerializer,
    QuotaInputSerializer,
    QuotaSerializer,
)


def visible_project(request, name: str, action: str = "getProject") -> Project:
    """The project named ``name`` if the user may see it (``getProject``), else 404 — the one
    lookup of every route below ``/projects/<p>/``."""
    scope = resolve_scope(request)
    rows = restrict(
        Project.objects.select_related("tenant").in_scope(scope).filter(name=name),
        request.user,
        action,
    )
    project = rows.first()
    if project is None:
        raise exceptions.NotFound(f"Project '{name}' not found.")
    return project


def authorize(request, action: str, resource: str, tenant) -> None:
    raw = request._request
    raw.audit_action, raw.audit_resource = action, resource
    decision = check(request.user, action, resource, tenant=tenant)
    if not decision:
        raise exceptions.PermissionDenied(
            f"You are not allowed to {action} on {resource}: {decision.reason}."
        )


def quota_report(project: Project) -> dict:
    """Per cluster the project spans: hard, allocated (namespaces + sub-projects), used (its
    namespaces' last seen usage) and left. Three queries whatever the number of clusters:
    what :func:`allocation.allocated` adds up per cluster is read for all of them at once."""
    used: dict[int, list] = {}
    given: dict[int, list] = {}
    for cluster_id, row_hard, row_used in ProjectNamespace.objects.filter(
        project=project
    ).values_list("cluster_id", "hard", "used"):
        used.setdefault(cluster_id, []).append(row_used)
        given.setdefault(cluster_id, []).append(row_hard)
    for cluster_id, child_hard in ProjectCluster.objects.filter(
        project__parent=project
    ).values_list("cluster_id", "hard"):
        given.setdefault(cluster_id, []).append(child_hard)
    clusters = {}
    for row in project.clusters.select_related("cluster").order_by("cluster__name"):
        allocated = quota.total(given.get(row.cluster_id, []))
        clusters[row.cluster.name] = {
            "hard": dict(row.hard),
            "allocated": quota.printable(allocated),
            "used": quota.printable(quota.total(used.get(row.cluster_id, []))),
            "left": quota.printable(quota.remaining(row.hard, allocated)),
        }
    return {"project": project.name, "clusters": clusters}


class ProjectViewSet(PortalModelViewSet):
    """Projects of the tenant. A project member lists only their projects; creating,
    changing and deleting a project (and its quota) is the platform's."""

    queryset = Project.objects.select_related("tenant", "parent").prefetch_related(
        Prefetch(
            "clusters",
            queryset=ProjectCluster.objects.select_related("cluster").order_by("cluster__name"),
        )
    )
    serializer_class = ProjectSerializer
    lookup_field = "name"
    lookup_value_regex = r"prj-[a-z0-9-]+"
    authz_kind = "Project"
    authz_extra_actions = {
        "quota": "getProjectQuota",
        "update_quota": "updateProjectQuota",
        "patch_quota": "updateProjectQuota",
    }
    filterset_class = ProjectFilterSet
    search_fields = ["name", "display_name", "description"]
    ordering_fields = ["name", "display_name", "created_at", "phase"]

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.create_project(
            actor=self.request.user,
            tenant=self.tenant_for_write(),
            display_name=data.get("display_name", ""),
            name=data.get("name"),
            description=data.get("description", ""),
            parent=data.get("parent"),
            clusters=data.get("clusters"),
        )
        self.request._request.audit_resource = serializer.instance.authz_resource

    def perform_update(self, serializer):
        data = serializer.validated_data
        changes = {k: data[k] for k in ("display_name", "description", "parent") if k in data}
        serializer.instance = services.update_project(
            actor=self.request.user, project=serializer.instance, **changes
        )

    def perform_destroy(self, instance):
        services.delete_project(actor=self.request.user, project=instance)

    @extend_schema(responses=QuotaSerializer)
    @action(detail=True, methods=["get"], pagination_class=None)
    def quota(self, request, name=None):
        """Hard, allocated, used and left per cluster the project spans."""
        return Response(quota_report(self.get_object()))

    @extend_schema(request=QuotaInputSerializer, responses=QuotaSerializer)
    @quota.mapping.put
    def update_quota(self, request, name=None):
        """Set the project's quota on every cluster it spans (clusters left out are taken out
        of the project, refused while it has namespaces or sub-projects there)."""
        return self._set_quota(request, replace=True)

    @extend_schema(request=QuotaInputSerializer, responses=QuotaSerializer)
    @quota.mapping.patch
    def patch_quota(self, request, name=None):
        """Set the project's quota on the clusters given (others unchanged)."""
        return self._set_quota(request, replace=False)

    def _set_quota(self, request, replace: bool):
        project = self.get_object()
        body = QuotaInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.set_quota(
            actor=request.user,
            project=project,
            clusters=body.validated_data["clusters"],
            replace=replace,
        )
        return Response(quota_report(project))


class ProjectMemberViewSet(viewsets.ViewSet):
    """Members of a project: users and groups bound to project roles in its domain. Nobody
    gives a role they do not hold in the project; a project keeps at least one owner unless
    the change is made by someone who manages projects platform-wide."""

    permission_classes = [IsAuthenticated]
    lookup_url_kwarg = "member"
    lookup_value_regex = r"@?[a-z0-9][a-z0-9._@-]{0,62}"
    serializer_class = MemberSerializer
    authz_names = {
        "list": "listProjectMembers",
        "create": "createProjectMember",
        "retrieve": "getProjectMember",
        "update": "updateProjectMember",
        "partial_update": "updateProjectMember",
        "destroy": "deleteProjectMember",
    }

    # -- names (also read by manage.py authz_actions) ------------------------------------------
    def authz_action(self) -> str:
        return self.authz_names.get(getattr(self, "action", "") or "", "unknown")

    def authz_resource_path(self) -> str:
        if getattr(self, "action", "") in ("list", "create"):
            member = "*"
        else:
            member = self.kwargs.get("member", "<member>")
        return services.member_resource(self.kwargs.get("project", "<project>"), member)

    def initial(self, request, *args, **kwargs):
        raw = request._request
        raw.audit_action = self.authz_action()
        raw.audit_resource = self.authz_resource_path()
        super().initial(request, *args, **kwargs)

    # -- lookups ---------------------------------------------------------------------------------
    def _project(self) -> Project:
        cached = getattr(self, "_cached_project", None)
        if cached is None:
            cached = self._cached_project = visible_project(self.request, self.kwargs["project"])
        return cached

    def _member(self, member_id: str) -> services.Member:
        """The member if it exists and the user may see it (getProjectMember), else 404; then
        the route's own action is checked (403)."""
        project = self._project()
        found = services.find_member(project, member_id)
        resource = services.member_resource(project.name, member_id)
        if found is None or not check(
            self.request.user, "getProjectMember", resource, tenant=project.tenant
        ):
            raise exceptions.NotFound(f"Project {project.name} has no member '{member_id}'.")
        authorize(self.request, self.authz_action(), resource, project.tenant)
        return found

    @staticmethod
    def _data(member: services.Member) -> dict:
        return MemberSerializer(member).data

    # -- routes ---------------------------------------------------------------------------------
    @extend_schema(responses=MemberSerializer(many=True))
    def list(self, request, project=None):
        project = self._project()
        authorize(
            request, "listProjectMembers", services.member_resource(project.name, "*"),
            project.tenant,
        )  # fmt: skip
        paginator = PortalPagination()
        page = paginator.paginate_queryset(services.members_of(project), request, view=self)
        return paginator.get_paginated_response([self._data(m) for m in page])

    @extend_schema(request=MemberSerializer, responses={201: MemberSerializer})
    def create(self, request, project=None):
        project = self._project()
        body = MemberSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        member_id = data["name"] if data["kind"] == "user" else services.GROUP_MARK + data["name"]
        authorize(
            request,
            "createProjectMember",
            services.member_resource(project.name, member_id),
            project.tenant,
        )
        member = services.add_member(
            actor=request.user,
            project=project,
            kind=data["kind"],
            name=data["name"],
            roles=data["roles"],
        )
        return Response(self._data(member), status=status.HTTP_201_CREATED)

    @extend_schema(responses=MemberSerializer)
    def retrieve(self, request, project=None, member=None):
        return Response(self._data(self._member(member)))

    @extend_schema(request=MemberRolesSerializer, responses=MemberSerializer)
    def update(self, request, project=None, member=None):
        """Make ``roles`` the member's roles in the project."""
        found = self._member(member)
        body = MemberRolesSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        changed = services.set_member_roles(
            actor=request.user,
            project=self._project(),
            member=found,
            roles=body.validated_data["roles"],
        )
        return Response(self._data(changed))

    @extend_schema(request=MemberRolesSerializer, responses=MemberSerializer)
    def partial_update(self, request, project=None, member=None):
        return self.update(request, project=project, member=member)

    def destroy(self, request, project=None, member=None):
        found = self._member(member)
        services.remove_member(actor=request.user, project=self._project(), member=found)
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- kubeconfig --------------------------------------------------------------------------------
KUBECONFIG_ACTION = "getProjectKubeconfig"


def project_kubeconfig(*, server_root: str, project: Project, user, token_for) -> dict:
    """One context per cluster the project spans (named after the cluster), each defaulting to
    the project's first namespace there; ``token_for(cluster)`` mints that context's key."""
    first_namespace: dict[int, str] = {}
    for cluster_id, namespace in (
        ProjectNamespace.objects.filter(project=project)
        .order_by("cluster_id", "namespace")
        .values_list("cluster_id", "namespace")
    ):
        first_namespace.setdefault(cluster_id, namespace)
    merged: dict = {}
    for row in project.clusters.select_related("cluster").order_by("cluster__name"):
        cluster = row.cluster
        config = build_kubeconfig(
            server=f"{server_root}{cluster.name}",
            cluster=cluster,
            user=user,
            token=token_for(cluster),
        )
        context = config["contexts"][0]["context"]
        namespace = first_namespace.get(cluster.pk)
        if namespace:
            context["namespace"] = namespace
        else:
            context.pop("namespace", None)  # none yet: kubectl's own default
        if not merged:
            merged = config
        else:
            for key in ("clusters", "users", "contexts"):
                merged[key].extend(config[key])
    return merged


class ProjectKubeconfigView(KubeconfigDownloadView):
    """A kubeconfig for kubectl through the portal with one context per cluster the project
    spans, each defaulting to the project's first namespace on that cluster.

    Each context has its own new API key of yours that works only for kubectl on that cluster
    (like ``/api/v1/clusters/<c>/kubeconfig``: same ``expires_in`` and lifetime rules, a key
    never outlives the key that asked for it). A kubeconfig grants nothing by itself: the
    proxy authorizes every request with your own permissions in the project. JSON
    ``{"kubeconfig", "expires_at", "project", "clusters"}``, or the YAML itself with
    ``Accept: application/yaml`` / ``?format=yaml``.
    """

    authz_doc = "getProjectKubeconfig on project:<name> (getProject to see it)"

    @KUBECONFIG_SCHEMA
    def post(self, request, name: str):
        raw = request._request
        raw.audit_action = KUBECONFIG_ACTION
        raw.audit_resource = f"project:{name}"
        project = visible_project(request, name)
        authorize(request, KUBECONFIG_ACTION, project.authz_resource, project.tenant)
        if not project.clusters.exists():
            raise ValidationError(f"Project {project.name} spans no cluster yet.")
        mint = self.key_minter(request)
        keys = []

        def token_for(cluster):
            key, plaintext = mint(cluster, f"kubeconfig for {project.name} on {cluster.name}")
            keys.append(key)
            return plaintext

        config = project_kubeconfig(
            server_root=self.server_root(request),
            project=project,
            user=request.user,
            token_for=token_for,
        )
        body = {
            "kubeconfig": yaml.safe_dump(config, sort_keys=False),
            "expires_at": min(k.expires_at for k in keys).isoformat(),
            "project": project.name,
            "clusters": [c["name"] for c in config["clusters"]],
        }
        return self.answer(request, body, f"kubeconfig-{project.name}.yaml")


# -- portal ------------------------------------------------------------------------------------
class PortalView(APIView):
    """Who you are to the console (TKEStack's ``portal``): whether you administer the tenant
    platform-wide, and the projects you are a member of with your roles in each."""

    authz_doc = "authenticated (your own answer)"
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=PortalSerializer)
    def get(self, request):
        return Response(PortalSerializer(portal_for(request.user)).data)
