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
* **A crash of the process** (SIGKILL, out of memory, power) loses the rows still queued: at
  most ``capacity``, in practice the few milliseconds of requests since the last batch. The
  previous design lost the same row when the process died between answering and inserting.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque

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
    ) -> None:
        self.capacity, self.batch, self.shutdown_wait = capacity, batch, shutdown_wait
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
        self._rows.append(row)
        self._ensure_thread()
        self._cond.notify_all()

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
                    self._cond.notify_all()  # flushers and producers waiting for room
        finally:
            connection.close()

    def _store(self, batch: list[dict]) -> None:
        from .models import AuditEvent

        with transaction.atomic():
            AuditEvent.objects.bulk_create([AuditEvent(**row) for row in batch])
