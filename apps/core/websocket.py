"""The portal's one origin rule for websockets (terminal, live logs).

A browser always sends ``Origin`` on a websocket and always sends its cookies with it, so a page
on another site could open a socket that rides the user's session (cross-site websocket
hijacking). The rule: a socket that sends the portal's session cookie must come from one of the
portal's own hosts (``ALLOWED_HOSTS``); a socket without ``Origin`` and without the session
cookie is not a browser riding a session — a CLI or script authenticating with an API key — and
is let through to authenticate on its own. Channels' ``AllowedHostsOriginValidator`` refuses
every socket without ``Origin``, which shut out API-key clients for no security gain.
"""

from __future__ import annotations

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host


def session_cookie_sent(cookie_header: str) -> bool:
    return settings.SESSION_COOKIE_NAME + "=" in cookie_header


def origin_allowed(origin: str, cookie_header: str) -> bool:
    if not origin:
        return not session_cookie_sent(cookie_header)
    host = origin.split("://", 1)[-1].split("/", 1)[0]
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


def _header(scope, name: bytes) -> str:
    values = [value for key, value in scope.get("headers", []) if key == name]
    return b", ".join(values).decode("latin1")


class OriginValidator:
    """ASGI middleware: websockets that break :func:`origin_allowed` are refused at the
    handshake (403), before any consumer runs."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if origin_allowed(_header(scope, b"origin"), _header(scope, b"cookie")):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
