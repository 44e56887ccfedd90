"""Writing audit events. HTTP writes are recorded by ``AuditMiddleware``; other doors
(management commands, websockets, tasks) call :func:`record_event` themselves."""

from __future__ import annotations

import logging

from .choices import Channel, Outcome
from .models import AuditEvent

logger = logging.getLogger("tkeportal.audit")


def outcome_for_status(status_code: int | None) -> str:
    if status_code is None or status_code >= 500:
        return Outcome.FAILURE
    if status_code in (401, 403):
        return Outcome.DENIED
    if status_code >= 400:
        return Outcome.FAILURE
    return Outcome.SUCCESS


def record_event(
    *,
    action: str,
    user=None,
    tenant=None,
    resource: str = "",
    channel: str = Channel.API,
    status_code: int | None = None,
    outcome: str | None = None,
    **fields,
) -> AuditEvent:
    """Store one audit event. ``tenant`` defaults to the user's tenant."""
    if user is not None and not user.is_authenticated:
        user = None
    if tenant is None and user is not None:
        tenant = user.tenant
    claimed = fields.pop("username", "")
    return AuditEvent.objects.create(
        action=action[:128],
        user=user,
        username=str(user) if user is not None else claimed,
        tenant=tenant,
        resource=resource[:512],
        channel=channel,
        status_code=status_code,
        outcome=outcome or outcome_for_status(status_code),
        **fields,
    )
