"""The indexed object store of one simulated cluster (its "etcd").

Objects are plain JSON-compatible dicts, never mutated after they are stored: a write stores a
new :class:`Entry`, so the cached JSON encoding of an entry stays valid and LIST can splice
pre-encoded bytes. Per resource kind the store keeps objects by namespace and name (O(1) GET),
a cached name order for paging, an index of owner uid → dependents for garbage collection, and
a window of recent events so a watch can resume from any resourceVersion still in it (older
ones answer 410 Gone "too old resource version", as the API server's watch cache does).

The window is sized as kube-apiserver 1.37 sizes its watch cache (``storage/cacher/history``):
per resource, a capacity that starts at 100 events, doubles (up to 102,400) while the buffer
is full of events younger than the events-history window — 75 s by default
(``DefaultEventFreshDuration``: a minute of bookmarks plus 15 s; kube-apiserver uses
max(75 s, request timeout + 15 s)) — and halves when the newest quarter is already older than
it. So a client that reconnects within the window resumes; one that was away longer, on a busy
resource, gets 410 and relists. :meth:`Store.compact` drops all history at once (as etcd
compaction does; list ``continue`` tokens expire only then).

All methods run on the simulator's event loop thread; nothing here locks.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

from .resources import ResourceType

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def iter_key_order(
    view, namespace: str | None, start: tuple[str, str] | None = None
) -> Iterator[Entry]:
    """Entries of ``view`` (a :class:`KindStore` or a :class:`Snapshot` of one: anything with
    ``namespaces()``, ``names(ns)`` and ``get(ns, name)``) in etcd key order (namespace, then
    name), from ``start`` exclusive."""
    spaces = [namespace] if namespace is not None else view.namespaces()
    for ns in spaces:
        if start is not None and ns < start[0]:
            continue
        names = view.names(ns)
        first = bisect.bisect_right(names, start[1]) if start and ns == start[0] else 0
        for name in names[first:]:
            entry = view.get(ns, name)
            if entry is not None:
                yield entry


class Entry:
    """One stored object and, lazily, its compact JSON encoding."""

    __slots__ = ("obj", "_raw")

    def __init__(self, obj: dict[str, Any]):
        self.obj = obj
        self._raw: bytes | None = None

    @property
    def raw(self) -> bytes:
        if self._raw is None:
            self._raw = _dumps(self.obj).encode()
        return self._raw

    @property
    def meta(self) -> dict[str, Any]:
        return self.obj["metadata"]

    def copy(self) -> dict[str, Any]:
        """A deep, mutable copy (JSON round trip beats deepcopy for plain JSON data)."""
        return json.loads(self.raw)


class Watcher:
    """One open watch: a queue of ``(type, entry)`` filtered by namespace and selectors."""

    def __init__(
        self, namespace: str | None, match: Callable[[dict[str, Any]], bool], maxsize: int = 10000
    ):
        self.namespace = namespace
        self.match = match
        self.queue: asyncio.Queue[tuple[str, Entry] | None] = asyncio.Queue(maxsize)
        self.overflowed = False

    def offer(self, etype: str, entry: Entry, old: Entry | None) -> None:
        if self.namespace is not None and entry.meta.get("namespace") != self.namespace:
            return
        now = self.match(entry.obj)
        if etype == "MODIFIED" and old is not None:
            was = self.match(old.obj)
            if was and not now:
                etype, now = "DELETED", True
            elif now and not was:
                etype = "ADDED"
        if not now:
            return
        try:
            self.queue.put_nowait((etype, entry))
        except asyncio.QueueFull:
            # A real API server closes a watch whose client cannot keep up; the client re-lists.
            self.overflowed = True
            self.close()

    def close(self) -> None:
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:
            self.queue.get_nowait()
            self.queue.put_nowait(None)


HISTORY_WINDOW = 75.0  # seconds: DefaultEventFreshDuration
HISTORY_MIN = 100  # DefaultLowerBoundCapacity
HISTORY_MAX = 100 * 1024  # DefaultUpperBoundCapacity


def history_upper_bound(window: float, upper: int = HISTORY_MAX) -> int:
    """The capacity limit for a window (``CapacityUpperBound``: longer windows than 75 s get a
    proportionally larger limit, rounded up to a power of two)."""
    if window <= HISTORY_WINDOW:
        return upper
    return upper << min(math.ceil(math.log2(window / HISTORY_WINDOW)), 14)


class KindStore:
    """Objects of one resource (group + plural), their event history and their watchers."""

    def __init__(self, rt: ResourceType, window: float = HISTORY_WINDOW, upper: int = HISTORY_MAX):
        self.rt = rt
        self.by_ns: dict[str, dict[str, Entry]] = {}
        self.count = 0
        self.window = window
        self.upper = history_upper_bound(window, upper)
        self.capacity = min(HISTORY_MIN, self.upper)
        # history[start:] is the window (the head is trimmed lazily, in batches)
        self.history: list[tuple[int, str, Entry, Entry | None]] = []
        self.times: list[float] = []
        self.start = 0
        self.compacted_rv = 0  # watches from an older resourceVersion get 410
        self.continue_compacted_rv = 0  # list continue tokens from before it get 410
        self.watchers: set[Watcher] = set()
        self._order: dict[str, list[str]] = {}  # namespace → sorted names (cache)
        self._ns_order: list[str] | None = None

    def get(self, namespace: str, name: str) -> Entry | None:
        bucket = self.by_ns.get(namespace)
        return bucket.get(name) if bucket else None

    def names(self, namespace: str) -> list[str]:
        order = self._order.get(namespace)
        if order is None:
            order = sorted(self.by_ns.get(namespace, ()))
            self._order[namespace] = order
        return order

    def namespaces(self) -> list[str]:
        if self._ns_order is None:
            self._ns_order = sorted(ns for ns, bucket in self.by_ns.items() if bucket)
        return self._ns_order

    def iter_sorted(
        self, namespace: str | None, start: tuple[str, str] | None = None
    ) -> Iterator[Entry]:
        return iter_key_order(self, namespace, start)

    def size(self, namespace: str | None) -> int:
        if namespace is None:
            return self.count
        return len(self.by_ns.get(namespace, ()))

    def _record(self, rv: int, etype: str, entry: Entry, old: Entry | None) -> None:
        now = time.monotonic()
        size = len(self.history) - self.start
        if size >= self.capacity:
            if now - self.times[self.start] < self.window and self.capacity < self.upper:
                self.capacity = min(self.capacity * 2, self.upper)
            elif now - self.times[len(self.times) - self.capacity // 4] > self.window:
                self.capacity = max(self.capacity // 2, min(HISTORY_MIN, self.upper))
            drop = size - self.capacity + 1
            if drop > 0:
                self.start += drop
                self.compacted_rv = (
                    rv - 1 if self.start >= len(self.history) else (self.history[self.start][0] - 1)
                )
        self.history.append((rv, etype, entry, old))
        self.times.append(now)
        if self.start > 1024 and self.start * 2 > len(self.history):
            del self.history[: self.start]
            del self.times[: self.start]
            self.start = 0
        for watcher in list(self.watchers):
            watcher.offer(etype, entry, old)

    def put(self, rv: int, entry: Entry, old: Entry | None) -> None:
        ns = entry.meta.get("namespace", "")
        name = entry.meta["name"]
        bucket = self.by_ns.setdefault(ns, {})
        if name not in bucket:
            self.count += 1
            self._order.pop(ns, None)
            if len(bucket) == 0:
                self._ns_order = None
        bucket[name] = entry
        self._record(rv, "MODIFIED" if old is not None else "ADDED", entry, old)

    def remove(self, rv: int, entry: Entry, old: Entry | None = None) -> None:
        """Delete; ``entry`` is the object as deleted (at ``rv``), ``old`` as it was stored
        (kept in the history so a list at an earlier resourceVersion can restore it)."""
        ns = entry.meta.get("namespace", "")
        bucket = self.by_ns.get(ns)
        if bucket is not None and bucket.pop(entry.meta["name"], None) is not None:
            self.count -= 1
            self._order.pop(ns, None)
            if not bucket:
                self._ns_order = None
        self._record(rv, "DELETED", entry, old)

    def events_since(self, rv: int) -> list[tuple[int, str, Entry, Entry | None]]:
        start = bisect.bisect_right(self.history, rv, lo=self.start, key=lambda item: item[0])
        return self.history[start:]

    def at(self, rv: int) -> KindStore | Snapshot:
        """The objects as they were at resourceVersion ``rv`` (``rv`` at or after the newest
        event: the store itself). Earlier states are rebuilt by undoing the events after
        ``rv``, newest first, so only while those are all in the window: an ``rv`` below
        :attr:`compacted_rv` raises :class:`Expired`, as etcd answers a compacted revision."""
        if rv < self.compacted_rv:
            raise Expired(rv, self.compacted_rv)
        later = self.events_since(rv)
        if not later:
            return self
        before: dict[tuple[str, str], Entry | None] = {}
        for _, etype, entry, old in reversed(later):
            before[(entry.meta.get("namespace", ""), entry.meta["name"])] = (
                None if etype == "ADDED" else old
            )
        return Snapshot(self, before)

    def compact(self, rv: int) -> None:
        self.history.clear()
        self.times.clear()
        self.start = 0
        self.compacted_rv = self.continue_compacted_rv = rv


class Expired(Exception):
    """A resourceVersion older than what the history still holds."""

    def __init__(self, rv: int, compacted: int):
        super().__init__(f"too old resource version: {rv} ({compacted})")
        self.rv, self.compacted = rv, compacted


class Snapshot:
    """A kind's objects at an earlier resourceVersion: the store's current objects overlaid
    with ``before`` ((namespace, name) → the entry then, None: absent then). It reads like a
    :class:`KindStore` (``get``, ``names``, ``namespaces``, ``iter_sorted``)."""

    def __init__(self, ks: KindStore, before: dict[tuple[str, str], Entry | None]):
        self.ks = ks
        self.before = before
        self.touched: dict[str, dict[str, Entry | None]] = {}
        for (ns, name), entry in before.items():
            self.touched.setdefault(ns, {})[name] = entry
        self._order: dict[str, list[str]] = {}

    def get(self, namespace: str, name: str) -> Entry | None:
        key = (namespace, name)
        if key in self.before:
            return self.before[key]
        return self.ks.get(namespace, name)

    def names(self, namespace: str) -> list[str]:
        touched = self.touched.get(namespace)
        if touched is None:
            return self.ks.names(namespace)
        order = self._order.get(namespace)
        if order is None:
            names = set(self.ks.names(namespace))
            for name, entry in touched.items():
                if entry is None:
                    names.discard(name)
                else:
                    names.add(name)
            order = self._order[namespace] = sorted(names)
        return order

    def namespaces(self) -> list[str]:
        spaces = set(self.ks.namespaces()) | set(self.touched)
        return sorted(ns for ns in spaces if self.names(ns))

    def iter_sorted(
        self, namespace: str | None, start: tuple[str, str] | None = None
    ) -> Iterator[Entry]:
        return iter_key_order(self, namespace, start)


Listener = Callable[[ResourceType, str, Entry, "Entry | None"], None]


class Store:
    """All objects of one cluster, with a cluster-wide resourceVersion counter."""

    def __init__(self, history_window: float = HISTORY_WINDOW, history_size: int = HISTORY_MAX):
        self.rv = 1000
        self.history_window = history_window
        self.history_size = history_size
        self.kinds: dict[tuple[str, str], KindStore] = {}
        self.dependents: dict[str, set[tuple[str, str, str, str]]] = {}
        self.listeners: list[Listener] = []

    def kind(self, rt: ResourceType) -> KindStore:
        ks = self.kinds.get(rt.key)
        if ks is None:
            ks = self.kinds[rt.key] = KindStore(rt, self.history_window, self.history_size)
        return ks

    def next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def get(self, rt: ResourceType, namespace: str, name: str) -> Entry | None:
        ks = self.kinds.get(rt.key)
        return ks.get(namespace, name) if ks else None

    def write(self, rt: ResourceType, obj: dict[str, Any], old: Entry | None) -> Entry:
        """Store ``obj`` (create when ``old`` is None), stamping a new resourceVersion."""
        rv = self.next_rv()
        obj["metadata"]["resourceVersion"] = str(rv)
        entry = Entry(obj)
        self._index_owners(rt, entry, old)
        self.kind(rt).put(rv, entry, old)
        self._notify(rt, "MODIFIED" if old else "ADDED", entry, old)
        return entry

    def remove(self, rt: ResourceType, entry: Entry) -> Entry:
        """Delete; the DELETED event carries the object at a fresh resourceVersion."""
        rv = self.next_rv()
        obj = entry.copy()
        obj["metadata"]["resourceVersion"] = str(rv)
        gone = Entry(obj)
        self._index_owners(rt, None, entry)
        self.kind(rt).remove(rv, gone, entry)
        self._notify(rt, "DELETED", gone, entry)
        return gone

    def _notify(self, rt: ResourceType, etype: str, entry: Entry, old: Entry | None) -> None:
        for listener in self.listeners:
            listener(rt, etype, entry, old)

    def _index_owners(self, rt: ResourceType, new: Entry | None, old: Entry | None) -> None:
        def owners(e: Entry | None) -> set[str]:
            if e is None:
                return set()
            return {ref["uid"] for ref in e.meta.get("ownerReferences") or () if ref.get("uid")}

        before, after = owners(old), owners(new)
        if before == after:
            return
        src = new or old
        assert src is not None
        ref = (rt.group, rt.plural, src.meta.get("namespace", ""), src.meta["name"])
        for uid in before - after:
            deps = self.dependents.get(uid)
            if deps is not None:
                deps.discard(ref)
                if not deps:
                    del self.dependents[uid]
        for uid in after - before:
            self.dependents.setdefault(uid, set()).add(ref)

    def compact(self) -> None:
        """Forget all watch history (like etcd compaction): older resourceVersions get 410."""
        for ks in self.kinds.values():
            ks.compact(self.rv)
