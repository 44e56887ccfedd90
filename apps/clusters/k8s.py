"""The only way the portal talks to a Kubernetes cluster.

One ``kubernetes.client.ApiClient`` and connection pool per cluster, built from its stored
credential (never a process-wide kubeconfig) and kept in a bounded cache keyed by the
cluster and its credential's fingerprint (:class:`ClientCache`), with timeouts, no retries
and no redirects followed. Calls are refused inside a database transaction. Every failure
becomes a portal error with a stable code and a sentence naming the cluster:

========================  ======  ================================================
cluster answer            status  portal error (code)
========================  ======  ================================================
connection refused/reset  503     cluster_unreachable
address refused (policy)  502     cluster_address_refused (see addresses.py)
timeout                   503     cluster_unreachable ("did not answer within …")
TLS verification failure  502     cluster_tls_error ("CA does not match")
401                       502     cluster_credential_rejected
403                       403     cluster_forbidden
404                       404     not_found
409                       409     conflict
422                       422     invalid_object (fields from the Status causes)
other 4xx                 400     cluster_bad_request
5xx / redirect            502     cluster_error
========================  ======  ================================================

Credentials never appear in messages or logs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import ssl
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import urllib3
from django.db import connections
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from rest_framework import status
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.connection import create_connection

from apps.core import kubestatus
from apps.core.errors import PortalError

from . import addresses

logger = logging.getLogger("tkeportal.k8s")

CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 15.0
# Clusters whose connection pools are kept (least recently used first out), and the
# keep-alive connections kept per cluster.
CLIENT_CACHE_SIZE = 512
POOL_MAXSIZE = 8


# -- errors ------------------------------------------------------------------------------------
class ClusterError(PortalError):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_code = "cluster_error"
    default_detail = "The cluster answered with an error."


class ClusterUnreachable(ClusterError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "cluster_unreachable"


class ClusterSlow(ClusterUnreachable):
    """The cluster accepted the connection but did not answer within the read timeout."""


class ClusterAddressRefused(ClusterError):
    """The cluster's host is, or now resolves to, an address the portal never connects to
    (:mod:`apps.clusters.addresses`); refused before any connection is attempted."""

    default_code = "cluster_address_refused"


def address_refused(cluster: str, exc: addresses.AddressRefused) -> ClusterAddressRefused:
    return ClusterAddressRefused(f"Cluster {cluster}: {exc}.")


class ClusterTLSError(ClusterError):
    default_code = "cluster_tls_error"


class ClusterCAInvalid(ClusterTLSError):
    """The CA given for a cluster is not a PEM certificate (refused before connecting)."""


class ClientCertificateInvalid(ClusterTLSError):
    """The client certificate or key is not PEM, or they do not match (refused before
    connecting)."""


class ClusterCredentialRejected(ClusterError):
    default_code = "cluster_credential_rejected"


class ClusterForbidden(ClusterError):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "cluster_forbidden"


class ClusterNotFound(ClusterError):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "not_found"


class ClusterConflict(ClusterError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class ClusterInvalid(ClusterError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "invalid_object"


class ClusterBadRequest(ClusterError):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "cluster_bad_request"


# -- connection --------------------------------------------------------------------------------
@dataclass
class Connection:
    """Where a cluster is and how to authenticate to it: what a user gives to import a
    cluster (from a kubeconfig or field by field) and what is built from a stored
    ClusterCredential. ``name`` is the cluster's name in messages ("" before it has one).

    Its repr and str name the cluster and server only: the token, the client key and
    certificate never appear in a log line, a traceback or an error report."""

    server: str
    token: str = field(default="", repr=False)
    ca_data: str = field(default="", repr=False)
    client_cert: str = field(default="", repr=False)
    client_key: str = field(default="", repr=False)
    insecure: bool = False
    impersonate_user: str = ""
    impersonate_groups: list[str] = field(default_factory=list)
    name: str = ""

    def __repr__(self) -> str:
        return f"Connection(name={self.name!r}, server={self.server!r})"

    __str__ = __repr__

    def fingerprint(self) -> str:
        """A digest of everything that decides how the portal connects: a client built for
        one fingerprint is never used for another (a rotated credential, a moved server)."""
        material = "\0".join(
            (
                self.server,
                self.token,
                self.ca_data,
                self.client_cert,
                self.client_key,
                str(self.insecure),
                self.impersonate_user,
                *self.impersonate_groups,
            )
        )
        return hashlib.sha256(material.encode()).hexdigest()


def ssl_context(conn: Connection) -> ssl.SSLContext:
    """The TLS context of a connection: the cluster CA (or the system's), the client
    certificate when there is one, no verification only when the credential says so.

    ``load_cert_chain`` reads files only: the certificate and key go to an anonymous
    in-memory file (``memfd``) that is closed at once, never to disk."""
    who = conn.name or conn.server
    try:
        ctx = ssl.create_default_context(cadata=conn.ca_data or None)
    except ssl.SSLError as exc:
        raise ClusterCAInvalid(f"Cluster {who}: the CA is not valid PEM data.") from exc
    if conn.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if conn.client_cert and conn.client_key:
        fd = os.memfd_create("tkeportal-client-cert", os.MFD_CLOEXEC)
        try:
            os.write(fd, (conn.client_cert.rstrip() + "\n" + conn.client_key).encode())
            ctx.load_cert_chain(f"/proc/self/fd/{fd}")
        except ssl.SSLError as exc:
            raise ClientCertificateInvalid(
                f"Cluster {who}: the client certificate or key is not valid PEM data, or "
                "they do not belong together."
            ) from exc
        finally:
            os.close(fd)
    return ctx


def error_for_status(cluster: str, status_code: int, body: bytes) -> ClusterError:
    message, fields = kubestatus.message_and_causes(body)
    said = f": {message}" if message else ""
    if status_code == 401:
        return ClusterCredentialRejected(
            f"Cluster {cluster} rejected the portal's credential (401); rotate it."
        )
    if status_code == 403:
        return ClusterForbidden(f"Cluster {cluster} forbids this{said}")
    if status_code == 404:
        return ClusterNotFound(f"Not found in cluster {cluster}{said}")
    if status_code == 409:
        return ClusterConflict(f"Conflict in cluster {cluster}{said}")
    if status_code == 422:
        return ClusterInvalid(f"Cluster {cluster} rejected the object{said}", fields=fields)
    if 300 <= status_code < 400:
        return ClusterError(
            f"Cluster {cluster} answered with a redirect ({status_code}); redirects are not "
            "followed. Check the server address."
        )
    if 400 <= status_code < 500:
        return ClusterBadRequest(f"Cluster {cluster} refused the request ({status_code}){said}")
    return ClusterError(f"Cluster {cluster} failed ({status_code}){said}")


def _connection_error(conn: Connection, exc: BaseException) -> ClusterError:
    reason = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
    if isinstance(reason, _AddressRefusedError):
        return address_refused(conn.name, reason.refused)
    if isinstance(reason, urllib3.exceptions.NameResolutionError):
        host = urllib3.util.parse_url(conn.server).host
        return ClusterUnreachable(f"Cluster {conn.name} is unreachable: cannot resolve {host}.")
    if isinstance(reason, urllib3.exceptions.SSLError | ssl.SSLError) or (
        isinstance(exc, ApiException) and exc.status == 0 and "SSL" in str(exc.reason)
    ):
        return ClusterTLSError(
            f"Cluster {conn.name} at {conn.server}: TLS verification failed "
            "(the CA does not match the server's certificate)."
        )
    # NewConnectionError subclasses ConnectTimeoutError: test it first.
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        return ClusterUnreachable(
            f"Cluster {conn.name} is unreachable: connection refused to {conn.server}."
        )
    if isinstance(reason, urllib3.exceptions.ReadTimeoutError):
        return ClusterSlow(
            f"Cluster {conn.name} at {conn.server} accepted the connection but did not "
            "answer in time."
        )
    if isinstance(reason, urllib3.exceptions.TimeoutError):
        return ClusterUnreachable(
            f"Cluster {conn.name} is unreachable: no answer from {conn.server} in time."
        )
    return ClusterUnreachable(
        f"Cluster {conn.name} is unreachable at {conn.server} ({type(reason).__name__})."
    )


class _AddressRefusedError(urllib3.exceptions.NewConnectionError):
    """The address policy refused every address of the host: no socket was opened."""

    def __init__(self, conn: HTTPConnection, refused: addresses.AddressRefused):
        self.refused = refused
        super().__init__(conn, str(refused))


class _CheckedConnectionMixin:
    """Connects only to addresses the policy allows, resolved at this very connection.

    Only the socket's destination changes: ``host`` stays the name from the server URL, so
    the Host header, the TLS server name and certificate verification use that name."""

    _dns_host: str
    host: str
    port: int
    timeout: float | None
    source_address: tuple[str, int] | None
    socket_options: list | None

    def _new_conn(self) -> socket.socket:
        try:
            infos = addresses.resolve_checked(self._dns_host, self.port)
        except addresses.AddressRefused as exc:
            raise _AddressRefusedError(self, exc) from None  # type: ignore[arg-type]
        except socket.gaierror as exc:
            raise urllib3.exceptions.NameResolutionError(self.host, self, exc) from exc  # type: ignore[arg-type]
        error: OSError | None = None
        for info in infos:
            try:
                sock = create_connection(
                    info[4][:2],
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
                break
            except OSError as exc:  # try the next allowed address, as create_connection would
                error = exc
        else:
            if isinstance(error, TimeoutError):
                raise urllib3.exceptions.ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
                ) from error
            raise urllib3.exceptions.NewConnectionError(
                self,  # type: ignore[arg-type]
                f"Failed to establish a new connection: {error}",
            ) from error
        sys.audit("http.client.connect", self, self.host, self.port)
        return sock


class _CheckedHTTPConnection(_CheckedConnectionMixin, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_CheckedConnectionMixin, HTTPSConnection):
    pass


class _CheckedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


def checked_pool_manager(
    ssl_context: ssl.SSLContext | None = None, *, verify: bool = True, maxsize: int = POOL_MAXSIZE
) -> urllib3.PoolManager:
    """A pool manager for other HTTP peers the portal reaches on a cluster's behalf (its
    Prometheus): every connection through the address policy, no retries, no redirects."""
    manager = urllib3.PoolManager(
        num_pools=4,
        maxsize=maxsize,
        ssl_context=ssl_context,
        cert_reqs=ssl.CERT_REQUIRED if verify else ssl.CERT_NONE,
        retries=urllib3.Retry(
            total=0, connect=0, read=0, redirect=0, raise_on_redirect=False, status=0
        ),
    )
    manager.pool_classes_by_scheme = {
        "http": _CheckedHTTPConnectionPool,
        "https": _CheckedHTTPSConnectionPool,
    }
    return manager


class _Transport:
    """The kubernetes ``ApiClient`` and connection pool of one connection: thread-safe,
    shared by every call to the cluster while its credential stays the same."""

    def __init__(self, conn: Connection):
        self.fingerprint = conn.fingerprint()
        context = ssl_context(conn) if conn.server.startswith("https://") else None
        config = k8s.Configuration(host=conn.server.rstrip("/"))
        # No proxy from the environment (as the kubectl proxy's sessions): a proxy would
        # connect to addresses the address policy never sees.
        config.proxy = None
        self.api = k8s.ApiClient(config)
        if type(self.api.rest_client.pool_manager) is not urllib3.PoolManager:  # proxy, SOCKS
            self.api.close()
            raise ClusterError(f"Cluster {conn.name}: the portal connects to clusters directly.")
        self.api.rest_client.pool_manager.clear()
        # Our own pool: TLS from the context above (no certificate files), no blind retries,
        # never a redirect followed (SSRF), and keep-alive connections reused across calls.
        pool_manager = urllib3.PoolManager(
            num_pools=4,
            maxsize=POOL_MAXSIZE,
            ssl_context=context,
            cert_reqs=ssl.CERT_NONE if conn.insecure else ssl.CERT_REQUIRED,
            retries=urllib3.Retry(
                total=0, connect=0, read=0, redirect=0, raise_on_redirect=False, status=0
            ),
        )
        # Every connection the pool opens goes through the address policy. (An instance
        # attribute: the module-level mapping urllib3 hands out is shared by every manager.)
        pool_manager.pool_classes_by_scheme = {
            "http": _CheckedHTTPConnectionPool,
            "https": _CheckedHTTPSConnectionPool,
        }
        self.api.rest_client.pool_manager = pool_manager
        url = urllib3.util.parse_url(conn.server)
        self._host = url.host or ""
        self._port = url.port or (443 if url.scheme == "https" else 80)
        self._addresses: frozenset[str] | None = None
        self._lock = threading.Lock()

    def check_address(self, conn: Connection) -> None:
        """The address policy, before every request and not only when a connection opens:
        a reused keep-alive connection must not outlive a policy change (loopback turned
        off) or a name that now resolves to a refused address. When the allowed answers
        change, pooled connections to the old ones are dropped."""
        try:
            infos = addresses.resolve_checked(self._host, self._port)
        except addresses.AddressRefused as exc:
            raise address_refused(conn.name, exc) from None
        except (socket.gaierror, UnicodeError):
            raise ClusterUnreachable(
                f"Cluster {conn.name} is unreachable: cannot resolve {self._host}."
            ) from None
        answer = frozenset(str(info[4][0]) for info in infos)
        with self._lock:
            changed = self._addresses is not None and answer != self._addresses
            self._addresses = answer
        if changed:
            self.api.rest_client.pool_manager.clear()

    def close(self) -> None:
        # Idle connections close now; one in use by another thread closes when returned.
        self.api.rest_client.pool_manager.clear()


class ClientCache:
    """One transport per cluster, keyed by the cluster's id and checked against the
    credential's fingerprint: a rotated credential or a moved server gets a new transport
    (in every process, since each compares the fingerprint of what it read). Bounded (least
    recently used first out) and thread-safe."""

    def __init__(self, size: int = CLIENT_CACHE_SIZE):
        self.size = size
        self._entries: OrderedDict[Any, _Transport] = OrderedDict()
        self._lock = threading.Lock()
        self.built = 0  # transports built since start (for tests and metrics)

    def transport(self, key: Any, conn: Connection) -> _Transport:
        fingerprint = conn.fingerprint()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.fingerprint == fingerprint:
                self._entries.move_to_end(key)
                return entry
        built = _Transport(conn)  # outside the lock: building loads TLS material
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.fingerprint == fingerprint:
                self._entries.move_to_end(key)
                stale = built  # another thread built it first: keep theirs
            else:
                stale = self._entries.pop(key, None)
                self._entries[key] = built
                self.built += 1
                entry = built
            evicted = []
            while len(self._entries) > self.size:
                evicted.append(self._entries.popitem(last=False)[1])
        for transport in (stale, *evicted):
            if transport is not None:
                transport.close()
        return entry

    def forget(self, key: Any) -> None:
        """Drop a cluster's transport (credential rotated, cluster deleted)."""
        with self._lock:
            entry = self._entries.pop(key, None)
        if entry is not None:
            entry.close()

    def clear(self) -> None:
        with self._lock:
            entries, self._entries = list(self._entries.values()), OrderedDict()
        for entry in entries:
            entry.close()

    def __len__(self) -> int:
        return len(self._entries)


clients = ClientCache()


class TransactionalClusterCall(RuntimeError):
    """A cluster call was made inside a database transaction: the transaction (and its row
    locks) would be held for as long as the cluster takes to answer. A programming error."""


def _refuse_inside_transaction(conn: Connection) -> None:
    """Network I/O never happens inside ``transaction.atomic()``. The test runner's own
    per-test transaction (Django marks it ``_from_testcase``) is not one of ours."""
    for db in connections.all(initialized_only=True):
        if any(not getattr(block, "_from_testcase", False) for block in db.atomic_blocks):
            raise TransactionalClusterCall(
                f"call to cluster {conn.name or conn.server} inside a database transaction "
                f"({db.alias}): make the call before or after the atomic block"
            )


class KubeClient:
    """A client for one cluster. Use as a context manager or call :meth:`close`.

    Built with a ``transport`` (:func:`client`), it shares that cached connection pool and
    closing it does not close the pool; built without, it owns a pool of its own (probing a
    credential that is not stored yet)."""

    def __init__(
        self,
        conn: Connection,
        timeout: tuple[float, float] | None = None,
        *,
        transport: _Transport | None = None,
    ):
        self.conn = conn
        self.timeout = timeout or (CONNECT_TIMEOUT_S, READ_TIMEOUT_S)
        self._owned = transport is None
        self._transport = transport or _Transport(conn)
        self.api = self._transport.api

    def close(self) -> None:
        if self._owned:
            self._transport.close()

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- raw requests ----------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: tuple[float, float] | None = None,
    ) -> Any:
        """One request; the decoded JSON answer (or text), or a portal ClusterError."""
        _refuse_inside_transaction(self.conn)
        self._transport.check_address(self.conn)
        url = self.api.configuration.host + path
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None}, doseq=True)
        # HTTPHeaderDict: Impersonate-Group is sent once per group, as Kubernetes expects.
        headers = urllib3.HTTPHeaderDict({"Accept": "application/json"})
        for name, value in self.api.default_headers.items():
            headers[name] = value
        if self.conn.token:
            # call_api() sends what it is given: add the credential ourselves.
            headers["Authorization"] = f"Bearer {self.conn.token}"
        if self.conn.impersonate_user:
            headers["Impersonate-User"] = self.conn.impersonate_user
            for group in self.conn.impersonate_groups:
                headers.add("Impersonate-Group", group)
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            response = self.api.call_api(
                method,
                url,
                header_params=headers,
                body=body,
                _request_timeout=timeout or self.timeout,
            )
            data = response.read()
        except ApiException as exc:
            raise _connection_error(self.conn, exc) from None
        except urllib3.exceptions.HTTPError as exc:
            raise _connection_error(self.conn, exc) from None
        finally:
            self.api.last_response = None
        if response.status >= 300:
            raise error_for_status(self.conn.name, response.status, data)
        if not data:
            return None
        try:
            return json.loads(data)
        except ValueError:
            return data.decode("utf-8", "replace")

    def get(self, path: str, **kwargs) -> Any:
        return self.request("GET", path, **kwargs)

    # -- common calls ------------------------------------------------------------------------------
    def version(self) -> dict:
        return self.get("/version/")

    def discovery(self) -> dict:
        """Core versions and API groups (``/api`` and ``/apis``)."""
        return {"core": self.get("/api/"), "groups": self.get("/apis/")}

    def list_nodes(self) -> list[dict]:
        return self.get("/api/v1/nodes").get("items", [])

    def count(self, path: str) -> int:
        """How many objects a list would return, without transferring them: a one-item page
        plus the server's ``remainingItemCount``."""
        page = self.get(path, query={"limit": 1})
        return len(page.get("items") or []) + int(
            (page.get("metadata") or {}).get("remainingItemCount") or 0
        )

    def count_pods(self) -> int:
        return self.count("/api/v1/pods")


def client(key: Any, conn: Connection, timeout: tuple[float, float] | None = None) -> KubeClient:
    """A client sharing the cached transport of ``key`` (a cluster's id)."""
    return KubeClient(conn, timeout, transport=clients.transport(key, conn))
