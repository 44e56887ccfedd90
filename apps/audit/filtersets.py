import django_filters

from .models import AuditEvent


class AuditEventFilterSet(django_filters.FilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    resource = django_filters.CharFilter(field_name="resource", lookup_expr="startswith")
    action = django_filters.CharFilter(field_name="action")
    username = django_filters.CharFilter(field_name="username")

    class Meta:
        model = AuditEvent
        fields = ["action", "outcome", "channel", "method", "status_code", "username"]
