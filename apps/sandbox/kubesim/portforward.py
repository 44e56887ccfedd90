"""``pods/<p>/portforward``: each container port the pod declares answers as a small HTTP server.

Two wire protocols, as a 1.3x API server serves them:

* ``SPDY/3.1+portforward.k8s.io`` — kubectl 1.31+: SPDY/3.1 tunnelled in WebSocket binary
  messages (:mod:`.spdy`); ports come from each stream's ``port`` header, one ``data`` and one
  ``error`` stream per forwarded connection, paired by ``requestid``.
* ``v4.channel.k8s.io`` (or no subprotocol) — the kubelet's channel protocol (the Python
  client's ``portforward``): ports from the ``ports`` query parameter (repeated or
  comma-separated); port *i* has data channel ``2i`` and error channel ``2i+1``, and the first
  message on each carries the port as uint16 little-endian. Framing is :mod:`.execws`'s.

A port no container declares refuses the connection with the container runtime's error text on
the error stream/channel, as containerd reports it through the kubelet.
"""

from __future__ import annotations

import asyncio
import hashlib
import struct
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from . import spdy
from .errors import ApiError
from .execws import channel_frame, read_channel_frame

if TYPE_CHECKING:
    from .handlers import Request

SPDY_TUNNEL = "SPDY/3.1+portforward.k8s.io"
CHANNEL_V4 = "v4.channel.k8s.io"
PROTOCOLS = (SPDY_TUNNEL, CHANNEL_V4)
# A request is answered once its head is complete, or when the client half-closes.
MAX_REQUEST_HEAD = 64 * 1024

Receive = Callable[[], Awaitable[bytes | None]]
Send = Callable[[bytes], Awaitable[None]]


class PodPorts:
    """What a forwarded connection reaches: the pod's declared TCP ports."""

    def __init__(self, pod: dict[str, Any]):
        meta = pod["metadata"]
        self.name, self.namespace = meta["name"], meta.get("namespace", "default")
        uid = meta.get("uid", self.name)
        self.sandbox = hashlib.sha256(uid.encode()).hexdigest()
        self.netns = f"/var/run/netns/cni-{uuid.uuid5(uuid.NAMESPACE_URL, uid)}"
        self.ports: dict[int, tuple[str, str]] = {}  # port → (container, image)
        for container in (pod.get("spec") or {}).get("containers") or []:
            for port in container.get("ports") or []:
                if port.get("protocol", "TCP") == "TCP" and port.get("containerPort"):
                    self.ports.setdefault(
                        int(port["containerPort"]), (container["name"], container.get("image", ""))
                    )

    def refused(self, port: int) -> str:
        """containerd's error for a port nothing listens on, as the kubelet wraps it."""
        return (
            f"error forwarding port {port} to pod {self.sandbox}, uid : failed to execute "
            f'portforward in network namespace "{self.netns}": failed to connect to '
            f'localhost:{port} inside namespace "{self.sandbox}", IPv4: dial tcp4 '
            f"127.0.0.1:{port}: connect: connection refused IPv6 dial tcp6 [::1]:{port}: "
            "connect: connection refused "
        )

    def page(self, port: int, request_line: str) -> bytes:
        container, image = self.ports[port]
        body = (
            "<!DOCTYPE html>\n<html><head><title>kubesim</title></head><body>\n"
            f"<h1>pod {self.namespace}/{self.name} port {port}</h1>\n"
            f"<p>container {container} (image {image}) answered {request_line}</p>\n"
            "</body></html>\n"
        ).encode()
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\nX-Kubesim-Pod: {self.name}\r\n"
            "\r\n"
        ).encode()
        return head + body

    async def serve(self, port: int, receive: Receive, send: Send) -> str | None:
        """One forwarded connection to ``port``: read the HTTP request, answer the page.
        Returns the error text for the error stream (None: the port accepted)."""
        if port not in self.ports:
            return self.refused(port)
        head = b""
        while b"\r\n\r\n" not in head and len(head) < MAX_REQUEST_HEAD:
            chunk = await receive()
            if chunk is None:
                break
            head += chunk
        if head:
            line = head.split(b"\r\n", 1)[0].decode("latin-1", "replace")[:200]
            await send(self.page(port, line))
        return None


def _pod(req: Request) -> dict[str, Any]:
    pod = req.cluster.get_entry(req.rt, req.namespace, req.name or "").obj
    name = pod["metadata"]["name"]
    if not (pod.get("spec") or {}).get("nodeName"):
        raise ApiError(400, f"pod {name} does not have a host assigned")
    if (pod.get("status") or {}).get("phase") != "Running":
        # The kubelet looks the pod up among its running sandboxes.
        raise ApiError(
            400, f'unable to upgrade connection: pod not found ("{name}_{req.namespace}")'
        )
    return pod


def _query_ports(req: Request) -> list[int]:
    """``ports`` as the kubelet reads it: repeated and/or comma-separated, each 1–65535."""
    values = req.query.getall("ports", [])
    if not values:
        raise ApiError(400, 'query parameter "port" is required')
    ports = []
    for value in values:
        if not value:
            raise ApiError(400, 'query parameter "port" cannot be empty')
        for part in value.split(","):
            if not part.isdigit() or int(part) > 65535:
                raise ApiError(400, f'unable to parse "{value}" as a port: invalid syntax')
            if int(part) < 1:
                raise ApiError(400, f'port "{value}" must be > 0')
            ports.append(int(part))
    return ports


async def handle(req: Request) -> web.StreamResponse:
    pod = PodPorts(_pod(req))
    if req.http.headers.get("Upgrade", "").lower() != "websocket":
        raise ApiError(
            400,
            "kubesim serves port-forward over WebSocket only (kubectl 1.31 or newer; "
            "the v4.channel.k8s.io or SPDY/3.1+portforward.k8s.io subprotocol)",
        )
    offered = [
        p.strip() for p in req.http.headers.get("Sec-WebSocket-Protocol", "").split(",") if p
    ]
    tunnel = SPDY_TUNNEL in offered
    ports = [] if tunnel else _query_ports(req)
    if offered and not tunnel and CHANNEL_V4 not in offered:
        raise ApiError(400, f"requested protocol(s) are not supported: {offered}")
    ws = web.WebSocketResponse(protocols=PROTOCOLS, max_msg_size=0, autoping=True)
    await ws.prepare(req.http)
    try:
        if tunnel:
            await _serve_spdy(ws, pod)
        else:
            await _serve_channels(ws, pod, ports)
        await ws.close()
    except (ConnectionResetError, asyncio.CancelledError):
        pass  # the client hung up
    return ws


# -- v4.channel.k8s.io --------------------------------------------------------------------------
async def _serve_channels(ws: web.WebSocketResponse, pod: PodPorts, ports: list[int]) -> None:
    inboxes: list[asyncio.Queue[bytes | None]] = [asyncio.Queue() for _ in ports]
    for index, port in enumerate(ports):
        number = struct.pack("<H", port)
        await ws.send_bytes(channel_frame(2 * index, number))
        await ws.send_bytes(channel_frame(2 * index + 1, number))

    async def reader() -> None:
        async for msg in ws:
            frame = read_channel_frame(msg)
            if frame is not None and frame[0] % 2 == 0 and frame[0] // 2 < len(inboxes):
                if frame[1]:
                    inboxes[frame[0] // 2].put_nowait(frame[1])
        for inbox in inboxes:
            inbox.put_nowait(None)

    async def one(index: int, port: int) -> None:
        async def send(data: bytes) -> None:
            await ws.send_bytes(channel_frame(2 * index, data))

        error = await pod.serve(port, inboxes[index].get, send)
        if error:
            await ws.send_bytes(channel_frame(2 * index + 1, error.encode()))

    reading = asyncio.create_task(reader())
    try:
        await asyncio.gather(*(one(i, p) for i, p in enumerate(ports)))
    finally:
        reading.cancel()


# -- SPDY/3.1 tunnelled in WebSocket -------------------------------------------------------------
class _Stream:
    def __init__(self, stream_id: int, headers: dict[str, str]):
        self.id = stream_id
        self.type = headers.get("streamtype", "")
        self.port = headers.get("port", "")
        self.request = headers.get("requestid", "")
        self.inbox: asyncio.Queue[bytes | None] = asyncio.Queue()


async def _serve_spdy(ws: web.WebSocketResponse, pod: PodPorts) -> None:
    reader, writer = spdy.Reader(), spdy.Writer()
    lock = asyncio.Lock()  # frames leave in the order their headers were compressed
    streams: dict[int, _Stream] = {}
    pending: dict[str, dict[str, _Stream]] = {}
    tasks: set[asyncio.Task] = set()

    async def send(*frames: bytes) -> None:
        async with lock:
            for frame in frames:
                await ws.send_bytes(frame)

    async def forward(data: _Stream, error: _Stream) -> None:
        async def out(chunk: bytes) -> None:
            await send(*spdy.Writer.data(data.id, chunk))

        try:
            port = int(data.port)
            if not 0 < port < 65536:
                raise ValueError
        except ValueError:
            message: str | None = f'invalid port header "{data.port}"'
        else:
            message = await pod.serve(port, data.inbox.get, out)
        # As the kubelet: the error (if any) on the error stream, then both half-closed.
        frames = list(spdy.Writer.data(error.id, message.encode(), fin=True) if message else [])
        if not message:
            frames += spdy.Writer.data(error.id, b"", fin=True)
        frames += spdy.Writer.data(data.id, b"", fin=True)
        await send(*frames)

    async for msg in ws:
        if msg.type != WSMsgType.BINARY:
            continue
        try:
            frames = list(reader.feed(msg.data))
        except spdy.ProtocolError:
            await send(writer.goaway(max(streams, default=0), spdy.PROTOCOL_ERROR))
            break
        for frame in frames:
            if frame.kind == spdy.SYN_STREAM:
                stream = streams[frame.stream_id] = _Stream(frame.stream_id, frame.headers)
                if stream.type not in ("data", "error"):
                    await send(writer.rst_stream(frame.stream_id, spdy.REFUSED_STREAM))
                    continue
                async with lock:
                    await ws.send_bytes(writer.syn_reply(frame.stream_id))
                pair = pending.setdefault(stream.request, {})
                pair[stream.type] = stream
                if frame.fin:
                    stream.inbox.put_nowait(None)
                if len(pair) == 2:
                    del pending[stream.request]
                    task = asyncio.create_task(forward(pair["data"], pair["error"]))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
            elif frame.kind == 0 and frame.stream_id in streams:
                inbox = streams[frame.stream_id].inbox
                if frame.data:
                    inbox.put_nowait(frame.data)
                if frame.fin:
                    inbox.put_nowait(None)
            elif frame.kind == spdy.RST_STREAM and frame.stream_id in streams:
                streams.pop(frame.stream_id).inbox.put_nowait(None)
            elif frame.kind == spdy.PING:
                await send(writer.ping(frame.data))
            elif frame.kind == spdy.GOAWAY:
                break
    for task in tasks:
        task.cancel()
