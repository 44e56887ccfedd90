from datetime import timedelta

import django_filters
from django import forms

from .models import AuditEvent

# ISO 8601 and PostgreSQL agree on offsets up to ±14:00; PostgreSQL refuses larger ones with a
# DataError, so they are a validation error on the field instead.
MAX_UTC_OFFSET = timedelta(hours=14)


class _BoundedDateTimeField(forms.DateTimeField):
    def to_python(self, value):
        result = super().to_python(value)
        offset = result.utcoffset() if result is not None else None
        if offset is not None and abs(offset) > MAX_UTC_OFFSET:
            raise forms.ValidationError("UTC offsets are at most ±14:00.", code="invalid")
        return result


class _BoundedIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    class field_class(django_filters.IsoDateTimeFilter.field_class, _BoundedDateTimeField):
        pass


class AuditEventFilterSet(django_filters.FilterSet):
    since = _BoundedIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = _BoundedIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    resource = django_filters.CharFilter(field_name="resource", lookup_expr="startswith")
    action = django_filters.CharFilter(field_name="action")
    username = django_filters.CharFilter(field_name="username")

    class Meta:
        model = AuditEvent
        fields = ["action", "outcome", "channel", "method", "status_code", "username"]
