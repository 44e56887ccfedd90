"""Every sign-in, failed sign-in and sign-out is an audit event, whatever the door (console,
admin, OIDC callback, a direct ``authenticate()``).

A sign-in that arrives as a write request (the password form's POST) is already recorded by
``AuditMiddleware`` — exactly one event per write — so the handlers name it there
(``request.audit_action`` …); anything else (the OIDC callback is a GET) is recorded here.
"""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from apps.audit.choices import Channel, Outcome
from apps.audit.middleware import WRITE_METHODS
from apps.audit.services import record_event
from apps.core.middleware import client_ip


def _describe(request, *, action, outcome, user=None, username="", message="") -> None:
    if request is not None and request.method is None:
        return  # the test client's login()/force_login(): no request reached the portal
    if request is not None and request.method in WRITE_METHODS:
        request.audit_action = action
        request.audit_outcome = outcome
        request.audit_message = message
        if user is not None:
            request.audit_user = user
        if username:
            request.audit_username = username[:150]
        return
    record_event(
        action=action,
        user=user,
        tenant=getattr(user, "tenant", None),
        resource=user.authz_resource if user is not None else "",
        channel=Channel.CONSOLE if request is not None else Channel.CLI,
        outcome=outcome,
        username=username[:150],
        message=message,
        source_ip=client_ip(request) if request is not None else None,
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:512] if request is not None else "",
        method=request.method if request is not None else "",
        path=request.get_full_path()[:1024] if request is not None else "",
        request_id=getattr(request, "request_id", "") if request is not None else "",
    )


def _via(user) -> str:
    provider = getattr(user, "identity_provider", None) if user.identity_provider_id else None
    return f"through identity provider '{provider.name}'" if provider else "with a local password"


@receiver(user_logged_in)
def _signed_in(sender, request, user, **kwargs):
    _describe(request, action="auth.login", outcome=Outcome.SUCCESS, user=user, message=_via(user))


@receiver(user_login_failed)
def _sign_in_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username") or "")
    # A backend may say why (an LDAP server that is down, a refused takeover: see
    # ``identity.ldap.explain_failed_sign_in``; a lock: ``lockout.LockoutBackend``).
    reason = credentials.get("portal_reason") or getattr(request, "portal_sign_in_reason", "")
    _describe(
        request,
        action="auth.login_failed",
        outcome=Outcome.DENIED,
        username=username,
        message=reason or "wrong username or password, or the account cannot sign in",
    )


@receiver(user_logged_out)
def _signed_out(sender, request, user, **kwargs):
    if user is None:
        return
    _describe(request, action="auth.logout", outcome=Outcome.SUCCESS, user=user)
