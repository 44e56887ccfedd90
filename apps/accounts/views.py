"""Console sign-in and sign-out.

The sign-in page works out the tenant — the ``tenant`` query parameter or form field, the
``tenant/`` typed before a username, the host name (``PORTAL_TENANT_HOST_SUFFIX``: with
``.portal.example.com``, ``acme.portal.example.com`` means tenant ``acme``), or the tenant
this browser last signed in to — and offers that tenant's single-sign-on providers next to
the password form (local accounts and LDAP directories share the password form). An unknown
tenant looks exactly like a tenant with only passwords: the page does not confirm which
tenants exist.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import reverse
from django.utils.http import urlencode

from .choices import ProviderType
from .forms import PortalAuthenticationForm
from .models import IdentityProvider

TENANT_COOKIE = "portal_tenant"
# Session key: where to send the browser after sign-out (an OIDC end-session URL).
END_SESSION_KEY = "portal_end_session_url"
# Why the last single sign-on failed: set by apps.accounts.identity.oidc.views, shown once.
SSO_ERROR_KEY = "portal_sso_error"
TENANT_COOKIE_AGE = 365 * 24 * 3600


def tenant_from_host(request) -> str:
    suffix = (settings.PORTAL_TENANT_HOST_SUFFIX or "").lower()
    if not suffix:
        return ""
    host = request.get_host().split(":", 1)[0].lower()
    if host.endswith(suffix) and host != suffix.lstrip("."):
        label = host[: -len(suffix)]
        return label if "." not in label else ""
    return ""


def requested_tenant(request) -> str:
    """The tenant slug the sign-in page is for, by the rules above ('' when none)."""
    data = request.POST if request.method == "POST" else request.GET
    typed = (data.get("tenant") or "").strip().lower()
    if typed:
        return typed
    username = (data.get("username") or "").strip()
    if "/" in username:
        return username.split("/", 1)[0].lower()
    return tenant_from_host(request) or request.COOKIES.get(TENANT_COOKIE, "")[:32].lower()


def sign_in_providers(tenant_slug: str) -> list[IdentityProvider]:
    """The tenant's enabled single-sign-on providers, in their order (none for an unknown
    or inactive tenant)."""
    if not tenant_slug:
        return []
    return list(
        IdentityProvider.objects.filter(
            tenant__slug=tenant_slug,
            tenant__is_active=True,
            enabled=True,
            type=ProviderType.OIDC,
        )
    )


class PortalLogoutView(auth_views.LogoutView):
    """Sign-out (POST only): the session row is deleted and its cookie dropped. A user who
    signed in through single sign-on is then sent to the provider's end-session endpoint
    (the URL was prepared at sign-in in ``END_SESSION_KEY``), so signing out of the portal
    does not leave them signed in at the provider."""

    def post(self, request, *args, **kwargs):
        end_session = request.session.get(END_SESSION_KEY)
        response = super().post(request, *args, **kwargs)
        if end_session and response.status_code in (301, 302):
            response["Location"] = end_session
        return response


class PortalLoginView(auth_views.LoginView):
    authentication_form = PortalAuthenticationForm
    template_name = "registration/login.html"

    def get_initial(self):
        return {**super().get_initial(), "tenant": requested_tenant(self.request)}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        tenant = requested_tenant(self.request)
        next_url = self.get_redirect_url()
        links = []
        for provider in sign_in_providers(tenant):
            url = reverse("oidc-start", kwargs={"tenant": tenant, "provider": provider.name})
            links.append(
                {
                    "label": provider.label,
                    "url": f"{url}?{urlencode({'next': next_url})}" if next_url else url,
                }
            )
        context.update(tenant=tenant, sso_links=links)
        # Why the last single sign-on failed (set by the OIDC views), shown once.
        sso_error = self.request.session.pop(SSO_ERROR_KEY, None)
        if sso_error and not context.get("sso_error"):
            context["sso_error"] = sso_error
        return context

    def form_valid(self, form):
        response = super().form_valid(form)
        user = form.get_user()
        if user.tenant_id is not None:
            remember_tenant(response, user.tenant.slug)
        return response


def remember_tenant(response, slug: str) -> None:
    response.set_cookie(
        TENANT_COOKIE,
        slug,
        max_age=TENANT_COOKIE_AGE,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
