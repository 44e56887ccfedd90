"""The web terminal: ``/ws/clusters/<cluster>/namespaces/<ns>/pods/<pod>/exec``.

Query: ``container``, ``command`` (repeated, one word each; default ``sh``), ``tty`` (default
true), ``cols``/``rows`` (the terminal's first size).

1. The origin, then the caller (API key, else the session: not expired, signed in recently
   enough for a terminal) and ``execPod`` on the pod are checked before anything reaches the
   cluster. A refusal is a control message and close code 4000 + HTTP status.
2. The Kubernetes exec websocket is opened with the cluster's credential
   (``v5.channel.k8s.io``, else ``v4.channel.k8s.io``), the session row and its audit event
   are written, and frames are relayed both ways by this coroutine (never through the channel
   layer): browser → cluster stdin (text ``{"type":"stdin","data":…}`` or binary) and resize
   (``{"type":"resize","cols":…,"rows":…}``); cluster stdout/stderr → browser binary frames.
3. A ``{"type":"ping"}`` every ``TERMINAL_KEEPALIVE_INTERVAL`` seconds keeps proxies from
   dropping an idle terminal; ``TERMINAL_IDLE_TIMEOUT`` seconds without input or output end it;
   a session that signs out or reaches its absolute timeout ends it too.
4. At the end the browser gets ``{"type":"exit","code":…,"reason":…}`` (the exit status from
   the cluster's status channel 3, null when there was none) and a normal close; the session
   row, its asciicast recording and the closing audit event are written.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import aiohttp
from channels.db import database_sync_to_async
from django.conf import settings
from yarl import URL

from apps.clusters.proxy.upstream import Upstreams, connection_error, request_headers

from . import services
from .recording import Recorder
from .services import Refusal
from .sockets import Watch, open_pod_socket, refuse, send_json

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
CHANNEL_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
MAX_FRAME = 1024 * 1024
DEFAULT_COMMAND = ["sh"]

# Terminals and log streams hold their connection for as long as they are open: a per-cluster
# cap would make the next one wait (and time out) behind them, so there is none.
upstreams = Upstreams(limit_per_host=0)


def exit_of(raw: bytes) -> tuple[int | None, str]:
    """(exit code, message) of a status-channel payload (a v4/v5 ``Status``)."""
    try:
        status = json.loads(raw)
    except ValueError:
        return None, raw.decode("utf-8", "replace")[:500]
    if not isinstance(status, dict):
        return None, ""
    if status.get("status") == "Success":
        return 0, ""
    causes = (status.get("details") or {}).get("causes") or []
    for cause in causes:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message")), str(status.get("message", ""))[:500]
            except (TypeError, ValueError):
                break
    return None, str(status.get("message", ""))[:500]


def _size(value: str, default: int, top: int) -> int:
    try:
        return max(1, min(int(value), top))
    except ValueError:
        return default


def exec_url(conn, namespace: str, pod: str, container: str, command, tty: bool) -> URL:
    query = [("stdin", "true"), ("stdout", "true"), ("stderr", "false" if tty else "true")]
    query.append(("tty", "true" if tty else "false"))
    if container:
        query.append(("container", container))
    query.extend(("command", word) for word in command)
    path = f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(pod, safe='')}/exec"
    return URL(conn.server.rstrip("/") + path + "?" + urlencode(query), encoded=True)


async def _why_refused(conn, namespace, pod, container, command, tty, timeout) -> str:
    """The cluster's own message for a refused exec upgrade (aiohttp keeps no body of a
    failed handshake): the same request without the upgrade is answered with the same
    ``Status`` (pod not running, unknown container, …) — the API server judges the pod and
    container before the upgrade."""
    try:
        async with upstreams.session().get(
            exec_url(conn, namespace, pod, container, command, tty),
            headers=request_headers([], conn),
            ssl=upstreams.ssl_for(conn),
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            body = await response.content.read(64 * 1024)
    except (aiohttp.ClientError, TimeoutError, OSError):
        return ""
    try:
        status = json.loads(body)
    except ValueError:
        return ""
    message = status.get("message") if isinstance(status, dict) else None
    return str(message)[:500] if message else ""


class ExecConsumer:
    """A plain ASGI application (no channel layer: frames go straight between the sockets)."""

    async def __call__(self, scope, receive, send) -> None:
        opened = await open_pod_socket(scope, receive, send)
        if opened is None:
            return
        sock, cluster_name, namespace, pod = opened
        container = sock.param("container")
        command = [w for w in sock.params("command") if w] or list(DEFAULT_COMMAND)
        tty = sock.flag("tty", True)
        cols, rows = _size(sock.param("cols"), 80, 1000), _size(sock.param("rows"), 24, 1000)
        caller = None
        resource = services.pod_resource(cluster_name, namespace, pod)
        try:
            caller = await sock.caller()
            grant = await database_sync_to_async(services.authorize)(
                caller, services.EXEC_ACTION, cluster_name, namespace, pod
            )
            record = await database_sync_to_async(services.recording_enabled)(grant.cluster.tenant)
        except Refusal as refusal:
            await database_sync_to_async(services.audit_refusal)(
                caller, services.EXEC_ACTION, resource, refusal, sock.path, sock.client_ip
            )
            await refuse(sock, send, refusal)
            return

        try:
            upstream = await connect_exec(grant.conn, namespace, pod, container, command, tty)
        except Refusal as refusal:
            await database_sync_to_async(services.audit_refusal)(
                caller, services.EXEC_ACTION, resource, refusal, sock.path, sock.client_ip
            )
            await refuse(sock, send, refusal)
            return
        await serve_session(
            sock,
            receive,
            send,
            grant,
            upstream,
            Target(namespace, pod, container, command, tty),
            cols=cols,
            rows=rows,
            record=record,
        )


@dataclass
class Target:
    """What a session runs: the command in the pod's container (``node``: the node shell's
    node, the pod being its debug pod)."""

    namespace: str
    pod: str
    container: str
    command: list[str]
    tty: bool
    node: str = ""


async def connect_exec(conn, namespace, pod, container, command, tty):
    """The cluster's exec websocket of the command, or :class:`Refusal` saying why not."""
    timeout = float(settings.TERMINAL_CONNECT_TIMEOUT)
    keepalive = float(settings.TERMINAL_KEEPALIVE_INTERVAL)
    try:
        return await asyncio.wait_for(
            upstreams.session().ws_connect(
                exec_url(conn, namespace, pod, container, command, tty),
                protocols=CHANNEL_PROTOCOLS,
                headers=request_headers([], conn),
                ssl=upstreams.ssl_for(conn),
                heartbeat=keepalive,
                autoclose=False,
                max_msg_size=MAX_FRAME,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0),
            ),
            timeout=timeout,
        )
    except aiohttp.WSServerHandshakeError as exc:
        why = await _why_refused(conn, namespace, pod, container, command, tty, timeout)
        raise Refusal(
            exc.status if 400 <= exc.status < 600 else 502,
            f"cluster {conn.name} refused the terminal ({exc.status}"
            + (f": {why})" if why else f" {exc.message})"),
        ) from None
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise Refusal(502, str(connection_error(conn, exc, timeout).detail)) from None


async def serve_session(
    sock, receive, send, grant, upstream, target: Target, *, cols, rows, record, accepted=False
) -> None:
    """One opened session: its row and audit event, the relay until it ends, the exit
    message, the completed row with its recording, the close. ``accepted``: the browser's
    socket was accepted already (the node shell tells it how its pod is coming along)."""
    keepalive = float(settings.TERMINAL_KEEPALIVE_INTERVAL)
    title = f"{target.namespace}/{target.pod} {target.container}"
    if target.node:
        title = f"node {target.node}"
    recorder = Recorder(cols, rows, services.recording_limit(), title) if record else None
    session, relay, reason = None, None, "connection lost"
    try:
        session = await database_sync_to_async(services.open_session)(
            grant,
            namespace=target.namespace,
            pod=target.pod,
            container=target.container,
            command=target.command,
            tty=target.tty,
            protocol=upstream.protocol or "",
            path=sock.path,
            source_ip=sock.client_ip,
            node=target.node,
        )
        if not accepted:
            await send({"type": "websocket.accept", "subprotocol": sock.chosen_subprotocol()})
        await send_json(
            send,
            {"type": "opened", "session": session.pk, "protocol": upstream.protocol or ""},
        )
        relay = Relay(sock, upstream, receive, send, recorder, keepalive)
        if target.tty:
            await relay.resize(cols, rows, record=False)
        reason = await relay.run()
        await send_json(
            send,
            {
                "type": "exit",
                "code": relay.exit_code,
                "message": relay.exit_message,
                "reason": reason,
            },
        )
    except OSError:
        reason = "connection lost"
    finally:
        await upstream.close()
        if session is not None:
            # Recorded before the browser sees the close: whoever reads the session
            # afterwards finds it complete.
            await database_sync_to_async(services.close_session)(
                session,
                exit_code=relay.exit_code if relay else None,
                reason=reason,
                recorder=recorder,
                path=sock.path,
            )
    try:
        await send({"type": "websocket.close", "code": 1000})
    except OSError:
        pass


class Relay:
    """Both directions of one session, and the ticker (keepalive, idle, session validity)."""

    def __init__(self, sock, upstream, receive, send, recorder, keepalive: float):
        self.sock = sock
        self.upstream = upstream
        self.receive = receive
        self.send = send
        self.recorder = recorder
        self.keepalive = keepalive
        self.watch = Watch(sock, send, idle=float(settings.TERMINAL_IDLE_TIMEOUT))
        self.exit_code: int | None = None
        self.exit_message = ""
        self.v5 = (upstream.protocol or "").startswith("v5")

    async def resize(self, cols: int, rows: int, record: bool = True) -> None:
        payload = json.dumps({"Width": cols, "Height": rows}).encode()
        await self.upstream.send_bytes(bytes([RESIZE]) + payload)
        if record and self.recorder is not None:
            self.recorder.resize(cols, rows)

    async def stdin(self, data: bytes) -> None:
        if not data:
            return
        self.watch.touch()
        if self.recorder is not None:
            self.recorder.input(data)
        await self.upstream.send_bytes(bytes([STDIN]) + data)

    async def from_browser(self) -> str:
        while True:
            message = await self.receive()
            if message["type"] == "websocket.disconnect":
                return "closed by the browser"
            if message.get("bytes") is not None:
                await self.stdin(message["bytes"])
                continue
            try:
                msg = json.loads(message.get("text") or "")
            except ValueError:
                continue
            if not isinstance(msg, dict):
                continue
            kind = msg.get("type")
            if kind == "stdin" and isinstance(msg.get("data"), str):
                await self.stdin(msg["data"].encode("utf-8"))
            elif kind == "resize":
                try:
                    cols, rows = int(msg["cols"]), int(msg["rows"])
                except (KeyError, TypeError, ValueError):
                    continue
                if 0 < cols <= 1000 and 0 < rows <= 1000:
                    await self.resize(cols, rows)
            elif kind == "eof" and self.v5:
                await self.upstream.send_bytes(bytes([CLOSE, STDIN]))

    async def from_cluster(self) -> str:
        while True:
            message = await self.upstream.receive()
            if message.type == aiohttp.WSMsgType.BINARY:
                data = message.data
                channel, payload = data[:1], data[1:]
                if channel in (bytes([STDOUT]), bytes([STDERR])):
                    if payload:
                        self.watch.touch()
                        if self.recorder is not None:
                            self.recorder.output(payload)
                        await self.send({"type": "websocket.send", "bytes": payload})
                elif channel == bytes([ERROR]):
                    self.exit_code, self.exit_message = exit_of(payload)
            elif message.type == aiohttp.WSMsgType.CLOSE:
                return "the command ended"
            elif message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                return "the cluster closed the connection"

    async def ticker(self) -> str:
        return await self.watch.run()

    async def run(self) -> str:
        tasks = [
            asyncio.ensure_future(self.from_browser()),
            asyncio.ensure_future(self.from_cluster()),
            asyncio.ensure_future(self.ticker()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            try:
                return next(iter(done)).result()
            except (OSError, aiohttp.ClientError):
                return "connection lost"
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
