"""Container logs of a simulated cluster: deterministic start-up lines, lines that keep coming
while a container runs (written by the controller), the previous instance's log after a
restart, and followers woken as lines arrive (``kubectl logs -f``).
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .cluster import Cluster

Key = tuple[str, str, str]  # namespace, pod, container
Line = tuple[datetime, str]


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
        lines = self.current.setdefault(key, [])
        lines.append((when or datetime.now(UTC), text))
        if len(lines) > 5000:
            del lines[:1000]
            self.dropped[key] = self.dropped.get(key, 0) + 1000
        self._wake(key)

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
        self._wake(key)

    def forget(self, namespace: str, pod: str) -> None:
        for store in (self.current, self.previous):
            for key in [k for k in store if k[0] == namespace and k[1] == pod]:
                del store[key]
        for key in [k for k in self._waiters if k[0] == namespace and k[1] == pod]:
            self.closed.add(key)
            self._wake(key)

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
