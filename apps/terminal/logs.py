"""Live logs: ``/ws/clusters/<cluster>/namespaces/<ns>/pods/<pod>/logs``.

Query: ``container``, ``tailLines``, ``sinceSeconds``, ``timestamps``, ``previous``. The caller
(API key or session, origin checked) must be allowed ``getPodLog`` on the pod — the kubectl
proxy's action for ``pods/<pod>/log`` — before the cluster is asked. The cluster's
``follow=true`` stream is read line by line into a queue of at most ``TERMINAL_LOG_QUEUE``
lines; when the browser is slower than the cluster (or paused) newer lines are dropped and a
``{"type":"dropped","count":n}`` marker takes their place in the stream, so the server never
buffers without bound. Browser → server: ``{"type":"pause"}`` / ``{"type":"resume"}``.
Server → browser: ``{"type":"log","lines":[…]}`` (batched), ``dropped``, ``ping``, ``end``.
"""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import quote, urlencode

import aiohttp
from channels.db import database_sync_to_async
from django.conf import settings
from yarl import URL

from apps.clusters.proxy.upstream import connection_error, request_headers

from . import services
from .exec import upstreams
from .services import Refusal
from .sockets import Socket, open_pod_socket, refuse, send_json

MAX_LINE = 64 * 1024  # longer lines are cut (with a mark) so one line cannot exhaust memory
BATCH = 200  # lines per message to the browser


def log_url(conn, namespace: str, pod: str, sock: Socket) -> URL:
    query = [("follow", "true")]
    container = sock.param("container")
    if container:
        query.append(("container", container))
    for name in ("tailLines", "sinceSeconds"):
        value = sock.param(name)
        if value.isdigit():
            query.append((name, value))
    for name in ("timestamps", "previous"):
        if sock.flag(name):
            query.append((name, "true"))
    path = f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(pod, safe='')}/log"
    return URL(conn.server.rstrip("/") + path + "?" + urlencode(query), encoded=True)


class LineQueue:
    """A bounded queue of log lines; what does not fit is counted and becomes one marker."""

    def __init__(self, size: int):
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=max(size, 2))
        self.dropped = 0  # lines dropped since the last marker was queued
        self.dropped_total = 0

    def put(self, line: str) -> None:
        if self.dropped and self.queue.maxsize - self.queue.qsize() >= 2:
            self.queue.put_nowait(("dropped", self.dropped))
            self.dropped = 0
        if self.dropped or self.queue.full():
            self.dropped += 1
            self.dropped_total += 1
            return
        self.queue.put_nowait(("line", line))

    def end(self, reason: str) -> None:
        """The end marker always gets in (the oldest queued lines make room if need be)."""
        need = 2 if self.dropped else 1
        while self.queue.maxsize - self.queue.qsize() < need:
            kind, value = self.queue.get_nowait()
            lost = value if kind == "dropped" else 1
            self.dropped += lost
            self.dropped_total += 0 if kind == "dropped" else 1
            need = 2
        if self.dropped:
            self.queue.put_nowait(("dropped", self.dropped))
            self.dropped = 0
        self.queue.put_nowait(("end", reason))


class LogsConsumer:
    """A plain ASGI application: the cluster's stream → bounded queue → the browser."""

    async def __call__(self, scope, receive, send) -> None:
        opened = await open_pod_socket(scope, receive, send)
        if opened is None:
            return
        sock, cluster_name, namespace, pod = opened
        resource = services.pod_resource(cluster_name, namespace, pod)
        caller = None
        try:
            caller = await sock.caller(fresh=False)
            grant = await database_sync_to_async(services.authorize)(
                caller, services.LOG_ACTION, cluster_name, namespace, pod
            )
        except Refusal as refusal:
            await database_sync_to_async(services.audit_refusal)(
                caller, services.LOG_ACTION, resource, refusal, sock.path, sock.client_ip
            )
            await refuse(sock, send, refusal)
            return
        conn = grant.conn
        timeout = float(settings.TERMINAL_CONNECT_TIMEOUT)
        refusal = None
        try:
            response = await asyncio.wait_for(
                upstreams.session().get(
                    log_url(conn, namespace, pod, sock),
                    headers=request_headers([], conn),
                    ssl=upstreams.ssl_for(conn),
                    timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeout),
                ),
                timeout=timeout,
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            refusal = Refusal(502, str(connection_error(conn, exc, timeout).detail))
        else:
            if response.status != 200:
                body = await response.content.read(64 * 1024)
                response.release()
                try:
                    message = json.loads(body).get("message", "")
                except (ValueError, AttributeError):
                    message = body.decode("utf-8", "replace")[:500]
                refusal = Refusal(
                    response.status if 400 <= response.status < 600 else 502,
                    f"cluster {conn.name} refused the logs ({response.status}: {message})",
                )
        if refusal is not None:
            await database_sync_to_async(services.audit_refusal)(
                caller, services.LOG_ACTION, resource, refusal, sock.path, sock.client_ip
            )
            await refuse(sock, send, refusal)
            return
        await database_sync_to_async(services.audit_stream)(grant, sock.path, sock.client_ip)
        await send({"type": "websocket.accept", "subprotocol": sock.chosen_subprotocol()})
        stream = LogStream(sock, response, receive, send)
        try:
            await stream.run()
        finally:
            response.release()
        try:
            await send({"type": "websocket.close", "code": 1000})
        except OSError:
            pass


class LogStream:
    def __init__(self, sock, response, receive, send):
        self.sock = sock
        self.response = response
        self.receive = receive
        self.send = send
        self.lines = LineQueue(int(settings.TERMINAL_LOG_QUEUE))
        self.running = asyncio.Event()
        self.running.set()
        self.keepalive = float(settings.TERMINAL_KEEPALIVE_INTERVAL)

    async def from_cluster(self) -> None:
        partial = b""
        try:
            async for chunk in self.response.content.iter_any():
                partial += chunk
                *complete, partial = partial.split(b"\n")
                for raw in complete:
                    self.lines.put(raw.decode("utf-8", "replace"))
                if len(partial) > MAX_LINE:
                    self.lines.put(partial[:MAX_LINE].decode("utf-8", "replace") + " [cut]")
                    partial = b""
            if partial:
                self.lines.put(partial.decode("utf-8", "replace"))
            self.lines.end("the log stream ended (the container stopped or the pod went)")
        except (aiohttp.ClientError, OSError):
            self.lines.end("the cluster closed the log stream")

    async def to_browser(self) -> str:
        queue = self.lines.queue
        while True:
            kind, value = await queue.get()
            await self.running.wait()  # paused: lines wait in the queue (and drop past it)
            batch: list[str] = []
            while True:
                if kind == "line":
                    batch.append(value)
                else:
                    if batch:
                        await send_json(self.send, {"type": "log", "lines": batch})
                        batch = []
                    if kind == "dropped":
                        await send_json(self.send, {"type": "dropped", "count": value})
                    else:
                        await send_json(self.send, {"type": "end", "reason": value})
                        return value
                if len(batch) >= BATCH or queue.empty() or not self.running.is_set():
                    break
                kind, value = queue.get_nowait()
            if batch:
                await send_json(self.send, {"type": "log", "lines": batch})

    async def from_browser(self) -> str:
        while True:
            message = await self.receive()
            if message["type"] == "websocket.disconnect":
                return "closed by the browser"
            try:
                msg = json.loads(message.get("text") or "")
            except ValueError:
                continue
            kind = msg.get("type") if isinstance(msg, dict) else None
            if kind == "pause":
                self.running.clear()
            elif kind == "resume":
                self.running.set()

    async def ticker(self) -> str:
        recheck = float(settings.TERMINAL_SESSION_RECHECK)
        step = max(0.05, min(self.keepalive, recheck, 5.0))
        last_ping = last_check = time.monotonic()
        while True:
            await asyncio.sleep(step)
            moment = time.monotonic()
            if moment - last_ping >= self.keepalive:
                last_ping = moment
                await send_json(self.send, {"type": "ping"})
            if moment - last_check >= recheck:
                last_check = moment
                gone = await self.sock.session_gone()
                if gone:
                    return gone

    async def run(self) -> str:
        reader = asyncio.ensure_future(self.from_cluster())
        tasks = [
            asyncio.ensure_future(self.to_browser()),
            asyncio.ensure_future(self.from_browser()),
            asyncio.ensure_future(self.ticker()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            try:
                return next(iter(done)).result()
            except (OSError, aiohttp.ClientError):
                return "connection lost"
        finally:
            for task in [reader, *tasks]:
                task.cancel()
            await asyncio.gather(reader, *tasks, return_exceptions=True)
