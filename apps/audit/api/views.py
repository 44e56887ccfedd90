from apps.core.api.viewsets import PortalReadOnlyViewSet

from ..filtersets import AuditEventFilterSet
from ..models import AuditEvent
from .serializers import AuditEventSerializer


class AuditEventViewSet(PortalReadOnlyViewSet):
    """The audit trail of the current tenant, newest first. Read-only."""

    queryset = AuditEvent.objects.select_related("tenant")
    serializer_class = AuditEventSerializer
    authz_kind = "AuditEvent"
    filterset_class = AuditEventFilterSet
    search_fields = ["action", "resource", "path", "username"]
    ordering_fields = ["created_at", "duration_ms", "status_code"]
