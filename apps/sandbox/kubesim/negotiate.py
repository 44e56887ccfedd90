"""Content negotiation: which format an answer is written in, decided from the Accept header
as kube-apiserver 1.37 decides it (``k8s.io/apiserver/pkg/endpoints/handlers/negotiation``),
and the writing of it.

The server offers, in this order, ``application/json``, ``application/yaml`` and
``application/vnd.kubernetes.protobuf``. The Accept clauses are sorted as ``goautoneg`` sorts
them (by q, then concrete before wildcard, otherwise in the client's order); the first clause
that one of the offers satisfies wins, offers tried in server order, so ``*/*`` means JSON. A
clause with ``q=0`` rejects the offers it names most specifically (``application/json;q=0,
*/*`` gets YAML). An empty header means JSON; nothing acceptable is ``406 NotAcceptable`` with
"only the following media types are accepted: …".

Clause parameters: ``as``/``g``/``v`` ask for a conversion — ``meta.k8s.io`` ``Table`` (JSON or
YAML only: the real Table type has no protobuf encoding) and ``PartialObjectMetadata[List]``
(any format) on resource endpoints; any other conversion makes the clause unacceptable.
``stream=watch`` is only acceptable for formats with a stream encoding (JSON, protobuf), so a
watch asked for in YAML is refused with the stream media types listed. ``sv`` must name the
meta version (v1), ``pretty=1`` (or ``?pretty=true``, or a curl/Wget/browser User-Agent)
indents JSON.

Custom resources (and kinds the protobuf schema does not know, e.g. metrics.k8s.io) are not
served as protobuf unless converted to PartialObjectMetadata — a real server restricts a
CRD's plain answers to its "standard serializers" — but its 406 still lists protobuf, since
the CRD handler's serializer offers it.

CBOR (``application/cbor``, KEP-4222) is **not** offered. The ``CBORServingAndStorage``
feature gate that adds it to these lists is Alpha and off by default since 1.32, with no Beta
entry in the versioned feature specs of the newest kube-apiserver source read for this
(``staging/src/k8s.io/apiserver/pkg/features/kube_features.go``); so a 1.37 server with
default gates answers a CBOR-only Accept with 406, listing JSON, YAML and protobuf, and a
``application/cbor, application/json`` Accept with JSON.

Errors are negotiated too, without the endpoint's restrictions (``ErrorNegotiated`` with
``DefaultEndpointRestrictions``): a 404 asked for in protobuf is a protobuf ``Status``, a 406
for a watch asked for in YAML is a YAML ``Status``; when nothing fits, JSON.

Aggregated discovery (``as=APIGroupDiscoveryList;g=apidiscovery.k8s.io;v=v2``) is a
conversion too, allowed on ``/api`` and ``/apis`` by ``discovery.aggregated_allows``;
``Choice.convert`` tells the discovery handler it was chosen.
"""

from __future__ import annotations

import json
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from aiohttp import web

from apps.core import kubeproto

from . import table
from .errors import ApiError

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = kubeproto.CONTENT_TYPE
OFFERS = (JSON, YAML, PROTOBUF)
STREAMS = (JSON, PROTOBUF)  # YAML has no stream (watch) encoding
META_VERSIONS = ("v1", "v1beta1")

# (group, version, kind) a clause's as/g/v parameters ask the answer to be converted to.
Convert = tuple[str, str, str]
# Whether an endpoint serves ``media`` with the (optional) conversion.
Allows = Callable[[str, "Convert | None"], bool]


@dataclass(frozen=True)
class Clause:
    type: str
    subtype: str
    q: float
    params: dict[str, str]


@dataclass(frozen=True)
class Choice:
    """The negotiated answer format: media type, conversion asked for, pretty JSON."""

    media: str = JSON
    convert: Convert | None = None
    pretty: bool = False

    @property
    def kind(self) -> str | None:
        """``Table`` / ``PartialObjectMetadata`` / ``PartialObjectMetadataList`` or None."""
        return self.convert[2] if self.convert else None

    @property
    def meta_version(self) -> str:
        return self.convert[1] if self.convert else "v1"


def parse_accept(header: str) -> list[Clause]:
    """The Accept header's clauses, ordered as goautoneg orders them."""
    clauses: list[Clause] = []
    for part in header.split(","):
        media, *rest = part.split(";")
        pieces = media.split("/")
        kind = pieces[0].strip()
        if len(pieces) == 1 and kind == "*":
            sub = "*"
        elif len(pieces) == 2:
            sub = pieces[1].strip()
        else:
            continue
        q, params = 1.0, {}
        for param in rest:
            key, eq, value = param.partition("=")
            if not eq:
                continue
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0  # Go's ParseFloat error leaves 0
            else:
                params[key.strip()] = value.strip()
        clauses.append(Clause(kind, sub, q, params))

    def less(a: Clause, b: Clause) -> bool:  # goautoneg's accept_slice.Less, verbatim logic
        return (
            a.q > b.q
            or (a.type != "*" and b.type == "*")
            or (a.subtype != "*" and b.subtype == "*")
        )

    for i in range(1, len(clauses)):  # Go's insertion sort (what sort.Sort runs for < 12)
        j = i
        while j > 0 and less(clauses[j], clauses[j - 1]):
            clauses[j], clauses[j - 1] = clauses[j - 1], clauses[j]
            j -= 1
    return clauses


def _specificity(clause: Clause, media: str) -> int:
    kind, sub = media.split("/")
    if clause.type == kind and clause.subtype == sub:
        return 2
    if clause.type == kind and clause.subtype == "*":
        return 1
    if clause.type == "*" and clause.subtype == "*":
        return 0
    return -1


def _options(clause: Clause, media: str, allows: Allows, stream: bool, sv: bool) -> Choice | None:
    """The clause's parameters against one offer, or None when they make it unacceptable."""
    params = clause.params
    convert = None
    if any(k in params for k in ("as", "g", "v")):
        convert = (params.get("g", ""), params.get("v", ""), params.get("as", ""))
    if params.get("stream") and (media not in STREAMS or params["stream"] != "watch"):
        return None
    if params.get("sv") and not (sv and params["sv"] == "v1"):
        return None
    if stream and media not in STREAMS:
        return None
    if not allows(media, convert):
        return None
    return Choice(media, convert, params.get("pretty") == "1")


def choose(http: web.Request, allows: Allows, *, stream: bool = False, sv: bool = True) -> Choice:
    """The answer format for ``http``, or ApiError 406 naming what this endpoint offers."""
    header = http.headers.get("Accept", "")
    pretty = _pretty(http)
    if not header:
        return Choice(JSON, None, pretty)
    clauses = parse_accept(header)
    rejected = {}
    for media in OFFERS:
        best = -1
        for clause in clauses:
            spec = _specificity(clause, media)
            if spec > best:
                best, rejected[media] = spec, clause.q <= 0
    for clause in clauses:
        if clause.q <= 0:
            continue
        for media in OFFERS:
            if rejected.get(media) or _specificity(clause, media) < 0:
                continue
            found = _options(clause, media, allows, stream, sv)
            if found is not None:
                return Choice(found.media, found.convert, found.pretty or pretty)
    offered = [f"{m};stream=watch" for m in STREAMS] if stream else list(OFFERS)
    raise ApiError(
        406,
        f"only the following media types are accepted: {', '.join(offered)}",
        reason="NotAcceptable",
    )


def _pretty(http: web.Request) -> bool:
    value = http.query.get("pretty")
    if value:
        return value.lower() in ("1", "t", "true")
    agent = http.headers.get("User-Agent", "")
    return agent.startswith(("curl", "Wget", "Mozilla/5.0"))


# --- what each endpoint serves -------------------------------------------------------------


def anything(media: str, convert: Convert | None) -> bool:
    """No restrictions but no conversions: errors and discovery documents."""
    return convert is None


# The discovery endpoints (/api, /apis, /apis/<g>, /apis/<g>/<v>); /api and /apis also allow
# the aggregated form (discovery.aggregated_allows).
DISCOVERY: Allows = anything


def for_resource(protobuf: bool) -> Allows:
    """A resource endpoint; ``protobuf`` False for custom resources (and kinds without a
    protobuf schema), whose plain answers are JSON or YAML only."""

    def allows(media: str, convert: Convert | None) -> bool:
        if convert is None:
            return protobuf or media != PROTOBUF
        group, version, kind = convert
        if group != "meta.k8s.io" or version not in META_VERSIONS:
            return False
        if kind == "Table":
            return media in (JSON, YAML)
        return kind in ("PartialObjectMetadata", "PartialObjectMetadataList")

    return allows


# --- writing -------------------------------------------------------------------------------


def encode(choice: Choice, body: Any) -> tuple[bytes, str]:
    """(bytes, Content-Type) of ``body`` (a JSON-shaped value, or JSON bytes) in ``choice``."""
    if choice.media == JSON:
        if choice.pretty:
            obj = json.loads(body) if isinstance(body, bytes) else body
            return json.dumps(obj, indent=2, ensure_ascii=False).encode(), JSON
        if isinstance(body, bytes):
            return body, JSON
        return json.dumps(body, separators=(",", ":")).encode(), JSON
    obj = json.loads(body) if isinstance(body, bytes) else body
    if choice.media == YAML:
        text = yaml.safe_dump(obj, default_flow_style=False, allow_unicode=True)
        return text.encode(), YAML
    try:
        return kubeproto.encode(obj), PROTOBUF
    except kubeproto.ProtobufError as exc:
        raise ApiError(500, f"object could not be encoded as protobuf: {exc}") from exc


def response(
    choice: Choice, body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """The answer to send; every answer carries an Audit-Id, as the API server's do."""
    raw, ctype = encode(choice, body)
    out = web.Response(body=raw, status=status, content_type=ctype)
    out.headers["Audit-Id"] = str(uuid.uuid4())
    out.headers["Cache-Control"] = "no-cache, private"
    for key, value in (headers or {}).items():
        out.headers.add(key, value)
    return out


def error(http: web.Request | None, err: ApiError) -> web.Response:
    """An ApiError as ``Status`` in the format the client accepts, JSON if none fits."""
    choice = Choice()
    if http is not None:
        try:
            choice = choose(http, anything, sv=False)
        except ApiError:
            choice = Choice()
    return response(choice, err.status(), err.code, err.headers)


# --- watch streams -------------------------------------------------------------------------


def stream_content_type(choice: Choice) -> str:
    """A JSON watch is ``application/json``; other formats add ``;stream=watch``."""
    return JSON if choice.media == JSON else f"{choice.media};stream=watch"


def watch_frame(choice: Choice, event_type: str, obj: Any) -> bytes:
    """One watch event: a JSON line, or a length-prefixed protobuf ``WatchEvent``."""
    if choice.media == JSON:
        raw = obj if isinstance(obj, bytes) else json.dumps(obj, separators=(",", ":")).encode()
        return b'{"type":"' + event_type.encode() + b'","object":' + raw + b"}\n"
    value = json.loads(obj) if isinstance(obj, bytes) else obj
    try:
        message = kubeproto.encode_watch_event(event_type, value)
    except kubeproto.ProtobufError as exc:  # a bug of ours: end the stream with it said
        status = ApiError(500, f"object could not be encoded as protobuf: {exc}").status()
        message = kubeproto.encode_watch_event("ERROR", status)
    return struct.pack(">I", len(message)) + message


def check_shape(choice: Choice, rt: Any, is_list: bool) -> None:
    """The 406 a real server gives for PartialObjectMetadata on a list, or the List form on
    one object, naming the Go type (``*v1.Pod``, ``*unstructured.Unstructured``)."""
    if choice.kind == "PartialObjectMetadata" and is_list:
        what = "is a list"
    elif choice.kind == "PartialObjectMetadataList" and not is_list:
        what = "is not a list"
    else:
        return
    suffix = "List" if is_list else ""
    type_name = (
        f"*unstructured.Unstructured{suffix}"
        if rt.custom
        else f"*{rt.version}.{rt.list_kind if is_list else rt.kind}"
    )
    raise ApiError(
        406,
        f"you requested {choice.kind}, but the requested object {what} ({type_name})",
        reason="NotAcceptable",
    )


def converted(
    choice: Choice,
    rt: Any,
    objects: list[dict[str, Any]],
    list_meta: dict[str, Any],
    include: str,
    is_list: bool,
    served: Any = None,
) -> dict[str, Any] | None:
    """The ``meta.k8s.io`` conversion the client asked for (Table, PartialObjectMetadata or
    its List), or None for the plain answer; ``served`` is the version the client addressed
    when it is not the stored one (Table rows' objects are shown in it)."""
    if choice.kind is None:
        return None
    check_shape(choice, rt, is_list)
    api_version = f"meta.k8s.io/{choice.meta_version}"
    if choice.kind == "Table":
        body = table.to_table(rt, objects, include, list_meta, served=served)
    elif choice.kind == "PartialObjectMetadata":
        body = table.partial_metadata(objects[0])
    else:
        body = {
            "kind": "PartialObjectMetadataList",
            "apiVersion": api_version,
            "metadata": list_meta,
            "items": [{**table.partial_metadata(o), "apiVersion": api_version} for o in objects],
        }
    return {**body, "apiVersion": api_version}
