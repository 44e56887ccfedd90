"""asciicast v2 recordings of terminal sessions (https://docs.asciinema.org/manual/asciicast/v2/).

A header line, then one JSON line per event: ``[seconds, "o", text]`` for output, ``"i"`` for
input, ``"r"`` for a resize (``"COLSxROWS"``) and ``"m"`` for a marker. Past ``max_bytes`` of
uncompressed recording no more events are kept and a marker says so. Stored gzip-compressed.
"""

from __future__ import annotations

import codecs
import gzip
import json
import time

CAPPED_MARKER = "recording capped: size limit reached, the rest of the session is not recorded"


class Recorder:
    def __init__(self, width: int, height: int, max_bytes: int, title: str = ""):
        self.started = time.monotonic()
        header = {
            "version": 2,
            "width": width,
            "height": height,
            "timestamp": int(time.time()),
            "env": {"TERM": "xterm-256color", "SHELL": ""},
        }
        if title:
            header["title"] = title
        self.lines: list[str] = [json.dumps(header)]
        self.size = len(self.lines[0]) + 1
        self.max_bytes = max_bytes
        self.capped = False
        self._decoders = {
            "o": codecs.getincrementaldecoder("utf-8")("replace"),
            "i": codecs.getincrementaldecoder("utf-8")("replace"),
        }

    def _add(self, kind: str, text: str) -> None:
        if self.capped or not text:
            return
        at = round(time.monotonic() - self.started, 6)
        line = json.dumps([at, kind, text])
        marker = json.dumps([at, "m", CAPPED_MARKER])
        # Room is kept for the marker: the recording never exceeds max_bytes.
        if self.size + len(line) + 1 + len(marker) + 1 > self.max_bytes:
            self.capped = True
            self.lines.append(marker)
            self.size += len(marker) + 1
            return
        self.lines.append(line)
        self.size += len(line) + 1

    def output(self, data: bytes) -> None:
        self._add("o", self._decoders["o"].decode(data))

    def input(self, data: bytes) -> None:
        self._add("i", self._decoders["i"].decode(data))

    def resize(self, width: int, height: int) -> None:
        self._add("r", f"{width}x{height}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    def compressed(self) -> bytes:
        return gzip.compress(self.text().encode("utf-8"))


def decompress(blob: bytes | memoryview) -> list:
    """The header and events of a stored recording, parsed (for replay and tests)."""
    text = gzip.decompress(bytes(blob)).decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line]
