"""Database work of the proxy, on a few dedicated threads that keep their connections.

Django closes a request's database connection when the request ends (``CONN_MAX_AGE=0``,
the safe setting under ASGI, where every Django request may run on a new thread). The
proxy is not a Django request: it runs its ORM work here, on ``WORKERS`` long-lived
threads, each keeping one connection open — opening a PostgreSQL connection for every
kubectl request cost more than everything else the proxy does.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.db import connections

WORKERS = 4
# A kept connection is pinged before use when it has been idle this long.
PING_AFTER_S = 30.0

_executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="proxy-db")
_last_used: dict[int, float] = {}


def _prepare() -> None:
    ident = threading.get_ident()
    idle = time.monotonic() - _last_used.get(ident, 0.0)
    for conn in connections.all(initialized_only=True):
        if conn.connection is None:
            continue
        if conn.errors_occurred or (idle > PING_AFTER_S and not conn.is_usable()):
            conn.close()
            conn.errors_occurred = False
    _last_used[ident] = time.monotonic()


def _call(fn, args, kwargs):
    _prepare()
    return fn(*args, **kwargs)


async def run(fn, *args, **kwargs):
    """Run ``fn`` (ORM work) on a proxy database thread."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor, functools.partial(_call, fn, args, kwargs))


def close_all() -> None:
    """Close the kept connection of every proxy database thread (shutdown; tests before the
    database is dropped). A barrier makes the WORKERS tasks land on WORKERS threads."""
    barrier = threading.Barrier(WORKERS)

    def close_here():
        barrier.wait(timeout=10)
        connections.close_all()

    for future in [_executor.submit(close_here) for _ in range(WORKERS)]:
        future.result()
