"""Kubernetes protobuf ⇄ the JSON-shaped dicts the JSON API uses, driven by :mod:`.schema`.

Wire format: the 4-byte magic ``k8s\\0`` then a ``runtime.Unknown`` message whose ``typeMeta``
carries apiVersion and kind and whose ``raw`` is the object's own message (object messages
have no TypeMeta fields). Messages are proto2 as gogo-protobuf writes them for Kubernetes:
non-pointer scalars and structs always written (so decoding drops the zero values Go's JSON
``omitempty`` would drop), pointers and slices only when set, maps as sorted key/value entry
messages, repeated scalars unpacked (packed ones are read too).

Types whose JSON differs from their message: ``meta/v1.Time`` (seconds+nanos → RFC 3339,
zero → absent), ``MicroTime`` (microseconds), ``Duration`` (nanoseconds → ``"1h2m3s"``),
``FieldsV1`` and ``RawExtension`` (raw JSON bytes → the JSON value), ``resource.Quantity``
(its string), ``intstr.IntOrString`` (int or string), ``bytes`` (base64) and the list
wrappers Go declares as ``[]string`` (``ExtraValue``, ``Verbs``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
from datetime import UTC, datetime
from functools import cache
from typing import Any

from .. import safejson
from . import schema

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

_VARINT_TYPES = ("int32", "int64", "uint32", "uint64", "bool")
_WIRE = {"string": 2, "bytes": 2, "double": 1, "float": 5}
_ZEROS: dict[str, Any] = {
    "string": "",
    "bytes": "",
    "bool": False,
    "int32": 0,
    "int64": 0,
    "uint32": 0,
    "uint64": 0,
    "double": 0.0,
    "float": 0.0,
}


class ProtobufError(ValueError):
    """A body that is not a valid Kubernetes protobuf message (the text names where)."""


# Singular message fields sent more than this many times in one message are refused (each
# occurrence is kept until they are merged; an encoder writes each once).
MAX_MERGED = 64
# Limits that keep decoding linear in the body's size: sub-messages are read as memoryview
# slices of the body (never copied), and nesting is bounded. Kubernetes objects nest a few
# dozen messages deep at most (a CRD's openAPIV3Schema two per level); a body embedding
# ``k8s\0`` objects (a List's items, a WatchEvent's object) inside embedded objects again and
# again is an attack, not an object.
MAX_DEPTH = 100
MAX_EMBEDDED = 2


class UnknownKindError(ProtobufError):
    """A kind the table does not know: a custom resource, never served as protobuf."""


class _Field:
    __slots__ = (
        "json",
        "number",
        "type",
        "repeated",
        "map",
        "pointer",
        "omitempty",
        "inline",
        "key",
    )

    def __init__(self, json_name: str, number: int, ftype: str, flags: int):
        self.json = json_name
        self.number = number
        self.repeated = bool(flags & schema.REPEATED)
        self.map = bool(flags & schema.MAP)
        self.pointer = bool(flags & schema.POINTER)
        self.omitempty = bool(flags & schema.OMITEMPTY)
        self.inline = bool(flags & schema.INLINE)
        self.key = ""
        if self.map:
            self.key, _, ftype = ftype[len("map<") : -1].partition(",")
        self.type = ftype


@cache
def _fields(key: str) -> tuple[dict[int, _Field], tuple[_Field, ...]]:
    try:
        raw = schema.MESSAGES[key]
    except KeyError:
        raise ProtobufError(f"no protobuf schema for {key}") from None
    fields = tuple(sorted((_Field(*f) for f in raw), key=lambda f: f.number))
    return {f.number: f for f in fields}, fields


def _is_listwrap(key: str) -> bool:
    raw = schema.MESSAGES.get(key, ())
    return len(raw) == 1 and bool(raw[0][3] & schema.LISTWRAP)


def message_for(api_version: str, kind: str) -> str | None:
    """The schema key of ``kind`` in ``api_version`` (meta/v1 kinds such as Status are
    served by every group version), or None for a type the table does not know (e.g. a
    custom resource, which a real server never serves as protobuf)."""
    if not api_version:  # discovery documents (APIVersions) are served without one
        key = f"meta/v1.{kind}"
        return key if kind and key in schema.MESSAGES else None
    package = schema.GROUP_VERSIONS.get(api_version)
    for key in (f"{package}.{kind}", f"meta/v1.{kind}"):
        if package and key in schema.MESSAGES:
            return key
    return None


# --- wire level ---------------------------------------------------------------------------


def _varint(data: bytes, pos: int, path: str) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError(f"truncated varint at {path or 'top level'}")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtobufError(f"varint too long at {path or 'top level'}")


def _chunks(data) -> tuple:
    """A message as the buffers it was sent in: one, or several when a singular message field
    was repeated (protobuf merges them: decoding the concatenation, never built here)."""
    if isinstance(data, tuple):
        return data
    return (data if isinstance(data, memoryview) else memoryview(data),)


def _iter_fields(data, path: str):
    """(number, wire type, value) of each field; length-delimited values are memoryview
    slices of ``data`` (no copy)."""
    if not isinstance(data, tuple):
        return _iter_chunk(data if isinstance(data, memoryview) else memoryview(data), path)
    return (field for chunk in data for field in _iter_chunk(chunk, path))


def _iter_chunk(data: memoryview, path: str):
    pos, end = 0, len(data)
    while pos < end:
        tag, pos = _varint(data, pos, path)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(data, pos, path)
        elif wire == 2:
            size, pos = _varint(data, pos, path)
            if pos + size > end:
                raise ProtobufError(f"truncated field {number} at {path or 'top level'}")
            value, pos = data[pos : pos + size], pos + size
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire} at {path or 'top level'}")
        if pos > end:
            raise ProtobufError(f"truncated field {number} at {path or 'top level'}")
        yield number, wire, value


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _put_varint(out: bytearray, value: int) -> None:
    value &= (1 << 64) - 1
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _put_bytes(out: bytearray, number: int, payload: bytes) -> None:
    _put_varint(out, number << 3 | 2)
    _put_varint(out, len(payload))
    out += payload


# --- decoding -----------------------------------------------------------------------------


def _scalar(ftype: str, wire: int, value: Any, path: str) -> Any:
    if wire != _WIRE.get(ftype, 0):
        raise ProtobufError(f"{path}: wire type {wire} where {ftype} expected")
    if ftype == "string":
        try:
            return str(value, "utf-8")
        except UnicodeDecodeError as exc:
            raise ProtobufError(f"{path}: string is not UTF-8") from exc
    if ftype == "bytes":
        return base64.b64encode(value).decode()
    if ftype == "bool":
        return bool(value)
    if ftype == "int32":
        return _signed(value, 32)
    if ftype == "int64":
        return _signed(value, 64)
    if ftype == "uint32":
        return value & 0xFFFFFFFF
    if ftype == "uint64":
        return value
    return struct.unpack("<d" if ftype == "double" else "<f", value)[0]


def _packed(ftype: str, data: bytes, path: str) -> list:
    if ftype in _VARINT_TYPES:
        out, pos = [], 0
        while pos < len(data):
            value, pos = _varint(data, pos, path)
            out.append(_scalar(ftype, 0, value, path))
        return out
    fmt = "<d" if ftype == "double" else "<f"
    return [v[0] for v in struct.iter_unpack(fmt, data)]


def _value(ftype: str, wire: int, value: Any, path: str, depth: int, embedded: int) -> Any:
    if ftype in _ZEROS:
        return _scalar(ftype, wire, value, path)
    if wire != 2:
        raise ProtobufError(f"{path}: wire type {wire} where a {ftype} message expected")
    return _message(ftype, value, path, depth + 1, embedded)


def _format_time(seconds: int, nanos: int, micro: bool) -> str:
    when = datetime.fromtimestamp(seconds, UTC)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if micro:
        text += f".{nanos // 1000:06d}"
    return text + "Z"


def _format_duration(ns: int) -> str:
    """Go's time.Duration.String()."""
    if ns == 0:
        return "0s"
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _trim(ns / size) + unit
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = _trim(rest / 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return sign + seconds


def _trim(value: float) -> str:
    return f"{value:.9f}".rstrip("0").rstrip(".")


def _json_raw(data: memoryview, path: str, depth: int, embedded: int) -> Any:
    if not data:
        return None
    if data[: len(MAGIC)] == MAGIC:
        if embedded >= MAX_EMBEDDED:
            raise ProtobufError(
                f"{path or 'object'}: k8s\\x00 objects embedded more than {MAX_EMBEDDED} deep "
                "in embedded objects"
            )
        return _decode(data, depth + 1, embedded + 1)
    try:
        return safejson.loads(bytes(data))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtobufError(f"{path}: embedded raw object is not JSON: {exc}") from exc


def _decode_special(key: str, data, path: str, depth: int, embedded: int) -> tuple[bool, Any]:
    if key in ("meta/v1.Time", "meta/v1.MicroTime"):
        if not any(_chunks(data)):
            return True, None
        parts = {n: v for n, _, v in _iter_fields(data, path)}
        return True, _format_time(
            _signed(parts.get(1, 0), 64), _signed(parts.get(2, 0), 32), key.endswith("MicroTime")
        )
    if key == "meta/v1.Duration":
        parts = {n: v for n, _, v in _iter_fields(data, path)}
        return True, _format_duration(_signed(parts.get(1, 0), 64))
    if key in ("meta/v1.FieldsV1", "runtime.RawExtension"):
        parts = {n: v for n, _, v in _iter_fields(data, path)}
        return True, _json_raw(parts.get(1, memoryview(b"")), path, depth, embedded)
    if key == "resource.Quantity":
        parts = {n: v for n, _, v in _iter_fields(data, path)}
        return True, _scalar("string", 2, parts.get(1, b""), path) or "0"
    if key == "intstr.IntOrString":
        parts = {n: (w, v) for n, w, v in _iter_fields(data, path)}
        if parts.get(1, (0, 0))[1] == 1:
            return True, _scalar("string", 2, parts.get(3, (2, b""))[1], path)
        return True, _signed(parts.get(2, (0, 0))[1], 32)
    return False, None


def decode_message(key: str, data, path: str = "") -> Any:
    """One message (no envelope) as its JSON value."""
    try:
        return _message(key, data, path, 0, 0)
    except RecursionError as exc:
        raise ProtobufError("objects embedded too deep") from exc


def _message(key: str, data, path: str, depth: int, embedded: int) -> Any:
    if depth > MAX_DEPTH:
        raise ProtobufError(f"{path or 'object'}: messages nested more than {MAX_DEPTH} deep")
    special, value = _decode_special(key, data, path, depth, embedded)
    if special:
        return value
    by_number, fields = _fields(key)
    if _is_listwrap(key):
        return [
            _scalar(fields[0].type, w, v, path)
            for n, w, v in _iter_fields(data, path)
            if n == fields[0].number
        ]
    out: dict[str, Any] = {}
    # A singular message field sent more than once is merged, as Go's generated Unmarshal
    # does (it decodes each occurrence into the same struct): its occurrences are decoded
    # together at the end, as one message; scalars are last-wins.
    merged: dict[int, list[memoryview]] = {}
    for number, wire, raw in _iter_fields(data, path):
        field = by_number.get(number)
        if field is None:
            continue  # a field newer than the table: dropped, as protobuf does
        where = f"{path}.{field.json}" if path else field.json
        if not (field.map or field.repeated) and field.type not in _ZEROS:
            if wire != 2:
                raise ProtobufError(
                    f"{where}: wire type {wire} where a {field.type} message expected"
                )
            if number not in merged and not field.inline:
                out[field.json] = None  # keeps the field's place in the object
            occurrences = merged.setdefault(number, [])
            if len(occurrences) >= MAX_MERGED:
                raise ProtobufError(f"{where}: sent more than {MAX_MERGED} times")
            occurrences.append(raw)
        elif field.map:
            entry = {n: (w, v) for n, w, v in _iter_fields(raw, where)}
            k = _scalar(field.key, *entry.get(1, (2, b"")), where)
            if 2 in entry:
                v = _value(field.type, *entry[2], f"{where}[{k}]", depth, embedded)
            else:
                v = (
                    _message(field.type, b"", where, depth + 1, embedded)
                    if field.type not in _ZEROS
                    else None
                )
                v = _ZEROS.get(field.type, v)
            out.setdefault(field.json, {})[k] = v
        elif field.repeated:
            items = out.setdefault(field.json, [])
            if wire == 2 and field.type in _ZEROS and field.type not in ("string", "bytes"):
                items.extend(_packed(field.type, raw, where))
            else:
                items.append(
                    _value(field.type, wire, raw, f"{where}[{len(items)}]", depth, embedded)
                )
        else:
            out[field.json] = _value(field.type, wire, raw, where, depth, embedded)
    for number, raws in merged.items():
        field = by_number[number]
        where = f"{path}.{field.json}" if path else field.json
        value = _message(
            field.type, tuple(raws), path if field.inline else where, depth + 1, embedded
        )
        if field.inline:  # an embedded Go struct: its fields are the parent's in JSON
            out.update(value)
        else:
            out[field.json] = value
    for field in fields:
        if field.inline:
            continue
        present = field.json in out
        if (
            present
            and out[field.json] is None
            and field.type in ("meta/v1.Time", "meta/v1.MicroTime")
        ):
            del out[field.json]
        elif present and field.omitempty and not field.pointer and field.type in _ZEROS:
            if out[field.json] == _ZEROS[field.type] and not field.repeated:
                del out[field.json]
        elif not present and not field.omitempty and (field.repeated or field.map):
            out[field.json] = None
    return out


def envelope(data) -> tuple[str, str, memoryview]:
    """(apiVersion, kind, the object's message) of a whole ``k8s\\0`` body, the object not
    decoded (so a caller can refuse a kind before paying for it)."""
    data = data if isinstance(data, memoryview) else memoryview(data)
    if data[: len(MAGIC)] != MAGIC:
        raise ProtobufError("not a Kubernetes protobuf body: the k8s\\x00 prefix is missing")
    typemeta: list[memoryview] = []  # a message field: repeated occurrences merge
    raw, encoding = memoryview(b""), b""
    for number, wire, value in _iter_fields(data[len(MAGIC) :], "envelope"):
        if wire != 2:
            continue
        if number == 1:
            typemeta.append(value)
        elif number == 2:
            raw = value
        elif number == 3:
            encoding = bytes(value)
    if encoding:
        raise ProtobufError(f"unsupported contentEncoding {encoding.decode(errors='replace')!r}")
    meta = {n: v for n, w, v in _iter_fields(tuple(typemeta), "typeMeta") if w == 2}
    api_version = str(meta.get(1, b""), "utf-8", "replace")
    kind = str(meta.get(2, b""), "utf-8", "replace")
    return api_version, kind, raw


def decode(data: bytes) -> dict[str, Any]:
    """A whole ``k8s\\0`` protobuf body → the object as the JSON API shows it."""
    try:
        return _decode(data, 0, 0)
    except RecursionError as exc:
        raise ProtobufError("objects embedded too deep") from exc


def _decode(data, depth: int, embedded: int) -> dict[str, Any]:
    api_version, kind, raw = envelope(data)
    if not kind:
        raise ProtobufError("Object 'Kind' is missing in the protobuf envelope")
    key = message_for(api_version, kind)
    if key is None:
        raise UnknownKindError(f"no kind {kind!r} is registered for version {api_version!r}")
    body = _message(key, raw, "", depth, embedded)
    if not isinstance(body, dict):
        raise ProtobufError(f"{kind} is not an object kind")
    if not api_version:  # a discovery document, as its JSON shows it
        return {"kind": kind, **body}
    return {"kind": kind, "apiVersion": api_version, **body}


# --- encoding -----------------------------------------------------------------------------

_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")
_DURATION = re.compile(r"(\d+(?:\.\d*)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def _parse_time(value: Any, path: str) -> tuple[int, int]:
    match = _RFC3339.match(value) if isinstance(value, str) else None
    if not match:
        raise ProtobufError(f"{path}: {value!r} is not an RFC 3339 time")
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    when = datetime.fromisoformat(match.group(1) + zone)
    nanos = int((match.group(2) or ".0")[1:].ljust(9, "0")[:9])
    return int(when.timestamp()), nanos


def _parse_duration(value: Any, path: str) -> int:
    text = value if isinstance(value, str) else ""
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    parts = _DURATION.findall(body)
    if not parts or "".join(a + b for a, b in parts) != body:
        if body == "0":
            return 0
        raise ProtobufError(f"{path}: {value!r} is not a duration such as 1h2m3s")
    return sign * int(sum(float(n) * _DURATION_UNITS[u] for n, u in parts))


def _encode_scalar(ftype: str, value: Any, path: str) -> tuple[int, bytes | int]:
    if ftype == "string":
        if not isinstance(value, str):
            raise ProtobufError(f"{path}: expected a string, got {value!r}")
        return 2, value.encode()
    if ftype == "bytes":
        try:
            return 2, base64.b64decode(value or "", validate=True)
        except (binascii.Error, TypeError, ValueError) as exc:
            raise ProtobufError(f"{path}: expected base64 data, got {value!r}") from exc
    if ftype == "bool":
        if not isinstance(value, bool):
            raise ProtobufError(f"{path}: expected a boolean, got {value!r}")
        return 0, int(value)
    if ftype in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ProtobufError(f"{path}: expected a number, got {value!r}")
        return (1, struct.pack("<d", value)) if ftype == "double" else (5, struct.pack("<f", value))
    if isinstance(value, bool) or not isinstance(value, int):
        if not (isinstance(value, float) and value.is_integer()):
            raise ProtobufError(f"{path}: expected an integer, got {value!r}")
        value = int(value)
    return 0, value


def _put_scalar(out: bytearray, number: int, ftype: str, value: Any, path: str) -> None:
    wire, payload = _encode_scalar(ftype, value, path)
    if wire == 0:
        _put_varint(out, number << 3)
        _put_varint(out, payload)
    elif wire == 2:
        _put_bytes(out, number, payload)
    else:
        _put_varint(out, number << 3 | wire)
        out += payload


def _encode_special(key: str, value: Any, path: str) -> bytes | None:
    out = bytearray()
    if key in ("meta/v1.Time", "meta/v1.MicroTime"):
        if value is None:
            return b""
        seconds, nanos = _parse_time(value, path)
        if key == "meta/v1.Time":
            nanos = 0
        else:
            nanos -= nanos % 1000
        _put_scalar(out, 1, "int64", seconds, path)
        _put_scalar(out, 2, "int32", nanos, path)
        return bytes(out)
    if key == "meta/v1.Duration":
        _put_scalar(out, 1, "int64", _parse_duration(value, path), path)
        return bytes(out)
    if key in ("meta/v1.FieldsV1", "runtime.RawExtension"):
        if value is not None:
            _put_bytes(out, 1, json.dumps(value, separators=(",", ":")).encode())
        return bytes(out)
    if key == "resource.Quantity":
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ProtobufError(f"{path}: expected a quantity such as 500m or 1Gi, got {value!r}")
        _put_bytes(out, 1, str(value).encode())
        return bytes(out)
    if key == "intstr.IntOrString":
        if isinstance(value, str):
            _put_scalar(out, 1, "int64", 1, path)
            _put_scalar(out, 2, "int32", 0, path)
            _put_scalar(out, 3, "string", value, path)
        else:
            _put_scalar(out, 1, "int64", 0, path)
            _put_scalar(out, 2, "int32", value if value is not None else 0, path)
            _put_scalar(out, 3, "string", "", path)
        return bytes(out)
    return None


def _put_value(out: bytearray, number: int, ftype: str, value: Any, path: str) -> None:
    if ftype in _ZEROS:
        _put_scalar(out, number, ftype, value, path)
    else:
        _put_bytes(out, number, encode_message(ftype, value, path))


def encode_message(key: str, value: Any, path: str = "") -> bytes:
    """One JSON value as its message (no envelope), fields in number order as Go writes them."""
    special = _encode_special(key, value, path)
    if special is not None:
        return special
    _, fields = _fields(key)
    out = bytearray()
    if _is_listwrap(key):
        if not isinstance(value, list):
            raise ProtobufError(f"{path}: expected a list, got {value!r}")
        for i, item in enumerate(value):
            _put_scalar(out, fields[0].number, fields[0].type, item, f"{path}[{i}]")
        return bytes(out)
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ProtobufError(f"{path or 'object'}: expected an object, got {value!r}")
    for field in fields:
        where = f"{path}.{field.json}" if path else field.json
        item = value if field.inline else value.get(field.json)
        if field.map:
            if item is None:
                continue
            if not isinstance(item, dict):
                raise ProtobufError(f"{where}: expected an object, got {item!r}")
            for k in sorted(item):
                entry = bytearray()
                _put_scalar(entry, 1, field.key, k, where)
                _put_value(entry, 2, field.type, item[k], f"{where}[{k}]")
                _put_bytes(out, field.number, bytes(entry))
        elif field.repeated:
            if item is None:
                continue
            if not isinstance(item, list):
                raise ProtobufError(f"{where}: expected a list, got {item!r}")
            for i, element in enumerate(item):
                _put_value(out, field.number, field.type, element, f"{where}[{i}]")
        elif item is None:
            if not field.pointer:  # Go always writes a non-pointer field, zero or not
                zero = _ZEROS.get(field.type)
                if field.type in ("meta/v1.Time", "meta/v1.MicroTime"):
                    _put_bytes(out, field.number, b"")
                elif zero is not None:
                    _put_value(out, field.number, field.type, zero, where)
                else:
                    _put_bytes(out, field.number, encode_message(field.type, None, where))
        else:
            _put_value(out, field.number, field.type, item, where)
    return bytes(out)


def encode(obj: dict[str, Any]) -> bytes:
    """An object with apiVersion and kind → a whole ``k8s\\0`` protobuf body."""
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    key = message_for(api_version, kind)
    if key is None:
        raise ProtobufError(f"no protobuf encoding for {kind!r} in {api_version!r}")
    typemeta = bytearray()
    _put_scalar(typemeta, 1, "string", api_version, "apiVersion")
    _put_scalar(typemeta, 2, "string", kind, "kind")
    envelope = bytearray(MAGIC)
    _put_bytes(envelope, 1, bytes(typemeta))
    _put_bytes(envelope, 2, encode_message(key, obj, ""))
    _put_scalar(envelope, 3, "string", "", "contentEncoding")
    _put_scalar(envelope, 4, "string", "", "contentType")
    return bytes(envelope)


def can_encode(obj: Any) -> bool:
    """Whether ``obj`` is a kind the table knows (a built-in type, not a custom resource)."""
    return (
        isinstance(obj, dict)
        and message_for(obj.get("apiVersion", ""), obj.get("kind", "")) is not None
    )


def encode_watch_event(event_type: str, obj: dict[str, Any]) -> bytes:
    """One ``meta/v1.WatchEvent`` message as a protobuf watch stream carries it: no envelope
    of its own (the stream's raw serializer), the object inside as a whole ``k8s\\0`` body."""
    raw = bytearray()
    _put_bytes(raw, 1, encode(obj))
    out = bytearray()
    _put_scalar(out, 1, "string", event_type, "type")
    _put_bytes(out, 2, bytes(raw))
    return bytes(out)
