"""Identity providers: list, detail (configuration without its secret), "test connection"
with the probe's step report — ``IdentityProviderViewSet.test`` through the same service
(``services.test_identity_provider``, which runs ``apps/accounts/identity/probe.py``) — and,
for LDAP directories, "sync now" (``…/sync/``: ``services.sync_identity_provider``) with the
last sync's report."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Count
from django.urls import reverse
from django.utils.translation import gettext_lazy

from apps.accounts import services
from apps.accounts.models import IdentityProvider
from apps.audit.redaction import redact
from apps.authz.enforcer import check

from .common import AccessView, PermissionDenied, ValidationError

PAGE_SIZE = 50


class IdentityProvidersView(AccessView):
    template_name = "console/access/identity_providers.html"
    authz_action = "listIdentityProviders"
    title = gettext_lazy("Identity providers")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = (
            self.visible(IdentityProvider.objects.all(), "listIdentityProviders")
            .annotate(user_count=Count("users"))
            .order_by("priority", "name")
        )
        page = Paginator(rows, PAGE_SIZE).get_page(self.request.GET.get("page"))
        context.update(page=page, providers=page.object_list)
        return context


class IdentityProviderView(AccessView):
    template_name = "console/access/identity_provider.html"
    authz_action = "getIdentityProvider"

    def provider(self):
        return self.get_visible(
            IdentityProvider.objects.select_related("tenant").annotate(user_count=Count("users")),
            "getIdentityProvider",
            name=self.kwargs["name"],
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        provider = kwargs.get("provider") or self.provider()
        self.authorize_object("getIdentityProvider", provider)
        context.update(
            title=provider.label,
            provider=provider,
            # The secret is write-only: say whether one is set, never what it is.
            has_secret=bool(provider.secret),
            config=sorted(redact(provider.config or {}).items()),
            report=kwargs.get("report") or provider.last_test or None,
            may_test=self.may(provider, "testIdentityProvider"),
            may_sync=provider.type == "ldap" and self.may(provider, "syncIdentityProvider"),
            sync=provider.last_sync or None,
        )
        return context

    def may(self, provider, action: str) -> bool:
        return bool(
            check(
                self.request.user,
                action,
                provider.authz_resource,
                tenant=provider.tenant,
                obj=provider,
            )
        )

    def get_template_names(self):
        if self.request.htmx and self.request.htmx.target == "idp-report":
            return ["console/access/_probe_report.html"]
        return [self.template_name]


class IdentityProviderTestView(IdentityProviderView):
    """POST: probe the provider step by step and show the report."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        provider = self.provider()
        self.authorize_object("testIdentityProvider", provider)
        try:
            report = services.test_identity_provider(actor=request.user, provider=provider)
        except (ValidationError, PermissionDenied) as exc:
            return self.failed(exc, provider=provider)
        return self.render_to_response(self.get_context_data(provider=provider, report=report))


class IdentityProviderSyncView(IdentityProviderView):
    """POST: ask an LDAP directory about every one of its users now (presence, profile,
    groups); back to the provider's page, which shows the report."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        provider = self.provider()
        self.authorize_object("syncIdentityProvider", provider)
        try:
            services.sync_identity_provider(actor=request.user, provider=provider)
        except (ValidationError, PermissionDenied) as exc:
            return self.failed(exc, provider=provider)
        return self.redirect(reverse("console:identity-provider", args=[provider.name]))
