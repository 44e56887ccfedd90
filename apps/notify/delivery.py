"""Delivering one message: claim, send, record — so a message is never lost and never sent
twice by the portal's own doing.

- **Claim** (one UPDATE): a pending message whose attempt is due, or a sending message whose
  claim expired (its worker died: ``NOTIFY_CLAIM_TIMEOUT`` seconds, more than the task's hard
  time limit, so a live worker never loses its claim), becomes ``sending`` with a new
  ``claimed_at``. Two workers never hold the same message; a sent or failed message is never
  claimed.
- **Send** through the channel (:mod:`apps.notify.senders`).
- **Record**, only while the claim is still ours: sent; or, on failure, pending again with
  ``next_attempt_at`` after an exponential back-off (``NOTIFY_RETRY_BASE_SECONDS`` × 2^(n-1),
  at most ``NOTIFY_RETRY_MAX_SECONDS``), or failed after ``NOTIFY_MAX_ATTEMPTS`` attempts.
- **Sweep** (beat ``notify-redeliver``): re-queues pending messages whose attempt is overdue
  (their queued task was lost) and expired claims (a killed worker).

A worker killed after the receiver took the message but before the row says so makes the
sweep send it again: delivery is at least once, with the message's uuid
(``X-TKE-Message-Id``, the mail's Message-ID) for the receiver to recognise the copy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, F, Q
from django.utils import timezone

from .choices import MessageStatus, RequestStatus
from .models import Message, MessageRequest
from .senders import DeliveryError, Outgoing, send

logger = logging.getLogger("tkeportal.notify")


@dataclass
class Outcome:
    status: str  # sent | retry | failed | skipped
    retry_in: float | None = None
    error: str = ""


def backoff(attempts: int) -> float:
    base = float(settings.NOTIFY_RETRY_BASE_SECONDS)
    return min(base * 2 ** max(attempts - 1, 0), float(settings.NOTIFY_RETRY_MAX_SECONDS))


def _claimable(now) -> Q:
    pending = Q(status=MessageStatus.PENDING) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    return pending | _stale(now)


def _stale(now) -> Q:
    """Claims of dead workers that may be taken over (attempts left)."""
    return Q(
        status=MessageStatus.SENDING,
        claim_expires_at__lt=now,
        attempts__lt=settings.NOTIFY_MAX_ATTEMPTS,
    )


def claim(message_id: int) -> Message | None:
    """The message, claimed for this worker, or None when it is not ours to send."""
    now = timezone.now()
    claimed = (
        Message.objects.filter(pk=message_id)
        .filter(_claimable(now))
        .update(
            status=MessageStatus.SENDING,
            claimed_at=now,
            claim_expires_at=now + timedelta(seconds=settings.NOTIFY_CLAIM_TIMEOUT),
            attempts=F("attempts") + 1,
        )
    )
    if not claimed:
        return None
    return Message.objects.select_related("channel", "receiver").get(pk=message_id)


def _ours(message: Message):
    return Message.objects.filter(
        pk=message.pk, status=MessageStatus.SENDING, claimed_at=message.claimed_at
    )


def deliver(message_id: int) -> Outcome:
    message = claim(message_id)
    if message is None:
        return Outcome("skipped")
    channel = message.channel
    try:
        if channel is None:
            raise DeliveryError(f"channel {message.channel_name} was deleted")
        if not channel.enabled:
            raise DeliveryError(f"channel {channel.name} is disabled")
        send(
            channel,
            Outgoing(
                message_id=str(message.uuid),
                destination=message.destination,
                subject=message.subject,
                body=message.body,
                receiver_name=message.receiver_name,
                mobile=message.receiver.mobile if message.receiver else "",
                alert_status=message.alert_status,
                source=message.source,
            ),
        )
    except DeliveryError as exc:
        return _failed(message, str(exc))
    _ours(message).update(
        status=MessageStatus.SENT, sent_at=timezone.now(), last_error="", claim_expires_at=None
    )
    refresh_request(message.request_id)
    return Outcome("sent")


def _failed(message: Message, error: str) -> Outcome:
    error = error[:2000]
    if message.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
        _ours(message).update(status=MessageStatus.FAILED, last_error=error, claim_expires_at=None)
        logger.warning("message %s failed for good: %s", message.pk, error)
        refresh_request(message.request_id)
        return Outcome("failed", error=error)
    delay = backoff(message.attempts)
    _ours(message).update(
        status=MessageStatus.PENDING,
        last_error=error,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
        claim_expires_at=None,
    )
    logger.info("message %s attempt %s failed, retry in %ss: %s", message.pk, message.attempts,
                delay, error)  # fmt: skip
    return Outcome("retry", retry_in=delay, error=error)


def refresh_request(request_id: int | None) -> None:
    """The request's status from its messages' (run after each message's own commit, so the
    last one to finish sees every other's)."""
    if request_id is None:
        return
    counts = dict(
        Message.objects.filter(request_id=request_id)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    request = MessageRequest.objects.filter(pk=request_id).values("errors").first()
    if request is None:
        return
    MessageRequest.objects.filter(pk=request_id).update(
        status=request_status(counts, bool(request["errors"])), updated_at=timezone.now()
    )


def request_status(counts: dict, has_errors: bool) -> str:
    sent = counts.get(MessageStatus.SENT, 0)
    failed = counts.get(MessageStatus.FAILED, 0)
    open_ = counts.get(MessageStatus.PENDING, 0) + counts.get(MessageStatus.SENDING, 0)
    if open_:
        return (
            RequestStatus.SENDING
            if (sent or failed or counts.get("sending"))
            else (RequestStatus.PENDING)
        )
    if sent and not failed and not has_errors:
        return RequestStatus.SENT
    if sent:
        return RequestStatus.PARTIAL_FAILURE
    return RequestStatus.FAILED


def due_message_ids(now=None, grace: float | None = None, limit: int = 1000) -> list[int]:
    """Messages to queue again: pending ones overdue by more than ``grace`` seconds (their
    task was lost; a task already queued for them finds them claimed or sent and does
    nothing) and expired claims."""
    now = now or timezone.now()
    if grace is None:
        grace = settings.NOTIFY_REDELIVER_GRACE
    overdue = now - timedelta(seconds=grace)
    pending = Q(status=MessageStatus.PENDING) & (
        Q(next_attempt_at__lte=overdue) | Q(next_attempt_at__isnull=True, created_at__lte=overdue)
    )
    return list(
        Message.objects.filter(pending | _stale(now))
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )


def fail_abandoned(now=None) -> int:
    """Messages whose last attempt's worker died or was stopped by its time limit (the claim
    expired with no attempt left): failed, with that said, instead of claimed for ever."""
    now = now or timezone.now()
    abandoned = Message.objects.filter(
        status=MessageStatus.SENDING,
        claim_expires_at__lt=now,
        attempts__gte=settings.NOTIFY_MAX_ATTEMPTS,
    )
    rows = list(abandoned.values_list("id", "request_id", "attempts"))
    for message_id, request_id, attempts in rows:
        error = (
            f"attempt {attempts} of {settings.NOTIFY_MAX_ATTEMPTS} did not finish (its worker "
            "died or ran out of time)"
        )
        updated = abandoned.filter(pk=message_id).update(
            status=MessageStatus.FAILED, last_error=error, claim_expires_at=None
        )
        if updated:
            refresh_request(request_id)
    return len(rows)
