"""What every access page shares: rows restricted like the API's viewsets, one object
authorized like ``PortalPermission.has_object_permission``, and writes that show the
service's refusal or validation error in the page instead of a bare error."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.audit.choices import Outcome
from apps.authz.enforcer import check, restrict

from ..base import ConsoleDenied, ConsoleView

# The access area's own tabs: url name, label, the action that lists them, and the view-name
# prefix of the pages that belong to the tab.
TABS = (
    ("console:users", gettext_lazy("Users"), "listUsers", "console:user"),
    ("console:groups", gettext_lazy("Groups"), "listGroups", "console:group"),
    ("console:api-keys", gettext_lazy("API keys"), "listAPIKeys", "console:api-key"),
    ("console:policies", gettext_lazy("Policies"), "listPolicies", "console:polic"),
    ("console:roles", gettext_lazy("Roles"), "listRoles", "console:role"),
    ("console:bindings", gettext_lazy("Bindings"), "listBindings", "console:binding"),
    (
        "console:identity-providers",
        gettext_lazy("Identity providers"),
        "listIdentityProviders",
        "console:identity-provider",
    ),
)


def service_error(exc) -> str:
    """A service's ValidationError or PermissionDenied as one readable sentence."""
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return "; ".join(
                f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()
            )
        return " ".join(exc.messages)
    return str(exc)


class AccessView(ConsoleView):
    """A page (or action) of the access area."""

    def visible(self, queryset, action: str):
        """``queryset`` in the console's tenant scope, restricted in SQL to ``action``."""
        return restrict(queryset.in_scope(self.scope), self.request.user, action)

    def get_visible(self, queryset, action: str, **lookup):
        """One object the user may ``action`` (the API's detail queryset): 404 otherwise."""
        # PostgreSQL refuses text with NUL; no stored name holds one.
        if any(isinstance(v, str) and "\x00" in v for v in lookup.values()):
            raise Http404
        found = list(self.visible(queryset, action).filter(**lookup)[:2])
        if not found:
            raise Http404(_("Not found."))
        if len(found) > 1:
            # The platform administrator viewing every tenant: names are unique per tenant
            # only, so the page cannot tell which one is meant until a tenant is chosen.
            raise Http404(_("Several tenants have this name: choose a tenant first."))
        return found[0]

    def name_for_audit(self, action: str, resource: str) -> None:
        """The audit event of this request is named after its first authorization (the
        write itself), not after the page re-shown around a refusal."""
        if not getattr(self.request, "audit_action", None):
            self.request.audit_action, self.request.audit_resource = action, resource

    def authorize_object(self, action: str, obj, owner=None) -> None:
        """The API's object check: ``action`` on the object's path, in its tenant, with
        self-service for ``owner`` and the object's django-guardian grants."""
        resource = obj.authz_resource
        self.name_for_audit(action, resource)
        decision = check(
            self.request.user, action, resource, tenant=obj.tenant, owner=owner, obj=obj
        )
        if not decision:
            raise ConsoleDenied(action, resource, decision.reason)

    def authorize_collection(self, action: str, resource: str, owner=None):
        """The API's collection check (create): the tenant new objects go into."""
        self.name_for_audit(action, resource)
        tenant = self.scope.tenant
        decision = check(self.request.user, action, resource, tenant=tenant, owner=owner)
        if not decision:
            raise ConsoleDenied(action, resource, decision.reason)
        return tenant

    def write_tenant(self):
        if self.scope.tenant is None:
            raise ValidationError(_("Choose a tenant first (the tenant switcher at the top)."))
        return self.scope.tenant

    def redirect(self, url: str, navigate: bool = False):
        """After a write: back to ``url`` (303). HTMX follows it and swaps the page region
        in place; with ``navigate`` (a new object's own page) it goes there instead."""
        if navigate and self.request.htmx:
            response = HttpResponse(status=200)
            response["HX-Location"] = url
            return response
        return HttpResponseRedirect(url, status=303)

    def failed(self, error, denied: bool = False, **context):
        """Re-show the page with the service's refusal or validation error (an exception or
        a sentence): 200 for HTMX (it swaps only 2xx), 400 otherwise. The audit event says
        how it ended (the status alone would say "success" for HTMX)."""
        denied = denied or isinstance(error, PermissionDenied)
        message = error if isinstance(error, str) else service_error(error)
        self.request.audit_outcome = Outcome.DENIED if denied else Outcome.FAILURE
        self.request.audit_message = message[:2000]
        context = self.get_context_data(error=message, **context)
        response = self.render_to_response(context)
        response.status_code = 200 if self.request.htmx else 400
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        from apps.authz.enforcer import can_any

        match = self.request.resolver_match
        current = match.view_name if match else ""
        context["access_tabs"] = [
            {"url": name, "label": label, "active": current.startswith(prefix)}
            for name, label, action, prefix in TABS
            if can_any(self.request.user, action)
        ]
        return context


__all__ = ["AccessView", "PermissionDenied", "ValidationError", "service_error"]
