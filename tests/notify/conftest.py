"""Real peers for notification tests, on loopback: an SMTP server (aiosmtpd, STARTTLS and
AUTH) and an HTTP receiver standing in for the SMS gateway, the WeChat robot and webhooks."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.notify import services


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- HTTP --------------------------------------------------------------------------------------
@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    at: float
    answered: int | None = None

    def json(self):
        return json.loads(self.body)


@dataclass
class Script:
    """How the receiver answers, request by request: a list of (status, body) or "hold"
    (keep the request open until ``release`` is set); after the list, ``default``."""

    steps: list = field(default_factory=list)
    default: tuple = (200, b"{}")


class HTTPReceiver:
    def __init__(self):
        self.received: list[Received] = []
        self.script = Script()
        self.release = threading.Event()
        self.held = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                entry = Received(self.path, dict(self.headers.items()), body, time.monotonic())
                with receiver._lock:
                    receiver.received.append(entry)
                    step = (
                        receiver.script.steps.pop(0)
                        if receiver.script.steps
                        else receiver.script.default
                    )
                if step == "hold":
                    receiver.held.set()
                    receiver.release.wait(30)
                    return  # no answer: the client is gone by now
                status, payload = step
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                entry.answered = status

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_receiver():
    receiver = HTTPReceiver()
    yield receiver
    receiver.stop()


# -- SMTP --------------------------------------------------------------------------------------
SMTP_USER, SMTP_PASSWORD = "portal", "s3cret-smtp-password"


class _Handler:
    def __init__(self):
        self.mails: list = []
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.envelopes.append(envelope)
        self.mails.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp_server():
    """aiosmtpd with STARTTLS required before AUTH (LOGIN/PLAIN), on a free loopback port,
    with the throwaway CA's certificate for 127.0.0.1."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from apps.sandbox.kubesim.tls import serving_cert

    cert = serving_cert()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert.dir / "tls.crt", cert.dir / "tls.key")
    logins: list = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == SMTP_USER.encode() and auth_data.password == SMTP_PASSWORD.encode()
        logins.append((auth_data.login, ok))
        return AuthResult(success=ok, handled=False)  # handled=True: no answer is sent

    handler = _Handler()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=True,
    )
    controller.start()
    handler.port = port
    handler.ca_pem = cert.ca_pem.decode()
    handler.logins = logins
    yield handler
    controller.stop()


# -- objects -----------------------------------------------------------------------------------
def webhook_channel(tenant, url, name="hook", secret="hmac-key-1", **config):  # noqa: S107
    return services.create_channel(
        actor=None,
        tenant=tenant,
        name=name,
        kind="webhook",
        config={"url": url, **config},
        secret=secret,
    )


def template(channel, name="default", subject="[{{ status }}] {{ alertName }}", body=None):
    return services.create_template(
        actor=None,
        channel=channel,
        name=name,
        subject=subject,
        body=body or "{{ alertName }} on {{ clusterID }}: {{ value }}{{ unit }}",
    )


def receiver(tenant, name="ops", **fields):
    return services.create_receiver(actor=None, tenant=tenant, name=name, **fields)


VARIABLES = {
    "alertName": "cpu-high",
    "clusterID": "cls-a1",
    "value": "0.93",
    "unit": "core",
    "status": "firing",
    "summary": "CPU <b>high</b>",
}
