"""notify() per its contract, and delivery: claims, retries with exponential back-off, final
failure, the redelivery sweep, and a sent message never sent again."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.notify import delivery, services, tasks
from apps.notify.models import Message, MessageRequest

from .conftest import VARIABLES, receiver, template, webhook_channel

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook(tenant, http_receiver):
    channel = webhook_channel(tenant, http_receiver.url + "/hook")
    template(channel)
    return channel


def test_one_message_per_reachable_receiver_and_way_unknown_names_are_errors(
    tenant, http_receiver, hook, django_capture_on_commit_callbacks
):
    sms = services.create_channel(
        actor=None, tenant=tenant, name="sms", kind="sms",
        config={"url": http_receiver.url + "/sms"}, secret="t",
    )  # fmt: skip
    template(sms)
    receiver(tenant, "ann", mobile="13800000001")
    receiver(tenant, "ben")  # no mobile: SMS cannot reach him
    carl = receiver(tenant, "carl", mobile="13800000003")
    group = services.create_group(actor=None, tenant=tenant, name="sre", receivers=[carl])
    with django_capture_on_commit_callbacks(execute=True):
        request = services.notify(
            tenant=tenant,
            receivers=["ann", "ben", "nobody"],
            receiver_groups=[group.name, "ghosts"],
            ways=[("sms", "default"), ("hook", "default"), ("missing", "x"), ("sms", "nope")],
            variables=VARIABLES,
            alert_status="firing",
            source="alarmrecord:1",
        )
    pairs = sorted(
        Message.objects.filter(request=request).values_list("receiver_name", "channel_name")
    )
    assert pairs == [
        ("ann", "hook"), ("ann", "sms"), ("ben", "hook"), ("carl", "hook"), ("carl", "sms"),
    ]  # fmt: skip
    assert sorted(request.errors) == sorted([
        "receiver nobody: not found",
        "receiver group ghosts: not found",
        "channel missing: not found",
        "template sms/nope: not found",
        "receiver ben: no mobile for channel sms",
    ])  # fmt: skip
    assert len(http_receiver.received) == 5
    request.refresh_from_db()
    assert request.status == "PartialFailure"  # all sent, but some were not reachable


def test_messages_are_queued_only_after_commit(tenant, http_receiver, hook):
    receiver(tenant)
    with pytest.raises(RuntimeError):
        from django.db import transaction

        with transaction.atomic():
            services.notify(tenant=tenant, receivers=["ops"], ways=[("hook", "default")])
            raise RuntimeError("the alert evaluation failed after notifying")
    assert Message.objects.count() == 0
    assert http_receiver.received == []


def test_disabled_channel_is_an_error_not_a_message(
    tenant, hook, django_capture_on_commit_callbacks
):
    services.update_channel(actor=None, channel=hook, enabled=False)
    receiver(tenant)
    with django_capture_on_commit_callbacks(execute=True):
        request = services.notify(tenant=tenant, receivers=["ops"], ways=[["hook", "default"]])
    assert request.errors == ["channel hook: disabled"]
    assert request.status == "Failed"
    assert not Message.objects.exists()


def test_failing_receiver_is_retried_with_back_off_then_succeeds(
    tenant, http_receiver, hook, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFY_RETRY_BASE_SECONDS = 0.6
    settings.NOTIFY_MAX_ATTEMPTS = 5
    http_receiver.script.steps = [(500, b"down"), (503, b"still down")]
    receiver(tenant)
    with django_capture_on_commit_callbacks(execute=True):
        request = services.notify(tenant=tenant, receivers=["ops"], ways=[("hook", "default")])
    message = Message.objects.get(request=request)
    assert message.status == "pending" and message.attempts == 1
    assert "HTTP 500" in message.last_error
    first_retry = message.next_attempt_at
    # Not due yet: a task arriving now (the eager countdown, a duplicate) does not send.
    assert tasks.deliver_message(message.pk) == "skipped"
    assert len(http_receiver.received) == 1

    for _ in range(2):
        message.refresh_from_db()
        time.sleep(max((message.next_attempt_at - timezone.now()).total_seconds(), 0) + 0.05)
        assert tasks.deliver_message(message.pk) in ("retry", "sent")

    message.refresh_from_db()
    assert message.status == "sent" and message.attempts == 3 and message.last_error == ""
    times = [r.at for r in http_receiver.received]
    assert len(times) == 3
    # back-off: base × 2^(n-1): ≥ 0.6 s, then ≥ 1.2 s
    assert times[1] - times[0] >= 0.6 and times[2] - times[1] >= 1.2
    assert first_retry is not None
    request.refresh_from_db()
    assert request.status == "Sent"


def test_final_failure_keeps_the_error_and_is_never_retried(
    tenant, http_receiver, hook, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFY_RETRY_BASE_SECONDS = 0.01
    settings.NOTIFY_MAX_ATTEMPTS = 3
    http_receiver.script.default = (500, b"broken")
    receiver(tenant)
    with django_capture_on_commit_callbacks(execute=True):
        request = services.notify(tenant=tenant, receivers=["ops"], ways=[("hook", "default")])
    message = Message.objects.get(request=request)
    for _ in range(5):
        time.sleep(0.05)
        tasks.deliver_message(message.pk)
    message.refresh_from_db()
    assert message.status == "failed" and message.attempts == 3
    assert message.last_error.endswith("answered HTTP 500: broken")
    assert len(http_receiver.received) == 3
    assert delivery.due_message_ids(grace=0) == []
    request.refresh_from_db()
    assert request.status == "Failed"


def test_a_sent_message_is_never_sent_again(
    tenant, http_receiver, hook, django_capture_on_commit_callbacks
):
    receiver(tenant)
    with django_capture_on_commit_callbacks(execute=True):
        request = services.notify(tenant=tenant, receivers=["ops"], ways=[("hook", "default")])
    message = Message.objects.get(request=request)
    assert message.status == "sent"
    assert tasks.deliver_message(message.pk) == "skipped"
    assert delivery.claim(message.pk) is None
    assert tasks.redeliver_messages() == 0
    assert len(http_receiver.received) == 1


def test_sweep_requeues_expired_claims_and_overdue_messages(tenant, http_receiver, hook, settings):
    """A claim whose worker died (expired) and a pending message whose task was lost are
    queued by the sweep and sent; a live claim is left alone."""
    ops = receiver(tenant)
    now = timezone.now()
    common = dict(tenant=tenant, receiver=ops, receiver_name="ops", channel=hook,
                  channel_name="hook", channel_kind="webhook", destination=hook.config["url"],
                  subject="s", body="b")  # fmt: skip
    dead = Message.objects.create(**common, status="sending", attempts=1, claimed_at=now,
                                  claim_expires_at=now - timedelta(seconds=1))  # fmt: skip
    lost = Message.objects.create(**common, next_attempt_at=now - timedelta(seconds=60))
    live = Message.objects.create(**common, status="sending", attempts=1, claimed_at=now,
                                  claim_expires_at=now + timedelta(seconds=60))  # fmt: skip
    fresh = Message.objects.create(**common, next_attempt_at=now)  # its own task is queued
    assert sorted(delivery.due_message_ids()) == sorted([dead.pk, lost.pk])
    assert tasks.redeliver_messages() == 2
    statuses = dict(Message.objects.values_list("pk", "status"))
    assert statuses == {dead.pk: "sent", lost.pk: "sent", live.pk: "sending", fresh.pk: "pending"}
    assert Message.objects.get(pk=dead.pk).attempts == 2
    ids = sorted(r.headers["X-TKE-Message-Id"] for r in http_receiver.received)
    assert ids == sorted(str(m.uuid) for m in Message.objects.filter(pk__in=[dead.pk, lost.pk]))


def test_send_test_sends_now_and_records_the_outcome(tenant, http_receiver, hook, tenant_admin):
    message = services.send_test(channel=hook, actor=tenant_admin)
    assert message.status == "sent" and message.source == "test"
    assert "test message from channel hook" in http_receiver.received[0].json()["body"]
    http_receiver.script.default = (500, b"nope")
    failed = services.send_test(channel=hook, actor=tenant_admin, template="default")
    assert failed.status == "failed" and "HTTP 500" in failed.last_error
    assert http_receiver.received[1].json()["subject"] == "[firing] test-alert"


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_give_the_message_to_one_worker(tenant, hook):
    """Eight workers asking for the same message at once: one claim succeeds."""
    import threading

    from django.db import connection

    ops = receiver(tenant)
    message = Message.objects.create(
        tenant=tenant, receiver=ops, receiver_name="ops", channel=hook, channel_name="hook",
        channel_kind="webhook", destination=hook.config["url"], next_attempt_at=timezone.now(),
    )  # fmt: skip
    barrier = threading.Barrier(8)
    won: list = []

    def worker():
        try:
            barrier.wait(5)
            won.append(delivery.claim(message.pk) is not None)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(won) == [False] * 7 + [True]
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sending", 1)


def test_the_sweep_is_scheduled_and_the_timeouts_fit_together():
    """Beat runs the sweep on the notify queue; a live worker's claim outlives the task's hard
    time limit; the longest retry countdown stays under the broker's visibility timeout (or
    Redis would hand a waiting retry to a second worker)."""
    from django.conf import settings

    from tkeportal.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["notify-redeliver"]
    assert entry["task"] == "apps.notify.tasks.redeliver_messages"
    assert entry["task"] in app.tasks and entry["options"]["queue"] == "notify"
    assert app.tasks["apps.notify.tasks.deliver_message"].acks_late
    assert app.tasks["apps.notify.tasks.deliver_message"].reject_on_worker_lost
    assert settings.NOTIFY_CLAIM_TIMEOUT > tasks.TIME_LIMIT
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert settings.NOTIFY_RETRY_MAX_SECONDS < visibility
    route = settings.CELERY_TASK_ROUTES["apps.notify.tasks.*"]
    assert route == {"queue": "notify"}


def test_a_claim_expired_on_the_last_attempt_is_a_final_failure(
    tenant, http_receiver, hook, settings
):
    settings.NOTIFY_MAX_ATTEMPTS = 2
    ops = receiver(tenant)
    past = timezone.now() - timedelta(seconds=5)
    request = MessageRequest.objects.create(tenant=tenant)
    message = Message.objects.create(
        tenant=tenant, request=request, receiver=ops, receiver_name="ops", channel=hook,
        channel_name="hook", channel_kind="webhook", destination=hook.config["url"],
        status="sending", attempts=2, claimed_at=past, claim_expires_at=past,
    )  # fmt: skip
    assert delivery.claim(message.pk) is None
    assert tasks.redeliver_messages() == 0
    message.refresh_from_db()
    assert message.status == "failed"
    assert message.last_error.startswith("attempt 2 of 2 did not finish")
    assert http_receiver.received == []
    request.refresh_from_db()
    assert request.status == "Failed"


def _many(tenant, count):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    alerts = [
        services.Alert({**VARIABLES, "alertName": f"alert-{i}"}, "firing", f"alarmrecord:{i}")
        for i in range(count)
    ]
    with CaptureQueriesContext(connection) as queries:
        requests = services.notify_many(
            tenant=tenant,
            receivers=["ops", "nobody"],
            ways=[("hook", "default")],
            alerts=alerts,
        )
    return requests, len(queries)


def test_notify_many_makes_one_request_per_alert_in_a_constant_number_of_queries(tenant, hook):
    receiver(tenant)
    one, queries_for_one = _many(tenant, 1)
    six, queries_for_six = _many(tenant, 6)
    assert queries_for_six == queries_for_one
    assert len(six) == 6
    for i, request in enumerate(six):
        request.refresh_from_db()
        assert request.source == f"alarmrecord:{i}"
        assert request.variables["alertName"] == f"alert-{i}"
        assert request.errors == ["receiver nobody: not found"]  # each keeps the routing's
        (message,) = Message.objects.filter(request=request)
        assert message.receiver_name == "ops"
        assert f"alert-{i}" in message.subject  # rendered with its own variables
    assert MessageRequest.objects.count() == 7
