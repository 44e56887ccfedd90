"""Per-cluster fault injection: fail matching requests with a status, add latency, take the
cluster down (refused / aborted connections), cut watches and exec streams mid-way.

Rules are set from the test thread and read on the server's loop; each rule is matched on the
HTTP method and a regular expression searched in the cluster-relative path (``/api/v1/…``),
and fires ``times`` times (None: until cleared). :meth:`Faults.cut_watches` breaks watch
streams that are already open (one namespace's, say), at once.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .cluster import Cluster


@dataclass
class Rule:
    """One injected fault; ``hits`` counts how often it fired."""

    action: str  # "fail" | "delay" | "drop_watch" | "drop_exec"
    method: str | None = None
    path: re.Pattern[str] | None = None
    times: int | None = None
    status: int = 500
    reason: str | None = None
    message: str | None = None
    seconds: float = 0.0
    after: int = 0
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.path is not None and not self.path.search(path):
            return False
        return self.times is None or self.hits < self.times


class Faults:
    """The fault-injection API of one cluster (``handle.faults``)."""

    def __init__(self, cluster: Cluster):
        self._cluster = cluster
        self._lock = threading.Lock()
        self.rules: list[Rule] = []
        self.is_down = False
        self.on_down_change: list = []  # callbacks(bool) the server registers
        self._watches: dict[int, tuple[str, Callable[[], None]]] = {}  # open watch streams
        self._ids = itertools.count()

    def _add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def fail(
        self,
        status: int = 500,
        *,
        method: str | None = None,
        path: str | None = None,
        times: int | None = None,
        reason: str | None = None,
        message: str | None = None,
    ) -> Rule:
        """Answer matching requests with ``status`` and a Status body."""
        return self._add(
            Rule(
                "fail",
                method,
                re.compile(path) if path else None,
                times,
                status=status,
                reason=reason,
                message=message,
            )
        )

    def delay(
        self,
        seconds: float,
        *,
        method: str | None = None,
        path: str | None = None,
        times: int | None = None,
    ) -> Rule:
        """Hold matching requests for ``seconds`` before answering."""
        return self._add(
            Rule("delay", method, re.compile(path) if path else None, times, seconds=seconds)
        )

    def drop_watch(
        self, after_events: int = 0, *, path: str | None = None, times: int | None = None
    ) -> Rule:
        """Cut matching watch streams (no clean end of the chunked body) after N events."""
        return self._add(
            Rule("drop_watch", None, re.compile(path) if path else None, times, after=after_events)
        )

    def cut_watches(self, path: str | None = None) -> int:
        """Break the watch streams open now whose path matches ``path`` (a regular
        expression; None: all): their connection closes without the chunked body's end, as
        when a connection breaks. Returns how many were cut."""
        pattern = re.compile(path) if path else None
        with self._lock:
            live = [cut for p, cut in self._watches.values() if not pattern or pattern.search(p)]
        for cut in live:
            cut()
        return len(live)

    def track_watch(self, path: str, cut: Callable[[], None]) -> Callable[[], None]:
        """Register an open watch stream (``cut`` breaks it, from any thread); returns the
        function that unregisters it when it ends."""
        with self._lock:
            key = next(self._ids)
            self._watches[key] = (path, cut)

        def untrack() -> None:
            with self._lock:
                self._watches.pop(key, None)

        return untrack

    def drop_exec(self, after_frames: int = 0, *, times: int | None = None) -> Rule:
        """Close exec/attach websockets abruptly after N output frames, without a status."""
        return self._add(Rule("drop_exec", None, None, times, after=after_frames))

    def down(self) -> None:
        """Refuse connections (own port) or drop them unanswered (shared port)."""
        self.is_down = True
        for callback in list(self.on_down_change):
            callback(True)

    def up(self) -> None:
        self.is_down = False
        for callback in list(self.on_down_change):
            callback(False)

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
        if self.is_down:
            self.up()

    def take(self, action: str, method: str, path: str) -> Rule | None:
        """The first live rule of ``action`` matching the request (counted as a hit)."""
        with self._lock:
            for rule in self.rules:
                if rule.action == action and rule.matches(method, path):
                    rule.hits += 1
                    return rule
        return None
