"""Console sessions: when they were signed in to, when they end, and ending them.

- Every sign-in (any door: password form, admin, single sign-on) stamps the session with
  ``auth_time`` — when the user last proved who they are, int seconds since the epoch — and
  ``last_seen``. Django's ``login()`` has already rotated the session key (a session id
  planted before sign-in is useless after it); re-authentication (``apps.accounts.reauth``)
  moves ``auth_time`` forward.
- :class:`SessionPolicyMiddleware` ends a session idle for ``PORTAL_SESSION_IDLE_TIMEOUT``
  seconds or signed in to more than ``PORTAL_SESSION_ABSOLUTE_TIMEOUT`` seconds ago (the
  session row is deleted, the request goes on anonymous, the end is audited), and keeps a user
  whose password an administrator reset (``must_change_password``) on the password-change
  page. ``last_seen`` is written at most once a minute, so an active session costs one session
  write a minute, not one a request. A session without ``auth_time`` predates these rules and
  is ended.
- :func:`end_sessions` deletes a user's session rows (password change: all but the current
  one; administrator reset: all).

Websocket consumers do not pass through Django middleware: they ask :func:`expiry_reason`
about ``scope["session"]`` themselves.
"""

from __future__ import annotations

import time
from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

AUTH_TIME = "auth_time"
LAST_SEEN = "last_seen"
# A session's last-seen stamp is rewritten only when it is this many seconds old.
LAST_SEEN_RESOLUTION = 60


def now() -> int:
    return int(time.time())


@receiver(user_logged_in)
def _stamp_sign_in(sender, request, user, **kwargs):
    session = getattr(request, "session", None)
    if session is not None:
        stamp = now()
        session[AUTH_TIME] = stamp
        session[LAST_SEEN] = stamp


def expiry_reason(session, at: int | None = None) -> str:
    """Why a signed-in session is over ('' while it is valid)."""
    at = now() if at is None else at
    auth_time = session.get(AUTH_TIME)
    if not isinstance(auth_time, int):
        return "the session predates sign-in time stamps"
    absolute = settings.PORTAL_SESSION_ABSOLUTE_TIMEOUT
    if at - auth_time > absolute:
        return f"signed in more than {describe_duration(absolute)} ago (absolute session timeout)"
    idle = settings.PORTAL_SESSION_IDLE_TIMEOUT
    last_seen = session.get(LAST_SEEN, auth_time)
    if isinstance(last_seen, int) and at - last_seen > idle:
        return f"idle for more than {describe_duration(idle)} (idle session timeout)"
    return ""


def describe_duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def end_sessions(user, keep: str | None = None) -> int:
    """Delete every session of ``user`` except ``keep`` (a session key); returns how many.
    One indexed lookup: the session engine (``apps.accounts.session_store``) records each
    session's user."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    keys = list(
        store.get_model_class()
        .objects.filter(user_id=user.pk, expire_date__gt=timezone.now())
        .exclude(session_key=keep or "")
        .values_list("session_key", flat=True)
    )
    for key in keys:
        store(session_key=key).delete()  # through the store: a cached engine forgets it too
    return len(keys)


def _api_key_request(request) -> bool:
    # API keys travel in the Authorization header; the session (if any) is not what acts.
    return "HTTP_AUTHORIZATION" in request.META


# Paths a user who must change their password may still reach.
_PASSWORD_CHANGE_OPEN = ("/static/", "/healthz")


class SessionPolicyMiddleware:
    """Idle and absolute session timeouts, and the forced password change (see the module
    docstring). Sits right after Django's AuthenticationMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = request.session
        if SESSION_KEY in session:
            reason = expiry_reason(session)
            if reason:
                self._end(request, reason)
            elif now() - session.get(LAST_SEEN, 0) >= LAST_SEEN_RESOLUTION:
                session[LAST_SEEN] = now()
        user = request.user
        if (
            user.is_authenticated
            and user.must_change_password
            and not _api_key_request(request)
            and not self._open_to_password_change(request.path)
        ):
            return self._to_password_change(request)
        return self.get_response(request)

    @staticmethod
    def _end(request, reason: str) -> None:
        from apps.audit.choices import Channel, Outcome
        from apps.audit.services import record_event
        from apps.core.middleware import client_ip

        user = request.user if request.user.is_authenticated else None
        request.session.flush()  # deletes the row and forgets the key
        request.user = AnonymousUser()
        if user is not None:
            record_event(
                action="auth.session_expired",
                user=user,
                resource=user.authz_resource,
                channel=Channel.CONSOLE,
                outcome=Outcome.SUCCESS,
                message=reason,
                source_ip=client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
                method=request.method or "",
                path=request.get_full_path()[:1024],
                request_id=getattr(request, "request_id", ""),
            )

    @staticmethod
    def _open_to_password_change(path: str) -> bool:
        allowed = (
            reverse("password-change"),
            reverse("logout"),
            reverse("login"),
            reverse("api:me"),
            reverse("api:me-password"),
        )
        return path in allowed or path.startswith(_PASSWORD_CHANGE_OPEN)

    @staticmethod
    def _to_password_change(request):
        detail = (
            "An administrator reset your password: choose a new one at "
            f"{reverse('password-change')} (or POST /api/v1/me/password/) before going on."
        )
        if request.path.startswith("/api/"):
            from apps.core.api.errors import error_body

            return JsonResponse(error_body("password_change_required", detail), status=403)
        target = reverse("password-change")
        if request.method == "GET":
            target += "?" + urlencode({"next": request.get_full_path()})
        return redirect(target)
