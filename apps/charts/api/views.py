"""``/api/v1/chart-groups/``: a tenant's chart groups; nested, read-only,
``…/<group>/charts/`` and ``…/<group>/charts/<chart>/versions/`` (a version can be deleted).

Authorization (``manage.py authz_actions``): ``listChartGroups`` … ``deleteChartGroup`` on
``chartgroup:<g>``; ``listCharts`` / ``getChart`` on ``chartgroup:<g>/chart:<c>``;
``listChartVersions`` / ``getChartVersion`` / ``deleteChartVersion`` on
``…/version:<v>``; a sync needs ``updateChartGroup``. Other tenants' groups, and groups one may
not get, are 404 on every nested route too. (Helm's own protocol and uploads are at ``/chart/``,
apps.charts.views.)
"""

from __future__ import annotations

from django.db.models import Count
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.authz import check, restrict
from apps.core.api.viewsets import PortalModelViewSet, PortalViewSetMixin

from .. import services
from ..filtersets import ChartGroupFilterSet
from ..models import Chart, ChartGroup, ChartVersion
from .serializers import (
    ChartGroupSerializer,
    ChartSerializer,
    ChartVersionListSerializer,
    ChartVersionSerializer,
    SyncReportSerializer,
)

GROUP_LOOKUP = r"[a-z0-9._-]+"


class ChartGroupViewSet(PortalModelViewSet):
    """Chart groups of the tenant: public ones anyone (anonymous Helm clients too) reads, user
    ones their owner, project ones the project's members; writes need policy."""

    queryset = ChartGroup.objects.select_related("tenant", "project", "owner").annotate(
        chart_total=Count("charts")
    )
    serializer_class = ChartGroupSerializer
    lookup_field = "name"
    lookup_value_regex = GROUP_LOOKUP
    authz_kind = "ChartGroup"
    authz_extra_actions = {"sync": "updateChartGroup"}
    filterset_class = ChartGroupFilterSet
    search_fields = ["name", "display_name", "description"]
    ordering_fields = ["name", "created_at", "visibility"]

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        name = data.pop("name")
        serializer.instance = services.create_group(
            actor=self.request.user, tenant=self.tenant_for_write(), name=name, **data
        )
        self.request._request.audit_resource = serializer.instance.authz_resource

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("name", None)
        serializer.instance = services.update_group(
            actor=self.request.user, group=serializer.instance, **data
        )

    def perform_destroy(self, instance):
        services.delete_group(actor=self.request.user, group=instance)

    @extend_schema(request=None, responses={202: SyncReportSerializer})
    @action(detail=True, methods=["post"])
    def sync(self, request, name=None):
        """Import now what the group's repository lists and the group lacks (a Celery task;
        the report is on the group: ``last_synced_at``, ``sync_message``)."""
        group = self.get_object()
        if not group.import_url:
            raise exceptions.ValidationError(
                {"import_url": ["The group imports nothing: set import_url first."]}
            )
        from ..tasks import sync_chart_group

        result = sync_chart_group.delay(group.pk)
        body = {"task_id": result.id}
        if result.ready():  # CELERY_TASK_ALWAYS_EAGER: it ran in this request
            body["report"] = result.get()
        return Response(body, status=status.HTTP_202_ACCEPTED)


class _InGroup(PortalViewSetMixin):
    """Routes under one chart group: the group must be visible to the user (else 404)."""

    def group(self) -> ChartGroup:
        cached = getattr(self, "_group", None)
        if cached is None:
            visible = restrict(
                ChartGroup.objects.in_scope(self.scope), self.request.user, "getChartGroup"
            )
            cached = visible.select_related("tenant").filter(name=self.kwargs["group"]).first()
            if cached is None:
                raise exceptions.NotFound(f"Chart group '{self.kwargs['group']}' not found.")
            self._group = cached
        return cached

    def object_tenant(self, obj):
        return self.group().tenant

    def authz_collection(self):
        # No group lookup here: a user with no permission at all is 403 before names are
        # looked at (the permission class asks this first).
        return self.authz_resource_path(), self.scope.tenant

    def authorize_collection(self):
        """List routes: the action on the collection of this group (``chart:*``)."""
        group = self.group()
        action_name, resource = self.authz_action(), self.authz_resource_path()
        raw = self.request._request
        raw.audit_action, raw.audit_resource = action_name, resource
        decision = check(self.request.user, action_name, resource, tenant=group.tenant)
        if not decision:
            raise exceptions.PermissionDenied(
                f"You are not allowed to {action_name} on {resource}: {decision.reason}."
            )

    def scoped_queryset(self, queryset):
        return queryset

    def get_queryset(self):
        # Not restrict(): charts and versions have no path expression of their own; the
        # group is checked above and each object by the permission class.
        return self.queryset.filter(**self.group_filter())

    def list(self, request, *args, **kwargs):
        self.authorize_collection()
        return super().list(request, *args, **kwargs)


class ChartViewSet(
    _InGroup, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The charts of a group (read-only: charts come from uploads and imports)."""

    queryset = Chart.objects.select_related("group").annotate(version_total=Count("versions"))
    serializer_class = ChartSerializer
    lookup_field = "name"
    lookup_value_regex = r"[a-z0-9-]+"
    authz_kind = "Chart"
    search_fields = ["name", "description"]
    ordering_fields = ["name", "pull_count", "updated_at"]

    def authz_resource_path(self) -> str:
        kw = self.kwargs
        return f"chartgroup:{kw.get('group', '<group>')}/chart:{kw.get('name') or '*'}"

    def group_filter(self) -> dict:
        return {"group": self.group()}


class ChartVersionViewSet(
    _InGroup,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The versions of a chart, newest upload first; a detail has values.yaml. Deleting one
    removes its archive (the chart goes with its last version)."""

    queryset = ChartVersion.objects.select_related("chart__group__tenant", "pushed_by")
    serializer_class = ChartVersionSerializer
    lookup_field = "version"
    lookup_value_regex = r"[0-9A-Za-z.+-]+"
    authz_kind = "ChartVersion"
    ordering_fields = ["version", "created_at"]

    def get_serializer_class(self):
        return ChartVersionListSerializer if self.action == "list" else ChartVersionSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        return queryset.defer("values") if self.action == "list" else queryset

    def authz_resource_path(self) -> str:
        kw = self.kwargs
        return (
            f"chartgroup:{kw.get('group', '<group>')}/chart:{kw.get('chart', '<chart>')}"
            f"/version:{kw.get('version') or '*'}"
        )

    def authz_object(self, obj):
        self.request._request.audit_resource = self.authz_resource_path()
        return self.authz_resource_path(), self.object_tenant(obj)

    def group_filter(self) -> dict:
        return {"chart__group": self.group(), "chart__name": self.kwargs["chart"]}

    def perform_destroy(self, instance):
        services.delete_version(actor=self.request.user, version=instance)
