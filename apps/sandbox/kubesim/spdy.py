"""SPDY/3.1 framing, as much as port-forward needs (server side).

kubectl 1.31+ runs ``port-forward`` as SPDY/3.1 tunnelled inside a WebSocket (subprotocol
``SPDY/3.1+portforward.k8s.io``): the binary messages form one byte stream that carries SPDY
frames, split wherever the client's writes fell. Per forwarded connection the client opens two
streams (``SYN_STREAM`` with the headers ``streamtype`` = ``error`` / ``data``, ``port`` and
``requestid``); the server answers each with ``SYN_REPLY`` and half-closes with a ``FIN``.

Frame layout (SPDY/3): a control frame is ``1|version(15)|type(16)|flags(8)|length(24)|data``,
a data frame ``0|stream-id(31)|flags(8)|length(24)|data``. Header blocks are a zlib stream per
direction (one compression context for the whole connection, flushed after every block) primed
with the protocol's fixed dictionary.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = (
    1,
    2,
    3,
    4,
    6,
    7,
    8,
    9,
)
FLAG_FIN = 0x01
MAX_FRAME = 0xFFFFFF
# RST_STREAM status codes.
PROTOCOL_ERROR, REFUSED_STREAM = 1, 3

# The header-compression dictionary of SPDY/3 (draft-mbelshe-httpbis-spdy-00 §2.6.10.1):
# length-prefixed header names and values, then a run of common value fragments.
_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language "
    "accept-ranges age allow authorization cache-control connection content-base "
    "content-encoding content-language content-length content-location content-md5 "
    "content-range content-type date etag expect expires from host if-match "
    "if-modified-since if-none-match if-range if-unmodified-since last-modified location "
    "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after "
    "server te trailer transfer-encoding upgrade user-agent vary via warning "
    "www-authenticate method get status"
).split() + ["200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"]
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()


class ProtocolError(Exception):
    """The peer sent something that is not SPDY/3."""


@dataclass
class Frame:
    """One decoded frame. ``kind`` is a control type or ``0`` for data."""

    kind: int
    stream_id: int = 0
    flags: int = 0
    data: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


class Reader:
    """Reassembles frames from arbitrarily split chunks of the byte stream."""

    def __init__(self) -> None:
        self._buffer = b""
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)

    def feed(self, chunk: bytes) -> Iterator[Frame]:
        self._buffer += chunk
        while len(self._buffer) >= 8:
            first, flags_length = struct.unpack(">II", self._buffer[:8])
            length = flags_length & 0xFFFFFF
            if len(self._buffer) < 8 + length:
                return
            payload = self._buffer[8 : 8 + length]
            self._buffer = self._buffer[8 + length :]
            flags = flags_length >> 24
            if not first & 0x80000000:
                yield Frame(0, first & 0x7FFFFFFF, flags, payload)
                continue
            version, kind = (first >> 16) & 0x7FFF, first & 0xFFFF
            if version != VERSION:
                raise ProtocolError(f"SPDY version {version} is not supported (only 3)")
            yield self._control(kind, flags, payload)

    def _control(self, kind: int, flags: int, payload: bytes) -> Frame:
        if kind == SYN_STREAM:
            if len(payload) < 10:
                raise ProtocolError("short SYN_STREAM frame")
            stream_id = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
            return Frame(kind, stream_id, flags, headers=self._headers(payload[10:]))
        if kind in (SYN_REPLY, HEADERS):
            stream_id = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
            return Frame(kind, stream_id, flags, headers=self._headers(payload[4:]))
        if kind in (RST_STREAM, WINDOW_UPDATE):
            stream_id = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
            return Frame(kind, stream_id, flags, payload[4:8])
        return Frame(kind, 0, flags, payload)  # SETTINGS, PING, GOAWAY and unknown types

    def _headers(self, block: bytes) -> dict[str, str]:
        try:
            raw = self._inflate.decompress(block)
        except zlib.error as exc:
            raise ProtocolError(f"header block does not decompress: {exc}") from exc
        headers: dict[str, str] = {}
        try:
            (count,) = struct.unpack(">I", raw[:4])
            pos = 4
            for _ in range(count):
                (size,) = struct.unpack(">I", raw[pos : pos + 4])
                name = raw[pos + 4 : pos + 4 + size].decode("latin-1")
                pos += 4 + size
                (size,) = struct.unpack(">I", raw[pos : pos + 4])
                headers[name.lower()] = raw[pos + 4 : pos + 4 + size].decode("latin-1")
                pos += 4 + size
        except struct.error as exc:
            raise ProtocolError("truncated header block") from exc
        return headers


class Writer:
    """Encodes frames; owns the compression context of the server → client direction, so
    frames must be sent in the order they were encoded."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(zdict=DICTIONARY)

    @staticmethod
    def _control(kind: int, flags: int, payload: bytes) -> bytes:
        head = struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload))
        return head + payload

    def _block(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers))
        for name, value in headers.items():
            n, v = name.lower().encode("latin-1"), value.encode("latin-1")
            raw += struct.pack(">I", len(n)) + n + struct.pack(">I", len(v)) + v
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def syn_reply(self, stream_id: int, headers: dict[str, str] | None = None) -> bytes:
        return self._control(
            SYN_REPLY, 0, struct.pack(">I", stream_id) + self._block(headers or {})
        )

    def rst_stream(self, stream_id: int, status: int) -> bytes:
        return self._control(RST_STREAM, 0, struct.pack(">II", stream_id, status))

    @staticmethod
    def data(stream_id: int, payload: bytes, fin: bool = False) -> Iterator[bytes]:
        """``payload`` as data frames (split at the 24-bit length limit), FIN on the last."""
        chunks = [payload[i : i + MAX_FRAME] for i in range(0, len(payload), MAX_FRAME)] or [b""]
        for index, chunk in enumerate(chunks):
            flags = FLAG_FIN if fin and index == len(chunks) - 1 else 0
            yield struct.pack(">II", stream_id, (flags << 24) | len(chunk)) + chunk

    def ping(self, payload: bytes) -> bytes:
        return self._control(PING, 0, payload)

    def goaway(self, last_stream_id: int, status: int = 0) -> bytes:
        return self._control(GOAWAY, 0, struct.pack(">II", last_stream_id, status))
