"""Terminal sessions (who opened a shell where, how it ended, its recording) and the tenant's
terminal settings."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import TenantScopedModel


class TerminalSettings(TenantScopedModel):
    """A tenant's terminal settings: one row per tenant at most; without a row the defaults
    apply (sessions are recorded)."""

    record_sessions = models.BooleanField(
        _("record terminal sessions"),
        default=True,
        help_text=_("Keep an asciicast recording of every web terminal session for auditors."),
    )

    class Meta:
        ordering = ["tenant_id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="terminal_settings_one_per_tenant")
        ]

    def __str__(self) -> str:
        return f"terminal settings of tenant {self.tenant_id}"


class TerminalSession(TenantScopedModel):
    """One web terminal session: a command run in a pod's container through the portal, or a
    node shell (``node`` set: a shell in the node's namespaces, through the privileged debug
    pod ``namespace``/``pod`` made for it). Written when it opens (after authorization) and
    completed when it closes."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    username = models.CharField(max_length=160, help_text=_("Kept if the user goes."))
    api_key_id = models.BigIntegerField(null=True, blank=True)
    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    cluster_name = models.CharField(max_length=64)
    namespace = models.CharField(max_length=253)
    pod = models.CharField(max_length=253)
    container = models.CharField(max_length=253, blank=True)
    node = models.CharField(
        max_length=253, blank=True, help_text=_("The node of a node shell (empty for a pod's).")
    )
    command = models.JSONField(default=list)
    tty = models.BooleanField(default=True)
    protocol = models.CharField(max_length=32, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    close_reason = models.CharField(max_length=512, blank=True)
    # The audit event of the opening: whoever may read it may replay the session.
    open_event = models.ForeignKey(
        "audit.AuditEvent", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # asciicast v2, gzip-compressed; null when the tenant does not record sessions or when
    # recordings go to TERMINAL_RECORDING_DIR (then recording_path names the file).
    recording = models.BinaryField(null=True, blank=True, editable=False)
    recording_path = models.CharField(
        max_length=255,
        blank=True,
        editable=False,
        help_text=_("The recording's file, relative to TERMINAL_RECORDING_DIR (generated)."),
    )
    recording_bytes = models.PositiveBigIntegerField(default=0)
    recording_capped = models.BooleanField(default=False)
    recording_purged_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text=_(
            "When the recording was removed at the end of its retention "
            "(TERMINAL_RECORDING_RETENTION_DAYS); the session row stays."
        ),
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-started_at"], name="terminal_tenant_started")]

    def __str__(self) -> str:
        return f"{self.username} in {self.place}"

    @property
    def place(self) -> str:
        where = f"{self.cluster_name}/{self.namespace}/{self.pod}"
        if self.node:
            return f"node {self.cluster_name}/{self.node} (through pod {where})"
        return where

    @property
    def action(self) -> str:
        return "execNode" if self.node else "execPod"

    @property
    def resource(self) -> str:
        if self.node:
            return f"cluster:{self.cluster_name}/node:{self.node}"
        return f"cluster:{self.cluster_name}/namespace:{self.namespace}/pod:{self.pod}"
