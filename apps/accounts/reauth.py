"""Re-authentication before sensitive actions: creating an API key, downloading a kubeconfig,
opening a web terminal.

A stolen or forgotten-open browser session must not be enough to mint a long-lived
credential. So when the request is authenticated by a *session* whose sign-in
(``session["auth_time"]``, see ``apps.accounts.sessions``) is older than
``PORTAL_REAUTH_MAX_AGE`` seconds, these actions are refused with 403
``reauthentication_required`` and a ``reauth_url``: the console page ``/reauth/?next=…``,
where local and LDAP users re-enter their password and single sign-on users go through their
provider again; either moves ``auth_time`` forward. Requests authenticated with an API key
are not affected: a key can only mint keys that do not outlive it.

One call for every door: :func:`require_recent_sign_in` (API views, console views), and
:func:`session_is_fresh` for code that holds only a session (websocket consumers).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from rest_framework import exceptions, status

from .sessions import AUTH_TIME, now


class ReauthenticationRequired(exceptions.APIException):
    """403 ``reauthentication_required``; the error body carries ``reauth_url``."""

    status_code = status.HTTP_403_FORBIDDEN
    default_code = "reauthentication_required"

    def __init__(self, reauth_url: str, max_age: int):
        super().__init__(
            f"This action needs a recent sign-in (within the last {max_age // 60} minutes): "
            f"confirm your identity at {reauth_url} and try again."
        )
        self.extra = {"reauth_url": reauth_url}


def session_is_fresh(session) -> bool:
    """Was the session signed in to (or re-authenticated) within ``PORTAL_REAUTH_MAX_AGE``?"""
    auth_time = session.get(AUTH_TIME)
    return isinstance(auth_time, int) and now() - auth_time <= settings.PORTAL_REAUTH_MAX_AGE


def reauth_url(next_url: str = "/") -> str:
    return f"{reverse('reauth')}?{urlencode({'next': next_url or '/'})}"


def _session_authenticated(request) -> bool:
    """Is the request acting through a browser session (not an API key)?"""
    from rest_framework.authentication import SessionAuthentication

    authenticator = getattr(request, "successful_authenticator", None)
    if authenticator is not None or hasattr(request, "_request"):
        return isinstance(authenticator, SessionAuthentication)  # a DRF request
    return bool(getattr(request, "user", None) and request.user.is_authenticated)


def _next_for(request) -> str:
    """Where to come back after re-authenticating: the console page the action started
    from (the same-site Referer), else the overview."""
    raw = getattr(request, "_request", request)
    referer = raw.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={raw.get_host()}, require_https=raw.is_secure()
    ):
        parts = urlsplit(referer)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return "/"


def require_recent_sign_in(request, next_url: str | None = None) -> None:
    """Raise :class:`ReauthenticationRequired` for a session-authenticated request whose
    sign-in is older than ``PORTAL_REAUTH_MAX_AGE``; do nothing otherwise (API keys)."""
    if not _session_authenticated(request):
        return
    raw = getattr(request, "_request", request)
    if session_is_fresh(raw.session):
        return
    raise ReauthenticationRequired(
        reauth_url(next_url or _next_for(request)), settings.PORTAL_REAUTH_MAX_AGE
    )
