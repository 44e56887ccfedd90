"""The ASGI application behind ``/k8s/clusters/<cluster-name>/…``.

HTTP: authenticate the bearer API key, authorize (see :mod:`.access`), forward with the
cluster's credential and relay the answer chunk by chunk (watches and ``logs -f`` stream).
Websocket: ``pods/<p>/exec``, ``attach`` and ``portforward`` are relayed frame by frame in both
directions, accepting the subprotocol the cluster chose. Every request is audited once;
exec/attach/port-forward sessions are audited when they open and when they close.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import aiohttp
from django.conf import settings
from django.db import DatabaseError
from django.http.request import split_domain_port, validate_host
from django.utils import timezone
from yarl import URL

from apps.audit.writer import AuditWriter
from apps.clusters import k8s, rbacguard
from apps.clusters.masking import holds_mask, json_patch_reading_secret
from apps.core import bodies
from apps.core.middleware import client_ip_from

from . import access as access_mod
from . import db as proxy_db
from . import fanout, reviews
from .canonical import PREFIX, CanonicalRequest, canonicalize
from .masking import prepare_headers as prepare_masked_request
from .masking import relay_masked, relay_masked_stream
from .status import Denial, status_body
from .upstream import Upstreams, connection_error, request_headers, response_headers

logger = logging.getLogger("tkeportal.proxy")

# Kubernetes itself refuses bodies over 3 MiB; the proxy buffers up to this much.
MAX_REQUEST_BODY = 8 * 1024 * 1024
# Largest websocket message relayed from a cluster (exec output arrives in small frames).
MAX_WS_MESSAGE = 4 * 1024 * 1024
# Bodies checked for masked Secret values written back (a Secret is at most 1 MiB).
MAX_MASK_CHECK = 4 * 1024 * 1024
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def connect_timeout() -> float:
    return float(getattr(settings, "PORTAL_PROXY_CONNECT_TIMEOUT", k8s.CONNECT_TIMEOUT_S))


def read_timeout() -> float:
    """Seconds the cluster may take to start answering (and between chunks of a plain
    answer); watches and ``logs -f`` have no read timeout once they started."""
    return float(getattr(settings, "PORTAL_PROXY_READ_TIMEOUT", k8s.READ_TIMEOUT_S))


def _client_ip(scope, headers: dict[str, str]) -> str | None:
    """The one rule of ``apps.core.middleware.client_ip_from``, from the ASGI scope."""
    client = scope.get("client")
    return client_ip_from(client[0] if client else None, headers.get("x-forwarded-for", ""))


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")


def _request_id(headers: dict[str, str]) -> str:
    """The client's ``X-Request-ID`` when it is a sane token (so a caller can follow its
    request through the portal's audit trail and the cluster's logs), else a fresh one."""
    given = headers.get("x-request-id", "")
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex


@dataclass
class Incoming:
    """One request to the proxy, parsed once (:mod:`.canonical`): ``canonical`` is what is
    judged and forwarded; ``error`` says why there is no single reading of it."""

    scope: dict
    method: str
    headers: dict[str, str]  # last value wins; the raw list stays in scope["headers"]
    client_ip: str | None
    request_id: str
    raw_target: str  # as sent, for the audit trail of refused requests
    received_at: datetime
    canonical: CanonicalRequest | None
    error: Denial | None

    @classmethod
    def from_scope(cls, scope) -> Incoming:
        headers = {n.decode("latin-1").lower(): v.decode("latin-1") for n, v in scope["headers"]}
        raw = scope.get("raw_path")
        # Without raw_path (not every server sends it) the decoded path is all there is; it
        # is then parsed as if sent that way, so judged and forwarded still agree.
        raw_path = raw.decode("latin-1") if raw else scope["path"]
        raw_path = raw_path.split("?", 1)[0]
        query = scope.get("query_string", b"").decode("latin-1")
        canonical, error = None, None
        try:
            canonical = canonicalize(raw_path, query)
        except Denial as denial:
            error = denial
        error = error or _repeated_header(scope["headers"])
        return cls(
            scope=scope,
            method=scope.get("method", "GET").upper(),
            headers=headers,
            client_ip=_client_ip(scope, headers),
            request_id=_request_id(headers),
            raw_target=f"{raw_path}?{query}" if query else raw_path,
            received_at=timezone.now(),
            canonical=canonical,
            error=error,
        )

    @property
    def cluster_name(self) -> str:
        return self.canonical.cluster_name if self.canonical else ""

    @property
    def path(self) -> str:
        return self.canonical.path if self.canonical else self.raw_target

    @property
    def full_path(self) -> str:
        return self.canonical.full_path if self.canonical else self.raw_target

    def bearer(self) -> str:
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""

    def upstream_url(self, conn: k8s.Connection) -> URL:
        """The cluster URL built from the canonical parts, marked as already encoded so
        yarl neither re-encodes nor normalises it."""
        return URL(conn.server.rstrip("/") + self.canonical.target, encoded=True)


class KubeProxy:
    """ASGI app for ``/k8s/clusters/<name>/…`` (HTTP and websocket scopes)."""

    def __init__(self) -> None:
        self.upstreams = Upstreams()
        self.audit_writer = AuditWriter(spool_dir=settings.PORTAL_AUDIT_SPOOL_DIR)
        # Requests and sessions being handled (drain before shutdown).
        self.handling = 0

    @property
    def active(self) -> int:
        """Requests being handled plus audit rows not yet stored: 0 once everything the proxy
        received is answered and in the audit trail."""
        return self.handling + self.audit_writer.pending

    async def __call__(self, scope, receive, send) -> None:
        self.handling += 1
        try:
            if scope["type"] == "http":
                await self.http(scope, receive, send)
            elif scope["type"] == "websocket":
                await self.websocket(scope, receive, send)
            else:
                raise ValueError(f"KubeProxy does not handle {scope['type']!r} scopes")
        finally:
            self.handling -= 1

    async def close(self) -> None:
        await self.upstreams.close()
        await asyncio.get_running_loop().run_in_executor(None, self.audit_writer.close)
        await asyncio.get_running_loop().run_in_executor(None, proxy_db.close_all)

    # -- shared ------------------------------------------------------------------------------
    async def _authorize(self, req: Incoming) -> access_mod.Access:
        """Who is calling and may they — before anything else about the request is read.
        A request without a single reading is refused after the key is identified (so the
        refusal is attributed in the audit trail), never forwarded."""
        try:
            return await self._access(req)
        except DatabaseError:
            logger.exception("the portal's database failed while authorizing %s", req.path)
            return access_mod.Access(
                denial=Denial(503, "the portal cannot reach its database; try again shortly")
            )

    async def _access(self, req: Incoming) -> access_mod.Access:
        token = req.bearer()
        if not token:
            where = req.cluster_name or "<cluster>"
            return access_mod.Access(
                denial=Denial(
                    401,
                    "Unauthorized: use a portal API key as bearer token (download a kubeconfig "
                    f"from /api/v1/clusters/{where}/kubeconfig)",
                )
            )
        if req.error is not None:
            access = await proxy_db.run(access_mod.identify, token, req.client_ip)
            access.denial = access.denial or req.error
            return access
        canonical = req.canonical
        return await proxy_db.run(
            access_mod.resolve,
            token,
            req.client_ip,
            canonical.cluster_name,
            req.method,
            canonical.path,
            canonical.query_dict,
        )

    async def _audit(self, req: Incoming, access, started: float, status_code, **kw) -> None:
        """Queue the request's audit row (stored in order by :attr:`audit_writer`, off the
        request path; a body to redact is read on a database thread, not on the loop)."""
        fields = dict(
            method=req.method,
            path=req.full_path,
            status_code=status_code,
            duration_ms=int((time.monotonic() - started) * 1000),
            source_ip=req.client_ip,
            user_agent=req.headers.get("user-agent", ""),
            request_id=req.request_id,
            created_at=req.received_at,
            **kw,
        )
        if kw.get("body"):
            row = await proxy_db.run(access_mod.audit_row, access, **fields)
        else:
            row = access_mod.audit_row(access, **fields)
        await self.audit_writer.submit(row)

    # -- HTTP --------------------------------------------------------------------------------
    async def http(self, scope, receive, send) -> None:
        started = time.monotonic()
        req = Incoming.from_scope(scope)
        content_type = req.headers.get("content-type", "")
        access = await self._authorize(req)
        denial = access.denial
        if denial is None and "upgrade" in req.headers:
            denial = _bare_upgrade_denial(access.target)
        body = b""
        if denial is None:
            # Read only for an authenticated, authorized caller: an anonymous one cannot make
            # the portal buffer megabytes.
            body, complete = await _read_body(receive)
            read = bodies.Body(body, content_type)  # read at most once, by all below
            if complete and reviews.answers(access.target, req.method):
                await self._answer_review(req, access, read, content_type, send, started)
                return
            if not complete:
                body, denial = (
                    b"",
                    Denial(413, f"request body larger than {MAX_REQUEST_BODY} bytes"),
                )
            elif _names_in_body(access.target):
                denial = await proxy_db.run(access_mod.judge_create, access, read, content_type)
            if denial is None and rbacguard.guards(access.target, req.method):
                denial = await proxy_db.run(
                    rbacguard.judge_proxied, access, req.canonical, req.method, read
                )
            if denial is None and access.target.kind == "Secret":
                denial = _secret_write_denial(req.method, read, access.mask_secrets)
            if denial is None and _privileged_kind_written(access.target, req.method, body):
                denial = await proxy_db.run(access_mod.judge_privileged_write, access, read)
        audited_body = read if req.method in WRITE_METHODS and body else b""
        if denial is not None:
            await _send_status(send, denial.code, denial.body, req.request_id)
            await self._audit(
                req, access, started, denial.code, body=audited_body,
                content_type=content_type, message=denial.message,
            )  # fmt: skip
            return
        if access.spread is not None:
            status_code, message = await self._spread(req, access, send, receive)
        else:
            status_code, message = await self._forward(req, access, body, send, receive)
        await self._audit(
            req, access, started, status_code, body=audited_body,
            content_type=content_type, message=message,
        )  # fmt: skip

    async def _answer_review(self, req, access, body, content_type, send, started) -> None:
        """whoami / can-i: the portal's own answer for the signed-in user (reviews.py)."""
        answer = await proxy_db.run(
            reviews.respond, access, body, content_type, req.headers.get("accept", "")
        )
        headers = [
            (b"content-type", answer.content_type.encode()),
            (b"content-length", str(len(answer.body)).encode()),
            (b"x-request-id", req.request_id.encode()),
        ]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body, "more_body": False})
        await self._audit(
            req, access, started, answer.status, body=body,
            content_type=content_type, message=answer.message,
        )  # fmt: skip

    async def _forward(self, req: Incoming, access, body: bytes, send, receive):
        """Forward and relay; returns (status sent, audit message)."""
        conn, target = access.conn, access.target
        read_s, connect_s = read_timeout(), connect_timeout()
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=connect_s,
            sock_read=None if target.streaming else read_s,
        )
        session = self.upstreams.session()
        headers = _with_request_id(request_headers(req.scope["headers"], conn), req)
        rewrite = req.method == "GET" and req.path.rstrip("/") == "/openapi/v3"
        if rewrite:
            headers.popall("accept-encoding", None)  # the index is rewritten: plain JSON
        masking = access.mask_secrets and req.method != "HEAD"  # HEAD has no body to mask
        if masking:
            prepare_masked_request(headers)
        try:
            response = await asyncio.wait_for(
                session.request(
                    req.method,
                    req.upstream_url(conn),
                    headers=headers,
                    data=body or None,
                    ssl=self.upstreams.ssl_for(conn),
                    allow_redirects=False,
                    timeout=timeout,
                    skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
                ),
                timeout=connect_s + read_s,
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = connection_error(conn, exc, read_s)
            await _send_status(send, error.status_code, _error_body(error), req.request_id)
            return error.status_code, str(error.detail)
        try:
            if response.status == 401 or 300 <= response.status < 400:
                error = k8s.error_for_status(conn.name, response.status, b"")
                await _send_status(send, error.status_code, _error_body(error), req.request_id)
                return error.status_code, str(error.detail)
            headers = [h for h in response_headers(response.headers) if h[0] != b"x-request-id"]
            headers.append((b"x-request-id", req.request_id.encode()))
            if rewrite and response.status == 200:
                message = await _send_openapi_index(req, conn, response, headers, send)
                return response.status, message
            if masking:
                return await _relay_masked(response, headers, send, receive, target.streaming)
            await send(
                {"type": "http.response.start", "status": response.status, "headers": headers}
            )
            if target.streaming:
                message = await _relay_stream(_relay(response, send), receive)
            else:
                message = await _relay(response, send)
            return response.status, message
        finally:
            response.close()

    async def _spread(self, req: Incoming, access, send, receive):
        """A list or watch across the namespaces the user may reach (:mod:`.fanout`): one
        client request, one audit row, several upstream requests."""
        conn = access.conn
        up = fanout.Upstream(
            session=self.upstreams.session(),
            conn=conn,
            ssl=self.upstreams.ssl_for(conn),
            headers=_with_request_id(request_headers(req.scope["headers"], conn), req),
            connect_s=connect_timeout(),
            read_s=read_timeout(),
        )
        return await fanout.serve(
            up, req.canonical, access.target, access.spread, req.request_id, send, receive
        )

    # -- websocket ---------------------------------------------------------------------------
    async def websocket(self, scope, receive, send) -> None:
        started = time.monotonic()
        req = Incoming.from_scope(scope)
        first = await receive()
        if first["type"] != "websocket.connect":
            return
        access = await self._authorize(req)
        denial = access.denial or _origin_denial(req)
        if denial is None and access.target.session is None:
            denial = Denial(
                400, "only pods/exec, pods/attach and pods/portforward are relayed over WebSocket"
            )
        if denial is not None:
            await _deny_websocket(scope, send, denial, req.request_id)
            await self._audit(req, access, started, denial.code, message=denial.message)
            return
        conn = access.conn
        read_s, connect_s = read_timeout(), connect_timeout()
        session = self.upstreams.session()
        try:
            upstream = await asyncio.wait_for(
                session.ws_connect(
                    req.upstream_url(conn),
                    protocols=scope.get("subprotocols") or (),
                    headers=_with_request_id(request_headers(scope["headers"], conn), req),
                    ssl=self.upstreams.ssl_for(conn),
                    autoping=True,
                    autoclose=False,
                    max_msg_size=MAX_WS_MESSAGE,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0),
                ),
                timeout=connect_s + read_s,
            )
        except aiohttp.WSServerHandshakeError as exc:
            denial = Denial(
                exc.status if 400 <= exc.status < 600 else 502,
                f"cluster {conn.name} refused the {access.target.session} session "
                f"({exc.status} {exc.message})",
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = connection_error(conn, exc, read_s)
            denial = Denial(error.status_code, str(error.detail))
        if denial is not None:
            await _deny_websocket(scope, send, denial, req.request_id)
            await self._audit(req, access, started, denial.code, message=denial.message)
            return
        try:
            await send(
                {
                    "type": "websocket.accept",
                    "subprotocol": upstream.protocol,
                    "headers": [(b"x-request-id", req.request_id.encode())],
                }
            )
            await self._audit(
                req, access, started, 101,
                message=f"{access.target.session} session opened ({upstream.protocol or '-'})",
            )  # fmt: skip
            summary = await _relay_frames(
                upstream, receive, send, exits=access.target.session != "portforward"
            )
        finally:
            await upstream.close()
        seconds = time.monotonic() - started
        await self._audit(
            req, access, started, 101,
            message=f"{access.target.session} session closed after {seconds:.1f}s: {summary}",
        )  # fmt: skip


# -- helpers -----------------------------------------------------------------------------------
# Headers read as one value, by the portal (last value wins in ``Incoming.headers``) and by the
# API server (Go's Header.Get: the first): sent twice, each would read another request.
SINGLE_VALUED = ("content-type", "accept", "authorization", "content-encoding", "upgrade", "origin")


def _repeated_header(raw_headers) -> Denial | None:
    seen: set[str] = set()
    for name, _ in raw_headers:
        lowered = name.decode("latin-1").lower()
        if lowered in SINGLE_VALUED and lowered in seen:
            return Denial(
                400, f"the {lowered} header is sent more than once: send it once, with one value"
            )
        seen.add(lowered)
    return None


def _with_request_id(headers, req: Incoming):
    """The cluster's audit log and the portal's share one id per request."""
    headers["X-Request-ID"] = req.request_id
    return headers


def _error_body(error: k8s.ClusterError) -> bytes:
    return status_body(error.status_code, str(error.detail))


async def _send_status(send, code: int, body: bytes, request_id: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _read_body(receive) -> tuple[bytes, bool]:
    """The request body, up to MAX_REQUEST_BODY; (body, complete)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), True
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_REQUEST_BODY:
            return b"", False
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True


async def _relay(response: aiohttp.ClientResponse, send) -> str:
    try:
        async for chunk in response.content.iter_any():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except (aiohttp.ClientError, TimeoutError) as exc:
        # aiohttp raises as soon as it sees the cut, even when the events received just
        # before it are still buffered: deliver those (a watch must not lose them) — its
        # reader keeps them in ``_buffer``, which has no public accessor.
        for chunk in list(getattr(response.content, "_buffer", ())):
            await send({"type": "http.response.body", "body": bytes(chunk), "more_body": True})
        # Headers are gone already: end without the final chunk so the client sees the cut.
        return f"answer cut by the cluster ({type(exc).__name__})"
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    return ""


async def _relay_stream(relay, receive) -> str:
    """Run ``relay`` (a watch or ``logs -f``) until either side ends; stop the other then."""

    async def client_gone() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    relaying = asyncio.ensure_future(relay)
    gone = asyncio.ensure_future(client_gone())
    try:
        done, _ = await asyncio.wait({relaying, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (relaying, gone):
            task.cancel()
    if relaying in done:
        return relaying.result()
    return "stream closed by the client"


async def _relay_masked(response, headers, send, receive, streaming: bool) -> tuple[int, str]:
    if not streaming:
        return await relay_masked(response, headers, send)
    message = await _relay_stream(relay_masked_stream(response, headers, send), receive)
    return response.status, message


def _privileged_kind_written(target, method: str, body: bytes) -> bool:
    """A write of a kind some of whose bodies carry a privilege-bearing power
    (:mod:`apps.clusters.privileged`)."""
    return bool(body) and method in ("POST", "PUT", "PATCH") and target.kind in PRIVILEGED_KINDS


PRIVILEGED_KINDS = frozenset({"Secret", "Service"})


def _names_in_body(target) -> bool:
    """A create on a collection: the object's name is in the body, not the URL."""
    return target.verb == "create" and target.name is None and target.resource.endswith("*")


def _secret_write_denial(method: str, body: bodies.Body, masked: bool = False) -> Denial | None:
    """A Secret written with the portal's mask in it, or with a body the portal cannot read
    (and so cannot check: refused, never relayed on the guess that the cluster refuses it);
    for one who may not reveal (``masked``), a JSON patch that reads the values."""
    if method not in ("POST", "PUT", "PATCH") or not body:
        return None
    if len(body) > MAX_MASK_CHECK:
        return Denial(413, f"a Secret body larger than {MAX_MASK_CHECK} bytes is not relayed")
    try:
        doc = body.read()
    except bodies.TooLarge as exc:
        return Denial(413, f"the request body is too large: {exc}")
    except bodies.Unreadable as exc:
        return Denial(
            422,
            "the portal could not read this Secret's body, so cannot check it for the portal's "
            f"mask (******): {exc}",
        )
    reading = masked and method == "PATCH" and json_patch_reading_secret(doc)
    if reading:
        return Denial(403, f"Forbidden: {reading}")
    if holds_mask(doc):
        return Denial(
            422,
            "the Secret holds the portal's mask (******) instead of values: it was read "
            "without revealSecret and would overwrite the real values",
        )
    return None


async def _send_openapi_index(req: Incoming, conn, response, headers, send) -> str:
    """Relay ``/openapi/v3`` with each ``serverRelativeURL`` moved under the proxy's prefix.

    kubectl fetches those URLs as they are (client-go ``RequestURI``, which does not add the
    server URL's path), so an index pointing at ``/openapi/v3/…`` would send it outside
    ``/k8s/clusters/<name>``: rewrite them (minus the cluster's own base path, if any).
    """
    raw = await response.read()
    try:
        index = json.loads(raw)
    except ValueError:
        index = None
    if isinstance(index, dict) and isinstance(index.get("paths"), dict):
        base = urlsplit(conn.server).path.rstrip("/")
        mine = f"{PREFIX}{req.cluster_name}"
        for entry in index["paths"].values():
            url = entry.get("serverRelativeURL") if isinstance(entry, dict) else None
            if isinstance(url, str) and url.startswith("/"):
                if base and url.startswith(base + "/"):
                    url = url[len(base) :]
                entry["serverRelativeURL"] = mine + url
        raw = json.dumps(index).encode()
    headers = [(n, v) for n, v in headers if n not in (b"content-length", b"content-encoding")]
    headers.append((b"content-length", str(len(raw)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": raw, "more_body": False})
    return ""


def _bare_upgrade_denial(target) -> Denial:
    """An upgrade that is not a WebSocket: SPDY/3.1, which kubectl sends only when it is older
    than 1.30 (exec, attach, cp) or 1.31 (port-forward), or told not to use WebSockets."""
    if target.session == "portforward":
        how = "kubectl 1.31 or newer, without KUBECTL_PORT_FORWARD_WEBSOCKETS=false"
    else:
        how = "kubectl 1.30 or newer, without KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false"
    what = target.session or "this request"
    return Denial(
        400,
        f"the portal's kubectl proxy relays {what} over WebSocket only, not SPDY (use {how})",
    )


def _origin_denial(req: Incoming) -> Denial | None:
    """Browsers send Origin: accept only the portal's own hosts. kubectl sends none."""
    origin = req.headers.get("origin")
    if not origin:
        return None
    host = origin.split("://", 1)[-1].split("/", 1)[0]
    domain, _port = split_domain_port(host)
    if domain and validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    return Denial(403, f"origin {origin} is not allowed")


async def _deny_websocket(scope, send, denial: Denial, request_id: str) -> None:
    """Refuse the upgrade with a Status body when the server supports it (kubectl prints
    the message), else close the handshake."""
    if "websocket.http.response" in (scope.get("extensions") or {}):
        body = denial.body
        await send(
            {
                "type": "websocket.http.response.start",
                "status": denial.code,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", request_id.encode()),
                ],
            }
        )
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008})


async def _relay_frames(
    upstream: aiohttp.ClientWebSocketResponse, receive, send, exits: bool = True
) -> str:
    """Frames both ways until one side closes. Buffers are bounded: aiohttp's reader pauses
    the cluster socket when unread, the server's queue bounds the client side, and each
    direction awaits the other's send (backpressure). Returns a summary for the audit row
    (with the exit status of exec/attach; ``exits=False`` for port-forward, whose channel 3
    is a port's error channel or SPDY bytes, not an exit status)."""
    last_status: list[bytes] = []
    close_code: list[int] = []

    async def to_cluster() -> str:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return "closed by the client"
            if message.get("bytes") is not None:
                await upstream.send_bytes(message["bytes"])
            elif message.get("text") is not None:
                await upstream.send_str(message["text"])

    async def to_client() -> str:
        while True:
            message = await upstream.receive()
            if message.type == aiohttp.WSMsgType.BINARY:
                data = message.data
                if exits and data[:1] == b"\x03":  # the error channel: the exit Status
                    last_status[:] = [data[1:4097]]
                await send({"type": "websocket.send", "bytes": data})
            elif message.type == aiohttp.WSMsgType.TEXT:
                await send({"type": "websocket.send", "text": message.data})
            elif message.type == aiohttp.WSMsgType.CLOSE:
                # autoclose is off: the cluster's own code counts, even when its socket is
                # gone before our close reply (aiohttp would then report 1006).
                close_code[:] = [message.data]
                break
            elif message.type != aiohttp.WSMsgType.PING:  # ERROR, CLOSING, CLOSED
                break
        code = close_code[0] if close_code else upstream.close_code
        await send({"type": "websocket.close", "code": _client_close_code(code)})
        return "closed by the cluster"

    tasks = [asyncio.ensure_future(to_cluster()), asyncio.ensure_future(to_client())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        summary = next(iter(done)).result()
    except (OSError, aiohttp.ClientError):  # one side vanished while we were sending to it
        summary = "connection lost"
    finally:
        for task in tasks:
            task.cancel()
    if last_status:
        summary += f"; {_exit_summary(last_status[0])}"
    return summary


def _client_close_code(code: int | None) -> int:
    """The cluster's close code, unless it is one that must not be sent on the wire
    (1005 no status, 1006 abnormal, 1015 TLS failure): then normal or internal error."""
    if code is None or code == 1005:
        return 1000
    if code in (1006, 1015) or not (1000 <= code <= 4999):
        return 1011
    return code


def _exit_summary(raw: bytes) -> str:
    try:
        status = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")[:200]
    if not isinstance(status, dict):
        return ""
    if status.get("status") == "Success":
        return "exit code 0"
    causes = (status.get("details") or {}).get("causes") or []
    code = next((c.get("message") for c in causes if c.get("reason") == "ExitCode"), None)
    return f"exit code {code}" if code else str(status.get("message", ""))[:200]
