"""Notifications (TKEStack's Notify module): a tenant's channels (SMTP email, an HTTP SMS
gateway, WeChat Work group robots, signed webhooks), per-channel templates, receivers and
receiver groups, and what was sent: one :class:`MessageRequest` per call of
:func:`apps.notify.services.notify`, one :class:`Message` per receiver and channel.

Authorization paths: ``notifychannel:<name>``, ``notifychannel:<name>/notifytemplate:<name>``,
``receiver:<name>``, ``receivergroup:<name>``, ``message:<id>``, ``messagerequest:<id>``.
A message is also its receiver's own: a user linked to the receiver reads it and marks it
read without any policy (``apps.authz.enforcer.SELF_ACTIONS``).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from apps.core.crypto import EncryptedTextField
from apps.core.models import TenantScopedManager, TenantScopedModel
from apps.core.paths import path_expression

from .choices import AlertStatus, ChannelKind, MessageStatus, RequestStatus

name_validator = RegexValidator(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    "Lowercase letters, digits and '-', starting and ending with a letter or digit.",
)


class NotifyChannel(TenantScopedModel):
    """A way to send: an SMTP server, an SMS gateway, a WeChat Work group robot or a webhook.
    ``config`` holds the non-secret settings of its kind (``apps.notify.senders`` validates
    them); ``secret`` the one secret (SMTP password, gateway token, robot URL, HMAC key),
    encrypted at rest and never returned."""

    name = models.CharField(max_length=63, validators=[name_validator])
    display_name = models.CharField(max_length=128, blank=True)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    config = models.JSONField(default=dict, blank=True)
    secret = EncryptedTextField(blank=True, default="", help_text="Encrypted at rest.")
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["tenant", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="notify_channel_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def authz_resource(self) -> str:
        return f"notifychannel:{self.name}"

    @staticmethod
    def authz_path_expression():
        return path_expression("notifychannel:", "name")


class NotifyTemplate(models.Model):
    """What a channel sends: a subject (the email subject, the robot's header line) and a body,
    in Django template syntax rendered in a sandbox with the alert variables only
    (``apps.notify.rendering``)."""

    channel = models.ForeignKey(NotifyChannel, on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(max_length=63, validators=[name_validator])
    display_name = models.CharField(max_length=128, blank=True)
    subject = models.CharField(max_length=512, blank=True)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["channel", "name"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "name"], name="notify_template_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.channel.name}/{self.name}"

    @property
    def tenant(self):
        return self.channel.tenant

    @property
    def authz_resource(self) -> str:
        return f"notifychannel:{self.channel.name}/notifytemplate:{self.name}"

    @staticmethod
    def authz_path_expression():
        return path_expression("notifychannel:", "channel__name", "/notifytemplate:", "name")


class Receiver(TenantScopedModel):
    """Someone notifications go to (TKEStack Receiver): their addresses per channel kind, and
    optionally the portal user who reads them in the console's inbox."""

    name = models.CharField(max_length=63, validators=[name_validator])
    display_name = models.CharField(max_length=128, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="notify_receivers",
        help_text="The portal user who reads these messages in the console.",
    )
    email = models.EmailField(blank=True)
    mobile = models.CharField(
        max_length=32,
        blank=True,
        validators=[RegexValidator(r"^\+?[0-9]{5,20}$", "A phone number: digits, optional +.")],
    )
    wechat_id = models.CharField(
        max_length=64,
        blank=True,
        validators=[
            RegexValidator(
                r"^[A-Za-z0-9_.@-]+$", "A WeChat id: letters, digits, '-', '_', '.' and '@'."
            )
        ],
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["tenant", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="notify_receiver_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def authz_resource(self) -> str:
        return f"receiver:{self.name}"

    @staticmethod
    def authz_path_expression():
        return path_expression("receiver:", "name")


class ReceiverGroup(TenantScopedModel):
    """A named set of receivers (TKEStack ReceiverGroup)."""

    name = models.CharField(max_length=63, validators=[name_validator])
    display_name = models.CharField(max_length=128, blank=True)
    receivers = models.ManyToManyField(Receiver, blank=True, related_name="groups")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["tenant", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="notify_group_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def authz_resource(self) -> str:
        return f"receivergroup:{self.name}"

    @staticmethod
    def authz_path_expression():
        return path_expression("receivergroup:", "name")


class MessageRequest(TenantScopedModel):
    """One call of ``notify()``: what was asked (names as given, so an unknown one is kept
    with its error), and how it went over all its messages."""

    receivers = models.JSONField(default=list, blank=True)
    receiver_groups = models.JSONField(default=list, blank=True)
    ways = models.JSONField(default=list, blank=True, help_text="[[channel, template], …]")
    variables = models.JSONField(default=dict, blank=True)
    alert_status = models.CharField(max_length=16, choices=AlertStatus.choices, blank=True)
    source = models.CharField(max_length=255, blank=True)
    errors = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"request {self.pk} ({self.source or 'manual'})"

    @property
    def authz_resource(self) -> str:
        return f"messagerequest:{self.pk}"

    @staticmethod
    def authz_path_expression():
        return path_expression("messagerequest:", "id")


class Message(TenantScopedModel):
    """One notification to one receiver through one channel, with its delivery state.

    Delivery (``apps.notify.tasks.deliver_message``) claims the row before sending
    (``status`` sending, ``claim_expires_at``): a claim that outlives its expiry belonged to a
    worker that died and is taken over by the redelivery sweep; a sent message is never
    claimed again. ``uuid`` is sent along (``X-TKE-Message-Id``, the email's Message-ID) so a
    receiver can drop the rare second copy of a delivery whose worker died after sending."""

    request = models.ForeignKey(
        MessageRequest, on_delete=models.CASCADE, related_name="messages", null=True, blank=True
    )
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    receiver = models.ForeignKey(
        Receiver, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    receiver_name = models.CharField(max_length=63, blank=True)
    channel = models.ForeignKey(
        NotifyChannel, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    channel_name = models.CharField(max_length=63, blank=True)
    channel_kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    template_name = models.CharField(max_length=63, blank=True)
    destination = models.CharField(max_length=1024, blank=True)
    subject = models.CharField(max_length=1024, blank=True)
    body = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=MessageStatus.choices, default=MessageStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    alert_status = models.CharField(max_length=16, choices=AlertStatus.choices, blank=True)
    source = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The redelivery sweep: due retries and expired claims.
            models.Index(
                fields=["status", "next_attempt_at"],
                name="notify_msg_due",
                condition=models.Q(status__in=["pending", "sending"]),
            ),
            models.Index(fields=["receiver", "-created_at"], name="notify_msg_inbox"),
        ]

    def __str__(self) -> str:
        return f"message {self.pk} to {self.receiver_name} by {self.channel_name}"

    @property
    def authz_resource(self) -> str:
        return f"message:{self.pk}"

    @staticmethod
    def authz_path_expression():
        return path_expression("message:", "id")
