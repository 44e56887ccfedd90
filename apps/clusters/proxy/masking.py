"""Relaying Secret answers to users who may read Secrets but not reveal their values.

The proxy asks the cluster for JSON (never YAML, protobuf or CBOR, which it does not rewrite)
and uncompressed bodies, then hides values with :func:`apps.clusters.masking.mask_secrets`: a
plain answer is read whole (bounded) and rewritten; a watch is rewritten event by event (the
API server writes one JSON document per line). Anything it cannot parse is not relayed — a
Secret the portal cannot mask is a Secret it does not show.

A client that accepts only YAML or protobuf therefore gets masked JSON, labelled
``application/json``: Kubernetes clients decode by the answer's Content-Type (and JSON is YAML),
so this is the answer it can use, truthfully labelled; refusing would withhold what the portal
can show, and re-encoding would be a second writer of formats the cluster already writes.
"""

from __future__ import annotations

import json

import aiohttp
from multidict import CIMultiDict

from apps.clusters.masking import mask_secrets

from .status import status_body

# Largest Secret answer (a list of many Secrets) the proxy rewrites; the API server's own
# limit for one object is 3 MiB, a list is bounded by the client's `limit`.
MAX_MASKED_BODY = 64 * 1024 * 1024
# Largest single watch event.
MAX_MASKED_EVENT = 16 * 1024 * 1024


def prepare_headers(headers: CIMultiDict) -> None:
    """Ask for JSON the proxy can rewrite: keep the client's Accept when every type in it is
    JSON (Table requests are), else JSON; and an uncompressed body."""
    accept = headers.get("accept", "")
    kinds = [part.split(";")[0].strip().lower() for part in accept.split(",") if part.strip()]
    if not kinds or any(kind != "application/json" for kind in kinds):
        headers["Accept"] = "application/json"
    headers.popall("accept-encoding", None)
    headers["Accept-Encoding"] = "identity"


def _refusal(message: str) -> bytes:
    return status_body(502, message)


def _is_json(response: aiohttp.ClientResponse) -> bool:
    return "json" in response.headers.get("content-type", "").lower()


def _plain_headers(headers: list[tuple[bytes, bytes]], length: int) -> list[tuple[bytes, bytes]]:
    out = [(n, v) for n, v in headers if n not in (b"content-length", b"content-encoding")]
    out.append((b"content-length", str(length).encode()))
    return out


async def relay_masked(response: aiohttp.ClientResponse, headers, send) -> tuple[int, str]:
    """Read, mask and send a whole answer; returns (status sent, audit message)."""
    chunks, size = [], 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > MAX_MASKED_BODY:
            return await _send_refusal(
                send, headers, f"the Secret answer is larger than {MAX_MASKED_BODY} bytes"
            )
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        if not _is_json(response):
            raise ValueError("not JSON")
        body = json.dumps(mask_secrets(json.loads(raw))).encode()
    except (ValueError, RecursionError):
        return await _send_refusal(
            send, headers, "the cluster answered in a form the portal cannot mask"
        )
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": _plain_headers(headers, len(body)),
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
    return response.status, "Secret values masked"


async def _send_refusal(send, headers, message: str) -> tuple[int, str]:
    body = _refusal(f"{message}; Secret values are not shown without revealSecret")
    keep = [(n, v) for n, v in headers if n == b"x-request-id"]
    keep.append((b"content-type", b"application/json"))
    await send(
        {"type": "http.response.start", "status": 502, "headers": _plain_headers(keep, len(body))}
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
    return 502, message


class _LineMasker:
    """Turns the cluster's watch stream into masked lines, whatever the chunking."""

    def __init__(self) -> None:
        self.pending = b""

    def feed(self, chunk: bytes) -> bytes:
        self.pending += chunk
        if len(self.pending) > MAX_MASKED_EVENT and b"\n" not in self.pending:
            raise ValueError("watch event too large to mask")
        *lines, self.pending = self.pending.split(b"\n")
        return b"".join(self._mask(line) for line in lines if line.strip())

    @staticmethod
    def _mask(line: bytes) -> bytes:
        try:
            return json.dumps(mask_secrets(json.loads(line))).encode() + b"\n"
        except (ValueError, RecursionError):
            raise ValueError("a watch event the portal cannot mask") from None


async def relay_masked_stream(response: aiohttp.ClientResponse, headers, send) -> str:
    """Relay a watch of Secrets event by event, masked. Ends the client's stream without
    the final chunk if the cluster cuts it or an event cannot be masked."""
    if not _is_json(response):
        return (await _send_refusal(send, headers, "the watch is not JSON"))[1]
    out = [(n, v) for n, v in headers if n not in (b"content-length", b"content-encoding")]
    await send({"type": "http.response.start", "status": response.status, "headers": out})
    masker = _LineMasker()
    try:
        async for chunk in response.content.iter_any():
            masked = masker.feed(chunk)
            if masked:
                await send({"type": "http.response.body", "body": masked, "more_body": True})
    except ValueError as exc:
        return f"stream cut: {exc}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        # As in the plain relay: events aiohttp buffered before the cut still go out.
        leftover = b"".join(bytes(c) for c in getattr(response.content, "_buffer", ()))
        try:
            masked = masker.feed(leftover)
        except ValueError:
            masked = b""
        if masked:
            await send({"type": "http.response.body", "body": masked, "more_body": True})
        return f"answer cut by the cluster ({type(exc).__name__})"
    try:
        tail = masker.feed(b"\n") if masker.pending.strip() else b""
    except ValueError as exc:
        return f"stream cut: {exc}"
    await send({"type": "http.response.body", "body": tail, "more_body": False})
    return "Secret values masked"
