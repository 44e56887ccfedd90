"""The two console views of OpenID Connect sign-in.

``/login/oidc/<tenant>/<provider>/`` (``oidc-start``) sends the browser to the tenant's
provider with a fresh state, nonce and PKCE challenge (mozilla-django-oidc's request view,
fed per-provider settings); the session remembers, under that state, which provider it was,
where to go afterwards (``?next=``, same host only) and — for ``?reauth=1`` — who is
re-authenticating (the provider is then asked to prompt again: ``prompt=login``,
``max_age=0``).

``/login/oidc/callback/`` (``oidc-callback``) is the one redirect URI to register at every
provider. It takes the state out of the session (a state works once), lets
:class:`~.backend.PortalOIDCBackend` exchange the code and check everything, signs the user
in (or, for a re-authentication, checks it is the same user) and records
``request.session["auth_time"]``. Any failure goes back to the sign-in page with the reason
and an ``auth.login_failed`` audit event.
"""

from __future__ import annotations

import logging
import re
import time
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.contrib import auth
from django.shortcuts import redirect, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.generic import View
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from apps.audit.choices import Channel, Outcome
from apps.audit.services import record_event
from apps.core.middleware import client_ip
from apps.tenants.models import Tenant

from ... import views as account_views
from ...backends import may_act
from ...choices import ProviderType
from ...models import IdentityProvider
from .backend import PortalOIDCBackend, SignInRefused, provider_settings
from .discovery import ProviderError, discover

logger = logging.getLogger("tkeportal.identity")

BACKEND_PATH = "apps.accounts.identity.oidc.PortalOIDCBackend"
SSO_ERROR_KEY = account_views.SSO_ERROR_KEY
# The tenant of the last sign-in started in this session: the sign-in page to return to when
# the provider's answer cannot be matched to a sign-in (no or unknown state).
LAST_TENANT_KEY = "oidc_last_tenant"
# A sign-in must come back from the provider within this many seconds.
STATE_MAX_AGE = 600


def _audit(request, *, action, outcome, tenant=None, user=None, message="") -> None:
    """The callback is a GET, which AuditMiddleware does not record: record it here, in the
    provider's tenant so its administrators see failed sign-ins too."""
    record_event(
        action=action,
        user=user,
        tenant=tenant,
        resource=user.authz_resource if user is not None else "",
        channel=Channel.CONSOLE,
        outcome=outcome,
        message=message[:1000],
        source_ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
        method=request.method,
        path=request.path[:1024],
        request_id=getattr(request, "request_id", ""),
    )


def sign_in_failed(request, reason: str, provider=None, next_url: str = "", *, audit=True):
    """Back to the sign-in page (for the provider's tenant) with ``reason`` shown.

    ``audit=False`` for a callback that matches no sign-in in progress: it is recorded only
    when this browser started a sign-in before (a replayed or stale answer, in that tenant's
    trail). Anyone can request the callback URL, so recording every stray one would let an
    anonymous client flood the audit trail with rows naming no tenant; those are logged."""
    label = f"single sign-on through '{provider.label}'" if provider else "single sign-on"
    message = f"{label} failed: {reason}"
    started = request.session.get(LAST_TENANT_KEY)
    if audit or started:
        tenant = provider.tenant if provider else Tenant.objects.filter(slug=started).first()
        _audit(
            request,
            action="auth.login_failed",
            outcome=Outcome.DENIED,
            tenant=tenant,
            message=message,
        )
    else:
        logger.info("OIDC callback outside any sign-in from %s: %s", client_ip(request), reason)
    request.session[SSO_ERROR_KEY] = message[0].upper() + message[1:]
    query = {}
    tenant = provider.tenant.slug if provider else request.session.get(LAST_TENANT_KEY)
    if tenant:
        query["tenant"] = tenant
    if next_url:
        query["next"] = next_url
    url = reverse("login")
    return redirect(f"{url}?{urlencode(query)}" if query else url)


def safe_next(request) -> str:
    """``?next=`` when it stays on this portal, else ''."""
    next_url = request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return next_url if next_url and allowed else ""


def provider_error(request) -> str:
    """``error: description`` of an error redirect from the provider ('' when none)."""
    error = request.GET.get("error", "")[:100]
    if error and request.GET.get("error_description"):
        error += f": {request.GET['error_description'][:300]}"
    return error


def enabled_provider(tenant_slug: str, name: str) -> IdentityProvider | None:
    return (
        IdentityProvider.objects.select_related("tenant")
        .filter(
            tenant__slug=tenant_slug,
            tenant__is_active=True,
            name=name,
            type=ProviderType.OIDC,
            enabled=True,
        )
        .first()
    )


class OIDCStartView(OIDCAuthenticationRequestView):
    """Start a sign-in (or re-authentication) at one tenant's provider."""

    def __init__(self, **kwargs):
        # The library's __init__ reads process-wide settings; ours come with the provider.
        View.__init__(self, **kwargs)
        self._settings: dict = {}
        self.reauth = False

    def get_settings(self, attr, *args):
        if attr in self._settings:
            return self._settings[attr]
        return args[0] if args else None

    def get(self, request, tenant, provider):
        next_url = safe_next(request)
        idp = enabled_provider(tenant, provider)
        if idp is None:
            # The same answer for an unknown tenant: the page does not confirm tenants.
            request.session[SSO_ERROR_KEY] = (
                f"Single sign-on '{provider}' is not available for tenant '{tenant}'."
            )
            return redirect(f"{reverse('login')}?{urlencode({'tenant': tenant})}")
        try:
            document = discover(idp)
        except ProviderError as exc:
            return sign_in_failed(
                request, f"the provider could not be reached: {exc}", idp, next_url
            )
        self._settings = provider_settings(idp, document)
        self.OIDC_OP_AUTH_ENDPOINT = document["authorization_endpoint"]
        self.OIDC_RP_CLIENT_ID = idp.config["client_id"]
        self.reauth = request.GET.get("reauth") == "1"
        response = super().get(request)
        # The library stored state → nonce, PKCE verifier; add what our callback needs.
        state = parse_qs(urlsplit(response["Location"]).query)["state"][0]
        entry = request.session["oidc_states"][state]
        entry["provider"] = idp.pk
        entry["next"] = next_url
        entry["reauth_user"] = (
            request.user.pk if self.reauth and request.user.is_authenticated else None
        )
        request.session.pop("oidc_login_next", None)  # per state instead (parallel tabs)
        request.session[LAST_TENANT_KEY] = idp.tenant.slug
        request.session.modified = True
        return response

    def get_extra_params(self, request):
        return {"prompt": "login", "max_age": "0"} if self.reauth else {}


class OIDCCallbackView(OIDCAuthenticationCallbackView):
    """The provider's redirect back: finish the sign-in or say exactly why not."""

    def get(self, request):
        state = request.GET.get("state") or ""
        states = request.session.get("oidc_states")
        entry = states.pop(state, None) if isinstance(states, dict) and state else None
        if entry is not None:
            # Gone before the slow token exchange: the same state cannot be used twice.
            request.session.modified = True
            request.session.save()
        error = provider_error(request)
        if not isinstance(entry, dict) or "provider" not in entry:
            if error:  # some providers leave the state out of their error redirects
                # Nothing ties this answer to a sign-in of this browser: anyone can send a
                # victim here with their own error_description, so only the (short, plain)
                # error code is shown, never text chosen by whoever wrote the link.
                code = re.sub(r"[^A-Za-z0-9_.-]", "", request.GET.get("error", ""))[:40]
                return sign_in_failed(
                    request, f"the provider refused ({code or 'error'})", audit=False
                )
            return sign_in_failed(
                request,
                "this sign-in was not started in this browser, was already used, or expired "
                "(state mismatch); please start again",
                audit=False,
            )
        next_url = entry.get("next") or ""
        provider = (
            IdentityProvider.objects.select_related("tenant")
            .filter(pk=entry["provider"], type=ProviderType.OIDC)
            .first()
        )
        if provider is None or not provider.enabled or not provider.tenant.is_active:
            return sign_in_failed(request, "the identity provider is no longer enabled", provider)
        if time.time() - float(entry.get("added_on", 0)) > STATE_MAX_AGE:
            return sign_in_failed(
                request,
                "the provider took too long to answer; please start again",
                provider,
                next_url,
            )
        if error:
            return sign_in_failed(request, f"the provider refused ({error})", provider, next_url)
        if not request.GET.get("code"):
            return sign_in_failed(
                request, "the provider sent no authorization code", provider, next_url
            )
        try:
            user = PortalOIDCBackend().authenticate(
                request,
                oidc_provider=provider,
                nonce=entry.get("nonce"),
                code_verifier=entry.get("code_verifier"),
            )
        except SignInRefused as exc:
            return sign_in_failed(request, str(exc), provider, next_url)
        if not may_act(user):
            return sign_in_failed(
                request, f"the portal account '{user.username}' is disabled", provider, next_url
            )
        if entry.get("reauth_user") is not None:
            return self.reauthenticated(request, provider, user, entry["reauth_user"], next_url)
        auth.login(request, user, backend=BACKEND_PATH)
        # After login(): it may have started a new session.
        request.session["auth_time"] = int(time.time())
        self.remember_end_session(request, user)
        response = redirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
        account_views.remember_tenant(response, provider.tenant.slug)
        return response

    def reauthenticated(self, request, provider, user, expected_pk, next_url):
        """A re-authentication proves the signed-in person is still at the keyboard: the
        provider must have signed in the same user, and then only the auth time moves."""
        if not request.user.is_authenticated or request.user.pk != expected_pk:
            return sign_in_failed(
                request, "re-authentication was started by another session", provider, next_url
            )
        if user.pk != expected_pk:
            return sign_in_failed(
                request,
                f"the provider signed in '{user.username}', not '{request.user.username}', "
                "who is re-authenticating",
                provider,
                next_url,
            )
        request.session["auth_time"] = int(time.time())
        self.remember_end_session(request, user)
        _audit(
            request,
            action="auth.reauth",
            outcome=Outcome.SUCCESS,
            tenant=provider.tenant,
            user=user,
            message=f"re-authenticated through identity provider '{provider.name}'",
        )
        return redirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))

    @staticmethod
    def remember_end_session(request, user) -> None:
        url = getattr(user, "oidc_end_session_url", "")
        if url:
            request.session[account_views.END_SESSION_KEY] = url
        else:
            request.session.pop(account_views.END_SESSION_KEY, None)
