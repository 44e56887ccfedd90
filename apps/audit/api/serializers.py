from rest_framework import serializers

from apps.core.api.serializers import TenantSlugField

from ..models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    tenant = TenantSlugField()

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "tenant",
            "username",
            "api_key_id",
            "source_ip",
            "user_agent",
            "channel",
            "action",
            "resource",
            "method",
            "path",
            "status_code",
            "outcome",
            "duration_ms",
            "request_id",
            "request_body",
            "message",
        ]
        read_only_fields = fields
