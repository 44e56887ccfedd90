"""A worker killed mid-delivery loses no message: real Celery workers (subprocesses on the
``notify`` queue, the test database, this test's Redis), one SIGKILLed while the receiver
holds its request; the redelivery sweep queues the message again once the dead worker's
claim expired, a second worker sends it, and the receiver has answered it exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from apps.notify import services, tasks
from apps.notify.models import Message

from .conftest import receiver, template, webhook_channel

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(ROOT / ".venv" / "bin" / "celery")
CLAIM_TIMEOUT = 3

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(predicate, what: str, timeout: float):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def broker():
    """Tasks go to the real Redis broker instead of running in-process."""
    from tkeportal.celery import app

    app.conf.task_always_eager = False
    yield app
    app.conf.task_always_eager = True


@pytest.fixture
def workers(tmp_path):
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tkeportal.settings.dev",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "PORTAL_ENCRYPTION_KEYS": ",".join(settings.PORTAL_ENCRYPTION_KEYS),
        "PORTAL_ALLOW_LOOPBACK_CLUSTERS": "true",
        "NOTIFY_CLAIM_TIMEOUT": str(CLAIM_TIMEOUT),
        "NOTIFY_HTTP_TIMEOUT": "30",
        "LOG_LEVEL": "INFO",
    }
    started: list[subprocess.Popen] = []

    def start(name: str) -> subprocess.Popen:
        log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(
            [CELERY, "-A", "tkeportal", "worker", "-Q", "notify", "-c", "1", "-n", f"{name}@%h",
             "--without-mingle", "--without-gossip", "--without-heartbeat", "-l", "INFO"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the pool child dies with it
        )  # fmt: skip
        started.append(proc)
        return proc

    start.logs = tmp_path
    yield start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def _logs(path: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in path.glob("*.log"))


def test_worker_killed_mid_delivery_loses_no_message(tenant, http_receiver, broker, workers):
    channel = webhook_channel(tenant, http_receiver.url + "/hook")
    template(channel)
    receiver(tenant)
    http_receiver.script.steps = ["hold"]  # the first delivery hangs at the receiver

    request = services.notify(tenant=tenant, receivers=["ops"], ways=[("hook", "default")])
    message = Message.objects.get(request=request)

    first = workers("first")
    try:
        wait_for(http_receiver.held.is_set, "the first worker's request", 90)
    except AssertionError:
        raise AssertionError(_logs(workers.logs)) from None
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sending", 1)

    os.killpg(first.pid, signal.SIGKILL)  # the worker and its pool child, mid-request
    first.wait(10)
    message.refresh_from_db()
    assert message.status == "sending"  # nobody will finish this claim

    workers("second")
    # The claim outlives its expiry only because its worker is dead: the sweep (beat's
    # notify-redeliver) queues the message again, the second worker claims and sends it.
    time.sleep(CLAIM_TIMEOUT + 0.5)
    assert tasks.redeliver_messages() == 1
    try:
        wait_for(lambda: Message.objects.get(pk=message.pk).status == "sent", "the redelivery", 90)
    except AssertionError:
        raise AssertionError(_logs(workers.logs)) from None

    message.refresh_from_db()
    assert message.attempts == 2 and message.sent_at is not None
    received = http_receiver.received
    assert [r.answered for r in received] == [None, 200]  # answered exactly once
    assert {r.headers["X-TKE-Message-Id"] for r in received} == {str(message.uuid)}
    # Nothing sends it again: not the sweep, not a duplicate task (the dead worker's
    # unacknowledged one, which Redis hands out again after the visibility timeout).
    assert tasks.redeliver_messages() == 0
    broker.conf.task_always_eager = True
    assert tasks.deliver_message(message.pk) == "skipped"
    time.sleep(1)
    assert len(http_receiver.received) == 2
    request.refresh_from_db()
    assert request.status == "Sent"
