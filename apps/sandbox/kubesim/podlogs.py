"""``pods/log``: container, tailLines, sinceSeconds/sinceTime, timestamps, previous, limitBytes
and ``follow`` (a chunked text stream that ends when the container stops or the pod goes).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from aiohttp import web

from .errors import ApiError
from .logs import format_ts
from .table import parse_time

if TYPE_CHECKING:
    from .handlers import Request


def _int(req: Request, key: str) -> int | None:
    raw = req.query.get(key)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise ApiError(400, f'{key}: Invalid value: "{raw}": must be an integer') from exc


def pick_container(pod: dict, name: str, wanted: str | None, what: str = "logs") -> str:
    containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
    inits = [c["name"] for c in (pod.get("spec") or {}).get("initContainers") or []]
    if not wanted:
        default = (pod["metadata"].get("annotations") or {}).get(
            "kubectl.kubernetes.io/default-container"
        )
        if default in containers:
            return default
        if len(containers) == 1 or what != "logs":
            return containers[0]
        raise ApiError(
            400,
            f"a container name must be specified for pod {name}, choose one of: "
            f"[{' '.join(containers)}]"
            + (f" or one of the init containers: [{' '.join(inits)}]" if inits else ""),
        )
    if wanted not in containers and wanted not in inits:
        raise ApiError(400, f"container {wanted} is not valid for pod {name}")
    return wanted


async def handle(req: Request) -> web.StreamResponse:
    cluster = req.cluster
    pod = cluster.get_entry(req.rt, req.namespace, req.name or "").obj
    name = pod["metadata"]["name"]
    container = pick_container(pod, name, req.query.get("container"))
    key = (req.namespace or "", name, container)
    previous = req.flag("previous")
    book = cluster.logs
    if previous:
        if key not in book.previous:
            raise ApiError(
                400, f'previous terminated container "{container}" in pod "{name}" not found'
            )
    elif key not in book.current:
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        reason = next(
            (
                cs.get("state", {}).get("waiting", {}).get("reason")
                for cs in statuses
                if cs.get("name") == container
            ),
            None,
        )
        raise ApiError(
            400,
            f'container "{container}" in pod "{name}" is waiting to start: '
            f"{reason or 'ContainerCreating'}",
        )
    tail = _int(req, "tailLines")
    since_seconds = _int(req, "sinceSeconds")
    limit_bytes = _int(req, "limitBytes")
    since = parse_time(req.query.get("sinceTime"))
    if since_seconds is not None:
        since = datetime.now(UTC) - timedelta(seconds=since_seconds)
    stamps = req.flag("timestamps")
    follow = req.flag("follow") and not previous

    def render(lines: list[tuple[datetime, str]]) -> bytes:
        return b"".join(
            ((format_ts(ts) + " ") if stamps else "").encode() + text.encode() + b"\n"
            for ts, text in lines
        )

    lines = book.lines(key, previous)
    seen = book.dropped.get(key, 0) + len(lines)
    if since is not None:
        lines = [line for line in lines if line[0] >= since]
    if tail is not None:
        lines = lines[-tail:] if tail > 0 else []
    first = render(lines)
    if limit_bytes is not None:
        first = first[:limit_bytes]
    if not follow:
        return web.Response(body=first, content_type="text/plain")
    resp = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
    resp.enable_chunked_encoding()
    await resp.prepare(req.http)
    written = len(first)
    if first:
        await resp.write(first)
    event = book.waiter(key)
    try:
        while limit_bytes is None or written < limit_bytes:
            if (
                key in book.closed
                and book.dropped.get(key, 0) + len(book.current.get(key, [])) <= seen
            ):
                break
            await event.wait()
            event.clear()
            current = book.current.get(key, [])
            start = seen - book.dropped.get(key, 0)
            fresh = current[max(start, 0) :]
            seen = book.dropped.get(key, 0) + len(current)
            if fresh:
                chunk = render(fresh)
                if limit_bytes is not None:
                    chunk = chunk[: limit_bytes - written]
                await resp.write(chunk)
                written += len(chunk)
            if key not in book.current:
                break
        await resp.write_eof()
    except (ConnectionResetError, asyncio.CancelledError):
        # Client stopped following.
        pass
    finally:
        book.release(key, event)
    return resp
