"""The console's own pages: the overview, "Why can't I?", the tenant switcher and the error
pages in the console's look."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.audit.models import AuditEvent
from apps.authz.enforcer import can_any, explain, restrict
from apps.clusters import overview as cluster_overview
from apps.clusters import visibility
from apps.clusters.models import Cluster, ClusterOperation
from apps.projects.models import Project
from apps.tenants.models import Tenant

from ..scope import SESSION_KEY, console_scope
from .base import ConsoleDenied, ConsoleView

RECENT = 8


class OverviewView(ConsoleView):
    """Clusters (phase, version, nodes, capacity, pods), projects, and what happened lately —
    each part only for those who may see it."""

    template_name = "console/overview.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, scope = self.request.user, self.scope
        context["title"] = _("Overview")
        clusters = []
        if can_any(user, "listClusters", model=Cluster):
            rows = list(
                restrict(Cluster.objects.in_scope(scope), user, "listClusters").select_related(
                    "credential", "tenant"
                )
            )
            clusters = [
                visibility.redact_overview_row(user, cluster, row)
                for cluster, row in zip(rows, cluster_overview.overview(rows), strict=True)
            ]
        projects = []
        if can_any(user, "listProjects", model=Project):
            projects = list(
                restrict(Project.objects.in_scope(scope), user, "listProjects")
                .select_related("tenant")
                .order_by("name")[:20]
            )
        operations = []
        if clusters:
            visible = {row["name"] for row in clusters if row.get("namespaces") is None}
            operations = list(
                ClusterOperation.objects.filter(cluster__name__in=visible)
                .filter(cluster__in=Cluster.objects.in_scope(scope))
                .select_related("cluster", "created_by")
                .order_by("-created_at")[:RECENT]
            )
        events = []
        if can_any(user, "listAuditEvents"):
            events = list(
                restrict(AuditEvent.objects.in_scope(scope), user, "listAuditEvents")
                .select_related("user")
                .order_by("-created_at")[:RECENT]
            )
        context.update(clusters=clusters, projects=projects, operations=operations, events=events)
        return context


class WhyView(ConsoleView):
    """ "Why can't I?": the policy layer's explanation of one decision for the signed-in user
    — every rule that matched, through which binding — linked from every refusal."""

    template_name = "console/why.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        params = self.request.GET
        action = (params.get("action") or "").strip()[:128]
        resource = (params.get("resource") or "").strip()[:512]
        project = (params.get("project") or "").strip()[:64] or None
        decision = None
        if action and resource:
            user = self.request.user
            decision = explain(
                user,
                action,
                resource,
                tenant=user.tenant if user.tenant_id else None,
                project=project,
            )
        context.update(
            title=_("Why can't I?"),
            action=action,
            resource=resource,
            project=project,
            decision=decision,
            asked=decision is not None,  # a Decision is falsy when refused
        )
        return context


@require_POST
@login_required
def switch_tenant(request):
    """The platform administrator's tenant switcher (empty: every tenant)."""
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = "/"
    if request.user.is_superuser:
        slug = (request.POST.get("tenant") or "").strip()
        if slug and Tenant.objects.filter(slug=slug).exists():
            request.session[SESSION_KEY] = slug
        else:
            request.session.pop(SESSION_KEY, None)
    return HttpResponseRedirect(target)


def denied(request, exception=None):
    """The console's 403: what was refused and a link to the explanation."""
    context = {}
    if isinstance(exception, ConsoleDenied):
        context.update(
            action=exception.action,
            resource=exception.resource,
            reason=exception.reason,
            project=exception.project,
        )
    else:
        context["reason"] = str(exception or "") or _("You may not do this.")
    context["title"] = _("Not allowed")
    if getattr(request, "htmx", False):
        # A refused HTMX action: the same message and "Why can't I?" link, inside the page
        # it was refused on (console.js swaps it in at the top of the content).
        response = render(request, "console/403_fragment.html", context, status=403)
        response["HX-Retarget"] = "#main"
        response["HX-Reswap"] = "afterbegin"
        response["HX-Reselect"] = "#refusal"
        response["X-Console-Refusal"] = "1"
        return response
    return render(request, "console/403.html", context, status=403)


__all__ = ["OverviewView", "WhyView", "console_scope", "denied", "switch_tenant"]
