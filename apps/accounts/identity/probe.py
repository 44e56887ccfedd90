"""The "test connection" report: each step a provider's check takes, in order, and the
first one that failed with exactly why (``dns``: no such host, ``tcp``: connection refused,
``tls``: certificate verify failed …). Steps after a failure are not run.

Shared by LDAP and OIDC: both start with a URL's host and port.
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.utils import timezone

from . import network


@dataclass
class Step:
    name: str
    ok: bool
    detail: str
    ms: int


@dataclass
class Report:
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(step.ok for step in self.steps)

    @property
    def failed_step(self) -> str | None:
        return next((step.name for step in self.steps if not step.ok), None)

    def run(self, name: str, check) -> object:
        """Run ``check()`` as step ``name``: its return value (a str becomes the detail) on
        success; on :class:`StepFailed` (or an OSError / ssl error) record the failure and
        raise :class:`Stop` so the caller ends the probe."""
        started = time.monotonic()
        try:
            result = check()
        except StepFailed as exc:
            self._add(name, False, str(exc), started)
            raise Stop from exc
        except (OSError, ssl.SSLError) as exc:
            self._add(name, False, describe_os_error(exc), started)
            raise Stop from exc
        detail = result if isinstance(result, str) else "ok"
        self._add(name, True, detail, started)
        return result

    def _add(self, name, ok, detail, started):
        self.steps.append(Step(name, ok, detail, int((time.monotonic() - started) * 1000)))

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "failed_step": self.failed_step,
            "tested_at": timezone.now().isoformat(),
            "steps": [step.__dict__ for step in self.steps],
        }


class StepFailed(Exception):
    """A probe step failed; the message says exactly why."""


class Stop(Exception):
    """The probe ends here (a step failed and was recorded)."""


def describe_os_error(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {exc.verify_message or exc}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed: {exc.reason or exc}"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host: {exc.strerror or exc}"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def host_port(url: str, default_ports: dict[str, int]) -> tuple[str, int, str]:
    """``(host, port, scheme)`` of ``url``; StepFailed when it has no host."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise StepFailed(f"'{url}' has no host")
    scheme = parts.scheme.lower()
    try:
        port = parts.port or default_ports.get(scheme)
    except ValueError as exc:
        raise StepFailed(f"'{url}' has an invalid port") from exc
    if port is None:
        raise StepFailed(f"'{url}': unknown scheme '{scheme}'")
    return parts.hostname, port, scheme


def check_dns(report: Report, host: str, port: int = 0) -> list[str]:
    """Resolve ``host``; an address the portal does not connect to (``network``: metadata,
    link-local, loopback unless allowed …) fails this step, before any connection."""

    def resolve():
        try:
            infos = network.check_host(host, port)
        except network.AddressRefused as exc:
            raise StepFailed(str(exc)) from exc
        except socket.gaierror as exc:
            raise StepFailed(f"cannot resolve {host}: {exc.strerror or exc}") from exc
        addresses = sorted({info[4][0] for info in infos})
        return addresses

    addresses = report.run("dns", resolve)
    report.steps[-1].detail = f"{host} → {', '.join(addresses)}"
    return addresses


def check_tcp(report: Report, host: str, port: int, timeout: float) -> None:
    def connect():
        try:
            with network.connect(host, port, timeout):
                return f"connected to {host}:{port}"
        except OSError as exc:
            raise StepFailed(f"{host}:{port}: {describe_os_error(exc)}") from exc

    report.run("tcp", connect)


def tls_context(ca_pem: str = "", verify: bool = True) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=ca_pem or None)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def check_tls(
    report: Report, host: str, port: int, timeout: float, ca_pem: str = "", verify: bool = True
) -> None:
    """A TLS handshake on a fresh connection (for ``ldaps://`` and ``https://``)."""

    def handshake():
        context = tls_context(ca_pem, verify)
        try:
            with network.connect(host, port, timeout) as raw:
                with context.wrap_socket(raw, server_hostname=host) as tls:
                    cert = tls.getpeercert() or {}
                    subject = dict(x[0] for x in cert.get("subject", ())).get("commonName", "")
                    return f"{tls.version()}" + (f", certificate for {subject}" if subject else "")
        except (OSError, ssl.SSLError) as exc:
            raise StepFailed(describe_os_error(exc)) from exc

    report.run("tls", handshake)
