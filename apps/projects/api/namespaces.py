"""REST endpoints for a project's namespaces (routes in ``namespace_urls.py``).

A project namespace is addressed by cluster and namespace as two path segments,
``/api/v1/projects/<project>/namespaces/<cluster>/<namespace>/``: a namespace name is only
unique on its cluster, and two segments need no parsing (TKEStack's ``<cluster>-<namespace>``
is ambiguous once names contain hyphens).

Authorization: actions ``listProjectNamespaces``, ``getProjectNamespace``,
``createProjectNamespace``, ``updateProjectNamespace``, ``deleteProjectNamespace``,
``moveProjectNamespace``, ``importProjectNamespace`` on
``project:<p>/cluster:<c>/namespace:<ns>``, judged in project ``<p>``'s domain. A move also
needs ``createProjectNamespace`` or ``importProjectNamespace`` on the destination's path.
Writes answer at once; the cluster work follows in a task (the row's ``phase``).
"""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.authz import check, restrict
from apps.clusters.models import Cluster
from apps.core.api.viewsets import PortalViewSetMixin

from .. import namespaces
from ..models import Project, ProjectNamespace


class ProjectNamespaceSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="project.name", read_only=True)
    cluster = serializers.CharField(source="cluster.name", read_only=True)

    class Meta:
        model = ProjectNamespace
        fields = [
            "project",
            "cluster",
            "namespace",
            "hard",
            "used",
            "phase",
            "message",
            "reconciled_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ProjectNamespaceCreateSerializer(serializers.Serializer):
    cluster = serializers.CharField(max_length=32, help_text="A cluster the project spans.")
    namespace = serializers.CharField(max_length=63, help_text="A Kubernetes namespace name.")
    hard = serializers.JSONField(
        required=False,
        default=dict,
        help_text='Resource name → quantity, e.g. {"requests.cpu": "2", "pods": "20"}.',
    )


class ProjectNamespaceImportSerializer(ProjectNamespaceCreateSerializer):
    hard = serializers.JSONField(
        required=False,
        allow_null=True,
        default=None,
        help_text="The quota to give it; absent: what its ResourceQuotas already allow.",
    )


class ProjectNamespaceQuotaSerializer(serializers.Serializer):
    hard = serializers.JSONField(help_text="The namespace's new hard quota.")


class ProjectNamespaceMoveSerializer(serializers.Serializer):
    destination = serializers.CharField(max_length=63, help_text="The project to move it to.")


class ProjectNamespaceFilterSet(django_filters.FilterSet):
    cluster = django_filters.CharFilter(field_name="cluster__name")

    class Meta:
        model = ProjectNamespace
        fields = ["cluster", "phase", "namespace"]


class ProjectNamespaceViewSet(
    PortalViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """The namespaces a project owns on the clusters it spans, with their quotas."""

    queryset = ProjectNamespace.objects.select_related("project", "cluster", "tenant")
    serializer_class = ProjectNamespaceSerializer
    authz_kind = "ProjectNamespace"
    lookup_field = "namespace"
    authz_extra_actions = {
        "delete_preview": "getProjectNamespace",
        "move": "moveProjectNamespace",
        "import_namespace": "importProjectNamespace",
    }
    filterset_class = ProjectNamespaceFilterSet
    search_fields = ["namespace"]
    ordering_fields = ["namespace", "phase", "created_at"]

    # -- names ---------------------------------------------------------------------------------
    def authz_resource_path(self) -> str:
        kw = self.kwargs
        return (
            f"project:{kw.get('project', '*')}/cluster:{kw.get('cluster') or '*'}"
            f"/namespace:{kw.get('namespace') or '*'}"
        )

    def authorize(self, action_name: str, resource: str, tenant) -> None:
        raw = self.request._request
        raw.audit_action, raw.audit_resource = action_name, resource
        decision = check(self.request.user, action_name, resource, tenant=tenant)
        if not decision:
            raise exceptions.PermissionDenied(
                f"You are not allowed to {action_name} on {resource}: {decision.reason}."
            )

    # -- lookups -----------------------------------------------------------------------------
    def project(self) -> Project:
        """The project of the URL: 404 unless it is in the request's tenant and visible."""
        cached = getattr(self, "_project", None)
        if cached is None:
            visible = restrict(
                Project.objects.in_scope(self.scope), self.request.user, "getProject"
            )
            cached = visible.select_related("tenant").filter(name=self.kwargs["project"]).first()
            if cached is None:
                raise exceptions.NotFound(f"Project '{self.kwargs['project']}' not found.")
            self._project = cached
        return cached

    def get_queryset(self):
        queryset = super().get_queryset().filter(project__name=self.kwargs["project"])
        if "cluster" in self.kwargs:
            queryset = queryset.filter(cluster__name=self.kwargs["cluster"])
        return queryset

    def _cluster(self, project: Project, name: str) -> Cluster:
        cluster = (
            Cluster.objects.select_related("credential")
            .filter(tenant=project.tenant, name=name)
            .first()
        )
        if cluster is None:
            raise ValidationError({"cluster": f"No cluster named {name}."})
        return cluster

    def _target(self, body) -> tuple[Project, Cluster, str]:
        project = self.project()
        name = body.validated_data["namespace"]
        namespaces.validate_name(name)  # before it becomes part of a resource path
        cluster = self._cluster(project, body.validated_data["cluster"])
        resource = f"project:{project.name}/cluster:{cluster.name}/namespace:{name}"
        self.authorize(self.authz_action(), resource, project.tenant)
        return project, cluster, name

    def _answer(self, row: ProjectNamespace, code=status.HTTP_200_OK) -> Response:
        row = self.queryset.get(pk=row.pk)
        return Response(ProjectNamespaceSerializer(row).data, status=code)

    # -- collection ------------------------------------------------------------------------------
    def list(self, request, *args, **kwargs):
        self.project()
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=ProjectNamespaceCreateSerializer, responses={201: ProjectNamespaceSerializer}
    )
    def create(self, request, *args, **kwargs):
        """Create a namespace on a cluster the project spans (Pending until the task has made
        the namespace, its ResourceQuota and LimitRange on the cluster)."""
        body = ProjectNamespaceCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        project, cluster, name = self._target(body)
        row = namespaces.create_namespace(
            actor=request.user,
            project=project,
            cluster=cluster,
            namespace=name,
            hard=body.validated_data["hard"],
        )
        return self._answer(row, status.HTTP_201_CREATED)

    @extend_schema(
        request=ProjectNamespaceImportSerializer, responses={201: ProjectNamespaceSerializer}
    )
    @action(detail=False, methods=["post"], url_path="import")
    def import_namespace(self, request, *args, **kwargs):
        """Bring an existing namespace of the cluster into the project when its quota fits."""
        body = ProjectNamespaceImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        project, cluster, name = self._target(body)
        row = namespaces.import_namespace(
            actor=request.user,
            project=project,
            cluster=cluster,
            namespace=name,
            hard=body.validated_data["hard"],
        )
        return self._answer(row, status.HTTP_201_CREATED)

    # -- one namespace ---------------------------------------------------------------------------
    @extend_schema(request=ProjectNamespaceQuotaSerializer, responses=ProjectNamespaceSerializer)
    def partial_update(self, request, *args, **kwargs):
        """Change the namespace's quota (admitted against what the project has left)."""
        row = self.get_object()
        body = ProjectNamespaceQuotaSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        row = namespaces.update_quota(actor=request.user, row=row, hard=body.validated_data["hard"])
        return self._answer(row)

    @extend_schema(responses={202: ProjectNamespaceSerializer})
    def destroy(self, request, *args, **kwargs):
        """Delete the namespace and everything in it (see delete-preview first): Terminating
        until the cluster has deleted it, then gone."""
        row = namespaces.delete_namespace(actor=request.user, row=self.get_object())
        return self._answer(row, status.HTTP_202_ACCEPTED)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"], url_path="delete-preview")
    def delete_preview(self, request, *args, **kwargs):
        """What deleting the namespace would delete, counted on the cluster now."""
        return Response(namespaces.delete_preview(self.get_object()))

    @extend_schema(request=ProjectNamespaceMoveSerializer, responses=ProjectNamespaceSerializer)
    @action(detail=True, methods=["post"])
    def move(self, request, *args, **kwargs):
        """Move the namespace to another project of the tenant that spans its cluster."""
        row = self.get_object()
        body = ProjectNamespaceMoveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        wanted = body.validated_data["destination"]
        destination = (
            restrict(Project.objects.filter(tenant=row.tenant), request.user, "getProject")
            .filter(name=wanted)
            .first()
        )
        if destination is None:
            raise ValidationError({"destination": f"No project named {wanted}."})
        there = f"project:{destination.name}/cluster:{row.cluster.name}/namespace:{row.namespace}"
        if not any(
            check(request.user, name, there, tenant=row.tenant)
            for name in ("createProjectNamespace", "importProjectNamespace")
        ):
            raise exceptions.PermissionDenied(
                f"You are not allowed to createProjectNamespace or importProjectNamespace on "
                f"{there}."
            )
        row = namespaces.move_namespace(actor=request.user, row=row, destination=destination)
        return self._answer(row)
