"""``/api/v1/registry/garbage-collections/``: start a garbage collection of the registry's
storage (shared by every tenant) and read the reports — the platform administrator's only
(``garbageCollectRegistry``, judged at platform level)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.response import Response

from apps.authz import check
from apps.core.api.viewsets import PortalViewSetMixin

from .. import services
from ..models import GarbageCollection
from .serializers import GarbageCollectionSerializer

ACTION = "garbageCollectRegistry"


class GarbageCollectionViewSet(
    PortalViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Garbage collections: POST (no body) queues one; each row is its report."""

    queryset = GarbageCollection.objects.select_related("triggered_by__tenant")
    serializer_class = GarbageCollectionSerializer
    authz_kind = "GarbageCollection"
    authz_extra_actions = {"list": ACTION, "retrieve": ACTION, "create": ACTION}
    authz_platform_actions = frozenset({"list", "retrieve", "create"})
    ordering_fields = ["created_at"]

    def authz_resource_path(self) -> str:
        return "*"

    def check_permissions(self, request):
        super().check_permissions(request)
        # Reads too: the reports show every tenant's storage, the platform's business.
        decision = check(request.user, ACTION, "*")
        if not decision:
            raise exceptions.PermissionDenied(
                f"You are not allowed to {ACTION}: the registry's storage is the platform "
                f"administrator's ({decision.reason})."
            )

    def scoped_queryset(self, queryset):
        return queryset

    def get_queryset(self):
        return self.queryset.all()

    @extend_schema(request=None, responses={202: GarbageCollectionSerializer})
    def create(self, request, *args, **kwargs):
        """Queue a garbage collection of the whole registry storage (no body); its row is the
        report. Run it in a maintenance window or with the registry read-only (README)."""
        run = services.start_garbage_collection(actor=request.user)
        run.refresh_from_db()
        return Response(self.get_serializer(run).data, status=status.HTTP_202_ACCEPTED)
