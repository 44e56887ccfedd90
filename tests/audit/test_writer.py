"""The audit writer (``apps.audit.writer``): rows queued off the request path are stored in
order, survive a database outage, and are flushed on shutdown.

The outage is real: the writer thread's PostgreSQL session is terminated from another session
(``pg_terminate_backend``) and new connections are refused for a while (``ALTER DATABASE …
ALLOW_CONNECTIONS false``, which holds for superusers too), as when the database restarts.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

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
    dbname = connection.settings_dict["NAME"]
    with admin_conn() as admin:
        others = set(sessions_of(admin, dbname))
        writer.put(row("before-outage"))
        assert writer.flush(timeout=20)  # the writer thread now holds a session
        # Only the writer's session is ended: sessions of other tests' threads and contexts
        # (a browser test's server, Playwright's greenlet) are not this test's to break.
        writers_sessions = set(sessions_of(admin, dbname)) - others
        assert writers_sessions
        admin.execute(f'ALTER DATABASE "{dbname}" WITH ALLOW_CONNECTIONS false')
        try:
            for pid in writers_sessions:
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


# -- the spool: rows outlive a crashed process ---------------------------------------------------
CRASHING_WRITER = """
import os, sys, time
import django
django.setup()
from apps.audit.writer import AuditWriter
from django.utils import timezone

writer = AuditWriter(spool_dir=sys.argv[1])
writer._store = lambda batch: time.sleep(3600)  # the database never answers in time
for i in range(5):
    writer.put({
        "created_at": timezone.now(), "action": "getPod", "channel": "proxy",
        "status_code": 200, "outcome": "success", "method": "GET",
        "path": f"/k8s/clusters/c1/api/v1/pods/p{i}", "request_id": f"crash-{i}",
        "request_body": {"note": "kept"},
    })
print("queued", flush=True)
time.sleep(3600)
"""


def test_rows_of_a_killed_process_are_stored_by_the_next_writer(tmp_path, writers):
    """A process queues five rows and is killed (SIGKILL) before storing them; the next
    writer to start on the same spool directory stores them, once, in order."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "tkeportal.settings.test",
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHING_WRITER, str(tmp_path)],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "queued"
    finally:
        proc.kill()
        proc.wait(10)
    assert AuditEvent.objects.count() == 0
    (spooled,) = tmp_path.glob("audit-*.jsonl")
    assert len(spooled.read_text().splitlines()) == 5

    writer = writers(AuditWriter(spool_dir=tmp_path))
    writer.start()
    deadline = time.monotonic() + 20
    while AuditEvent.objects.count() < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    stored = list(AuditEvent.objects.order_by("id").values_list("request_id", "request_body"))
    assert stored == [(f"crash-{i}", {"note": "kept"}) for i in range(5)]
    assert not spooled.exists()


def test_spooled_rows_already_stored_are_not_stored_twice(tmp_path, writers):
    """A crash between the insert and the emptying of the spool file: recovery recognises
    the stored row and stores only the other."""
    first = AuditWriter(spool_dir=tmp_path / "a")
    first.put(row("stored-before-crash"))
    assert first.flush(timeout=20)
    first.close()
    # the file as a crash would have left it: the stored row, then one never stored
    crashed = tmp_path / "audit-999999-dead.jsonl"
    event = AuditEvent.objects.values(*row("x")).get()
    lines = [event, row("never-stored")]
    crashed.write_text("".join(json.dumps(r, default=str) + "\n" for r in lines))
    writer = writers(AuditWriter(spool_dir=tmp_path))
    writer.start()
    deadline = time.monotonic() + 20
    while crashed.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not crashed.exists()
    assert list(AuditEvent.objects.order_by("id").values_list("request_id", flat=True)) == [
        "stored-before-crash",
        "never-stored",
    ]


def test_the_spool_is_emptied_once_its_rows_are_stored(tmp_path, writers):
    writer = writers(AuditWriter(spool_dir=tmp_path))
    for i in range(3):
        writer.put(row(f"s-{i}"))
    assert writer.flush(timeout=20)
    (spool,) = tmp_path.glob("audit-*.jsonl")
    assert spool.read_text() == ""
    assert oct(spool.stat().st_mode & 0o777) == "0o600"


def database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
