"""What every console page is built on: sign-in, tenant scope, authorization and the shell.

A page names the action that opens it (``authz_action``) the way an API endpoint does; a
page about one object asks again for that object (:meth:`ConsoleView.require`). A refusal is
the console's 403 page, which says what was refused and links to "Why can't I?" with the
same action and resource. The same action names as the API, so one permission matrix
describes both doors (``tests/console/matrix.py``).
"""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.views.generic import TemplateView

from apps.authz.enforcer import can_any, check

from ..scope import console_scope


class ConsoleDenied(PermissionDenied):
    """A console page refused: what was asked, on what, and the policy layer's reason."""

    def __init__(self, action: str, resource: str, reason: str, project: str | None = None):
        super().__init__(f"You may not {action} on {resource}: {reason}")
        self.action, self.resource, self.reason, self.project = action, resource, reason, project


class ConsoleView(LoginRequiredMixin, TemplateView):
    """A console page. ``authz_action`` (with ``authz_model`` for models whose rows may
    belong to projects) must be allowed on at least something to open the page; views
    narrow further with :meth:`require` and with ``restrict`` on their querysets."""

    authz_action = ""
    authz_model = None
    title = ""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.scope = console_scope(request)
        self.authorize()
        return super().dispatch(request, *args, **kwargs)

    def authorize(self) -> None:
        if self.authz_action and not can_any(
            self.request.user, self.authz_action, model=self.authz_model
        ):
            raise ConsoleDenied(self.authz_action, "*", "no policy of yours allows it anywhere")

    def require(self, action: str, resource: str, tenant=None, project=None, obj=None, owner=None):
        """Refuse (403 page) unless ``action`` on ``resource`` is allowed (``owner``: the
        user the object belongs to, for the self-service rules)."""
        tenant = tenant if tenant is not None else self.scope.tenant
        decision = check(
            self.request.user, action, resource, tenant, project=project, owner=owner, obj=obj
        )
        if not decision:
            raise ConsoleDenied(action, resource, decision.reason, project)
        return decision

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["title"] = self.title
        return context
