"""Watch: a chunked stream of ``{"type": …, "object": …}`` lines (or length-prefixed protobuf
``WatchEvent`` frames, see :mod:`.negotiate`), written and flushed one event at a time.

Semantics follow the API server: no/``0`` resourceVersion starts with synthetic ADDED events
for what exists; a given resourceVersion replays the history after it, or answers an ERROR
event with a 410 Expired Status when that version was compacted away; ``timeoutSeconds`` ends
the stream cleanly; ``allowWatchBookmarks`` adds periodic BOOKMARK events; ``sendInitialEvents``
ends the initial burst with the ``k8s.io/initial-events-end`` bookmark.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import convert, negotiate
from .errors import ApiError
from .selectors import parse_field_selector, parse_label_selector
from .store import Entry, Watcher

if TYPE_CHECKING:
    from .handlers import Request

DEFAULT_TIMEOUT = 1800.0


def _bookmark(req: Request, choice: negotiate.Choice, rv: int, initial_end: bool = False) -> bytes:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    obj = {"kind": req.served.kind, "apiVersion": req.served.group_version, "metadata": meta}
    return negotiate.watch_frame(choice, "BOOKMARK", obj)


async def serve(req: Request, pinned_name: str | None = None) -> web.StreamResponse:
    cluster, rt = req.cluster, req.rt
    labels = parse_label_selector(req.query.get("labelSelector"))
    field_text = req.query.get("fieldSelector")
    if pinned_name is not None:
        field_text = ",".join(filter(None, [field_text, f"metadata.name={pinned_name}"]))
    fields = parse_field_selector(convert.field_selector(req.served, field_text), rt.plural)
    try:
        timeout = float(req.query.get("timeoutSeconds") or DEFAULT_TIMEOUT)
    except ValueError as exc:
        raise ApiError(400, "timeoutSeconds must be an integer") from exc
    rv_text = req.query.get("resourceVersion") or ""
    send_initial = req.flag("sendInitialEvents")
    bookmarks = req.flag("allowWatchBookmarks")
    choice = negotiate.choose(req.http, req.formats(), stream=True)
    negotiate.check_shape(choice, rt, is_list=False)  # each event is one object
    include = req.query.get("includeObject", "Metadata")

    def match(obj: dict[str, Any]) -> bool:
        return labels.matches(obj["metadata"].get("labels")) and fields.matches(obj)

    ks = cluster.store.kind(rt)
    watcher = Watcher(req.namespace, match)
    initial: list[tuple[str, Entry]] = []
    expired: str | None = None
    if rv_text in ("", "0") or send_initial:
        entries, _, _, _ = cluster.list_entries(rt, req.namespace, labels, fields)
        initial = [("ADDED", e) for e in entries]
    else:
        try:
            since = int(rv_text)
        except ValueError as exc:
            raise ApiError(400, f"invalid resource version: {rv_text}") from exc
        if since < ks.compacted_rv:
            expired = f"too old resource version: {since} ({ks.compacted_rv})"
        else:
            replay = Watcher(req.namespace, match, maxsize=0)
            for _, etype, entry, old in ks.events_since(since):
                replay.offer(etype, entry, old)
            while not replay.queue.empty():
                item = replay.queue.get_nowait()
                if item is not None:
                    initial.append(item)
    start_rv = cluster.store.rv
    ks.watchers.add(watcher)  # registered in the same loop tick as the snapshot: no gap
    resp = web.StreamResponse(
        status=200,
        headers={
            "Content-Type": negotiate.stream_content_type(choice),
            "Cache-Control": "no-cache, private",
        },
    )
    resp.enable_chunked_encoding()
    drop = cluster.faults.take("drop_watch", "GET", req.http.path)
    sent = 0
    loop = asyncio.get_running_loop()

    def cut_now() -> None:
        _abort(req, resp)
        watcher.close()  # wakes the loop below, which then finds the connection gone

    untrack = cluster.faults.track_watch(req.http.path, lambda: loop.call_soon_threadsafe(cut_now))
    try:
        await resp.prepare(req.http)
        if expired is not None:
            status = ApiError(410, expired, reason="Expired").status()
            await resp.write(negotiate.watch_frame(choice, "ERROR", status))
            await resp.write_eof()
            return resp
        deadline = time.monotonic() + timeout
        interval = cluster.bookmark_interval
        next_bookmark = time.monotonic() + interval

        async def send(etype: str, entry: Entry) -> bool:
            nonlocal sent
            if drop is not None and sent >= drop.after:
                return False
            meta = {"resourceVersion": entry.meta["resourceVersion"]}
            view = negotiate.converted(
                choice, rt, [entry.obj], meta, include, is_list=False, served=req.served
            )
            if view is None and entry.obj.get("apiVersion") != req.served.group_version:
                view = convert.to_served(req.served, entry.obj)
            await resp.write(
                negotiate.watch_frame(choice, etype, entry.raw if view is None else view)
            )
            sent += 1
            return True

        for etype, entry in initial:
            if not await send(etype, entry):
                return _abort(req, resp)
        if send_initial:
            await resp.write(_bookmark(req, choice, start_rv, initial_end=True))
        if drop is not None and sent >= drop.after:
            return _abort(req, resp)
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            wait = deadline - now
            if bookmarks:
                wait = min(wait, max(next_bookmark - now, 0))
            try:
                item = await asyncio.wait_for(watcher.queue.get(), wait)
            except TimeoutError:
                if bookmarks and time.monotonic() >= next_bookmark:
                    await resp.write(_bookmark(req, choice, cluster.store.rv))
                    next_bookmark = time.monotonic() + interval
                continue
            if item is None:
                break
            if not await send(*item):
                return _abort(req, resp)
        await resp.write_eof()
    except (ConnectionResetError, asyncio.CancelledError):
        # The client went away; nothing to finish.
        pass
    finally:
        untrack()
        ks.watchers.discard(watcher)
    return resp


def _abort(req: Request, resp: web.StreamResponse) -> web.StreamResponse:
    """Cut the connection without ending the chunked body (a dropped watch). ``close()``
    rather than ``abort()``: the events already written are delivered first, as when a real
    API server's connection breaks after them."""
    transport = req.http.transport
    if transport is not None:
        transport.close()
    return resp
