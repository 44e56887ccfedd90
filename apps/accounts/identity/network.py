"""How the portal reaches an identity provider: which addresses, for how long, how much.

A provider's addresses are chosen by a tenant administrator (LDAP ``server_uri``, OIDC
``issuer``) or by whoever serves the issuer's discovery document (``jwks_uri``, token and
userinfo endpoints). Without limits, "test connection" and sign-in would let them make the
portal probe its own cloud's metadata service or its neighbours, or hold a worker forever.
So, for every connection made for a provider:

- **Addresses** follow the portal's client address policy, the one cluster connections use
  (:mod:`apps.clusters.addresses`): metadata services, link-local, unspecified, multicast and
  reserved addresses are refused always; loopback only while
  ``PORTAL_ALLOW_LOOPBACK_CLUSTERS`` is on (the portal's one switch for "connect to my own
  host on a tenant's behalf"; off in production). HTTP requests check the address they
  actually connect to (no DNS rebinding between check and connect); so do ``ldap://``
  connections, whose socket the portal opens and hands to libldap; for ``ldaps://`` libldap
  connects by itself, so the host is checked just before (``identity.ldap.initialize``).
- **HTTP answers** are read up to :data:`MAX_RESPONSE_BYTES`, and the whole request —
  connecting, headers and body — must finish within the provider's ``timeout``: a per-read
  timeout alone lets a server drip one byte at a time for ever.
- **CA bundles** (``config.ca_cert``) are written to a private directory of this process's
  user and their content is checked at every use: a bundle under a guessable name in a
  shared directory could be planted by anyone on the host.
"""

from __future__ import annotations

import contextvars
import hashlib
import os
import re
import socket
import stat
import tempfile
import threading
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from apps.clusters.addresses import AddressRefused, resolve_checked

__all__ = [
    "MAX_RESPONSE_BYTES",
    "AddressRefused",
    "ResponseTooLarge",
    "ca_file",
    "check_host",
    "connect",
    "ldap_hosts",
    "request",
]

MAX_RESPONSE_BYTES = 1024 * 1024


class ResponseTooLarge(requests.RequestException):
    """The answer is larger than the portal reads from an identity provider."""


class DeadlineExceeded(requests.Timeout):
    """The whole request did not finish within the provider's timeout."""


# -- addresses ---------------------------------------------------------------------------------
def check_host(host: str, port: int) -> list[tuple]:
    """``getaddrinfo`` answers for ``host`` the portal may connect to; raises
    :class:`AddressRefused` (an OSError) or ``socket.gaierror``."""
    return resolve_checked(host, port)


def connect(host: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection to ``host`` through an address the policy allows (each allowed
    address in turn, like ``socket.create_connection``)."""
    error: OSError | None = None
    for family, kind, proto, _, sockaddr in check_host(host, port):
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error or OSError(f"{host}: no address")


_LDAP_URI_SPLIT = re.compile(r"[\s,]+")
_LDAP_PORTS = {"ldap": 389, "ldaps": 636}


def ldap_hosts(server_uri: str) -> list[tuple[str, int]]:
    """Every (host, port) libldap may connect to for ``server_uri`` (it accepts several
    URIs separated by spaces or commas)."""
    hosts = []
    for uri in filter(None, _LDAP_URI_SPLIT.split(server_uri or "")):
        parts = urlsplit(uri)
        scheme = parts.scheme.lower()
        try:
            port = parts.port or _LDAP_PORTS.get(scheme, 389)
        except ValueError:
            port = _LDAP_PORTS.get(scheme, 389)
        hosts.append((parts.hostname or "localhost", port))
    return hosts


# -- HTTP --------------------------------------------------------------------------------------
class _Deadline:
    """The sockets of one request, shut down when its time is up (a blocked read then
    returns at once, wherever it is: connecting, headers or body)."""

    def __init__(self, seconds: float):
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc):
        self._timer.cancel()

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


_current_deadline: contextvars.ContextVar[_Deadline | None] = contextvars.ContextVar(
    "identity_http_deadline", default=None
)


class _CheckedConnectionMixin:
    """Connects only to addresses the policy allows: the name is resolved here, checked,
    and the connection made to the checked address (TLS still verifies the name)."""

    def _new_conn(self):
        name = self._dns_host
        error: Exception | None = None
        for *_, sockaddr in check_host(name, self.port):
            self._dns_host = sockaddr[0]
            try:
                sock = super()._new_conn()
            except (OSError, urllib3.exceptions.HTTPError) as exc:  # the next address
                error = exc
                continue
            finally:
                self._dns_host = name
            deadline = _current_deadline.get()
            if deadline is not None:
                deadline.add(sock)
            return sock
        raise error or OSError(f"{name}: no address")


class _CheckedHTTPConnection(_CheckedConnectionMixin, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_CheckedConnectionMixin, HTTPSConnection):
    pass


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


_POOLS = {"http": _CheckedHTTPPool, "https": _CheckedHTTPSPool}


class _CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, *args, **kwargs):
        manager = super().proxy_manager_for(*args, **kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager


def request(
    method: str, url: str, *, timeout: float, max_bytes: int = MAX_RESPONSE_BYTES, **kwargs
) -> requests.Response:
    """``requests.request`` under the rules of the module docstring; the answer's body is
    read (at most ``max_bytes``, :data:`MAX_RESPONSE_BYTES` unless told; chart imports read
    archives through it too) before it returns. Raises
    :class:`AddressRefused` or a ``requests.RequestException``."""
    parts = urlsplit(url)
    if parts.hostname:
        # The target itself, also when an egress proxy (whose address is what the
        # connection checks) makes the connection.
        check_host(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    with requests.Session() as session, _Deadline(timeout) as deadline:
        session.mount("http://", _CheckedAdapter())
        session.mount("https://", _CheckedAdapter())
        token = _current_deadline.set(deadline)
        try:
            response = session.request(
                method, url, allow_redirects=False, timeout=timeout, stream=True, **kwargs
            )
            with response:
                response._content = _read_capped(response, url, max_bytes)
        except requests.RequestException:
            if deadline.expired:
                raise DeadlineExceeded(
                    f"{url}: timed out (no complete answer within {timeout:g}s)"
                ) from None
            raise
        finally:
            _current_deadline.reset(token)
        if deadline.expired:  # cut short: what was read is not the answer
            raise DeadlineExceeded(_timed_out(url, timeout))
    return response


def _timed_out(url: str, timeout: float) -> str:
    return f"{url}: timed out (no complete answer within {timeout:g}s)"


def _read_capped(
    response: requests.Response, url: str, max_bytes: int = MAX_RESPONSE_BYTES
) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(f"answer larger than {max_bytes // 1024} KiB")
    body = bytearray()
    for chunk in response.iter_content(64 * 1024):
        body += chunk
        if len(body) > max_bytes:
            raise ResponseTooLarge(f"answer larger than {max_bytes // 1024} KiB")
    return bytes(body)


# -- CA bundles --------------------------------------------------------------------------------
_ca_dir_lock = threading.Lock()
_ca_dir: str | None = None


def _private_directory() -> str:
    """``$TMPDIR/tkeportal-ca-<uid>``, mode 0700 and ours — or, when someone else made or
    opened that name first, a fresh private directory for this process."""
    global _ca_dir
    with _ca_dir_lock:
        if _ca_dir is not None and _is_private(_ca_dir):
            return _ca_dir
        path = os.path.join(tempfile.gettempdir(), f"tkeportal-ca-{os.getuid()}")
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        _ca_dir = path if _is_private(path) else tempfile.mkdtemp(prefix="tkeportal-ca-")
        return _ca_dir


def _is_private(path: str) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


def ca_file(pem: str) -> str:
    """The path of a file holding exactly ``pem`` (for libldap and ``requests``, which take
    CA bundles as files), in the private directory; rewritten when its content differs."""
    pem = pem.strip() + "\n"
    directory = _private_directory()
    path = os.path.join(directory, hashlib.sha256(pem.encode()).hexdigest() + ".pem")
    try:
        with open(path) as handle:
            if handle.read() == pem:
                return path
    except (OSError, UnicodeDecodeError):
        pass
    fd, partial = tempfile.mkstemp(dir=directory, suffix=".pem")
    with os.fdopen(fd, "w") as handle:
        handle.write(pem)
    os.replace(partial, path)  # atomic: concurrent writers leave one complete file
    return path
