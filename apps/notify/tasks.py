"""Celery tasks of apps.notify, on the ``notify`` queue (settings.CELERY_TASK_ROUTES).

``deliver_message`` is ``acks_late`` with ``reject_on_worker_lost``: the broker keeps the task
until it finished, and a worker that dies gives it back. What makes a message never lost,
though, is the row: its claim expires and the ``notify-redeliver`` sweep queues it again
(see apps.notify.delivery; the broker's own redelivery waits for the Redis visibility timeout,
settings.CELERY_BROKER_TRANSPORT_OPTIONS says why that one stays long). A task that arrives
twice finds the message claimed or sent and does nothing.
"""

from __future__ import annotations

from celery import shared_task

from . import delivery

# The hard limit is below NOTIFY_CLAIM_TIMEOUT's default (120 s): a worker still sending never
# has its claim taken over. A send is bounded by NOTIFY_HTTP_TIMEOUT / NOTIFY_SMTP_TIMEOUT.
SOFT_TIME_LIMIT = 60
TIME_LIMIT = 90


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=SOFT_TIME_LIMIT,
    time_limit=TIME_LIMIT,
    ignore_result=True,
)
def deliver_message(message_id: int) -> str:
    """Send one message (claimed first); on failure, queue the retry after its back-off."""
    outcome = delivery.deliver(message_id)
    if outcome.retry_in is not None:
        deliver_message.apply_async((message_id,), countdown=outcome.retry_in)
    return outcome.status


@shared_task(ignore_result=True)
def redeliver_messages() -> int:
    """Queue messages whose retry is overdue or whose claim expired (their worker died);
    fail those whose last attempt's claim expired."""
    delivery.fail_abandoned()
    ids = delivery.due_message_ids()
    for message_id in ids:
        deliver_message.delay(message_id)
    return len(ids)
