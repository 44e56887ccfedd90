"""Periodic work in-process (the embedded default has no Celery beat): ``runperiodic`` runs
the beat schedule, so a cluster's health is probed and ``last_probe_at`` moves."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.clusters import k8s, services
from apps.clusters.models import Cluster
from apps.core.periodic import Periodic, interval_of

pytestmark = pytest.mark.django_db

CALLS: list[str] = []


def test_runperiodic_probes_clusters_and_moves_last_probe_at(tenant, sim_cluster):
    spec = k8s.Connection(
        server=sim_cluster.url, token=sim_cluster.token, ca_data=sim_cluster.ca_data
    )
    cluster = services.import_cluster(actor=None, tenant=tenant, display_name="sim", spec=spec)
    long_ago = timezone.now() - timedelta(hours=3)
    Cluster.objects.filter(pk=cluster.pk).update(last_probe_at=long_ago)
    out = StringIO()
    call_command("runperiodic", "--once", stdout=out)
    assert "cluster-health: ok" in out.getvalue()
    cluster.refresh_from_db()
    assert cluster.last_probe_at > long_ago + timedelta(hours=2)
    assert cluster.phase == "Running"


def test_entries_run_on_their_interval(settings):
    now = [1000.0]
    periodic = Periodic(
        {
            "fast": {"task": "tests.core.test_periodic.record_fast", "schedule": 10.0},
            "slow": {"task": "tests.core.test_periodic.record_slow", "schedule": timedelta(60)},
        },
        clock=lambda: now[0],
    )
    assert periodic.intervals == {"fast": 10.0, "slow": 60 * 86400.0}
    assert periodic.due() == ["fast", "slow"]
    CALLS.clear()
    assert periodic.run_due() == {"fast": True, "slow": True}
    assert CALLS == ["fast", "slow"]
    now[0] += 9
    assert periodic.due() == [] and periodic.seconds_to_next() == pytest.approx(1)
    now[0] += 1
    assert periodic.run_due() == {"fast": True}
    assert CALLS == ["fast", "slow", "fast"]


def test_a_failing_entry_does_not_stop_the_others(caplog):
    periodic = Periodic(
        {
            "broken": {"task": "tests.core.test_periodic.explode", "schedule": 5},
            "missing": {"task": "apps.nowhere.tasks.nothing", "schedule": 5},
            "fine": {"task": "tests.core.test_periodic.record_fast", "schedule": 5},
        }
    )
    CALLS.clear()
    assert periodic.run_due() == {"broken": False, "missing": False, "fine": True}
    assert CALLS == ["fast"]
    assert "periodic task broken" in caplog.text and "periodic task missing" in caplog.text


def test_schedules_in_settings_are_understood(settings):
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert interval_of(entry["schedule"]) > 0
    with pytest.raises(ValueError):
        interval_of("every minute")


# -- tasks for the tests (real Celery tasks, run with .apply like the schedule's) ----------------
from celery import shared_task  # noqa: E402


@shared_task
def record_fast():
    CALLS.append("fast")


@shared_task
def record_slow():
    CALLS.append("slow")


@shared_task
def explode():
    raise RuntimeError("boom")
