"""The HTTP surface of one cluster: URL routing, authentication, content negotiation, and the
REST verbs (get, list, watch, create, update, patch, delete, deletecollection) plus the
subresources (status, scale, log, exec, attach, portforward, eviction, binding).

Errors are :class:`~.errors.ApiError` turned into ``Status`` bodies; the answer's format (JSON,
YAML, protobuf; a ``meta.k8s.io`` Table / PartialObjectMetadata conversion) is negotiated from
the Accept header by :mod:`.negotiate`.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import yaml
from aiohttp import web

from apps.core import kubeproto

from . import (
    convert,
    discovery,
    execws,
    exposition,
    fieldcheck,
    metrics,
    negotiate,
    podlogs,
    portforward,
    reviews,
    tokens,
    watch,
)
from .errors import ApiError, method_not_allowed, path_not_found
from .ops import APPLY_PATCH, JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, _unsupported_patch
from .selectors import parse_field_selector, parse_label_selector

if TYPE_CHECKING:
    from .cluster import Cluster, User
    from .resources import ResourceType

_PATCH_TYPES = (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_PATCH,
    APPLY_PATCH,
    "application/apply-patch+cbor",
)
_BODY_TYPES = "application/json, application/yaml, application/vnd.kubernetes.protobuf"


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """Always JSON (``/version``, OpenAPI); negotiated answers go through :mod:`.negotiate`."""
    return negotiate.response(negotiate.Choice(), body, status, headers)


def error_response(err: ApiError, http: web.Request | None = None) -> web.Response:
    return negotiate.error(http, err)


class Request:
    """A parsed resource request: who, what, where, and the query options."""

    def __init__(
        self,
        http: web.Request,
        cluster: Cluster,
        user: User,
        rt: ResourceType,
        namespace: str | None,
        name: str | None,
        sub: str | None,
    ):
        self.http = http
        self.cluster = cluster
        self.user = user
        self.rt = rt
        self.namespace = namespace
        self.name = name
        self.sub = sub
        self.query = http.query
        self.warnings: list[str] = []
        # The version the client addressed; ``rt`` is where its objects are stored (differs
        # for autoscaling/v1 HPAs and events.k8s.io events, see :mod:`.convert`).
        self.served: ResourceType = rt

    def flag(self, key: str) -> bool:
        return self.query.get(key, "").lower() in ("true", "1")

    @property
    def dry_run(self) -> bool:
        values = self.query.getall("dryRun", [])
        for value in values:
            if value != "All":
                raise ApiError(
                    400,
                    f"Invalid dry run value: unsupported dry run option: "
                    f'"{value}"; supported values: "All"',
                )
        return bool(values)

    @property
    def field_validation(self) -> str:
        value = self.query.get("fieldValidation", "Warn") or "Warn"
        if value not in ("Strict", "Warn", "Ignore"):
            raise ApiError(
                400, f"fieldValidation must be one of Ignore, Warn or Strict, got {value}"
            )
        return value

    @property
    def manager(self) -> str:
        explicit = self.query.get("fieldManager")
        if explicit:
            return explicit
        agent = self.http.headers.get("User-Agent", "unknown")
        return agent.split("/", 1)[0][:128] or "unknown"

    async def body(self, patch: bool = False) -> tuple[Any, str]:
        """The decoded request body; duplicate JSON fields are refused (Strict) or become
        warnings (Warn), as the API server's strict decoder does."""
        body, ctype = await read_body(self.http, patch)
        if self.query.get("fieldValidation") != "Ignore":
            kind = body.get("kind") if isinstance(body, dict) else None
            self.warnings += fieldcheck.check_body(
                await self.http.read(),
                ctype,
                body,
                self.field_validation,
                kind or self.served.kind,
                self.served.version,
                patch,
            )
        return body, ctype

    @cached_property
    def output(self) -> negotiate.Choice:
        """The negotiated answer format (ApiError 406 when the Accept header allows none):
        read right after authorization, before anything is changed, as the API server does."""
        return negotiate.choose(self.http, self.formats())

    def formats(self) -> negotiate.Allows:
        """What this endpoint serves: protobuf only for kinds the schema knows (not custom
        resources; a custom resource's scale is an autoscaling/v1 Scale, which it knows)."""
        known = kubeproto.message_for(self.served.group_version, self.served.kind) is not None
        return negotiate.for_resource(known or self.sub == "scale")

    def check_accept(self) -> None:
        self.output  # noqa: B018 - evaluated for its 406

    def respond(self, body: Any, status: int = 200) -> web.Response:
        out = negotiate.response(self.output, body, status)
        for warning in self.warnings:
            out.headers.add("Warning", warning_header(warning))
        return out


def warning_header(text: str) -> str:
    """A ``Warning`` header value (RFC 7234 warn-code 299, agent ``-``, quoted text)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'


async def read_body(http: web.Request, patch: bool = False) -> tuple[Any, str]:
    ctype = (http.headers.get("Content-Type") or "application/json").split(";")[0].strip()
    raw = await http.read()
    if patch:
        if ctype not in _PATCH_TYPES:
            raise _unsupported_patch(ctype)
    elif ctype == kubeproto.CONTENT_TYPE:
        return _protobuf_body(raw), ctype
    elif ctype not in ("application/json", "application/yaml", "text/yaml", ""):
        raise ApiError(
            415,
            f'Unsupported Media Type "{ctype}": the body of the request was in '
            f"an unknown format - accepted media types include: {_BODY_TYPES}",
            reason="UnsupportedMediaType",
        )
    if ctype == "application/apply-patch+cbor":
        raise ApiError(
            415,
            "CBOR apply patches are not supported by this server",
            reason="UnsupportedMediaType",
        )
    try:
        if "yaml" in ctype:
            return yaml.safe_load(raw.decode() or "null"), ctype
        return json.loads(raw or b"null"), ctype
    except (ValueError, yaml.YAMLError) as exc:
        raise ApiError(
            400, f"error decoding body: couldn't get version/kind; json parse error: {exc}"
        ) from exc


def _protobuf_body(raw: bytes) -> dict[str, Any]:
    try:
        return kubeproto.decode(raw)
    except kubeproto.UnknownKindError as exc:  # a custom resource: no protobuf, as a real server
        raise ApiError(
            415,
            f'Unsupported Media Type "{kubeproto.CONTENT_TYPE}": the body of the request '
            "was in an unknown format - accepted media types include: "
            "application/json, application/yaml",
            reason="UnsupportedMediaType",
        ) from exc
    except kubeproto.ProtobufError as exc:
        raise ApiError(400, f"error decoding body: protobuf: {exc}") from exc


class ClusterApi:
    """Routes requests of one cluster (``prefix`` is its URL path prefix, may be empty)."""

    def __init__(self, cluster: Cluster, prefix: str):
        self.cluster = cluster
        self.prefix = prefix

    async def handle(self, http: web.Request, path: str) -> web.StreamResponse:
        try:
            return await self._handle(http, path)
        except ApiError as err:
            return error_response(err, http)

    def _user(self, http: web.Request) -> User | None:
        auth = http.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return None
        return self.cluster.authenticate(auth[len("Bearer ") :].strip())

    async def _handle(self, http: web.Request, path: str) -> web.StreamResponse:
        path = "/" + path.strip("/") if path.strip("/") else "/"
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok", content_type="text/plain")
        user = self._user(http)
        if user is None:
            return error_response(ApiError(401, "Unauthorized"), http)
        parts = [unquote(p) for p in path.strip("/").split("/") if p]
        if not parts:
            return json_response(
                {"paths": ["/api", "/api/v1", "/apis", "/healthz", "/openapi/v3", "/version"]}
            )
        head = parts[0]
        if head == "version" and len(parts) == 1:
            return json_response(discovery.VERSION_INFO)
        if head == "openapi":
            return self._openapi(parts)
        if head == "metrics":
            return exposition.handle(self.cluster, parts)
        if head == "api":
            if len(parts) == 1:
                host = http.host or "127.0.0.1"
                return self._root_discovery(http, discovery.api_versions(host), legacy=True)
            group, version, rest = "", parts[1], parts[2:]
        elif head == "apis":
            if len(parts) == 1:
                return self._root_discovery(
                    http, discovery.api_group_list(self.cluster), legacy=False
                )
            if len(parts) == 2:
                doc = discovery.api_group(self.cluster, parts[1])
                if doc is None:
                    raise path_not_found()
                return self._discovery(http, doc)
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise path_not_found()
        if not rest:
            doc = discovery.resource_list(self.cluster, group, version)
            if doc is None:
                raise path_not_found()
            return self._discovery(http, doc)
        return await self._resource(http, user, group, version, rest)

    def _discovery(self, http: web.Request, doc: dict[str, Any]) -> web.Response:
        return negotiate.response(negotiate.choose(http, negotiate.DISCOVERY, sv=False), doc)

    def _root_discovery(self, http: web.Request, doc: dict[str, Any], legacy: bool) -> web.Response:
        """``/api`` and ``/apis``: the legacy document, or the aggregated
        ``apidiscovery.k8s.io/v2`` one when the Accept header prefers it."""
        choice = negotiate.choose(http, discovery.aggregated_allows, sv=False)
        if choice.convert is None:
            return negotiate.response(choice, doc)
        out = negotiate.response(choice, discovery.aggregated(self.cluster, legacy))
        out.headers["Content-Type"] = discovery.aggregated_type(choice.media)
        out.headers["Vary"] = "Accept"
        return out

    def _openapi(self, parts: list[str]) -> web.Response:
        if parts[1:] == ["v3"]:
            return json_response(discovery.openapi_v3_index(self.cluster, self.prefix))
        if len(parts) >= 4 and parts[1] == "v3":
            gv = "/".join(parts[3:]) if parts[2] == "apis" else "v1"
            found = self.cluster.openapi_document(gv)
            if found is None:
                raise path_not_found()
            out = json_response(found[0])
            out.headers["Cache-Control"] = "public, immutable"
            out.headers["Etag"] = f'"{found[1]}"'
            return out
        raise path_not_found()

    async def _resource(
        self, http: web.Request, user: User, group: str, version: str, rest: list[str]
    ) -> web.StreamResponse:
        watching = False
        if rest[0] == "watch":
            watching, rest = True, rest[1:]
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            raise path_not_found()
        plural, name = rest[0], rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        rt = self.cluster.registry.get(group, version, plural)
        if rt is None or (namespace is not None and not rt.namespaced):
            raise path_not_found()
        if sub is not None and sub not in rt.subresources:
            raise path_not_found()
        req = Request(
            http, self.cluster, user, self.cluster.registry.storage_of(rt), namespace, name, sub
        )
        req.served = rt
        if rt.key == ("", "endpoints"):
            req.warnings.append(discovery.ENDPOINTS_DEPRECATED)
        if group == "metrics.k8s.io":
            return metrics.handle(req)
        if rt.verbs == ("create",) and group in ("authorization.k8s.io", "authentication.k8s.io"):
            return await reviews.handle(req)
        method = http.method
        if sub in ("exec", "attach"):
            self.cluster.authorize(
                user, "create" if method == "POST" else "get", rt, namespace, name or "", sub
            )
            return await execws.handle(req)
        if sub == "portforward":
            self.cluster.authorize(
                user, "create" if method == "POST" else "get", rt, namespace, name or "", sub
            )
            return await portforward.handle(req)
        if sub == "token":
            self.cluster.authorize(user, "create", rt, namespace, name or "", sub)
            return await tokens.handle(req)
        if sub == "log":
            self.cluster.authorize(user, "get", rt, namespace, name or "", sub)
            req.check_accept()  # the log is text, but Accept is negotiated (text/plain: 406)
            return await podlogs.handle(req)
        if watching or (name is None and method == "GET" and req.flag("watch")):
            self.cluster.authorize(user, "watch", rt, namespace, name or "")
            if name is not None:
                req.name = None
                return await watch.serve(req, pinned_name=name)
            return await watch.serve(req)
        if name is None:
            return await self._collection(req, method)
        return await self._item(req, method)

    async def _collection(self, req: Request, method: str) -> web.StreamResponse:
        rt, cluster = req.rt, req.cluster
        if rt.namespaced and req.namespace is None and method not in ("GET",):
            raise method_not_allowed()
        if method == "GET":
            cluster.authorize(req.user, "list", req.served, req.namespace, "")
            req.check_accept()  # 406 before any work, as the API server
            return self._list(req)
        if method == "POST":
            cluster.authorize(req.user, "create", req.served, req.namespace, "")
            req.check_accept()  # 406 before anything is created
            body, _ = await req.body()
            body = convert.admit_create(req.served, rt, body)
            obj = cluster.create(
                rt,
                req.namespace,
                body,
                dry_run=req.dry_run,
                manager=req.manager,
                validation=req.field_validation,
                warnings=req.warnings,
            )
            return req.respond(self._versioned(req.served, obj), 201)
        if method == "DELETE":
            cluster.authorize(req.user, "deletecollection", req.served, req.namespace, "")
            req.check_accept()  # 406 before anything is deleted
            options = await self._delete_options(req)
            labels = parse_label_selector(req.query.get("labelSelector"))
            fields = parse_field_selector(
                convert.field_selector(req.served, req.query.get("fieldSelector")), rt.plural
            )
            return req.respond(
                cluster.delete_collection(
                    rt,
                    req.namespace,
                    labels,
                    fields,
                    propagation=options.get("propagationPolicy"),
                    dry_run=req.dry_run,
                    grace=options.get("gracePeriodSeconds"),
                )
            )
        raise method_not_allowed()

    async def _item(self, req: Request, method: str) -> web.StreamResponse:
        rt, cluster, name = req.rt, req.cluster, req.name or ""
        verb = {
            "GET": "get",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete",
            "POST": "create",
        }.get(method)
        if verb is None:
            raise method_not_allowed()
        cluster.authorize(req.user, verb, req.served, req.namespace, name, req.sub)
        req.check_accept()  # 406 before anything is changed
        if req.sub == "eviction" and method == "POST":
            body, _ = await read_body(req.http)
            return req.respond(
                cluster.evict(req.namespace or "", name, body, dry_run=req.dry_run), 201
            )
        if req.sub == "binding" and method == "POST":
            body, _ = await read_body(req.http)
            return req.respond(cluster.bind(req.namespace or "", name, body), 201)
        if method == "GET":
            entry = cluster.get_entry(rt, req.namespace, name)
            if req.sub == "scale":
                return req.respond(cluster.scale_view(rt, entry.obj))
            view = negotiate.converted(
                req.output,
                rt,
                [entry.obj],
                {"resourceVersion": entry.meta["resourceVersion"]},
                req.query.get("includeObject", "Metadata"),
                is_list=False,
                served=req.served,
            )
            if view is not None:
                return req.respond(view)
            return req.respond(self._raw(req.served, entry))
        if method == "PUT":
            body, _ = await req.body()
            if req.sub == "scale":
                entry = cluster.get_entry(rt, req.namespace, name)
                return req.respond(
                    cluster.write_scale(rt, entry, body, dry_run=req.dry_run, manager=req.manager)
                )
            if req.sub not in (None, "status", "finalize"):
                raise method_not_allowed()
            obj = cluster.update(
                rt,
                req.namespace,
                name,
                convert.to_storage(req.served, rt, body),
                subresource="status" if req.sub == "status" else None,
                dry_run=req.dry_run,
                manager=req.manager,
                validation=req.field_validation,
                warnings=req.warnings,
            )
            return req.respond(self._versioned(req.served, obj))
        if method == "PATCH":
            body, ctype = await req.body(patch=True)
            force = req.flag("force")
            if force and ctype != APPLY_PATCH:
                raise ApiError(400, "force may only be specified with apply patches")
            obj, created = (cluster.patch if req.served is rt else convert.patch_view(req))(
                rt,
                req.namespace,
                name,
                ctype,
                body,
                subresource=req.sub,
                dry_run=req.dry_run,
                manager=req.query.get("fieldManager") if ctype == APPLY_PATCH else req.manager,
                force=force,
                validation=req.field_validation,
                warnings=req.warnings,
            )
            return req.respond(self._versioned(req.served, obj), 201 if created else 200)
        if method == "DELETE":
            if req.sub is not None:
                raise method_not_allowed()
            options = await self._delete_options(req)
            body = cluster.delete(
                rt,
                req.namespace,
                name,
                propagation=options.get("propagationPolicy"),
                preconditions=options.get("preconditions"),
                dry_run=req.dry_run or bool(options.get("dryRun")),
                grace=options.get("gracePeriodSeconds"),
            )
            if body.get("kind") != "Status":
                body = self._versioned(req.served, body)
            return req.respond(body)
        raise method_not_allowed()

    async def _delete_options(self, req: Request) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if req.http.can_read_body:
            body, _ = await read_body(req.http)
            if isinstance(body, dict):
                options.update(body)
        if req.query.get("propagationPolicy"):
            options["propagationPolicy"] = req.query["propagationPolicy"]
        if "gracePeriodSeconds" in req.query:
            options["gracePeriodSeconds"] = req.query["gracePeriodSeconds"]
        grace = options.get("gracePeriodSeconds")
        if grace is not None:
            try:
                if isinstance(grace, bool) or isinstance(grace, float) and not grace.is_integer():
                    raise ValueError(grace)
                options["gracePeriodSeconds"] = int(grace)
            except (TypeError, ValueError) as exc:
                raise ApiError(
                    400,
                    f"gracePeriodSeconds: invalid value {json.dumps(grace)}: must be an "
                    "integer number of seconds",
                ) from exc
        if options.get("orphanDependents") is True or req.query.get("orphanDependents") == "true":
            options.setdefault("propagationPolicy", "Orphan")
        policy = options.get("propagationPolicy")
        if policy not in (None, "Orphan", "Background", "Foreground"):
            raise ApiError(
                422,
                f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: '
                f'Unsupported value: "{policy}": supported values: "Foreground",'
                f' "Background", "Orphan", "nil"',
                reason="Invalid",
            )
        return options

    def _versioned(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        return convert.to_served(rt, obj)

    def _raw(self, rt: ResourceType, entry: Any) -> bytes | dict[str, Any]:
        if entry.obj.get("apiVersion") == rt.group_version:
            return entry.raw
        return self._versioned(rt, entry.obj)

    def _list(self, req: Request) -> web.Response:
        rt, cluster = req.rt, req.cluster
        labels = parse_label_selector(req.query.get("labelSelector"))
        fields = parse_field_selector(
            convert.field_selector(req.served, req.query.get("fieldSelector")), rt.plural
        )
        try:
            limit = int(req.query.get("limit") or 0)
        except ValueError as exc:
            raise ApiError(400, f"invalid limit: {req.query.get('limit')}") from exc
        cont = req.query.get("continue")
        at = _list_resource_version(req, cont)
        entries, cont, remaining, rv = cluster.list_entries(
            rt, req.namespace, labels, fields, limit, cont, at
        )
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if cont:
            meta["continue"] = cont
        if remaining is not None and cont:
            meta["remainingItemCount"] = remaining
        view = negotiate.converted(
            req.output,
            rt,
            [e.obj for e in entries],
            meta,
            req.query.get("includeObject", "Metadata"),
            is_list=True,
            served=req.served,
        )
        if view is not None:
            return req.respond(view)
        served = req.served
        head = json.dumps(
            {"kind": served.list_kind, "apiVersion": served.group_version, "metadata": meta},
            separators=(",", ":"),
        )
        if all(e.obj.get("apiVersion") == served.group_version for e in entries):
            items = b",".join(e.raw for e in entries)
        else:
            items = b",".join(json.dumps(self._versioned(served, e.obj)).encode() for e in entries)
        return req.respond(head[:-1].encode() + b',"items":[' + items + b"]}")


def _list_resource_version(req: Request, cont: str | None) -> int | None:
    """The resourceVersion a list is read at (None: the newest), as the API server reads
    ``resourceVersion`` and ``resourceVersionMatch``: ``Exact`` reads that version (410 once
    it is compacted), ``NotOlderThan`` the newest, provided it is not older; unset keeps the
    legacy meaning (the newest). A version the server has not reached yet is 504."""
    text = req.query.get("resourceVersion") or ""
    match = req.query.get("resourceVersionMatch") or ""
    if match and not text:
        raise ApiError(400, "resourceVersionMatch is forbidden unless resourceVersion is provided")
    if match not in ("", "Exact", "NotOlderThan"):
        raise ApiError(
            400,
            f'resourceVersionMatch: Unsupported value: "{match}": supported values: '
            '"Exact", "NotOlderThan", ""',
        )
    if cont and text not in ("", "0"):
        raise ApiError(400, "specifying resource version is not allowed when using continue")
    if text in ("", "0"):
        if match == "Exact":
            raise ApiError(
                400, f'resourceVersionMatch "exact" is forbidden for resourceVersion "{text}"'
            )
        return None
    try:
        rv = int(text)
    except ValueError as exc:
        raise ApiError(400, f"invalid resource version: {text}") from exc
    current = req.cluster.store.rv
    if match and rv > current:
        raise ApiError(
            504,
            f"Too large resource version: {rv}, current: {current}",
            reason="Timeout",
            details={
                "causes": [
                    {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
                ],
                "retryAfterSeconds": 1,
            },
        )
    return rv if match == "Exact" else None
