"""Alarm notices through apps.notify: the MessageRequest rows ``notify()`` creates for a fired
record, a reminder and a recovery (alert status, source, TKEStack's variables with a summary),
one Message per receiver and way, and none for a silenced notice. Needs apps.notify (branch
c-notify)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from apps.monitoring.alerts import services
from apps.monitoring.alerts.evaluate import evaluate_cluster
from apps.monitoring.alerts.models import AlarmNotice, AlarmRecord
from apps.notify.models import NotifyChannel, Receiver
from tests.monitoring.alerting import (
    minute,
    monitored_cluster,
    pod_policy,
    pod_row,
    recipients,
    write,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def notify():
    """apps.notify, imported when a test runs (the app comes from branch c-notify: importing
    it at collection would break the suite's module walks where it is not merged yet)."""
    from apps.notify import models, services

    return SimpleNamespace(
        services=services, Message=models.Message, MessageRequest=models.MessageRequest
    )


@pytest.fixture
def cluster(tenant):
    return monitored_cluster(tenant, display_name="prod")


@pytest.fixture
def channel(tenant, notify):
    hook = notify.services.create_channel(
        actor=None,
        tenant=tenant,
        name="hook",
        kind="webhook",
        config={"url": "http://127.0.0.1:9/alerts"},
        secret="hmac-key",  # noqa: S106
    )
    notify.services.create_template(
        actor=None,
        channel=hook,
        name="alarm",
        subject="[{{ status }}] {{ alarmPolicyName }}",
        body="{{ summary }}",
    )
    notify.services.create_receiver(actor=None, tenant=tenant, name="ops", email="ops@x.test")
    dev = notify.services.create_receiver(actor=None, tenant=tenant, name="dev", email="d@x.test")
    notify.services.create_group(actor=None, tenant=tenant, name="oncall", receivers=[dev])
    return hook


def test_fire_repeat_and_recovery_create_message_requests(tenant_admin, cluster, channel, notify):
    pod_policy(
        tenant_admin,
        cluster,
        receivers=["ops"],
        receiver_groups=["oncall"],
        notify_ways=[{"channel": "hook", "template": "alarm"}],
        repeat_interval=120,
    )
    for i, cpu in enumerate([0.9, 0.9, 0.9, 0.1]):
        write(cluster, i, [pod_row("web/api-1", cpu_core_used=cpu)])
    for at in (1, 2, 3, 4):
        evaluate_cluster(cluster.pk, minute(at))
    record = AlarmRecord.objects.get()
    requests = list(notify.MessageRequest.objects.order_by("id"))
    assert [r.alert_status for r in requests] == ["firing", "firing", "resolved"]
    assert {r.source for r in requests} == {f"alarmrecord:{record.pk}"}
    first = requests[0]
    assert first.receivers == ["ops"] and first.receiver_groups == ["oncall"]
    assert first.ways == [["hook", "alarm"]]
    v = first.variables
    assert v["alarmPolicyName"] == "pod-cpu" and v["podName"] == "api-1"
    assert v["clusterID"] == cluster.name and v["status"] == "firing"
    assert "[Firing] CPU used on web/api-1" in v["summary"]
    assert requests[2].variables["status"] == "resolved"
    assert "[Resolved]" in requests[2].variables["summary"]
    # one message per receiver (ops, and dev through the group) and way, rendered
    messages = notify.Message.objects.filter(request=first).order_by("receiver_name")
    assert [m.receiver_name for m in messages] == ["dev", "ops"]
    assert messages[0].subject == "[firing] pod-cpu"
    assert "threshold > 0.5" in messages[0].body
    notices = AlarmNotice.objects.filter(record=record).order_by("sequence")
    assert [n.kind for n in notices] == ["firing", "repeat", "resolved"]
    assert [n.message_request for n in notices] == [str(r.pk) for r in requests]


def test_a_silenced_notice_creates_no_request(tenant_admin, cluster, channel, notify):
    policy = pod_policy(
        tenant_admin, cluster, notify_ways=[{"channel": "hook", "template": "alarm"}]
    )
    services.create_silence(
        actor=tenant_admin, policy=policy, starts_at=minute(0), ends_at=minute(10)
    )
    write(cluster, 0, [pod_row("web/api-1", cpu_core_used=0.9)])
    evaluate_cluster(cluster.pk, minute(1))
    assert AlarmRecord.objects.get().state == "firing"
    assert not notify.MessageRequest.objects.exists()
    assert AlarmNotice.objects.get().silenced is True


def test_unknown_names_are_the_requests_errors_not_a_crash(tenant_admin, cluster, channel, notify):
    """A policy whose receiver and channel were deleted after it was written."""
    recipients(
        cluster.tenant, receivers=["ghost"], groups=(), channels=["nowhere"], templates=["x"]
    )
    pod_policy(
        tenant_admin,
        cluster,
        receivers=["ghost"],
        notify_ways=[{"channel": "nowhere", "template": "x"}],
    )
    notify.services.delete_receiver(
        actor=tenant_admin, receiver=Receiver.objects.get(tenant=cluster.tenant, name="ghost")
    )
    notify.services.delete_channel(
        actor=tenant_admin,
        channel=NotifyChannel.objects.get(tenant=cluster.tenant, name="nowhere"),
    )
    write(cluster, 0, [pod_row("web/api-1", cpu_core_used=0.9)])
    evaluate_cluster(cluster.pk, minute(1))
    request = notify.MessageRequest.objects.get()
    assert "receiver ghost: not found" in request.errors
    assert "channel nowhere: not found" in request.errors
    assert "receiver ghost: not found" in AlarmNotice.objects.get().error
