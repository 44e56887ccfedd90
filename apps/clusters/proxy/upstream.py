"""The proxy's side of the cluster connection: aiohttp sessions, TLS contexts built from the
stored credential, header filtering in both directions and connection errors mapped to the
errors of :mod:`apps.clusters.k8s` (same classes, same sentences).

This is the asynchronous twin of ``KubeClient``: the proxy relays bytes (watch streams,
websocket frames) instead of decoding answers, which the blocking client cannot do.
Credentials never appear in messages or logs.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import ssl
import tempfile
import weakref
from collections import OrderedDict

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from multidict import CIMultiDict

from apps.clusters import addresses, k8s

# Hop-by-hop headers (RFC 9110 §7.6.1) and what the proxy sets itself.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
# Client headers that must never reach a cluster: credentials, identity, forwarding claims.
_DROPPED_REQUEST = frozenset(
    {"authorization", "cookie", "forwarded", "x-portal-tenant", "x-real-ip", "origin"}
)
_DROPPED_PREFIXES = ("proxy-", "impersonate-", "x-forwarded-", "x-remote-", "sec-websocket-")
# Set by the proxy itself: the client's own value is replaced, and a look-alike name dropped.
_SET_BY_PROXY = frozenset({"x-request-id"})
_DROPPED_RESPONSE = frozenset({"set-cookie", "www-authenticate", "proxy-authenticate"})
SSL_CACHE_SIZE = 256


def _canonical(name: str) -> str:
    """A header name as servers that map names to CGI-style variables read it (WSGI and
    Django's ``HTTP_X_REMOTE_USER``, Rack, PHP: ``_`` and ``-`` become one): a client must not
    pass ``Impersonate_User`` where ``Impersonate-User`` is stripped."""
    return name.lower().replace("_", "-")


def _connection_tokens(headers: list[tuple[str, str]]) -> set[str]:
    """Headers a client declared hop-by-hop in its ``Connection`` header."""
    out = set()
    for name, value in headers:
        if _canonical(name) == "connection":
            out.update(_canonical(token.strip()) for token in value.split(",") if token.strip())
    return out


def _dropped(name: str, declared: set[str]) -> bool:
    canonical = _canonical(name)
    return (
        canonical in HOP_BY_HOP
        or canonical in declared
        or canonical in _DROPPED_REQUEST
        or canonical.startswith(_DROPPED_PREFIXES)
        or (canonical != name and canonical in _SET_BY_PROXY)
    )


def request_headers(raw: list[tuple[bytes, bytes]], conn: k8s.Connection) -> CIMultiDict:
    """The client's headers minus hop-by-hop, credentials and impersonation (in any spelling
    that folds to one of those names), plus the cluster credential (and the credential's
    impersonation, when it has one)."""
    decoded = [(n.decode("latin-1").lower(), v.decode("latin-1")) for n, v in raw]
    declared = _connection_tokens(decoded)
    out: CIMultiDict = CIMultiDict()
    for name, value in decoded:
        if not _dropped(name, declared):
            out.add(name, value)
    if conn.token:
        out["Authorization"] = f"Bearer {conn.token}"
    if conn.impersonate_user:
        out["Impersonate-User"] = conn.impersonate_user
        for group in conn.impersonate_groups:
            out.add("Impersonate-Group", group)
    return out


def response_headers(headers) -> list[tuple[bytes, bytes]]:
    declared = {t.strip().lower() for t in headers.get("Connection", "").split(",") if t.strip()}
    out = []
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in _DROPPED_RESPONSE or lowered in declared:
            continue
        if lowered in HOP_BY_HOP and lowered != "content-length":
            continue
        out.append((lowered.encode("latin-1"), value.encode("latin-1")))
    return out


def fingerprint(conn: k8s.Connection) -> str:
    """A cache key for the TLS material of a connection (never shown anywhere)."""
    material = "\0".join(
        (conn.server, conn.ca_data, conn.client_cert, conn.client_key, str(conn.insecure))
    )
    return hashlib.sha256(material.encode()).hexdigest()


def _ssl_context(conn: k8s.Connection) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cadata=conn.ca_data or None)
    if conn.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if conn.client_cert and conn.client_key:
        # load_cert_chain() reads files only: a private temporary file, deleted at once.
        fd, path = tempfile.mkstemp(prefix="tkeportal-proxy-", suffix=".pem")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(conn.client_cert.rstrip() + "\n" + conn.client_key)
            ctx.load_cert_chain(path)
        finally:
            os.unlink(path)
    return ctx


def connection_error(conn: k8s.Connection, exc: BaseException, timeout: float) -> k8s.ClusterError:
    """The portal error for a failure to reach the cluster (before any answer)."""
    cause = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc
    if isinstance(cause, addresses.AddressRefused):
        return k8s.address_refused(conn.name, cause)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return k8s.ClusterUnreachable(
            f"Cluster {conn.name} is unreachable: cannot resolve {exc.host}."
        )
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return k8s.ClusterTLSError(
            f"Cluster {conn.name} at {conn.server}: TLS verification failed "
            "(the CA does not match the server's certificate)."
        )
    if isinstance(exc, TimeoutError):  # includes aiohttp's ServerTimeoutError
        return k8s.ClusterUnreachable(
            f"Cluster {conn.name} is unreachable: no answer from {conn.server} within {timeout:g}s."
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return k8s.ClusterUnreachable(
            f"Cluster {conn.name} is unreachable: connection refused to {conn.server}."
        )
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError):
        return k8s.ClusterUnreachable(
            f"Cluster {conn.name} is unreachable: {conn.server} dropped the connection."
        )
    return k8s.ClusterUnreachable(
        f"Cluster {conn.name} is unreachable at {conn.server} ({type(exc).__name__})."
    )


class CheckedResolver(AbstractResolver):
    """Name resolution through the client address policy: a refused answer fails the lookup
    (``AddressRefused``, an ``OSError`` that aiohttp turns into ``ClientConnectorDNSError``),
    so no socket is opened to it."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        # In a thread: getaddrinfo blocks (uvloop's own resolver would also bypass the
        # module-level lookup the policy uses).
        loop = asyncio.get_running_loop()
        infos = await loop.run_in_executor(None, addresses.resolve_checked, host, port)
        return [
            {
                "hostname": host,  # the TLS server name stays the URL's host
                "host": info[4][0],
                "port": info[4][1],
                "family": info[0],
                "proto": info[2],
                "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            }
            for info in infos
            if family in (socket.AF_UNSPEC, info[0])
        ]

    async def close(self) -> None:
        return None


class CheckedConnector(aiohttp.TCPConnector):
    """A connector whose every connection is resolved by :class:`CheckedResolver`, IP literals
    included (aiohttp does not ask the resolver about those), and never from a cache (a cached
    answer would not be re-checked, and the loopback setting is read at each connection)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(resolver=CheckedResolver(), use_dns_cache=False, **kwargs)

    async def _resolve_host(self, host: str, port: int, traces=None) -> list[ResolveResult]:
        return await self._resolver.resolve(host, port, family=self._family)


class Upstreams:
    """One aiohttp session per event loop and a bounded cache of TLS contexts (so that
    connections to a cluster are pooled and reused between requests). ``limit_per_host``: the
    most connections open to one cluster at once (0: no limit)."""

    def __init__(self, limit_per_host: int = 64) -> None:
        self.limit_per_host = limit_per_host
        self._sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession]
        self._sessions = weakref.WeakKeyDictionary()
        self._contexts: OrderedDict[str, ssl.SSLContext] = OrderedDict()

    def session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            connector = CheckedConnector(
                limit=0, limit_per_host=self.limit_per_host, keepalive_timeout=30
            )
            session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,  # bodies pass through as the cluster encoded them
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
            )
            self._sessions[loop] = session
        return session

    def ssl_for(self, conn: k8s.Connection) -> ssl.SSLContext | bool:
        if not conn.server.startswith("https://"):
            return False
        key = fingerprint(conn)
        ctx = self._contexts.get(key)
        if ctx is None:
            ctx = _ssl_context(conn)
            self._contexts[key] = ctx
            while len(self._contexts) > SSL_CACHE_SIZE:
                self._contexts.popitem(last=False)
        else:
            self._contexts.move_to_end(key)
        return ctx

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        session = self._sessions.pop(loop, None)
        if session is not None:
            await session.close()
