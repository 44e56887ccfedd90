"""The test suite's PostgreSQL backend (tests/postgresql): its flush, run after every
transactional test, leaves what ``migrate`` left — every table empty but the content types and
permissions migrate wrote, sequences not reset — and the test database's sessions do not wait
for commits to reach the disk."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection


@pytest.mark.django_db(transaction=True)
def test_flush_empties_every_table_and_keeps_sequences(tenant, other_tenant):
    from apps.tenants.models import Tenant

    assert connection.ops.__class__.__module__ == "tests.postgresql.base"
    last_id = Tenant.objects.order_by("-pk").first().pk
    # as TransactionTestCase calls it after each test
    kept = {
        model: sorted(model.objects.values_list("pk", flat=True))
        for model in (ContentType, Permission)
    }
    assert len(kept[Permission]) > 100  # what migrate wrote for every model
    # as TransactionTestCase calls it after each test (which would emit post_migrate)
    call_command("flush", interactive=False, verbosity=0, reset_sequences=False)
    for model in apps.get_models():
        if model in kept:
            assert sorted(model.objects.values_list("pk", flat=True)) == kept[model]
        elif model._meta.managed and not model._meta.proxy:
            assert not model.objects.exists(), model._meta.label
    assert Tenant.objects.create(display_name="after", slug="after").pk > last_id


@pytest.mark.django_db(transaction=True)
def test_flush_empties_the_metric_point_tables(tenant):
    """The point tables belong to unmanaged models (partitioned by raw SQL): Django's flush
    alone skips them."""
    from datetime import UTC, datetime, timedelta

    from apps.monitoring import partitions, store
    from apps.monitoring.models import ClusterMonitor
    from tests.factories import make_cluster
    from tests.monitoring.test_store import pod_values

    when = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    cluster = make_cluster(tenant)
    ClusterMonitor.objects.create(tenant=tenant, cluster=cluster)
    partitions.ensure_partitions(when - timedelta(days=1))
    store.write(cluster, when, [store.Row("pod", "web/a", pod_values(1.0), {})])

    def count(table: str) -> int:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
            return cursor.fetchone()[0]

    assert count(partitions.RAW) == 1
    call_command("flush", interactive=False, verbosity=0, reset_sequences=False)
    assert [count(table) for table in (partitions.RAW, *partitions.ROLLUPS)] == [0, 0, 0]


@pytest.mark.django_db
def test_commits_do_not_wait_for_the_disk():
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "off"
