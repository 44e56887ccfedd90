"""``pods/exec`` and ``pods/attach`` over the Kubernetes websocket channel protocols.

Frames are binary, first byte = channel: 0 stdin, 1 stdout, 2 stderr, 3 error (a ``Status``
JSON in v4/v5: Success, or NonZeroExitCode with the exit code as cause), 4 resize
(``{"Width":…,"Height":…}``); v5 adds 255 = close a channel (client half-closes stdin).
Commands run in :mod:`.shell`, never on the host.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .containerfs import container_env, container_fs, host_of, pod_hostname
from .errors import ApiError
from .podlogs import pick_container
from .shell import Shell, ShellIO

if TYPE_CHECKING:
    from .handlers import Request

PROTOCOLS = (
    "v5.channel.k8s.io",
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
    "channel.k8s.io",
)
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def channel_frame(channel: int, data: bytes) -> bytes:
    """One message of the ``*.channel.k8s.io`` protocols: the channel byte, then the data
    (exec/attach here; port-forward's data and error channels in :mod:`.portforward`)."""
    return bytes([channel]) + data


def read_channel_frame(msg: Any) -> tuple[int, bytes] | None:
    """(channel, payload) of a received message; None for control and empty messages. The API
    server reads text and binary frames alike (the Python client sends str stdin as text)."""
    if msg.type == WSMsgType.TEXT:
        data = msg.data.encode()
    elif msg.type == WSMsgType.BINARY:
        data = msg.data
    else:
        return None
    if not data:
        return None
    return data[0], bytes(data[1:])


def exit_status(code: int, argv: list[str]) -> dict[str, Any]:
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command "
        f"[{' '.join(argv)}], exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


class _Dropped(Exception):
    """A drop_exec fault fired: the stream is cut without a status."""


async def handle(req: Request) -> web.StreamResponse:
    cluster = req.cluster
    pod = cluster.get_entry(req.rt, req.namespace, req.name or "").obj
    name = pod["metadata"]["name"]
    container_name = pick_container(pod, name, req.query.get("container"), what="exec")
    spec = pod.get("spec") or {}
    phase = (pod.get("status") or {}).get("phase")
    if not spec.get("nodeName"):
        raise ApiError(400, f"pod {name} does not have a host assigned")
    if phase in ("Succeeded", "Failed"):
        raise ApiError(
            400, f"cannot exec into a container in a completed pod; current phase is {phase}"
        )
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    running = any(
        cs.get("name") == container_name and "running" in (cs.get("state") or {}) for cs in statuses
    )
    if not running:
        raise ApiError(
            400, f'unable to upgrade connection: container not found ("{container_name}")'
        )
    attach = req.sub == "attach"
    argv = req.query.getall("command", [])
    if not attach and not argv:
        raise ApiError(400, "you must specify at least 1 command")
    want_stdin, tty = req.flag("stdin"), req.flag("tty")
    want_stdout = req.query.get("stdout", "true" if attach else "false").lower() in ("true", "1")
    want_stderr = req.flag("stderr") and not tty
    if not (want_stdin or want_stdout or want_stderr):
        raise ApiError(400, "you must specify at least one of stdin, stdout, stderr")
    if req.http.headers.get("Upgrade", "").lower() != "websocket":
        raise ApiError(400, "Upgrade request required")
    container = next(c for c in spec.get("containers") or [] if c["name"] == container_name)
    protocols = cluster.exec_protocols or PROTOCOLS
    ws = web.WebSocketResponse(protocols=protocols, max_msg_size=0, autoping=True)
    await ws.prepare(req.http)
    protocol = ws.ws_protocol or "channel.k8s.io"
    drop = cluster.faults.take("drop_exec", req.http.method, req.http.path)
    frames = 0

    async def send(channel: int, data: bytes) -> None:
        nonlocal frames
        if drop is not None and frames >= drop.after:
            raise _Dropped
        await ws.send_bytes(channel_frame(channel, data))
        frames += 1

    async def out(data: bytes) -> None:
        if want_stdout:
            await send(STDOUT, data)

    async def err(data: bytes) -> None:
        if want_stderr:
            await send(STDERR, data)

    stdin: asyncio.Queue[bytes | None] | None = asyncio.Queue() if want_stdin else None
    io = ShellIO(stdin, out, err, tty)
    key = (req.namespace or "", name, container_name)
    fs = cluster.shell_fs.get(key)
    if fs is None:
        fs = cluster.shell_fs[key] = container_fs(cluster, pod, container)
    shell = Shell(
        fs,
        container_env(cluster, pod, container),
        io,
        pod_hostname(pod),
        container.get("image", ""),
        host=host_of(pod, container),
    )

    async def reader() -> None:
        async for msg in ws:
            frame = read_channel_frame(msg)
            if frame is None:
                continue
            channel, payload = frame
            if channel == STDIN and stdin is not None:
                if payload:
                    stdin.put_nowait(payload)
            elif channel == RESIZE:
                try:
                    size = json.loads(payload)
                    io.width, io.height = int(size.get("Width", 80)), int(size.get("Height", 24))
                except (ValueError, TypeError, AttributeError):
                    continue
            elif channel == CLOSE and protocol.startswith("v5") and payload[:1] == b"\x00":
                if stdin is not None:
                    stdin.put_nowait(None)
        if stdin is not None:
            stdin.put_nowait(None)

    read_task = asyncio.create_task(reader())
    code = 0
    try:
        if attach:
            code = await _attach(cluster, key, container, shell, io, want_stdin, read_task.done)
        else:
            code = await shell.exec(argv)
        if protocol.startswith(("v4", "v5")):
            await send(ERROR, json.dumps(exit_status(code, argv)).encode())
        elif code != 0:
            await send(ERROR, f"command terminated with non-zero exit code: {code}".encode())
        await ws.close()
    except _Dropped:
        if req.http.transport is not None:
            req.http.transport.abort()
    except (ConnectionResetError, asyncio.CancelledError):
        # The client hung up mid-stream; nothing is left to tell it.
        pass
    finally:
        read_task.cancel()
    return ws


async def _attach(
    cluster: Any,
    key: tuple[str, str, str],
    container: dict[str, Any],
    shell: Shell,
    io: ShellIO,
    want_stdin: bool,
    client_gone: Callable[[], bool],
) -> int:
    """Attach to the main process: an interactive shell when the container keeps stdin open,
    else its output (new log lines) until the client detaches."""
    if want_stdin and container.get("stdin"):
        return await shell.interactive()
    book = cluster.logs
    seen = book.dropped.get(key, 0) + len(book.current.get(key, []))
    event = book.waiter(key)
    try:
        while key in book.current and key not in book.closed:
            if client_gone():
                break
            try:
                await asyncio.wait_for(event.wait(), 0.5)
            except TimeoutError:
                continue
            event.clear()
            current = book.current.get(key, [])
            fresh = current[max(seen - book.dropped.get(key, 0), 0) :]
            seen = book.dropped.get(key, 0) + len(current)
            for _, text in fresh:
                await io.out(text + "\n")
    finally:
        book.release(key, event)
    return 0
