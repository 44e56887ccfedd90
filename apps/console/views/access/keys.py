"""API keys: one's own (and, for who may, the tenant's); create shows the key once, after a
recent sign-in (``apps.accounts.reauth``, as the API requires); revoke deletes it. Authorized
as ``APIKeyViewSet``: self-service for one's own keys, the policy for anyone else's."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.accounts import reauth, services
from apps.accounts.models import APIKey

from .common import AccessView, PermissionDenied, ValidationError

PAGE_SIZE = 50
LIFETIMES = (
    ("1d", gettext_lazy("1 day")),
    ("7d", gettext_lazy("7 days")),
    ("30d", gettext_lazy("30 days")),
    ("90d", gettext_lazy("90 days")),
    ("365d", gettext_lazy("1 year")),
)
COLLECTION = "user:*/apikey:*"


class APIKeysView(AccessView):
    template_name = "console/access/api_keys.html"
    authz_action = "listAPIKeys"
    title = gettext_lazy("API keys")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = self.visible(
            APIKey.objects.select_related("user", "cluster", "disabled_by"), "listAPIKeys"
        ).order_by("-created_at", "-id")
        page = Paginator(rows, PAGE_SIZE).get_page(self.request.GET.get("page"))
        shown = [key.pk for key in page.object_list]
        # Revoke is offered where it would be allowed (one's own: self-service).
        deletable = set(
            self.visible(APIKey.objects.filter(pk__in=shown), "deleteAPIKey").values_list(
                "pk", flat=True
            )
        )
        context.update(
            page=page,
            keys=page.object_list,
            deletable=deletable,
            lifetimes=LIFETIMES,
            form=kwargs.get("form") or {"expires_in": "30d", "description": ""},
        )
        return context


class APIKeyCreateView(APIKeysView):
    """POST: a new key of the signed-in user, shown once in the answer (never stored)."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        self.authorize_collection("createAPIKey", COLLECTION, owner=request.user)
        form = {
            "description": request.POST.get("description", "").strip()[:255],
            "expires_in": request.POST.get("expires_in", "").strip()[:32],
        }
        try:
            reauth.require_recent_sign_in(request, next_url=reverse("console:api-keys"))
        except reauth.ReauthenticationRequired as exc:
            return self.failed(
                _("Creating a key needs a recent sign-in: confirm your identity and try again."),
                denied=True,
                reauth_url=exc.extra["reauth_url"],
                form=form,
            )
        try:
            lifetime = services.parse_duration(form["expires_in"])
        except ValueError as exc:
            return self.failed(f"expires_in: {exc}", form=form)
        try:
            key, plaintext = services.create_api_key(
                actor=request.user,
                user=request.user,
                expires_in=lifetime,
                description=form["description"],
            )
        except (ValidationError, PermissionDenied) as exc:
            return self.failed(exc, form=form)
        request.audit_resource = key.authz_resource
        response = self.render_to_response(self.get_context_data(created=key, plaintext=plaintext))
        response["Cache-Control"] = "no-store"
        return response


class APIKeyRevokeView(APIKeysView):
    """POST: revoke (delete) a key: ``deleteAPIKey``, self-service for one's own."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        key = self.get_visible(
            APIKey.objects.select_related("user", "tenant"), "getAPIKey", pk=kwargs["pk"]
        )
        self.authorize_object("deleteAPIKey", key, owner=key.user)
        try:
            services.delete_api_key(actor=request.user, key=key)
        except (ValidationError, PermissionDenied) as exc:
            return self.failed(exc)
        return self.redirect(reverse("console:api-keys"))
