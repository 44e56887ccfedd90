"""Audit rows written off the request path: a queue drained by one writer thread in batches.

The kubectl proxy answers first and queues the request's audit row (:meth:`AuditWriter.submit`);
one thread inserts what is queued, in order, many rows per statement and per commit — a commit
per proxied request cost more than the rest of the proxy (PostgreSQL flushes its log at each).

What holds:

* **No event is dropped.** The queue is bounded (``capacity`` rows); when it is full, ``submit``
  waits for room (backpressure on the requests being audited), it never discards.
* **A database error loses nothing.** The batch stays at the head of the queue and is retried
  (with a growing pause, on a fresh connection) until it is stored; later rows wait behind it.
* **Order is kept.** One writer, first in first out: ids grow in the order rows were submitted;
  each row keeps its own ``created_at`` (the time of the request, not of the insert) and
  ``request_id``.
* **Shutdown flushes.** :meth:`close` returns once every queued row is stored (it waits as long
  as the database is unavailable, up to ``shutdown_wait`` seconds, then logs at ERROR how many
  rows it could not store).
* **A crash of the process** (SIGKILL, out of memory) loses nothing when a spool directory is
  set (``PORTAL_AUDIT_SPOOL_DIR``): each row is appended to this process's spool file before it
  is queued (a ``write`` to the kernel, no ``fsync``: it survives the process, not a power cut),
  and the file is emptied once everything in it is stored. The next writer to start in that
  directory stores what a dead process left (rows already stored — a crash between insert and
  emptying — are recognised by request id, time and path and not stored twice). Without a
  spool directory a crash loses the rows still queued: the few milliseconds since the last
  batch.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import threading
import time
import uuid
from collections import deque
from datetime import datetime
from pathlib import Path

from django.db import DatabaseError, connection, transaction

logger = logging.getLogger("tkeportal.audit")

CAPACITY = 10_000
BATCH = 500
RETRY_MIN_S = 0.05
RETRY_MAX_S = 2.0
SHUTDOWN_WAIT_S = 30.0


class AuditWriter:
    """A bounded FIFO of audit rows (``AuditEvent`` field dicts) and the thread storing them."""

    def __init__(
        self,
        capacity: int = CAPACITY,
        batch: int = BATCH,
        shutdown_wait: float = SHUTDOWN_WAIT_S,
        spool_dir: str | Path | None = None,
    ) -> None:
        self.capacity, self.batch, self.shutdown_wait = capacity, batch, shutdown_wait
        self.spool_dir = Path(spool_dir) if spool_dir else None
        self._spool = None  # this process's spool file (open, locked) once a row was written
        self._spool_name = ""
        self._recovered = False
        self._rows: deque[dict] = deque()
        self._writing = 0  # rows of the batch being inserted (still in _rows)
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closing = False
        self.failures = 0  # batches that failed and were retried (for tests and logs)

    # -- producers ----------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Rows submitted and not yet stored."""
        with self._cond:
            return len(self._rows)

    async def submit(self, row: dict) -> None:
        """Queue one row; waits (without blocking the event loop) while the queue is full."""
        if not self._offer(row):
            await asyncio.get_running_loop().run_in_executor(None, self.put, row)

    def put(self, row: dict) -> None:
        """Queue one row from a thread; blocks while the queue is full."""
        with self._cond:
            while len(self._rows) >= self.capacity:
                self._cond.wait()
            self._append(row)

    def _offer(self, row: dict) -> bool:
        with self._cond:
            if len(self._rows) >= self.capacity:
                return False
            self._append(row)
            return True

    def _append(self, row: dict) -> None:
        if self._closing:
            raise RuntimeError("the audit writer is closed")
        if self.spool_dir is not None:
            self._spool_write(row)
        self._rows.append(row)
        self._ensure_thread()
        self._cond.notify_all()

    def start(self) -> None:
        """Start the writer thread now (it first stores what dead processes left in the spool
        directory) rather than at the first row."""
        with self._cond:
            self._ensure_thread()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
            self._thread.start()

    # -- flushing ------------------------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every row submitted so far is stored; False if ``timeout`` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._rows:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self) -> None:
        """Store what is queued (waiting out a database outage up to ``shutdown_wait``), then
        stop the thread."""
        if not self.flush(self.shutdown_wait):
            logger.error(
                "shutting down with %d audit rows not stored (database unavailable for %gs)",
                self.pending,
                self.shutdown_wait,
            )
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(5)
        with self._cond:  # usable again: a later submit starts a new thread
            self._closing, self._thread = False, None

    # -- the writer thread ---------------------------------------------------------------------
    def _run(self) -> None:
        pause = RETRY_MIN_S
        try:
            if self.spool_dir is not None and not self._recovered:
                self._recover()
            while True:
                with self._cond:
                    while not self._rows and not self._closing:
                        self._cond.wait()
                    if not self._rows:
                        return  # closing, nothing left
                    batch = [self._rows[i] for i in range(min(self.batch, len(self._rows)))]
                    self._writing = len(batch)
                try:
                    self._store(batch)
                except DatabaseError:
                    self.failures += 1
                    logger.warning(
                        "could not store %d audit rows; retrying in %.2fs",
                        len(batch),
                        pause,
                        exc_info=True,
                    )
                    connection.close()  # a fresh connection for the retry
                    with self._cond:
                        self._writing = 0
                        if self._closing and not self._rows:
                            return
                        self._cond.wait(pause)  # woken early only by close()
                    pause = min(pause * 2, RETRY_MAX_S)
                    continue
                pause = RETRY_MIN_S
                with self._cond:
                    for _ in batch:
                        self._rows.popleft()
                    self._writing = 0
                    if not self._rows and self._spool is not None:
                        self._spool.truncate(0)  # everything in it is stored
                    self._cond.notify_all()  # flushers and producers waiting for room
        finally:
            connection.close()

    def _store(self, batch: list[dict]) -> None:
        from .models import AuditEvent

        with transaction.atomic():
            AuditEvent.objects.bulk_create([AuditEvent(**row) for row in batch])

    # -- the spool (write-ahead file) --------------------------------------------------------------
    def _spool_write(self, row: dict) -> None:
        """Append ``row`` to this process's spool file (called with the lock held)."""
        if self._spool is None:
            self.spool_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            name = f"audit-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
            # Locked ("alive": recovery skips it) before it gets the name recovery looks for.
            handle = open(self.spool_dir / f".{name}", "a", encoding="utf-8")  # noqa: SIM115
            os.chmod(handle.name, 0o600)  # bodies are redacted, but still nobody else's
            fcntl.flock(handle, fcntl.LOCK_EX)
            os.rename(handle.name, self.spool_dir / name)
            self._spool, self._spool_name = handle, name
        self._spool.write(json.dumps(row, default=_jsonable) + "\n")
        self._spool.flush()

    def _recover(self) -> None:
        """Store what writers that died left in their spool files (once per writer)."""
        self._recovered = True
        for path in sorted(self.spool_dir.glob("audit-*.jsonl")):
            if self._spool is not None and path.name == self._spool_name:
                continue
            with open(path, encoding="utf-8") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its process is alive and writing it
                rows = [_from_json(line) for line in handle if line.strip()]
                while True:
                    try:
                        self._store_missing(rows)
                        break
                    except DatabaseError:
                        logger.warning("could not store spooled audit rows", exc_info=True)
                        connection.close()
                        time.sleep(RETRY_MAX_S)
                logger.warning("stored audit rows a dead process left in %s (%d)", path, len(rows))
                path.unlink()

    def _store_missing(self, rows: list[dict]) -> None:
        from .models import AuditEvent

        if not rows:
            return
        stored = set(
            AuditEvent.objects.filter(
                request_id__in={r["request_id"] for r in rows},
                created_at__in={r["created_at"] for r in rows},
            ).values_list("request_id", "created_at", "path")
        )
        missing = [r for r in rows if (r["request_id"], r["created_at"], r["path"]) not in stored]
        for start in range(0, len(missing), self.batch):
            self._store(missing[start : start + self.batch])


def _jsonable(value):
    if isinstance(value, datetime):  # created_at, the one non-JSON value of a row
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _from_json(line: str) -> dict:
    row = json.loads(line)
    row["created_at"] = datetime.fromisoformat(row["created_at"])
    return row
