"""One reader of Kubernetes request bodies for every part of the portal that judges them.

The proxy judges a create by the name in its body, refuses a Secret that carries the portal's
mask back, and the audit trail redacts what it stores: all three must read a body the same way
the API server will, whatever its format — JSON, YAML (one or several documents), protobuf
(``application/vnd.kubernetes.protobuf``, what kubectl and Helm send for built-in types) or a
form. A format read one way here and another way there is a bypass.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from . import kubeproto, safejson, safeyaml


class Unreadable(ValueError):
    """The body cannot be read as its Content-Type says (the text says why)."""


class TooDeep(Unreadable):
    """The body nests deeper than the portal reads."""


class TooLarge(Unreadable):
    """A protobuf body over what the API server accepts (it is not read at all)."""


# kube-apiserver refuses request bodies over 3 MiB (``MaxRequestBodyBytes``, 413 "Request
# entity too large"). Protobuf decodes into many times its size as Python objects, so the
# portal reads no more than the API server would accept.
MAX_PROTOBUF_BODY = 3 * 1024 * 1024


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def read(raw: bytes, content_type: str | None):
    """The body as the JSON value the API server will see; raises :class:`Unreadable`.

    No Content-Type: JSON, else YAML (as the API server and kubectl treat it)."""
    ctype = media_type(content_type)
    if ctype == kubeproto.CONTENT_TYPE:
        if len(raw) > MAX_PROTOBUF_BODY:
            raise TooLarge(
                f"{len(raw)} bytes of {ctype}: larger than the API server's limit of "
                f"{MAX_PROTOBUF_BODY} bytes"
            )
        try:
            return kubeproto.decode(raw)
        except RecursionError as exc:
            raise TooDeep(f"{len(raw)} bytes of {ctype} nested too deep to read") from exc
        except kubeproto.ProtobufError as exc:
            raise Unreadable(f"{len(raw)} bytes of unreadable {ctype}: {exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unreadable(f"{len(raw)} bytes of binary {ctype or 'data'}") from exc
    if ctype == "application/x-www-form-urlencoded":
        form: dict = {}
        for key, value in parse_qsl(text, keep_blank_values=True):
            form.setdefault(key, []).append(value)
        return {k: v[0] if len(v) == 1 else v for k, v in form.items()}
    if ctype.endswith("json") or ctype == "":
        try:
            return safejson.loads(text)
        except safejson.TooDeep as exc:
            raise TooDeep(f"{len(raw)} bytes of {ctype or 'data'} nested too deep to read") from exc
        except ValueError as exc:
            if ctype:
                raise Unreadable(f"{len(raw)} bytes of unparseable {ctype}") from exc
    if "yaml" in ctype or ctype == "":
        try:
            docs = safeyaml.load_all(text, field="body")
        except safeyaml.YAMLInputError as exc:
            raise Unreadable(f"{len(raw)} bytes of unparseable {ctype or 'data'}") from exc
        return docs[0] if len(docs) == 1 else docs
    raise Unreadable(f"{len(raw)} bytes of unparseable {ctype}")


class Body:
    """A request body read at most once, however many parts of the portal look at it (the
    judge, the mask check, the audit trail): reading protobuf costs, and one reading means
    one answer. ``read()`` returns the value or raises the :class:`Unreadable` it met."""

    __slots__ = ("raw", "content_type", "_value", "_error", "_done")

    def __init__(self, raw: bytes, content_type: str | None) -> None:
        self.raw, self.content_type = raw, content_type or ""
        self._value, self._error, self._done = None, None, False

    def __len__(self) -> int:
        return len(self.raw)

    def read(self):
        if not self._done:
            try:
                self._value = read(self.raw, self.content_type)
            except Unreadable as exc:
                self._error = exc
            self._done = True
        if self._error is not None:
            raise self._error
        return self._value


def read_once(body: bytes | Body, content_type: str | None):
    """:func:`read` of ``body``, or the value a :class:`Body` already read."""
    return body.read() if isinstance(body, Body) else read(body, content_type)
