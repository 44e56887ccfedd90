"""Alarm evaluation against real points (written through store.write at chosen minutes):
pending → firing after continue_periods, resolved with a recovery notice, pending that clears
silently, repeat interval, silences and their expiry, each evaluator, objects all | part,
namespaces and workload kinds, statistics periods, a dead cluster, and dedupe."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.monitoring import partitions, store
from apps.monitoring.alerts import services
from apps.monitoring.alerts.evaluate import evaluate_cluster
from apps.monitoring.alerts.models import AlarmNotice, AlarmPolicy, AlarmRecord
from apps.monitoring.alerts.tasks import dispatch_alarm_evaluations
from tests.monitoring.alerting import (
    minute,
    monitored_cluster,
    node_row,
    pod_policy,
    pod_row,
    write,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster(tenant):
    return monitored_cluster(tenant)


def notices(record) -> list[tuple[str, bool]]:
    return [(n.kind, n.silenced) for n in AlarmNotice.objects.filter(record=record)]


def run(cluster, at_minute):
    return evaluate_cluster(cluster.pk, minute(at_minute))


def test_pending_then_firing_after_continue_periods_then_resolved(tenant_admin, cluster):
    # given: a pod above the threshold for three minutes, then below
    policy = pod_policy(
        tenant_admin,
        cluster,
        metrics=[
            {
                "metric": "k8s_pod_cpu_core_used",
                "evaluator": "gt",
                "threshold": 0.5,
                "continue_periods": 3,
            }
        ],
    )
    for i, cpu in enumerate([0.9, 0.8, 0.95, 0.1]):
        write(cluster, i, [pod_row("web/api-1", cpu_core_used=cpu)])
    # when / then: each evaluation averages the minute before it
    report = run(cluster, 1)
    assert (report.policies, report.pending, report.fired) == (1, 1, 0)
    record = AlarmRecord.objects.get(policy=policy)
    assert record.state == "pending" and record.periods_held == 1
    assert record.value == pytest.approx(0.9)
    assert record.labels == {"namespace": "web", "pod": "api-1"}
    run(cluster, 2)
    record.refresh_from_db()
    assert (record.state, record.periods_held) == ("pending", 2)
    assert notices(record) == []
    run(cluster, 3)
    record.refresh_from_db()
    assert record.state == "firing"
    assert record.fired_at == minute(3)
    assert record.started_at == minute(1)
    assert notices(record) == [("firing", False)]
    assert record.notify_count == 1 and record.last_notified_at == minute(3)
    run(cluster, 4)
    record.refresh_from_db()
    assert record.state == "resolved" and record.resolved_at == minute(4)
    assert record.value == pytest.approx(0.1)
    assert [v for _t, v in record.history] == pytest.approx([0.9, 0.8, 0.95, 0.1])
    assert notices(record) == [("firing", False), ("resolved", False)]
    # a resolved record stays history; the next breach opens a new one
    write(cluster, 4, [pod_row("web/api-1", cpu_core_used=0.7)])
    run(cluster, 5)
    assert AlarmRecord.objects.filter(policy=policy).count() == 2


def test_pending_that_clears_closes_silently(tenant_admin, cluster):
    pod_policy(
        tenant_admin,
        cluster,
        metrics=[
            {
                "metric": "k8s_pod_cpu_core_used",
                "evaluator": "gt",
                "threshold": 0.5,
                "continue_periods": 2,
            }
        ],
    )
    write(cluster, 0, [pod_row("web/api-1", cpu_core_used=0.9)])
    write(cluster, 1, [pod_row("web/api-1", cpu_core_used=0.2)])
    run(cluster, 1)
    run(cluster, 2)
    record = AlarmRecord.objects.get()
    assert record.state == "resolved" and record.fired_at is None
    assert AlarmNotice.objects.count() == 0


def test_repeat_interval_renotifies_while_firing(tenant_admin, cluster):
    pod_policy(tenant_admin, cluster, repeat_interval=180)
    for i in range(6):
        write(cluster, i, [pod_row("web/api-1", cpu_core_used=0.9)])
    for i in range(1, 7):
        run(cluster, i)
    record = AlarmRecord.objects.get()
    kinds = [(n.kind, n.created_at) for n in AlarmNotice.objects.filter(record=record)]
    # fired at 1; reminded every 3 minutes after
    assert kinds == [("firing", minute(1)), ("repeat", minute(4))]
    assert record.notify_count == 2


def test_silence_mutes_notices_until_it_expires(tenant_admin, cluster):
    policy = pod_policy(tenant_admin, cluster, repeat_interval=3600)
    silence = services.create_silence(
        actor=tenant_admin,
        policy=policy,
        object_key="web/api-1",
        starts_at=minute(0),
        ends_at=minute(2) + timedelta(seconds=30),
        comment="deploying",
    )
    for i in range(4):
        write(cluster, i, [pod_row("web/api-1", cpu_core_used=0.9)])
        write(cluster, i, [pod_row("web/api-2", cpu_core_used=0.9)])
    run(cluster, 1)
    muted = AlarmRecord.objects.get(object_key="web/api-1")
    other = AlarmRecord.objects.get(object_key="web/api-2")
    # the silenced record still fires; its notice is kept, marked silenced, and not sent
    assert muted.state == "firing"
    assert notices(muted) == [("firing", True)]
    assert notices(other) == [("firing", False)]
    run(cluster, 2)
    assert notices(muted) == [("firing", True)]
    # expired: the next evaluation tells what the silence held back
    assert not silence.active(minute(3))
    run(cluster, 3)
    muted.refresh_from_db()
    assert notices(muted) == [("firing", True), ("firing", False)]
    assert muted.notify_count == 1
    run(cluster, 4)
    assert len(notices(muted)) == 2  # no reminder before repeat_interval


def test_expire_ends_a_silence_now(tenant_admin, cluster):
    policy = pod_policy(tenant_admin, cluster)
    silence = services.create_silence(
        actor=tenant_admin, policy=policy, starts_at=minute(0), ends_at=minute(60)
    )
    services.expire_silence(actor=tenant_admin, silence=silence, now=minute(1))
    silence.refresh_from_db()
    assert silence.ends_at == minute(1) and not silence.active(minute(1))
    write(cluster, 1, [pod_row("web/api-1", cpu_core_used=0.9)])
    run(cluster, 2)
    assert notices(AlarmRecord.objects.get()) == [("firing", False)]


@pytest.mark.parametrize(
    ("evaluator", "threshold", "fires"),
    [
        ("gt", 0.5, False),
        ("gt", 0.4, True),
        ("ge", 0.5, True),
        ("ge", 0.6, False),
        ("lt", 0.6, True),
        ("lt", 0.5, False),
        ("le", 0.5, True),
        ("le", 0.4, False),
        ("eq", 0.5, True),
        ("eq", 0.51, False),
    ],
)
def test_each_evaluator(tenant_admin, cluster, evaluator, threshold, fires):
    pod_policy(
        tenant_admin,
        cluster,
        metrics=[
            {
                "metric": "k8s_pod_cpu_core_used",
                "evaluator": evaluator,
                "threshold": threshold,
                "continue_periods": 1,
            }
        ],
    )
    # two points averaging exactly 0.5 over a 2-minute window is what the period compares
    write(cluster, 0, [pod_row("web/api-1", cpu_core_used=0.25)])
    write(cluster, 1, [pod_row("web/api-1", cpu_core_used=0.75)])
    AlarmPolicy.objects.update(statistics_period=120)
    run(cluster, 2)
    assert AlarmRecord.objects.filter(state="firing").exists() is fires


def test_objects_part_watches_only_the_named_nodes(tenant_admin, cluster):
    metrics = [
        {"metric": "k8s_node_cpu_usage", "evaluator": "ge", "threshold": 80, "continue_periods": 1}
    ]
    common = {"tenant": cluster.tenant, "cluster": cluster, "metrics": metrics, "type": "node"}
    services.create_policy(
        actor=tenant_admin, name="some", objects_type="part", object_names=["n1"], **common
    )
    services.create_policy(actor=tenant_admin, name="every", **common)
    write(cluster, 0, [node_row("n1", cpu_usage=95.0), node_row("n2", cpu_usage=90.0)])
    run(cluster, 1)
    assert sorted(AlarmRecord.objects.values_list("policy__name", "object_key")) == [
        ("every", "n1"),
        ("every", "n2"),
        ("some", "n1"),
    ]


def test_namespace_workload_kind_and_part_pods(tenant_admin, cluster):
    pod_policy(tenant_admin, cluster, name="deployments", workload_kind="Deployment")
    pod_policy(tenant_admin, cluster, name="one-pod", objects_type="part", object_names=["api-2"])
    write(
        cluster,
        0,
        [
            pod_row("web/api-1", cpu_core_used=0.9),
            pod_row("web/api-2", cpu_core_used=0.9),
            pod_row("web/db-0", kind="StatefulSet", workload="db", cpu_core_used=0.9),
            pod_row("other/api-1", cpu_core_used=0.9),
        ],
    )
    run(cluster, 1)
    assert sorted(AlarmRecord.objects.values_list("policy__name", "object_key")) == [
        ("deployments", "web/api-1"),
        ("deployments", "web/api-2"),
        ("one-pod", "web/api-2"),
    ]


def test_statistics_period_spaces_evaluations_and_widens_the_window(tenant_admin, cluster):
    policy = pod_policy(tenant_admin, cluster, statistics_period=180)
    write(cluster, 0, [pod_row("web/api-1", cpu_core_used=1.0)])
    write(cluster, 1, [pod_row("web/api-1", cpu_core_used=0.1)])
    write(cluster, 2, [pod_row("web/api-1", cpu_core_used=0.1)])
    assert run(cluster, 3).policies == 1
    # (1.0 + 0.1 + 0.1) / 3 = 0.4: below 0.5 over the 3-minute period
    assert not AlarmRecord.objects.exists()
    assert run(cluster, 4).policies == 0  # not due: 60 s of 180 passed
    assert run(cluster, 5).policies == 0
    assert run(cluster, 6).policies == 1
    policy.refresh_from_db()
    assert policy.last_evaluated_at == minute(6)


def test_dead_cluster_neither_fires_nor_resolves(tenant_admin, cluster):
    pod_policy(tenant_admin, cluster)
    # no points at all: nothing happens, nothing breaks
    report = run(cluster, 1)
    assert (report.policies, report.evaluated, report.fired) == (1, 0, 0)
    assert not AlarmRecord.objects.exists()
    # firing, then the cluster goes silent: the record holds (no false recovery notice)
    write(cluster, 1, [pod_row("web/api-1", cpu_core_used=0.9)])
    run(cluster, 2)
    for at in (3, 4, 5):
        report = run(cluster, at)
        assert report.held_no_data == 1
    record = AlarmRecord.objects.get()
    assert record.state == "firing" and notices(record) == [("firing", False)]


def test_a_vanished_pod_resolves_while_others_report(tenant_admin, cluster):
    pod_policy(tenant_admin, cluster)
    write(cluster, 0, [pod_row("web/api-1", cpu_core_used=0.9)])
    run(cluster, 1)
    write(cluster, 1, [pod_row("web/api-2", cpu_core_used=0.1)])
    run(cluster, 2)
    record = AlarmRecord.objects.get(object_key="web/api-1")
    assert record.state == "resolved"
    assert notices(record) == [("firing", False), ("resolved", False)]


def test_repeated_evaluation_at_the_same_time_changes_nothing(tenant_admin, cluster):
    pod_policy(tenant_admin, cluster)
    write(cluster, 0, [pod_row("web/api-1", cpu_core_used=0.9)])
    assert run(cluster, 1).fired == 1
    again = run(cluster, 1)  # a retried task
    assert again.policies == 0
    assert AlarmRecord.objects.count() == 1 and AlarmNotice.objects.count() == 1


def test_one_open_record_per_policy_metric_object_is_a_database_rule(tenant_admin, cluster):
    policy = pod_policy(tenant_admin, cluster)
    condition = policy.metrics.get()
    common = {
        "tenant": cluster.tenant,
        "cluster": cluster,
        "policy": policy,
        "metric": condition,
        "object_key": "web/api-1",
    }
    AlarmRecord.objects.create(state="firing", **common)
    with pytest.raises(IntegrityError), transaction.atomic():
        AlarmRecord.objects.create(state="pending", **common)
    AlarmRecord.objects.create(state="resolved", **common)  # history is not limited


def test_dispatch_evaluates_every_cluster_with_policies(tenant_admin, tenant, cluster):
    quiet = monitored_cluster(tenant, display_name="quiet")
    pod_policy(tenant_admin, cluster)
    pod_policy(tenant_admin, quiet, enabled=False)
    # the beat entry evaluates at the real "now": a point of the current minute (stored at
    # its start, inside the last 60 s)
    now = timezone.now()
    partitions.ensure_partitions(now)
    store.write(cluster, now, [pod_row("web/api-1", cpu_core_used=0.9)])
    assert dispatch_alarm_evaluations.delay().get() == 1
    assert AlarmRecord.objects.get().state == "firing"


@pytest.mark.django_db(transaction=True)
def test_concurrent_evaluations_notify_once(tenant_admin, tenant):
    cluster = monitored_cluster(tenant)
    pod_policy(tenant_admin, cluster)
    write(cluster, 0, [pod_row("web/api-1", cpu_core_used=0.9)])
    barrier = threading.Barrier(2)
    reports = []

    def worker():
        try:
            barrier.wait()
            reports.append(evaluate_cluster(cluster.pk, minute(1)))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.policies for r in reports) == [0, 1]
    assert AlarmRecord.objects.filter(cluster=cluster).count() == 1
    assert AlarmNotice.objects.filter(record__cluster=cluster).count() == 1


def test_disabling_or_removing_a_condition_closes_open_records_silently(tenant_admin, cluster):
    policy = pod_policy(
        tenant_admin,
        cluster,
        metrics=[
            {"metric": "k8s_pod_cpu_core_used", "evaluator": "gt", "threshold": 0.5},
            {"metric": "k8s_pod_restart_total", "evaluator": "ge", "threshold": 1},
        ],
    )
    write(cluster, 0, [pod_row("web/api-1", cpu_core_used=0.9, restart_total=3.0)])
    run(cluster, 1)
    assert AlarmRecord.objects.filter(state="firing").count() == 2
    # the restart condition goes: its record is resolved and kept (history), unnotified
    services.update_policy(
        actor=tenant_admin,
        policy=policy,
        metrics=[{"metric": "k8s_pod_cpu_core_used", "evaluator": "gt", "threshold": 0.5}],
    )
    gone = AlarmRecord.objects.get(metric_name="k8s_pod_restart_total")
    assert gone.state == "resolved" and gone.metric is None
    assert [n.kind for n in AlarmNotice.objects.filter(record=gone)] == ["firing"]
    services.update_policy(actor=tenant_admin, policy=policy, enabled=False)
    assert not AlarmRecord.objects.filter(state__in=["pending", "firing"]).exists()
    assert run(cluster, 2).policies == 0


def test_the_evaluators_averages_are_the_stores_window_averages(tenant_admin, cluster):
    """_Reads averages columns of the points read once; store.window_average reads each
    metric on its own. Absent values (NaN) and objects without a value in the period are
    left out by both."""
    from apps.monitoring.alerts.evaluate import _Reads

    write(cluster, 0, [pod_row("web/a", cpu_core_used=0.2), pod_row("web/b", cpu_core_used=0.4),
                       pod_row("web/c", cpu_core_used=0.9)])  # fmt: skip
    write(cluster, 1, [pod_row("web/a", cpu_core_used=0.3), pod_row("web/b", mem_usage_bytes=1e6)])
    write(cluster, 2, [pod_row("web/a", cpu_core_used=0.7), pod_row("web/b", cpu_core_used=0.8)])
    policies = [
        pod_policy(tenant_admin, cluster, name="long", statistics_period=180),
        pod_policy(tenant_admin, cluster, name="short", statistics_period=60),
    ]
    now = minute(3)
    reads = _Reads(cluster.pk, policies, now)
    expected = {180: {"web/a": 0.4, "web/b": 0.6, "web/c": 0.9}, 60: {"web/a": 0.7, "web/b": 0.8}}
    for period, averages in expected.items():
        got = reads.average("pod", "cpu_core_used", period)
        start = now - timedelta(seconds=period)
        stored = store.window_average(cluster.pk, "pod", "cpu_core_used", start, now)
        assert got == pytest.approx(averages, rel=1e-6)
        assert got == pytest.approx(stored, rel=1e-9)
    assert reads.average("pod", "mem_usage_bytes", 180) == pytest.approx({"web/b": 1e6})
