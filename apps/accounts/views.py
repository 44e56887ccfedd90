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

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views import View

from apps.audit.choices import Outcome

from . import lockout, services, sessions
from .choices import ProviderType, UserSource
from .forms import PasswordChangeForm, PortalAuthenticationForm, ReauthenticationForm
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

    def get_success_url(self):
        url = super().get_success_url()
        if self.request.user.must_change_password:
            # Reset by an administrator: nothing else until a new password is chosen.
            return f"{reverse('password-change')}?{urlencode({'next': url})}"
        return url


def remember_tenant(response, slug: str) -> None:
    response.set_cookie(
        TENANT_COOKIE,
        slug,
        max_age=TENANT_COOKIE_AGE,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )


def safe_next(request, default: str = "/") -> str:
    """The ``next`` parameter when it points back into the portal, else ``default``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@method_decorator(login_required, name="dispatch")
class ReauthView(View):
    """``/reauth/?next=``: confirm who you are before a sensitive action. Local and LDAP users
    re-enter their password (checked by ``authenticate()``: the lockout applies); single
    sign-on users go through their provider again. Success moves the session's ``auth_time``
    to now and is audited (``auth.reauth``)."""

    template_name = "registration/reauth.html"

    def get(self, request):
        next_url = safe_next(request)
        user = request.user
        if user.source == UserSource.OIDC and user.identity_provider_id:
            start = reverse(
                "oidc-start",
                kwargs={"tenant": user.tenant.slug, "provider": user.identity_provider.name},
            )
            return redirect(f"{start}?{urlencode({'reauth': 1, 'next': next_url})}")
        return self._page(request, ReauthenticationForm(request), next_url)

    def post(self, request):
        next_url = safe_next(request)
        form = ReauthenticationForm(request, data=request.POST)
        valid = form.is_valid()
        # After the check: a failed one has named the event auth.login_failed; this is a re-auth.
        request.audit_action = "auth.reauth"
        request.audit_resource = request.user.authz_resource
        if not valid:
            request.audit_outcome = Outcome.DENIED
            request.audit_message = " ".join(form.non_field_errors()) or "no password given"
            return self._page(request, form, next_url, status=400)
        request.session[sessions.AUTH_TIME] = sessions.now()
        lockout.reset_account(request.user)
        request.audit_outcome = Outcome.SUCCESS
        request.audit_message = "identity confirmed with the password"
        return redirect(next_url)

    def _page(self, request, form, next_url, status=200):
        context = {"form": form, "next": next_url}
        return render(request, self.template_name, context, status=status)


@method_decorator(login_required, name="dispatch")
class PasswordChangeView(View):
    """``/account/password/``: change your own local password (the current one, then the new
    one twice). Your other sessions end; this one stays. A user whose password an
    administrator reset is kept here until they choose one. Directory users are told where
    their password lives instead."""

    template_name = "registration/password_change.html"

    def get(self, request):
        return self._page(request, PasswordChangeForm())

    def post(self, request):
        form = PasswordChangeForm(request.POST)
        user = request.user
        changed = False
        if form.is_valid():
            try:
                services.change_own_password(
                    actor=user,
                    request=request,
                    old_password=form.cleaned_data["old_password"],
                    new_password=form.cleaned_data["new_password1"],
                )
                changed = True
            except lockout.LockedOut as exc:
                form.add_error(None, forms.ValidationError(str(exc.detail), code="locked"))
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    target = "new_password1" if field == "new_password" else field
                    form.add_error(target if target in form.fields else None, errors)
        # Named after the check (a wrong current password has named it auth.login_failed).
        request.audit_action = "auth.password_change"
        request.audit_resource = user.authz_resource
        request.audit_user = user
        if changed:
            request.audit_outcome = Outcome.SUCCESS
            request.audit_message = "password changed; other sessions ended"
            messages.success(request, "Your password was changed.")
            return redirect(safe_next(request, reverse("console:overview")))
        # A wrong current password (or a lock) is a refusal; a rejected new one a failure.
        refused = "old_password" in form.errors or any(
            e.code == "locked" for e in form.non_field_errors().as_data()
        )
        request.audit_outcome = Outcome.DENIED if refused else Outcome.FAILURE
        request.audit_message = "; ".join(
            f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()
        )
        return self._page(request, form, status=400)

    def _page(self, request, form, status=200):
        directory = ""
        try:
            services.assert_local_password(request.user)
        except ValidationError as exc:
            directory = " ".join(exc.message_dict["password"])
        context = {
            "form": form,
            "directory": directory,
            "next": safe_next(request, ""),
            "forced": request.user.must_change_password,
        }
        return render(request, self.template_name, context, status=status)
