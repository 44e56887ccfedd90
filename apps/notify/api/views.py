"""``/api/v1/notify/…``: channels (with ``…/test/``, the test-send button), their templates
(``channels/<channel>/templates/``), receivers, receiver groups, messages (read/unread) and
message requests (read-only).

Authorization (``manage.py authz_actions``): ``…NotifyChannel(s)`` and ``testNotifyChannel``
on ``notifychannel:<name>``; ``…NotifyTemplate(s)`` on
``notifychannel:<c>/notifytemplate:<name>``; ``…Receiver(s)`` on ``receiver:<name>``;
``…ReceiverGroup(s)`` on ``receivergroup:<name>``; ``listMessages`` / ``getMessage`` /
``updateMessage`` (read, unread) on ``message:<id>`` — and a message addressed to a receiver
linked to the user is the user's own (self-service, no policy needed);
``…MessageRequest(s)`` on ``messagerequest:<id>``. Other tenants' objects are 404.
"""

from __future__ import annotations

from django.db.models import Count
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.authz import restrict
from apps.core.api.viewsets import PortalModelViewSet, PortalReadOnlyViewSet

from .. import services
from ..models import Message, MessageRequest, NotifyChannel, NotifyTemplate, Receiver, ReceiverGroup
from .serializers import (
    MessageRequestSerializer,
    MessageSerializer,
    NotifyChannelSerializer,
    NotifyTemplateSerializer,
    ReceiverGroupSerializer,
    ReceiverSerializer,
    TestSendSerializer,
)

NAME = r"[a-z0-9-]+"


class _Named(PortalModelViewSet):
    lookup_field = "name"
    lookup_value_regex = NAME
    search_fields = ["name", "display_name"]
    ordering_fields = ["name", "created_at"]
    create_service = update_service = delete_service = None

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        name = data.pop("name")
        serializer.instance = type(self).create_service(
            actor=self.request.user, tenant=self.tenant_for_write(), name=name, **data
        )
        self.request._request.audit_resource = serializer.instance.authz_resource

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("name", None)
        serializer.instance = type(self).update_service(
            serializer.instance, actor=self.request.user, **data
        )

    def perform_destroy(self, instance):
        type(self).delete_service(instance, actor=self.request.user)


class NotifyChannelViewSet(_Named):
    """Notification channels of the tenant: SMTP email, SMS gateway, WeChat Work robot,
    signed webhook. The secret is write-only."""

    queryset = NotifyChannel.objects.select_related("tenant").annotate(
        template_total=Count("templates")
    )
    serializer_class = NotifyChannelSerializer
    authz_kind = "NotifyChannel"
    authz_extra_actions = {"test": "testNotifyChannel"}
    filterset_fields = ["kind", "enabled"]

    @staticmethod
    def create_service(**kw):
        return services.create_channel(**kw)

    @staticmethod
    def update_service(instance, **kw):
        return services.update_channel(channel=instance, **kw)

    @staticmethod
    def delete_service(instance, **kw):
        return services.delete_channel(channel=instance, **kw)

    @extend_schema(request=TestSendSerializer, responses={200: MessageSerializer})
    @action(detail=True, methods=["post"])
    def test(self, request, name=None):
        """Send a test message now, to ``to`` (an email address, mobile number or WeChat id;
        a webhook goes to its URL), optionally with one of the channel's templates. The
        answer is the recorded message: ``status`` sent or failed with ``last_error``."""
        channel = self.get_object()
        body = TestSendSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        message = services.send_test(
            channel=channel,
            actor=request.user,
            to=body.validated_data.get("to", ""),
            template=body.validated_data.get("template", ""),
        )
        return Response(MessageSerializer(message, context={"request": request}).data)


class NotifyTemplateViewSet(PortalModelViewSet):
    """The templates of one channel (``/notify/channels/<channel>/templates/``)."""

    queryset = NotifyTemplate.objects.select_related("channel", "channel__tenant")
    serializer_class = NotifyTemplateSerializer
    lookup_field = "name"
    lookup_value_regex = NAME
    authz_kind = "NotifyTemplate"
    search_fields = ["name", "display_name"]
    ordering_fields = ["name", "created_at"]

    def authz_resource_path(self) -> str:
        kw = self.kwargs
        return (
            f"notifychannel:{kw.get('channel', '<channel>')}/notifytemplate:{kw.get('name') or '*'}"
        )

    def object_tenant(self, obj):
        return obj.channel.tenant

    def channel(self) -> NotifyChannel:
        cached = getattr(self, "_channel", None)
        if cached is None:
            visible = restrict(
                NotifyChannel.objects.in_scope(self.scope), self.request.user, "getNotifyChannel"
            )
            cached = visible.select_related("tenant").filter(name=self.kwargs["channel"]).first()
            if cached is None:
                raise exceptions.NotFound(f"Channel '{self.kwargs['channel']}' not found.")
            self._channel = cached
        return cached

    def scoped_queryset(self, queryset):
        return queryset.filter(channel=self.channel())

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        name = data.pop("name")
        serializer.instance = services.create_template(
            actor=self.request.user, channel=self.channel(), name=name, **data
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("name", None)
        serializer.instance = services.update_template(
            actor=self.request.user, template=serializer.instance, **data
        )

    def perform_destroy(self, instance):
        services.delete_template(actor=self.request.user, template=instance)


class ReceiverViewSet(_Named):
    """People notified, with their addresses per channel kind."""

    queryset = Receiver.objects.select_related("tenant", "user")
    serializer_class = ReceiverSerializer
    authz_kind = "Receiver"
    search_fields = ["name", "display_name", "email", "mobile", "wechat_id"]

    @staticmethod
    def create_service(**kw):
        return services.create_receiver(**kw)

    @staticmethod
    def update_service(instance, **kw):
        return services.update_receiver(receiver=instance, **kw)

    @staticmethod
    def delete_service(instance, **kw):
        return services.delete_receiver(receiver=instance, **kw)


class ReceiverGroupViewSet(_Named):
    """Named sets of receivers."""

    queryset = ReceiverGroup.objects.select_related("tenant").prefetch_related("receivers")
    serializer_class = ReceiverGroupSerializer
    authz_kind = "ReceiverGroup"

    @staticmethod
    def create_service(**kw):
        return services.create_group(**kw)

    @staticmethod
    def update_service(instance, **kw):
        return services.update_group(group=instance, **kw)

    @staticmethod
    def delete_service(instance, **kw):
        return services.delete_group(group=instance, **kw)


class MessageViewSet(PortalReadOnlyViewSet):
    """Messages: one's own (addressed to a receiver linked to one's user) always, the tenant's
    with ``listMessages``. ``?status=``, ``?unread=true``, ``?channel=``, ``?receiver=``."""

    queryset = Message.objects.select_related("tenant")
    serializer_class = MessageSerializer
    authz_kind = "Message"
    authz_extra_actions = {"read": "updateMessage", "unread": "updateMessage"}
    filterset_fields = ["status", "channel_kind", "alert_status"]
    search_fields = ["subject", "receiver_name", "channel_name", "source"]
    ordering_fields = ["created_at", "sent_at", "status"]

    def object_owner(self, obj):
        receiver = Receiver.objects.filter(pk=obj.receiver_id).only("user").first()
        return receiver.user if receiver is not None else None

    def get_queryset(self):
        queryset = super().get_queryset()
        params = self.request.query_params
        if params.get("unread") in ("true", "1"):
            queryset = queryset.filter(read_at__isnull=True)
        if params.get("channel"):
            queryset = queryset.filter(channel_name=params["channel"])
        if params.get("receiver"):
            queryset = queryset.filter(receiver_name=params["receiver"])
        return queryset

    def _mark(self, read: bool):
        message = self.get_object()
        message = services.mark_read(actor=self.request.user, message=message, read=read)
        return Response(self.get_serializer(message).data, status=status.HTTP_200_OK)

    @extend_schema(request=None, responses={200: MessageSerializer})
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        """Mark the message read."""
        return self._mark(True)

    @extend_schema(request=None, responses={200: MessageSerializer})
    @action(detail=True, methods=["post"])
    def unread(self, request, pk=None):
        """Mark the message unread."""
        return self._mark(False)


class MessageRequestViewSet(PortalReadOnlyViewSet):
    """What was asked of the notifier (by alerting or a person): receivers, groups, ways,
    variables, errors for names it did not know, and how its messages went."""

    queryset = MessageRequest.objects.select_related("tenant", "created_by")
    serializer_class = MessageRequestSerializer
    authz_kind = "MessageRequest"
    filterset_fields = ["status", "alert_status"]
    search_fields = ["source"]
    ordering_fields = ["created_at", "status"]
