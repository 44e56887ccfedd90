from rest_framework import serializers

from apps.accounts.models import User
from apps.core.api.fields import TenantSlugRelatedField
from apps.core.api.serializers import TenantSlugField

from ..models import (
    Message,
    MessageRequest,
    NotifyChannel,
    NotifyTemplate,
    Receiver,
    ReceiverGroup,
    name_validator,
)


class _Renaming:
    def validate_name(self, value):
        if self.instance is not None and value != self.instance.name:
            raise serializers.ValidationError("The name cannot be changed.")
        return value


class NotifyChannelSerializer(_Renaming, serializers.ModelSerializer):
    """A way to send notifications. ``config`` per kind — smtp: ``host``, ``port``,
    ``security`` (none|starttls|tls), ``username``, ``from_address``, ``ca_cert``,
    ``verify_tls``; sms: ``url`` (the gateway), ``extra``; wechat: ``msgtype``
    (markdown|text); webhook: ``url``, ``headers``. ``secret`` (SMTP password, gateway token,
    the robot's webhook URL, the webhook's HMAC key) is write-only."""

    tenant = TenantSlugField()
    name = serializers.CharField(max_length=63, validators=[name_validator])
    secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        style={"input_type": "password"},
        help_text="Write-only (never returned), encrypted at rest. Omit it to keep the stored one.",
    )
    has_secret = serializers.SerializerMethodField()
    template_count = serializers.SerializerMethodField()

    class Meta:
        model = NotifyChannel
        fields = [
            "id",
            "name",
            "tenant",
            "display_name",
            "kind",
            "config",
            "secret",
            "has_secret",
            "enabled",
            "template_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def get_has_secret(self, obj) -> bool:
        return bool(obj.secret)

    def get_template_count(self, obj) -> int:
        count = getattr(obj, "template_total", None)
        return count if count is not None else obj.templates.count()


class NotifyTemplateSerializer(_Renaming, serializers.ModelSerializer):
    """What a channel sends: ``subject`` and ``body`` in Django template syntax, rendered in a
    sandbox with the alert variables (alertName, clusterID, value, unit, status, summary,
    url…); email bodies are HTML-escaped."""

    name = serializers.CharField(max_length=63, validators=[name_validator])
    channel = serializers.CharField(source="channel.name", read_only=True)

    class Meta:
        model = NotifyTemplate
        fields = [
            "id",
            "name",
            "channel",
            "display_name",
            "subject",
            "body",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class ReceiverSerializer(_Renaming, serializers.ModelSerializer):
    """Someone notified: email (smtp), mobile (sms, WeChat mentions), WeChat id (wechat), and
    optionally the portal user who reads the messages in the console."""

    tenant = TenantSlugField()
    name = serializers.CharField(max_length=63, validators=[name_validator])
    user = TenantSlugRelatedField(
        slug_field="username", queryset=User.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = Receiver
        fields = [
            "id",
            "name",
            "tenant",
            "display_name",
            "user",
            "email",
            "mobile",
            "wechat_id",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class ReceiverGroupSerializer(_Renaming, serializers.ModelSerializer):
    tenant = TenantSlugField()
    name = serializers.CharField(max_length=63, validators=[name_validator])
    receivers = TenantSlugRelatedField(
        slug_field="name", queryset=Receiver.objects.all(), many=True, required=False
    )

    class Meta:
        model = ReceiverGroup
        fields = ["id", "name", "tenant", "display_name", "receivers", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class MessageSerializer(serializers.ModelSerializer):
    """One notification to one receiver through one channel, with its delivery state;
    ``read`` is whether its receiver has read it in the console."""

    tenant = TenantSlugField()
    request = serializers.PrimaryKeyRelatedField(read_only=True)
    receiver = serializers.CharField(source="receiver_name", read_only=True)
    channel = serializers.CharField(source="channel_name", read_only=True)
    template = serializers.CharField(source="template_name", read_only=True)
    read = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = [
            "id",
            "uuid",
            "tenant",
            "request",
            "receiver",
            "channel",
            "channel_kind",
            "template",
            "destination",
            "subject",
            "body",
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "sent_at",
            "read",
            "read_at",
            "alert_status",
            "source",
            "created_at",
        ]
        read_only_fields = fields

    def get_read(self, obj) -> bool:
        return obj.read_at is not None


class MessageRequestSerializer(serializers.ModelSerializer):
    tenant = TenantSlugField()
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = MessageRequest
        fields = [
            "id",
            "tenant",
            "receivers",
            "receiver_groups",
            "ways",
            "variables",
            "alert_status",
            "source",
            "errors",
            "status",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class TestSendSerializer(serializers.Serializer):
    to = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=255,
        help_text="Email address, mobile number or WeChat id (a webhook goes to its URL).",
    )
    template = serializers.CharField(
        required=False, allow_blank=True, max_length=63, help_text="One of the channel's."
    )
