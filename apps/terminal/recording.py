"""asciicast v2 recordings of terminal sessions (https://docs.asciinema.org/manual/asciicast/v2/).

A header line, then one JSON line per event: ``[seconds, "o", text]`` for output, ``"i"`` for
input, ``"r"`` for a resize (``"COLSxROWS"``) and ``"m"`` for a marker. Past ``max_bytes`` of
uncompressed recording no more events are kept and a marker says so.

Stored gzip-compressed: in the session row, or — when ``TERMINAL_RECORDING_DIR`` is set — in a
file ``<dir>/tenant-<tenant id>/session-<session id>.cast.gz`` (written atomically, mode 0600,
directories 0700) whose relative path the row keeps. That path is made here from two
integers, never from input, and is checked again on every read to resolve inside the
directory.
"""

from __future__ import annotations

import codecs
import gzip
import json
import os
import tempfile
import time
from json.encoder import encode_basestring_ascii
from pathlib import Path

from django.conf import settings

CAPPED_MARKER = "recording capped: size limit reached, the rest of the session is not recorded"
# The marker's line is at most this long (a float's repr is at most 24 characters).
_MARKER_MAX = len(json.dumps([0.0, "m", CAPPED_MARKER])) - 3 + 24


def _event(at: float, kind: str, text: str) -> str:
    """``json.dumps([at, kind, text])``, built directly: it runs for every frame a terminal
    relays (kinds are fixed ASCII letters; floats are written by repr, as json does)."""
    return f'[{at!r}, "{kind}", {encode_basestring_ascii(text)}]'


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
        line = _event(at, kind, text)
        # Room is kept for the marker: the recording never exceeds max_bytes.
        room = self.max_bytes - self.size - len(line) - 1
        if room < _MARKER_MAX + 1:
            marker = _event(at, "m", CAPPED_MARKER)
            if room < len(marker) + 1:
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


class RecordingMissing(Exception):
    """A recording the session row points at cannot be read (the message says why)."""


def recording_dir() -> Path | None:
    """The configured recordings directory (resolved), or None: recordings are in the DB."""
    value = settings.TERMINAL_RECORDING_DIR
    return Path(value).resolve() if value else None


def write_file(root: Path, tenant_id: int, session_id: int, blob: bytes) -> str:
    """Store ``blob`` for the session under ``root``; its path relative to ``root``."""
    folder_name, file_name = f"tenant-{int(tenant_id)}", f"session-{int(session_id)}.cast.gz"
    folder = root / folder_name
    for directory in (root, folder):
        if not directory.is_dir():
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(directory, 0o700)  # whatever the umask
    # mkstemp creates the file 0600; the rename makes it appear whole or not at all.
    fd, temporary = tempfile.mkstemp(prefix=".session-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(blob)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, folder / file_name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return f"{folder_name}/{file_name}"


def locate(relative: str) -> Path:
    """The file of a stored relative path, refused unless it resolves (symbolic links
    followed) inside the recordings directory; :class:`RecordingMissing` when it cannot be
    read."""
    root = recording_dir()
    if root is None:
        raise RecordingMissing(
            f"the recording is kept in a file ({relative}) but no recordings directory is "
            "configured (TERMINAL_RECORDING_DIR)"
        )
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or path == root:
        raise RecordingMissing(
            f"the recording path {relative!r} is outside the recordings directory"
        )
    if not path.is_file():
        raise RecordingMissing(
            f"the recording file {relative} is missing from the recordings directory"
        )
    return path


def stored(session) -> bytes | None:
    """The gzip recording of a session from wherever it is kept (None: not recorded)."""
    if session.recording_path:
        try:
            return locate(session.recording_path).read_bytes()
        except OSError as exc:
            raise RecordingMissing(
                f"the recording file {session.recording_path} cannot be read: {exc.strerror}"
            ) from exc
    return None if session.recording is None else bytes(session.recording)
