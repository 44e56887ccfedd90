"""Container logs of a simulated cluster: deterministic start-up lines, lines that keep coming
while a container runs (written by the controller), the previous instance's log after a
restart, and followers woken as lines arrive (``kubectl logs -f``).

A pod annotated ``kubesim.io/log-lines-per-second: "<n>"`` has each running container write
``n`` numbered lines a second besides (a fast log source for load tests and benchmarks; the
lines come in bursts every :data:`PUMP_INTERVAL` seconds, each burst waking followers once).
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .cluster import Cluster

Key = tuple[str, str, str]  # namespace, pod, container
Line = tuple[datetime, str]

LOG_RATE = "kubesim.io/log-lines-per-second"
MAX_LOG_RATE = 100_000.0
PUMP_INTERVAL = 0.01
KEEP_LINES = 5000  # per container; the oldest 1000 go when there are more


def log_rate(annotations: dict) -> float:
    """The generated lines per second a pod asks for (0: none; unreadable values are 0)."""
    try:
        rate = float((annotations or {}).get(LOG_RATE, 0))
    except (TypeError, ValueError):
        return 0.0
    return min(rate, MAX_LOG_RATE) if rate > 0 else 0.0


def format_ts(when: datetime) -> str:
    """RFC 3339 with nanoseconds, as the kubelet prefixes lines for ``timestamps=true``."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


class LogBook:
    """All container logs of one cluster."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.current: dict[Key, list[Line]] = {}
        self.previous: dict[Key, list[Line]] = {}
        self.closed: set[Key] = set()
        self._waiters: dict[Key, set[asyncio.Event]] = {}
        self._counters: dict[Key, int] = {}
        self.dropped: dict[Key, int] = {}  # lines trimmed from the front (follow offsets)
        self.rates: dict[Key, float] = {}  # generated lines per second (LOG_RATE)
        self._carry: dict[Key, float] = {}
        self._generated: dict[Key, int] = {}
        self._pump: asyncio.Task[None] | None = None

    def start(
        self,
        key: Key,
        image: str,
        when: datetime | None = None,
        startup: list[str] | None = None,
    ) -> None:
        """A container (re)started: first lines of its log (``startup``, else the image's
        deterministic start-up lines)."""
        if key in self.current and self.current[key]:
            self.previous[key] = self.current[key]
        self.current[key] = []
        self.dropped[key] = 0
        self.closed.discard(key)
        when = when or datetime.now(UTC)
        name = image.rsplit("/", 1)[-1].split(":")[0] or "app"
        lines = startup if startup is not None else _startup_lines(name, key)
        for i, text in enumerate(lines):
            self.append(key, text, when + timedelta(microseconds=i))

    def append(self, key: Key, text: str, when: datetime | None = None) -> None:
        self.extend(key, [(when or datetime.now(UTC), text)])

    def extend(self, key: Key, new: list[Line]) -> None:
        lines = self.current.setdefault(key, [])
        lines.extend(new)
        while len(lines) > KEEP_LINES:
            del lines[:1000]
            self.dropped[key] = self.dropped.get(key, 0) + 1000
        self._wake(key)

    def generate(self, key: Key, rate: float) -> None:
        """The container writes ``rate`` numbered lines a second until it stops (called by
        the kubelet, on the simulator's loop, when the container starts)."""
        if rate <= 0:
            self.rates.pop(key, None)
            return
        self.rates[key] = rate
        self._carry[key] = 0.0
        if self._pump is None or self._pump.done():
            self._pump = self.cluster.loop.create_task(self._run_pump())

    async def _run_pump(self) -> None:
        last = time.monotonic()
        while self.rates:
            await asyncio.sleep(PUMP_INTERVAL)
            moment = time.monotonic()
            elapsed, last = moment - last, moment
            when = datetime.now(UTC)
            for key, rate in list(self.rates.items()):
                if key not in self.current or key in self.closed:
                    self.rates.pop(key, None)
                    continue
                due = self._carry.get(key, 0.0) + rate * elapsed
                count = int(due)
                self._carry[key] = due - count
                if count:
                    first = self._generated.get(key, 0)
                    self._generated[key] = first + count
                    container = key[2]
                    self.extend(
                        key,
                        [
                            (when, f"{container} line {n:010d}: generated at {rate:g} lines/s")
                            for n in range(first + 1, first + count + 1)
                        ],
                    )

    def tick(self, key: Key, image: str) -> None:
        """One more line from a running container (called by the controller)."""
        n = self._counters.get(key, 0) + 1
        self._counters[key] = n
        rng = random.Random(f"{key}:{n}")
        name = image.rsplit("/", 1)[-1].split(":")[0] or "app"
        if name in ("nginx", "httpd", "caddy", "traefik"):
            path = rng.choice(["/", "/healthz", "/api/v1/items", "/static/app.js", "/login"])
            code = rng.choice([200, 200, 200, 200, 304, 404])
            text = (
                f'10.244.0.{rng.randint(2, 250)} - - "GET {path} HTTP/1.1" {code} '
                f'{rng.randint(0, 9000)} "-" "kube-probe/1.37"'
            )
        else:
            level = rng.choice(["INFO", "INFO", "INFO", "DEBUG", "WARN"])
            text = (
                f"{level} {name}: handled request id={rng.getrandbits(32):08x} "
                f"latency={rng.randint(1, 250)}ms"
            )
        self.append(key, text)

    def stop(self, key: Key) -> None:
        """The container exited: followers finish after the last line."""
        self.closed.add(key)
        self.rates.pop(key, None)
        self._wake(key)

    def forget(self, namespace: str, pod: str) -> None:
        for store in (self.current, self.previous):
            for key in [k for k in store if k[0] == namespace and k[1] == pod]:
                del store[key]
        for key in [k for k in self._waiters if k[0] == namespace and k[1] == pod]:
            self.closed.add(key)
            self._wake(key)
        for key in [k for k in self.rates if k[0] == namespace and k[1] == pod]:
            del self.rates[key]

    def lines(self, key: Key, previous: bool = False) -> list[Line]:
        return list((self.previous if previous else self.current).get(key, []))

    def waiter(self, key: Key) -> asyncio.Event:
        event = asyncio.Event()
        self._waiters.setdefault(key, set()).add(event)
        return event

    def release(self, key: Key, event: asyncio.Event) -> None:
        waiters = self._waiters.get(key)
        if waiters is not None:
            waiters.discard(event)
            if not waiters:
                del self._waiters[key]

    def _wake(self, key: Key) -> None:
        for event in self._waiters.get(key, ()):
            event.set()


def _startup_lines(name: str, key: Key) -> list[str]:
    ns, pod, container = key
    if name in ("nginx", "httpd"):
        return [
            "/docker-entrypoint.sh: Configuration complete; ready for start up",
            f'{name}: using the "epoll" event method',
            f"{name}: start worker processes",
        ]
    return [
        f"INFO {name}: starting container {container} in pod {ns}/{pod}",
        f"INFO {name}: configuration loaded",
        f"INFO {name}: listening on :8080",
    ]
