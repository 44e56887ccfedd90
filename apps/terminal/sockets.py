"""What the exec and logs websockets share: reading the caller from the ASGI scope (session or
API key), the origin rule, refusing, and query parameters."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import SESSION_KEY

from apps.accounts.backends import account_refusal
from apps.accounts.reauth import reauth_url, session_is_fresh
from apps.accounts.sessions import AUTH_TIME, LAST_SEEN, LAST_SEEN_RESOLUTION, expiry_reason, now
from apps.core import websocket
from apps.core.middleware import client_ip_from

from . import services
from .services import Caller, Refusal

# The subprotocol the console speaks (JSON control messages, binary output).
PROTOCOL = "tke.terminal.v1"
# An API key may travel as a subprotocol (browsers cannot set headers on a websocket), the way
# the Kubernetes API server accepts bearer tokens.
BEARER_PREFIX = "base64url.bearer.authorization.k8s.io."


class Socket:
    """The parsed scope of one websocket."""

    def __init__(self, scope):
        self.scope = scope
        self.headers = {
            n.decode("latin-1").lower(): v.decode("latin-1") for n, v in scope.get("headers", [])
        }
        self.query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        self.kwargs = scope["url_route"]["kwargs"]
        client = scope.get("client")
        self.client_ip = client_ip_from(
            client[0] if client else None, self.headers.get("x-forwarded-for", "")
        )
        query = scope.get("query_string", b"").decode("latin-1")
        self.path = scope.get("path", "") + (f"?{query}" if query else "")
        self.subprotocols = list(scope.get("subprotocols") or [])
        self.session_auth = False

    def param(self, name: str, default: str = "") -> str:
        values = self.query.get(name) or []
        return values[-1] if values else default

    def params(self, name: str) -> list[str]:
        return list(self.query.get(name) or [])

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.param(name)
        if not value:
            return default
        return value.lower() in ("1", "true", "yes", "on")

    def origin_allowed(self) -> bool:
        """The portal's origin rule (:mod:`apps.core.websocket`): the ASGI stack refuses
        first; this holds even without it."""
        return websocket.origin_allowed(
            self.headers.get("origin", ""), self.headers.get("cookie", "")
        )

    def session_cookie_sent(self) -> bool:
        return websocket.session_cookie_sent(self.headers.get("cookie", ""))

    def bearer(self) -> str:
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        for proto in self.subprotocols:
            if proto.startswith(BEARER_PREFIX):
                raw = proto[len(BEARER_PREFIX) :]
                try:
                    return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
                except (binascii.Error, UnicodeDecodeError):
                    return ""
        return ""

    def chosen_subprotocol(self) -> str | None:
        return PROTOCOL if PROTOCOL in self.subprotocols else None

    async def caller(self, fresh: bool = True) -> Caller:
        """The API key's owner, else the session's user (re-checked here: websockets do not
        pass through the session middleware; ``fresh``: signed in recently enough for a
        sensitive action, apps.accounts.reauth); :class:`Refusal` otherwise."""
        token = self.bearer()
        if token:
            return await database_sync_to_async(services.caller_from_api_key)(token, self.client_ip)
        session = self.scope.get("session")
        user = self.scope.get("user")
        if session is None or user is None or not user.is_authenticated:
            raise Refusal(401, "sign in first (no valid session or API key)")
        self.session_auth = True
        reason = await database_sync_to_async(expiry_reason)(session)
        if reason:
            raise Refusal(401, f"your session ended: {reason}; sign in again")
        if fresh and not session_is_fresh(session):
            back = self.param("next") or "/"
            raise Refusal(
                401,
                "opening a terminal needs a recent sign-in: confirm your identity and reconnect",
                {"reauth_url": reauth_url(back)},
            )
        return Caller(user)

    async def session_gone(self, active: bool = False) -> str:
        """Why the socket's credential no longer holds ('' if it does). A session: signed out
        (its row is gone), past the absolute timeout, or its user may no longer act
        (disabled, or dropped by their identity provider: ``apps.accounts.backends.may_act``,
        what every request asks). An API key: what the REST API would answer for it now
        (disabled, expired, its user dropped). ``active``: the user typed or read since the
        last check, which counts as using the session (its ``last_seen`` moves, as a request
        would move it), so working in a terminal does not end the console session for
        idleness."""
        if not self.session_auth:
            token = self.bearer()
            if not token:
                return ""
            try:
                await database_sync_to_async(services.caller_from_api_key)(token, self.client_ip)
            except Refusal as refusal:
                return f"the API key no longer works: {refusal.message}"
            return ""
        session = self.scope["session"]

        def look() -> str:
            store = session.__class__(session_key=session.session_key)
            data = store.load()
            if SESSION_KEY not in data:
                return "you signed out (or the session was ended)"
            auth_time = data.get(AUTH_TIME)
            if not isinstance(auth_time, int):
                return "the session was ended"
            if now() - auth_time > settings.PORTAL_SESSION_ABSOLUTE_TIMEOUT:
                return "absolute session timeout reached"
            last_seen = data.get(LAST_SEEN, auth_time)
            if not active and isinstance(last_seen, int):
                if now() - last_seen > settings.PORTAL_SESSION_IDLE_TIMEOUT:
                    return "idle session timeout reached"
            refusal = account_refusal(data[SESSION_KEY])
            if refusal:
                return refusal
            if active and now() - data.get(LAST_SEEN, 0) >= LAST_SEEN_RESOLUTION:
                store[LAST_SEEN] = now()
                store.save()
            return ""

        return await database_sync_to_async(look)()


class Watch:
    """What keeps an open socket honest, for the terminal and the live logs alike: a
    ``{"type":"ping"}`` every ``TERMINAL_KEEPALIVE_INTERVAL`` seconds (proxies do not drop an
    idle socket), the console session re-checked every ``TERMINAL_SESSION_RECHECK`` seconds
    (signed out or past its timeouts: the socket ends), and — when the user used the socket
    since the last check (typed, got output, was shown log lines: :meth:`touch`) — that use
    counted as activity on the console session (its ``last_seen`` moves, as a request would
    move it). ``idle``: seconds without activity after which the socket itself ends (the
    terminal's ``TERMINAL_IDLE_TIMEOUT``; None for live logs, which a user may just watch)."""

    def __init__(self, sock: Socket, send, idle: float | None = None):
        self.sock = sock
        self.send = send
        self.idle = idle
        self.keepalive = float(settings.TERMINAL_KEEPALIVE_INTERVAL)
        self.recheck = float(settings.TERMINAL_SESSION_RECHECK)
        self.last_activity = time.monotonic()

    def touch(self) -> None:
        self.last_activity = time.monotonic()

    async def run(self) -> str:
        """Returns why the socket must end (never, while all is well)."""
        steps = [self.keepalive, self.recheck, 5.0] + ([self.idle / 4] if self.idle else [])
        step = max(0.05, min(steps))
        last_ping = last_check = time.monotonic()
        while True:
            await asyncio.sleep(step)
            moment = time.monotonic()
            if self.idle is not None and moment - self.last_activity >= self.idle:
                return f"idle for {self.idle:g}s (terminal idle timeout)"
            if moment - last_ping >= self.keepalive:
                last_ping = moment
                await send_json(self.send, {"type": "ping"})
            if moment - last_check >= self.recheck:
                active = self.last_activity > last_check
                last_check = moment
                gone = await self.sock.session_gone(active)
                if gone:
                    return gone


async def open_socket(scope, receive, send) -> Socket | None:
    """The browser's handshake, up to the origin check: the socket (its route's names in
    ``sock.kwargs``), or None when there is nothing to serve (refused, or not a connect)."""
    first = await receive()
    if first["type"] != "websocket.connect":
        return None
    sock = Socket(scope)
    if not sock.origin_allowed():
        await refuse_handshake(send)
        return None
    return sock


async def open_pod_socket(scope, receive, send) -> tuple[Socket, str, str, str] | None:
    """:func:`open_socket` for a pod's socket: the socket and the pod it names (cluster,
    namespace, pod)."""
    sock = await open_socket(scope, receive, send)
    if sock is None:
        return None
    kw = sock.kwargs
    return sock, kw["cluster"], kw["namespace"], kw["pod"]


async def refuse_handshake(send) -> None:
    """Close before accepting: the server answers the upgrade with 403."""
    await send({"type": "websocket.close", "code": 1008})


async def refuse(sock: Socket, send, refusal: Refusal, accepted: bool = False) -> None:
    """Accept (unless ``accepted`` already), say why in a control message (so the page can
    show it and offer to sign in again), close with 4000 + the HTTP status."""
    if not accepted:
        await send({"type": "websocket.accept", "subprotocol": sock.chosen_subprotocol()})
    await send_json(
        send, {"type": "error", "code": refusal.code, "message": refusal.message, **refusal.extra}
    )
    await send({"type": "websocket.close", "code": 4000 + refusal.code})


async def send_json(send, payload: dict) -> None:
    await send({"type": "websocket.send", "text": json.dumps(payload)})
