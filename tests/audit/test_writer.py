"""The audit writer (``apps.audit.writer``): rows queued off the request path are stored in
order, survive a database outage, and are flushed on shutdown.

The outage is real: the writer thread's PostgreSQL session is terminated from another session
(``pg_terminate_backend``) and new connections are refused for a while (``ALTER DATABASE …
ALLOW_CONNECTIONS false``, which holds for superusers too), as when the database restarts.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.writer import AuditWriter

pytestmark = pytest.mark.django_db(transaction=True)


def row(request_id: str, **fields) -> dict:
    return {
        "created_at": fields.pop("created_at", timezone.now()),
        "action": "getPod",
        "resource": "cluster:c1/namespace:default/pod:web",
        "channel": "proxy",
        "status_code": 200,
        "outcome": "success",
        "method": "GET",
        "path": "/k8s/clusters/c1/api/v1/namespaces/default/pods/web",
        "request_id": request_id,
        **fields,
    }


def admin_conn():
    """A session on the server's ``postgres`` database, from which the test database's
    sessions are ended and new ones refused (and let in again)."""
    params = connection.get_connection_params()
    return psycopg.connect(
        host=params.get("host"),
        port=params.get("port"),
        user=params.get("user"),
        dbname="postgres",
        autocommit=True,
    )


def sessions_of(admin, dbname: str) -> list[int]:
    query = "SELECT pid FROM pg_stat_activity WHERE datname = %s"
    return [pid for (pid,) in admin.execute(query, [dbname]).fetchall()]


@pytest.fixture
def writers():
    """Writers made by a test, closed after it even when it fails (their thread holds a
    database session, which would block dropping the test database)."""
    made = []

    def make(writer: AuditWriter) -> AuditWriter:
        made.append(writer)
        return writer

    yield make
    for writer in made:
        writer.close()


def test_rows_are_stored_in_submission_order_with_their_own_times_and_ids(writers):
    writer = writers(AuditWriter(batch=7))
    early = timezone.now() - timedelta(minutes=5)
    ids = [f"req-{i:03d}" for i in range(50)]
    for i, request_id in enumerate(ids):
        writer.put(row(request_id, created_at=early + timedelta(seconds=i)))
    assert writer.flush(timeout=20)
    stored = list(AuditEvent.objects.order_by("id").values_list("request_id", "created_at"))
    assert [r for r, _ in stored] == ids
    # each row keeps the time of its request, not the time of the (batched) insert
    assert [c for _, c in stored] == [early + timedelta(seconds=i) for i in range(50)]


def test_a_row_submitted_while_the_database_is_unavailable_still_lands(writers):
    """The writer's session is killed and new sessions refused; rows queued meanwhile are kept
    and retried, then stored once the database takes connections again."""
    writer = writers(AuditWriter())
    writer.put(row("before-outage"))
    assert writer.flush(timeout=20)  # the writer thread now holds a session
    dbname = connection.settings_dict["NAME"]
    with admin_conn() as admin:
        admin.execute(f'ALTER DATABASE "{dbname}" WITH ALLOW_CONNECTIONS false')
        try:
            for pid in sessions_of(admin, dbname):
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
            during = [f"during-outage-{i}" for i in range(5)]
            for request_id in during:
                writer.put(row(request_id))
            # the writer tries, fails and keeps the rows
            deadline = time.monotonic() + 10
            while writer.failures == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert writer.failures >= 1
            assert writer.pending == 5
        finally:
            admin.execute(f'ALTER DATABASE "{dbname}" WITH ALLOW_CONNECTIONS true')
    connection.close()  # our own session was terminated too
    assert writer.flush(timeout=20)
    stored = list(AuditEvent.objects.order_by("id").values_list("request_id", flat=True))
    assert stored == ["before-outage", *during]


def test_close_flushes_what_is_queued(writers):
    writer = writers(AuditWriter())
    release = threading.Event()
    real_store = writer._store

    def slow_store(batch):
        release.wait(10)  # the first batch is held until the rows below are queued
        real_store(batch)

    writer._store = slow_store
    ids = [uuid.uuid4().hex for _ in range(30)]
    for request_id in ids:
        writer.put(row(request_id))
    assert writer.pending == 30
    release.set()
    writer.close()
    assert writer.pending == 0
    assert list(AuditEvent.objects.order_by("id").values_list("request_id", flat=True)) == ids


def test_a_full_queue_makes_producers_wait_instead_of_dropping(writers):
    writer = writers(AuditWriter(capacity=3, batch=1))
    release = threading.Event()
    real_store = writer._store

    def held_store(batch):
        release.wait(10)
        real_store(batch)

    writer._store = held_store

    async def produce():
        for i in range(8):
            await writer.submit(row(f"bp-{i}"))

    async def main():
        task = asyncio.ensure_future(produce())
        await asyncio.sleep(0.3)
        # 3 queued, the 4th waits for room: nothing dropped, nothing beyond capacity held
        assert not task.done() and writer.pending == 3
        release.set()
        await asyncio.wait_for(task, 20)

    asyncio.run(main())
    assert writer.flush(timeout=20)
    stored = list(AuditEvent.objects.order_by("id").values_list("request_id", flat=True))
    assert stored == [f"bp-{i}" for i in range(8)]
