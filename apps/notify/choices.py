from django.db import models
from django.utils.translation import gettext_lazy as _


class ChannelKind(models.TextChoices):
    SMTP = "smtp", _("Email (SMTP)")
    SMS = "sms", _("SMS (HTTP gateway)")
    WECHAT = "wechat", _("WeChat Work robot")
    WEBHOOK = "webhook", _("Webhook")


class SMTPSecurity(models.TextChoices):
    NONE = "none", _("None")
    STARTTLS = "starttls", _("STARTTLS")
    TLS = "tls", _("TLS")


class RequestStatus(models.TextChoices):
    PENDING = "Pending", _("Pending")
    SENDING = "Sending", _("Sending")
    SENT = "Sent", _("Sent")
    FAILED = "Failed", _("Failed")
    PARTIAL_FAILURE = "PartialFailure", _("Partial failure")


class MessageStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class AlertStatus(models.TextChoices):
    NONE = "", _("None")
    FIRING = "firing", _("Firing")
    RESOLVED = "resolved", _("Resolved")
