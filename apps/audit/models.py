"""The audit trail: one row per write, proxy call and terminal session."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.models import TenantScopedQuerySet

from .choices import Channel, Outcome


class AuditEvent(models.Model):
    """Who did what, when, through which door, and how it ended.

    ``tenant`` is empty for platform-level actions (creating a tenant, a platform admin
    acting without choosing a tenant) and for anonymous failures; such rows are visible to
    platform administrators only. ``request_body`` is redacted before it is stored.
    """

    # When it happened (a queued row keeps its request's time, not the insert's).
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_events",
    )
    username = models.CharField(max_length=160, blank=True, help_text="Kept if the user goes.")
    api_key_id = models.BigIntegerField(null=True, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.API)
    action = models.CharField(max_length=128, db_index=True)
    resource = models.CharField(max_length=512, blank=True)
    method = models.CharField(max_length=10, blank=True)
    path = models.CharField(max_length=1024, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, db_index=True)
    duration_ms = models.PositiveIntegerField(default=0)
    request_id = models.CharField(max_length=64, blank=True)
    request_body = models.JSONField(null=True, blank=True)
    message = models.TextField(blank=True)

    objects = models.Manager.from_queryset(TenantScopedQuerySet)()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="audit_tenant_created_idx"),
            models.Index(fields=["user", "-created_at"], name="audit_user_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.username or '-'} {self.action}"

    @property
    def authz_resource(self) -> str:
        return f"auditevent:{self.pk}"

    @staticmethod
    def authz_path_expression():
        from apps.core.paths import path_expression

        return path_expression("auditevent:", "id")
