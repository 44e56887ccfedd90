"""The only way the portal talks to a Kubernetes cluster.

One ``kubernetes.client.ApiClient`` per cluster, built from its stored credential (never a
process-wide kubeconfig), with timeouts, no retries and no redirects followed. Every failure
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

import json
import logging
import os
import socket
import ssl
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from rest_framework import status
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.connection import create_connection

from apps.core.errors import PortalError

from . import addresses

logger = logging.getLogger("tkeportal.k8s")

CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 15.0


# -- errors ------------------------------------------------------------------------------------
class ClusterError(PortalError):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_code = "cluster_error"
    default_detail = "The cluster answered with an error."


class ClusterUnreachable(ClusterError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "cluster_unreachable"


class ClusterAddressRefused(ClusterError):
    """The cluster's host is, or now resolves to, an address the portal never connects to
    (:mod:`apps.clusters.addresses`); refused before any connection is attempted."""

    default_code = "cluster_address_refused"


def address_refused(cluster: str, exc: addresses.AddressRefused) -> ClusterAddressRefused:
    return ClusterAddressRefused(f"Cluster {cluster}: {exc}.")


class ClusterTLSError(ClusterError):
    default_code = "cluster_tls_error"


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
    """Where a cluster is and how to authenticate; built from a ClusterCredential."""

    name: str
    server: str
    token: str = ""
    ca_data: str = ""
    client_cert: str = ""
    client_key: str = ""
    insecure: bool = False
    impersonate_user: str = ""
    impersonate_groups: list[str] = field(default_factory=list)

    def __repr__(self) -> str:  # never print secrets
        return f"Connection(name={self.name!r}, server={self.server!r})"


def _status_message(body: bytes) -> tuple[str, dict]:
    """The message and field causes of a Kubernetes Status body, if it is one."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return (body or b"").decode("utf-8", "replace")[:300], {}
    if not isinstance(data, dict):
        return "", {}
    fields: dict[str, list[str]] = {}
    for cause in (data.get("details") or {}).get("causes") or []:
        name = cause.get("field") or "non_field_errors"
        fields.setdefault(name, []).append(cause.get("message") or cause.get("reason", ""))
    return data.get("message", ""), fields


def error_for_status(cluster: str, status_code: int, body: bytes) -> ClusterError:
    message, fields = _status_message(body)
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


class KubeClient:
    """A client for one cluster. Use as a context manager or call :meth:`close`."""

    def __init__(self, conn: Connection, timeout: tuple[float, float] | None = None):
        self.conn = conn
        self.timeout = timeout or (CONNECT_TIMEOUT_S, READ_TIMEOUT_S)
        self._files: list[str] = []
        config = k8s.Configuration(host=conn.server.rstrip("/"))
        if conn.token:
            config.api_key = {"authorization": f"Bearer {conn.token}"}
        if conn.ca_data:
            config.ca_cert_data = conn.ca_data
        config.verify_ssl = not conn.insecure
        if conn.client_cert and conn.client_key:
            config.cert_file = self._private_file(conn.client_cert)
            config.key_file = self._private_file(conn.client_key)
        # No blind retries, and never follow a redirect (SSRF).
        config.retries = urllib3.Retry(
            total=0, connect=0, read=0, redirect=0, raise_on_redirect=False, status=0
        )
        # No proxy from the environment (as the kubectl proxy's sessions): a proxy would
        # connect to addresses the address policy never sees.
        config.proxy = None
        self.api = k8s.ApiClient(config)
        pool_manager = self.api.rest_client.pool_manager
        if type(pool_manager) is not urllib3.PoolManager:  # a proxy or SOCKS manager
            self.close()
            raise ClusterError(f"Cluster {conn.name}: the portal connects to clusters directly.")
        # Every connection the client opens goes through the address policy. (An instance
        # attribute: the module-level mapping urllib3 hands out is shared by every manager.)
        pool_manager.pool_classes_by_scheme = {
            "http": _CheckedHTTPConnectionPool,
            "https": _CheckedHTTPSConnectionPool,
        }

    def _private_file(self, content: str) -> str:
        fd, path = tempfile.mkstemp(prefix="tkeportal-", suffix=".pem")
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
        self._files.append(path)
        return path

    def close(self) -> None:
        self.api.close()
        for path in self._files:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        self._files.clear()

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

    def list_pods_count(self) -> int:
        return len(self.get("/api/v1/pods").get("items", []))
