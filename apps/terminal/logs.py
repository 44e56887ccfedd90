"""Live logs over websockets, one implementation for three shapes:

- a pod's container: ``/ws/clusters/<cluster>/namespaces/<ns>/pods/<pod>/logs``;
- every container of a pod: the same route with ``container=*`` (or ``allContainers=true``),
  each line prefixed ``[container]``;
- every pod of a workload: ``/ws/clusters/<cluster>/namespaces/<ns>/workloads/<kind>/<name>/logs``
  (kind: deployments, statefulsets, daemonsets, jobs), each line prefixed ``[pod/container]``;
  ``container=<name>`` follows that container of each pod only.

Query (all shapes): ``container``, ``tailLines``, ``sinceSeconds``, ``timestamps``,
``previous``. The caller (API key or session, origin checked) is authorized before anything
reaches the cluster: ``getPodLog`` on the pod — the kubectl proxy's action for
``pods/<pod>/log``; for a workload ``get<Kind>`` on it, ``listPods``/``watchPods`` and
``getPodLog`` on the namespace's pods (``services.authorize_workload``), then ``getPodLog``
on each pod before its log is opened — a pod the caller may not read is left out, with a
notice. The workload's own label selector (read from the workload, never from the caller)
chooses the pods; a watch on that selector picks up pods that appear while following (a
scale-up, a restarted Job pod) and a pod that goes ends its streams with a marker. At most
``TERMINAL_LOG_MAX_STREAMS`` container streams are followed at once per socket; the others wait
for a free slot (a notice says so).

Every stream of a socket feeds one bounded queue of at most ``TERMINAL_LOG_QUEUE`` lines; when
the browser is slower than the cluster (or paused) newer lines are dropped and a
``{"type":"dropped","count":n}`` marker takes their place, so the server never buffers without
bound. Browser → server: ``{"type":"pause"}`` / ``{"type":"resume"}``. Server → browser:
``{"type":"log","lines":[…]}`` (batched), ``dropped``, ``notice`` (a stream ended, a pod left
out or waiting), ``ping``, ``end``. Lines shown to the browser count as activity on its console
session (``sockets.Watch``), as typing in a terminal does.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote, urlencode

import aiohttp
from channels.db import database_sync_to_async
from django.conf import settings
from yarl import URL

from apps.clusters import resources
from apps.clusters.proxy.upstream import connection_error, request_headers

from . import services
from .exec import upstreams
from .services import Refusal
from .sockets import Socket, Watch, open_pod_socket, open_socket, refuse, send_json

MAX_LINE = 64 * 1024  # longer lines are cut (with a mark) so one line cannot exhaust memory
BATCH = 200  # lines per message to the browser
ALL_CONTAINERS = "*"
# Workload kinds whose pods are chosen by the workload's own selector (a CronJob's are its
# Jobs': follow one of those).
WORKLOAD_KINDS = ("deployments", "statefulsets", "daemonsets", "jobs")
WATCH_SECONDS = 300  # one watch request's life; it is renewed from the last resourceVersion
ENDED = "the log stream ended (the container stopped or the pod went)"


def log_query(sock: Socket, container: str) -> list[tuple[str, str]]:
    query = [("follow", "true")]
    if container:
        query.append(("container", container))
    for name in ("tailLines", "sinceSeconds"):
        value = sock.param(name)
        if value.isdigit():
            query.append((name, value))
    for name in ("timestamps", "previous"):
        if sock.flag(name):
            query.append((name, "true"))
    return query


def _url(conn, path: str, query: list[tuple[str, str]] | None = None) -> URL:
    tail = "?" + urlencode(query) if query else ""
    return URL(conn.server.rstrip("/") + path + tail, encoded=True)


def log_url(conn, namespace: str, pod: str, query: list[tuple[str, str]]) -> URL:
    path = f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(pod, safe='')}/log"
    return _url(conn, path, query)


def pods_path(namespace: str) -> str:
    return f"/api/v1/namespaces/{quote(namespace, safe='')}/pods"


class LineQueue:
    """A bounded queue of log lines; what does not fit is counted and becomes one marker.
    ``notice`` items (a stream ended, a pod left out) are bounded the same way."""

    def __init__(self, size: int):
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=max(size, 2))
        self.dropped = 0  # lines dropped since the last marker was queued
        self.dropped_total = 0

    def put(self, line: str, kind: str = "line") -> None:
        if self.dropped and self.queue.maxsize - self.queue.qsize() >= 2:
            self.queue.put_nowait(("dropped", self.dropped))
            self.dropped = 0
        if self.dropped or self.queue.full():
            self.dropped += 1
            self.dropped_total += 1
            return
        self.queue.put_nowait((kind, line))

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


async def open_stream(conn, url: URL, what: str) -> aiohttp.ClientResponse:
    """A GET on the cluster with the cluster's credential, answered 200 (its body not read
    yet: a log or a watch streams), or :class:`Refusal` saying why not."""
    timeout = float(settings.TERMINAL_CONNECT_TIMEOUT)
    try:
        response = await asyncio.wait_for(
            upstreams.session().get(
                url,
                headers=request_headers([], conn),
                ssl=upstreams.ssl_for(conn),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeout),
            ),
            timeout=timeout,
        )
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise Refusal(502, str(connection_error(conn, exc, timeout).detail)) from exc
    if response.status == 200:
        return response
    try:
        body = await response.content.read(64 * 1024)
    except (aiohttp.ClientError, OSError):
        body = b""
    response.release()
    try:
        message = json.loads(body).get("message", "")
    except (ValueError, AttributeError):
        message = body.decode("utf-8", "replace")[:500]
    raise Refusal(
        response.status if 400 <= response.status < 600 else 502,
        f"cluster {conn.name} refused {what} ({response.status}: {message})",
    )


async def get_json(conn, url: URL, what: str) -> dict:
    response = await open_stream(conn, url, what)
    try:
        return json.loads(await response.read())
    except (aiohttp.ClientError, OSError) as exc:
        raise Refusal(502, f"cluster {conn.name} closed the connection ({what})") from exc
    except ValueError as exc:
        raise Refusal(502, f"cluster {conn.name} answered {what} with no JSON") from exc
    finally:
        response.release()


async def pump(response, lines: LineQueue, prefix: str = "") -> str:
    """One container's ``follow`` stream, line by line (``prefix`` before each), into the
    queue; why it ended."""
    partial = b""
    try:
        async for chunk in response.content.iter_any():
            partial += chunk
            *complete, partial = partial.split(b"\n")
            for raw in complete:
                lines.put(prefix + raw.decode("utf-8", "replace"))
            if len(partial) > MAX_LINE:
                lines.put(prefix + partial[:MAX_LINE].decode("utf-8", "replace") + " [cut]")
                partial = b""
        if partial:
            lines.put(prefix + partial.decode("utf-8", "replace"))
        return ENDED
    except (aiohttp.ClientError, OSError):
        return "the cluster closed the log stream"


class Streams:
    """The container log streams one socket follows (several pods, several containers), each
    line prefixed with where it comes from, all into one :class:`LineQueue`. At most
    ``TERMINAL_LOG_MAX_STREAMS`` at once: the others wait for a slot."""

    def __init__(self, conn, namespace: str, sock: Socket, lines: LineQueue, with_pod: bool):
        self.conn = conn
        self.namespace = namespace
        self.sock = sock
        self.lines = lines
        self.with_pod = with_pod
        self.cap = max(1, int(settings.TERMINAL_LOG_MAX_STREAMS))
        self.active: dict[tuple[str, str], asyncio.Task] = {}
        self.followed: set[tuple[str, str, int]] = set()  # (pod, container, restarts)
        self.waiting: list[tuple[str, str, int]] = []
        self.starting: set[asyncio.Task] = set()  # a waiting stream taking a freed slot
        self.opening = 0  # streams being opened (they hold a slot already)
        self.idle = asyncio.Event()  # nothing followed, nothing waiting

    def label(self, pod: str, container: str) -> str:
        return f"{pod}/{container}" if self.with_pod else container

    def notice(self, text: str) -> None:
        self.lines.put(text, kind="notice")

    async def follow(self, pod: str, container: str, restarts: int = 0) -> None:
        """Follow the container's log (once per container instance)."""
        key = (pod, container, restarts)
        if key in self.followed or (pod, container) in self.active:
            return
        self.followed.add(key)
        label = self.label(pod, container)
        if self.busy() >= self.cap:
            self.waiting.append(key)
            self.notice(
                f"[{label}] not followed yet: one socket follows at most {self.cap} log streams "
                "(TERMINAL_LOG_MAX_STREAMS); it starts when another ends"
            )
            return
        self.idle.clear()
        query = log_query(self.sock, container)
        self.opening += 1
        refused = None
        try:
            response = await open_stream(
                self.conn, log_url(self.conn, self.namespace, pod, query), "the logs"
            )
        except Refusal as refusal:
            refused = refusal
        finally:
            self.opening -= 1
        if refused is not None:
            self.notice(f"[{label}] {refused.message}")
            self._next()
            return
        self.active[(pod, container)] = asyncio.ensure_future(self._read(pod, container, response))

    async def _read(self, pod: str, container: str, response) -> None:
        try:
            reason = await pump(response, self.lines, f"[{self.label(pod, container)}] ")
        finally:
            response.release()
            self.active.pop((pod, container), None)
        self.notice(f"[{self.label(pod, container)}] {reason}")
        self._next()

    def busy(self) -> int:
        return len(self.active) + self.opening

    def _next(self) -> None:
        if self.waiting and self.busy() < self.cap:
            key = self.waiting.pop(0)
            self.followed.discard(key)
            task = asyncio.ensure_future(self.follow(*key))
            self.starting.add(task)
            task.add_done_callback(self.starting.discard)
        elif not self.busy() and not self.waiting:
            self.idle.set()

    def forget(self, pod: str) -> None:
        """The pod went: a pod of the same name later (a StatefulSet's) is a new one."""
        self.followed = {key for key in self.followed if key[0] != pod}
        self.waiting = [key for key in self.waiting if key[0] != pod]

    async def close(self) -> None:
        self.waiting.clear()
        starting = list(self.starting)
        for task in starting:
            task.cancel()
        await asyncio.gather(*starting, return_exceptions=True)
        tasks = list(self.active.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def started_containers(pod: dict, wanted: str = "") -> list[tuple[str, int]]:
    """(container, restart count) of the pod's containers that have a log: running or
    terminated (``wanted``: that one only)."""
    statuses = {s.get("name"): s for s in (pod.get("status") or {}).get("containerStatuses") or []}
    out = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        name = c.get("name", "")
        state = (statuses.get(name) or {}).get("state") or {}
        if (not wanted or name == wanted) and ("running" in state or "terminated" in state):
            out.append((name, int(statuses[name].get("restartCount") or 0)))
    return out


class LogStream:
    """The browser's side of a live-logs socket: the queue → the browser (batched, paused on
    request), the browser's pause/resume, keepalive and the session (``Watch``), while
    ``source`` fills the queue."""

    def __init__(self, sock, receive, send, lines: LineQueue):
        self.sock = sock
        self.receive = receive
        self.send = send
        self.lines = lines
        self.running = asyncio.Event()
        self.running.set()
        self.watch = Watch(sock, send)

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
                        await self.deliver(batch)
                        batch = []
                    if kind == "end":
                        await send_json(self.send, {"type": "end", "reason": value})
                        return value
                    if kind == "dropped":
                        await send_json(self.send, {"type": "dropped", "count": value})
                    else:
                        await send_json(self.send, {"type": "notice", "message": value})
                if len(batch) >= BATCH or queue.empty() or not self.running.is_set():
                    break
                kind, value = queue.get_nowait()
            if batch:
                await self.deliver(batch)

    async def deliver(self, batch: list[str]) -> None:
        await send_json(self.send, {"type": "log", "lines": batch})
        self.watch.touch()  # the user is reading: the console session is in use

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

    async def run(self, source) -> str:
        """Until the stream ends, the browser goes or the session ends; ``source`` (a
        coroutine filling the queue) is cancelled then."""
        reader = asyncio.ensure_future(source)
        tasks = [
            asyncio.ensure_future(self.to_browser()),
            asyncio.ensure_future(self.from_browser()),
            asyncio.ensure_future(self.watch.run()),
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


async def serve(sock: Socket, receive, send, lines: LineQueue, source, cleanup=None) -> None:
    """Accept, stream until done, close."""
    await send({"type": "websocket.accept", "subprotocol": sock.chosen_subprotocol()})
    try:
        await LogStream(sock, receive, send, lines).run(source)
    finally:
        if cleanup is not None:
            await cleanup()
    try:
        await send({"type": "websocket.close", "code": 1000})
    except OSError:
        pass


async def _refused(sock, send, caller, resource: str, refusal: Refusal) -> None:
    await database_sync_to_async(services.audit_refusal)(
        caller, services.LOG_ACTION, resource, refusal, sock.path, sock.client_ip
    )
    await refuse(sock, send, refusal)


def _all_containers(sock: Socket) -> bool:
    return sock.param("container") == ALL_CONTAINERS or sock.flag("allContainers")


class LogsConsumer:
    """A pod's logs (one container, or all of them): a plain ASGI application, the cluster's
    streams → bounded queue → the browser."""

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
            await _refused(sock, send, caller, resource, refusal)
            return
        conn = grant.conn
        lines = LineQueue(int(settings.TERMINAL_LOG_QUEUE))
        if not _all_containers(sock):
            query = log_query(sock, sock.param("container"))
            try:
                response = await open_stream(conn, log_url(conn, namespace, pod, query), "the logs")
            except Refusal as refusal:
                await _refused(sock, send, caller, resource, refusal)
                return
            await database_sync_to_async(services.audit_stream)(grant, sock.path, sock.client_ip)

            async def one() -> None:
                lines.end(await pump(response, lines))

            async def release() -> None:
                response.release()

            await serve(sock, receive, send, lines, one(), release)
            return

        try:
            obj = await get_json(
                conn, _url(conn, f"{pods_path(namespace)}/{quote(pod, safe='')}"), "the pod"
            )
        except Refusal as refusal:
            await _refused(sock, send, caller, resource, refusal)
            return
        containers = [c.get("name", "") for c in (obj.get("spec") or {}).get("containers") or []]
        await database_sync_to_async(services.audit_stream)(
            grant,
            sock.path,
            sock.client_ip,
            f"live log stream opened: all containers ({', '.join(containers)})",
        )
        streams = Streams(conn, namespace, sock, lines, with_pod=False)

        async def every() -> None:
            for container in containers:
                await streams.follow(container=container, pod=pod)
            streams.notice(f"following every container of {pod}: {', '.join(containers)}")
            if not containers:
                streams.idle.set()
            await streams.idle.wait()
            lines.end("every container's log stream ended")

        await serve(sock, receive, send, lines, every(), streams.close)


class WorkloadLogsConsumer:
    """Every pod of a workload, interleaved: the workload's selector lists (then watches) its
    pods; each readable pod's containers are followed through :class:`Streams`."""

    async def __call__(self, scope, receive, send) -> None:
        sock = await open_socket(scope, receive, send)
        if sock is None:
            return
        kw = sock.kwargs
        cluster_name, namespace, name = kw["cluster"], kw["namespace"], kw["name"]
        kind = resources.KINDS[kw["kind"]]
        resource = resources.resource_path(cluster_name, kind, namespace, name)
        caller = None
        try:
            caller = await sock.caller(fresh=False)
            grant = await database_sync_to_async(services.authorize_workload)(
                caller, cluster_name, namespace, kind, name
            )
            conn = grant.conn
            obj = await get_json(
                conn,
                _url(conn, kind.path(namespace, name)),
                f"the {kind.kind} {namespace}/{name}",
            )
            selector = resources.label_selector((obj.get("spec") or {}).get("selector"))
            if not selector:
                raise Refusal(422, f"{kind.kind} {namespace}/{name} has no pod selector")
            listed = await get_json(
                conn,
                _url(conn, pods_path(namespace), [("labelSelector", selector)]),
                "the pod list",
            )
        except Refusal as refusal:
            await _refused(sock, send, caller, resource, refusal)
            return
        pods = listed.get("items") or []
        await database_sync_to_async(services.audit_stream)(
            grant,
            sock.path,
            sock.client_ip,
            f"live log stream of {kind.kind} {namespace}/{name} opened: pods matching "
            f"{selector} ({', '.join(p['metadata']['name'] for p in pods) or 'none yet'})",
        )
        lines = LineQueue(int(settings.TERMINAL_LOG_QUEUE))
        streams = Streams(conn, namespace, sock, lines, with_pod=True)
        follower = PodFollower(grant, streams, namespace, selector, sock.param("container"))
        title = f"following the pods of {kind.kind} {name} ({selector})"
        version = (listed.get("metadata") or {}).get("resourceVersion", "")
        source = follower.run(pods, version, title)
        await serve(sock, receive, send, lines, source, streams.close)


class PodFollower:
    """The pods of one selector: each one's containers followed once it has a log, pods
    that appear later picked up from a watch, pods the caller may not read left out."""

    def __init__(self, grant, streams: Streams, namespace: str, selector: str, container: str):
        self.grant = grant
        self.streams = streams
        self.namespace = namespace
        self.selector = selector
        self.container = "" if container == ALL_CONTAINERS else container
        self.readable: dict[str, bool] = {}

    async def consider(self, pod: dict) -> None:
        name = (pod.get("metadata") or {}).get("name", "")
        if not name:
            return
        if name not in self.readable:
            self.readable[name] = await database_sync_to_async(services.may_read_log)(
                self.grant, self.namespace, name
            )
            if not self.readable[name]:
                self.streams.notice(
                    f"[{name}] left out: you may not {services.LOG_ACTION} on this pod"
                )
        if not self.readable[name]:
            return
        for container, restarts in started_containers(pod, self.container):
            await self.streams.follow(name, container, restarts)

    async def run(self, pods: list[dict], version: str, title: str) -> None:
        for pod in pods:
            await self.consider(pod)
        # Said once the first streams are open: lines written from now on are all shown.
        self.streams.notice(f"{title}: {len(self.streams.active)} log streams")
        conn = self.streams.conn
        while True:
            query = [
                ("watch", "true"),
                ("labelSelector", self.selector),
                ("timeoutSeconds", str(WATCH_SECONDS)),
            ]
            if version:
                query.append(("resourceVersion", version))
            try:
                response = await open_stream(
                    conn, _url(conn, pods_path(self.namespace), query), "the pod watch"
                )
            except Refusal as refusal:
                if refusal.code == 410:  # too old: list again
                    version = await self.relist()
                    continue
                self.streams.notice(f"{refusal.message}; watching again shortly")
                await asyncio.sleep(2)
                continue
            try:
                version = await self.events(response, version)
            finally:
                response.release()

    async def relist(self) -> str:
        conn = self.streams.conn
        try:
            listed = await get_json(
                conn,
                _url(conn, pods_path(self.namespace), [("labelSelector", self.selector)]),
                "the pod list",
            )
        except Refusal as refusal:
            self.streams.notice(f"{refusal.message}; listing again shortly")
            await asyncio.sleep(2)
            return ""
        for pod in listed.get("items") or []:
            await self.consider(pod)
        return (listed.get("metadata") or {}).get("resourceVersion", "")

    async def events(self, response, version: str) -> str:
        """Read one watch; the resourceVersion to go on from ('' to list again)."""
        partial = b""
        try:
            async for chunk in response.content.iter_any():
                partial += chunk
                *complete, partial = partial.split(b"\n")
                for raw in complete:
                    try:
                        event = json.loads(raw)
                    except ValueError:
                        continue
                    obj = event.get("object") or {}
                    if event.get("type") == "ERROR":
                        return "" if obj.get("code") == 410 else version
                    version = (obj.get("metadata") or {}).get("resourceVersion") or version
                    if event.get("type") in ("ADDED", "MODIFIED"):
                        await self.consider(obj)
                    elif event.get("type") == "DELETED":
                        name = (obj.get("metadata") or {}).get("name", "")
                        self.readable.pop(name, None)
                        self.streams.forget(name)
        except (aiohttp.ClientError, OSError):
            pass
        return version
