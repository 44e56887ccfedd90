"""``/api/v1/clusters/<cluster>/namespaces/<ns>/releases/``: Helm releases the portal installs.

Authorization (``manage.py authz_actions``): ``listReleases``, ``getRelease``,
``createRelease`` (install), ``updateRelease`` (upgrade), ``rollbackRelease``,
``deleteRelease`` (uninstall) on ``cluster:<c>/namespace:<ns>/release:<name>``; the service
layer (:mod:`apps.charts.releases`) also judges every object the release writes or deletes,
as the YAML apply API does. A cluster the user cannot see (another tenant's included) and a
release that does not exist are 404.

Values may hold passwords: a release's values (per revision) are shown only to those who may
``updateRelease`` it (they could read them back by upgrading anyway); others see
``values: null``. Manifests show Secrets masked unless the user may ``revealSecret`` on them.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from apps.authz import check, check_collection, restrict
from apps.clusters import resources
from apps.clusters.models import Cluster
from apps.core.api.pagination import PortalPagination
from apps.tenants.scope import resolve_scope

from .. import releases
from ..models import ChartVersion, Release, ReleaseRevision


class ChartReferenceSerializer(serializers.Serializer):
    chart_group = serializers.CharField(max_length=63)
    chart = serializers.CharField(max_length=63)
    version = serializers.CharField(max_length=64)


class ReleaseInstallSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=53, help_text="DNS label, at most 53 characters")
    chart = ChartReferenceSerializer()
    values = serializers.DictField(
        required=False, default=dict, help_text="Values overriding the chart's values.yaml"
    )


class ReleaseUpgradeSerializer(serializers.Serializer):
    chart = ChartReferenceSerializer(
        required=False, help_text="Default: the chart version of the live revision"
    )
    values = serializers.DictField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Default: the live revision's values (as Helm)",
    )
    reuse_values = serializers.BooleanField(
        default=False, help_text="Merge the values given over the live revision's"
    )


class ReleaseRollbackSerializer(serializers.Serializer):
    revision = serializers.IntegerField(min_value=1)


class ReleaseRevisionSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None)
    values = serializers.SerializerMethodField()

    class Meta:
        model = ReleaseRevision
        fields = [
            "revision",
            "chart_name",
            "chart_version_name",
            "app_version",
            "status",
            "description",
            "values",
            "created_by",
            "created_at",
        ]

    def get_values(self, obj) -> dict | None:
        if not self.context.get("show_values"):
            return None
        return releases.values_of(obj)


class ReleaseSerializer(serializers.ModelSerializer):
    cluster = serializers.CharField(source="cluster.name")
    project = serializers.CharField(source="project.name", default=None)
    chart_group = serializers.CharField(source="chart_version.chart.group.name", default=None)

    class Meta:
        model = Release
        fields = [
            "name",
            "namespace",
            "cluster",
            "project",
            "chart_group",
            "chart_name",
            "chart_version_name",
            "status",
            "revision",
            "message",
            "created_at",
            "updated_at",
        ]


class ReleaseDetailSerializer(ReleaseSerializer):
    revisions = serializers.SerializerMethodField()
    values_visible = serializers.SerializerMethodField()

    class Meta(ReleaseSerializer.Meta):
        fields = [*ReleaseSerializer.Meta.fields, "values_visible", "revisions"]

    def get_values_visible(self, obj) -> bool:
        return bool(self.context.get("show_values"))

    def get_revisions(self, obj) -> list[dict]:
        rows = obj.revisions.select_related("created_by").order_by("-revision")
        return ReleaseRevisionSerializer(rows, many=True, context=self.context).data


class ReleaseViewSet(viewsets.ViewSet):
    """Install a chart version of a chart group into a namespace, upgrade, roll back,
    uninstall (the Release row and its revisions stay as history, status ``uninstalled``).
    ``POST …/releases/?dry_run=true`` renders and dry-runs the objects on the cluster and
    answers with them and their diffs, changing nothing."""

    permission_classes = [IsAuthenticated]
    # (a plain ViewSet: drf-spectacular documents the list as paginated from this)
    pagination_class = PortalPagination
    lookup_field = "name"
    lookup_url_kwarg = None
    authz_names = {
        "list": "listReleases",
        "create": "createRelease (updateRelease for a dry run of an installed release)",
        "retrieve": "getRelease",
        "manifest": "getRelease",
        "partial_update": "updateRelease",
        "upgrade": "updateRelease",
        "rollback": "rollbackRelease",
        "destroy": "deleteRelease",
    }

    # -- names (for manage.py authz_actions and the audit rows) -------------------------------
    def authz_action(self) -> str:
        return self.authz_names.get(getattr(self, "action", "") or "", "")

    def authz_resource_path(self) -> str:
        name = self.kwargs.get("name") or "*"
        return (
            f"cluster:{self.kwargs.get('cluster', '<cluster>')}/namespace:"
            f"{self.kwargs.get('namespace', '<ns>')}/release:{name}"
        )

    def initial(self, request, *args, **kwargs):
        # Chart values may hold passwords under any key: never kept in the audit trail.
        request._request.audit_redact_keys = ("values",)
        super().initial(request, *args, **kwargs)

    def _audit(self, action: str, resource: str) -> None:
        raw = self.request._request
        raw.audit_action, raw.audit_resource = action, resource

    # -- lookups ------------------------------------------------------------------------------
    def cluster(self) -> Cluster:
        cached = getattr(self, "_cluster", None)
        if cached is not None:
            return cached
        scope = resolve_scope(self.request)
        visible = restrict(Cluster.objects.in_scope(scope), self.request.user, "getCluster")
        cluster = (
            visible.select_related("credential", "tenant")
            .filter(name=self.kwargs["cluster"])
            .first()
        )
        if cluster is None:
            raise exceptions.NotFound(f"Cluster '{self.kwargs['cluster']}' not found.")
        self._cluster = cluster
        self.request._request.audit_tenant = cluster.tenant
        return cluster

    def release(self, name: str) -> Release:
        cluster = self.cluster()
        release = (
            Release.objects.select_related(
                "cluster", "cluster__tenant", "tenant", "project", "chart_version__chart__group"
            )
            .filter(cluster=cluster, namespace=self.kwargs["namespace"], name=name)
            .first()
        )
        if release is None:
            raise exceptions.NotFound(f"Release '{name}' not found.")
        return release

    def judge(self, action: str, resource: str) -> None:
        self._audit(action, resource)
        cluster = self.cluster()
        decide = check_collection if "*" in resource else check
        decision = decide(self.request.user, action, resource, tenant=cluster.tenant)
        if not decision:
            raise exceptions.PermissionDenied(
                f"You are not allowed to {action} on {resource}: {decision.reason}."
            )

    def chart_version(self, reference: dict) -> ChartVersion:
        """The chart version named in the request, in the release's tenant; one the user may
        not read is answered as missing (a 400 on ``chart``), never told apart."""
        found = (
            ChartVersion.objects.select_related("chart__group__tenant", "chart__group__project")
            .filter(
                chart__group__tenant=self.cluster().tenant,
                chart__group__name=reference["chart_group"],
                chart__name=reference["chart"],
                version=reference["version"],
            )
            .first()
        )
        if found is None or not releases.may_pull(self.request.user, found):
            raise exceptions.ValidationError(
                {
                    "chart": f"Chart {reference['chart_group']}/{reference['chart']} version "
                    f"{reference['version']} not found."
                }
            )
        return found

    def _detail(self, release: Release) -> Response:
        show = bool(check(self.request.user, "updateRelease", release.authz_resource,
                          tenant=release.tenant))  # fmt: skip
        data = ReleaseDetailSerializer(release, context={"show_values": show}).data
        return Response(data)

    # -- endpoints ----------------------------------------------------------------------------
    @extend_schema(
        responses=ReleaseSerializer(many=True),
        parameters=[
            OpenApiParameter("limit", OpenApiTypes.INT, description="Page size (at most 500)"),
            OpenApiParameter("offset", OpenApiTypes.INT),
        ],
    )
    def list(self, request, **kwargs):
        cluster = self.cluster()
        namespace = kwargs["namespace"]
        self.judge("listReleases", releases.release_path(cluster, namespace, "*"))
        rows = (
            Release.objects.select_related("cluster", "project", "chart_version__chart__group")
            .filter(cluster=cluster, namespace=namespace)
            .order_by("name")
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(ReleaseSerializer(page, many=True).data)

    @extend_schema(
        request=ReleaseInstallSerializer,
        responses={201: ReleaseDetailSerializer, 200: OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter(
                "dry_run", OpenApiTypes.BOOL, description="Render and diff only; change nothing"
            )
        ],
    )
    def create(self, request, **kwargs):
        cluster = self.cluster()
        namespace = kwargs["namespace"]
        body = ReleaseInstallSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        name = body.validated_data["name"]
        path = releases.release_path(cluster, namespace, name)
        dry_run = request.query_params.get("dry_run") in ("true", "1", "True")
        action = "createRelease"
        if (
            dry_run
            and Release.objects.filter(
                cluster=cluster, namespace=namespace, name=name, revision__gt=0
            ).exists()
        ):
            action = "updateRelease"  # the dry run of an upgrade
        # The release action first: who may not install hears so, not whether a chart exists.
        self.judge(action, path)
        chart_version = self.chart_version(body.validated_data["chart"])
        values = body.validated_data["values"]
        if dry_run:
            answer = releases.preview(
                actor=request.user,
                cluster=cluster,
                namespace=namespace,
                name=name,
                chart_version=chart_version,
                values=values,
            )
            answer["objects"] = [self._shown(doc, cluster) for doc in answer["objects"]]
            return Response({"dry_run": True, **answer})
        release = releases.install(
            actor=request.user,
            cluster=cluster,
            namespace=namespace,
            name=name,
            chart_version=chart_version,
            values=values,
        )
        response = self._detail(self.release(release.name))
        response.status_code = 201
        return response

    @extend_schema(responses=ReleaseDetailSerializer)
    def retrieve(self, request, name=None, **kwargs):
        release = self.release(name)
        self.judge("getRelease", release.authz_resource)
        return self._detail(release)

    @extend_schema(request=ReleaseUpgradeSerializer, responses=ReleaseDetailSerializer)
    def partial_update(self, request, name=None, **kwargs):
        """Upgrade (the same as ``POST …/upgrade/``)."""
        return self.upgrade(request, name=name, **kwargs)

    @extend_schema(request=ReleaseUpgradeSerializer, responses=ReleaseDetailSerializer)
    def upgrade(self, request, name=None, **kwargs):
        release = self.release(name)
        self.judge("updateRelease", release.authz_resource)
        body = ReleaseUpgradeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reference = body.validated_data.get("chart")
        chart_version = self.chart_version(reference) if reference else None
        releases.upgrade(
            actor=request.user,
            release=release,
            chart_version=chart_version,
            values=body.validated_data["values"],
            reuse_values=body.validated_data["reuse_values"],
        )
        return self._detail(self.release(name))

    @extend_schema(request=ReleaseRollbackSerializer, responses=ReleaseDetailSerializer)
    def rollback(self, request, name=None, **kwargs):
        release = self.release(name)
        self._audit("rollbackRelease", release.authz_resource)
        body = ReleaseRollbackSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        releases.rollback(
            actor=request.user, release=release, revision=body.validated_data["revision"]
        )
        return self._detail(self.release(name))

    @extend_schema(responses={204: None})
    def destroy(self, request, name=None, **kwargs):
        """Uninstall: the objects are deleted; the release stays, ``uninstalled``, with its
        revisions as history."""
        release = self.release(name)
        self._audit("deleteRelease", release.authz_resource)
        releases.uninstall(actor=request.user, release=release)
        return Response(status=204)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "revision", OpenApiTypes.INT, description="Default: the latest revision"
            )
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def manifest(self, request, name=None, **kwargs):
        """One revision's applied objects (Secrets' values masked unless you may
        revealSecret on them), as YAML text and as objects."""
        release = self.release(name)
        self.judge("getRelease", release.authz_resource)
        raw = request.query_params.get("revision")
        revisions = release.revisions.order_by("-revision")
        if raw is not None:
            if not raw.isdigit():
                raise exceptions.ValidationError({"revision": "A revision number."})
            revisions = revisions.filter(revision=int(raw))
        revision = revisions.first()
        if revision is None:
            raise exceptions.NotFound(f"Release '{name}' has no revision {raw or ''}".strip() + ".")
        cluster = self.cluster()
        docs = [self._shown(d, cluster) for d in releases.manifest_documents(revision.manifest)]
        return Response(
            {
                "revision": revision.revision,
                "status": revision.status,
                "manifest": releases.manifest_text(docs),
                "objects": docs,
            }
        )

    def _shown(self, doc: dict, cluster) -> dict:
        """A Secret with its values masked unless the user may revealSecret on it."""
        if doc.get("kind") != "Secret" or doc.get("apiVersion") != "v1":
            return doc
        meta = doc.get("metadata") or {}
        path = resources.resource_path(
            cluster.name, resources.KINDS["secrets"], meta.get("namespace"), meta.get("name")
        )
        if check(self.request.user, "revealSecret", path, tenant=cluster.tenant):
            return doc
        return resources.mask_secret(doc)
