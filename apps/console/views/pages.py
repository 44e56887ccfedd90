"""The console's own pages: the overview, "Why can't I?", the tenant switcher and the error
pages in the console's look."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from apps.audit.models import AuditEvent
from apps.authz.enforcer import can_any, explain, restrict
from apps.clusters import overview as cluster_overview
from apps.clusters import visibility
from apps.clusters.models import Cluster, ClusterOperation
from apps.core import quantity
from apps.projects import quota
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from apps.tenants.models import Tenant

from ..scope import SESSION_KEY, console_scope
from .base import ConsoleDenied, ConsoleView

RECENT = 8
# The overview shows a cluster's stored inventory without asking it when it is younger than
# this, and waits at most PAGE_BUDGET_S for the clusters it does ask (concurrently): the page
# stays fast with a hundred clusters, and a slow or dead one never holds it up.
FRESH_S = 60.0
PAGE_BUDGET_S = 1.5
# The clusters part refreshes itself (htmx) this often; sooner while a cluster is stale.
REFRESH_S = 30
REFRESH_WAITING_S = 5
# Rows of the abnormal pods and troubled nodes tables (the counts are complete).
ABNORMAL_ROWS = 20
PROJECT_ROWS = 20
# Quota resources shown as bars, in this order (others the project limits follow).
QUOTA_ORDER = ("requests.cpu", "requests.memory", "pods")
QUOTA_BARS = 4
QUOTA_LABELS = {
    "requests.cpu": gettext_lazy("CPU requests"),
    "requests.memory": gettext_lazy("Memory requests"),
    "pods": gettext_lazy("Pods"),
    "requests.nvidia.com/gpu": gettext_lazy("GPUs (nvidia.com/gpu)"),
}
GIB = Decimal(2**30)
# Phases, operation kinds and outcomes as the page shows them (the stored values are
# TKEStack's and the API's; the labels are translated).
PHASES = {
    "Initializing": gettext_lazy("Initializing"),
    "Running": gettext_lazy("Running"),
    "Failed": gettext_lazy("Failed"),
    "Terminating": gettext_lazy("Terminating"),
    "Pending": gettext_lazy("Pending"),
    "Succeeded": gettext_lazy("Succeeded"),
    "Active": gettext_lazy("Active"),
    "Available": gettext_lazy("Available"),
    "Unknown": gettext_lazy("Unknown"),
}
OPERATION_KINDS = {
    "import": gettext_lazy("Import"),
    "health-check": gettext_lazy("Health check"),
    "sync": gettext_lazy("Node and version sync"),
    "rotate-credential": gettext_lazy("Credential rotation"),
    "namespace-create": gettext_lazy("Project namespace creation"),
    "namespace-import": gettext_lazy("Project namespace import"),
    "namespace-quota": gettext_lazy("Project namespace quota update"),
    "namespace-move": gettext_lazy("Project namespace move"),
    "namespace-delete": gettext_lazy("Project namespace deletion"),
    "namespace-reconcile": gettext_lazy("Project namespace drift repair"),
}
OUTCOMES = {
    "success": gettext_lazy("Success"),
    "denied": gettext_lazy("Denied"),
    "failure": gettext_lazy("Failure"),
}


def label(labels: dict, value: str, fallback: str = "") -> str:
    return labels.get(value) or fallback or value


USAGE = (("cpu", gettext_lazy("CPU requests")), ("memory", gettext_lazy("Memory requests")))


def link(url_name: str, **kwargs) -> str | None:
    """The URL of a console page another area provides, or None while it does not exist."""
    try:
        return reverse(url_name, kwargs=kwargs or None)
    except NoReverseMatch:
        return None


class Links:
    """:func:`link` for one page: a route found missing once is not looked up again (a
    failed ``reverse`` is slow, and a page may ask for hundreds of links)."""

    def __init__(self):
        self.missing: set[str] = set()

    def __call__(self, url_name: str, **kwargs) -> str | None:
        if url_name in self.missing:
            return None
        url = link(url_name, **kwargs)
        if url is None:
            self.missing.add(url_name)
        return url


def _decimal(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return quantity.parse(value)
    except quantity.QuantityError:
        return None


def _percent(part: Decimal | None, whole: Decimal | None) -> int | None:
    if part is None or not whole:
        return None
    return int(min(Decimal(100), part * 100 / whole).to_integral_value())


def _level(percent: int | None) -> str:
    if percent is None:
        return "secondary"
    return "danger" if percent >= 90 else "warning" if percent >= 75 else "success"


def _short(value: Decimal | None, places: str) -> str:
    """``3.420`` → ``3.42``, ``24.000`` → ``24``: at most the given decimals, no trailing 0."""
    if value is None:
        return "—"
    text = f"{value.quantize(Decimal(places)):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _cores(value: Decimal | None) -> str:
    return _short(value, "0.01")


def _gib(value: Decimal | None) -> str:
    return _short(None if value is None else value / GIB, "0.1")


def _usage(resource: str, requested, allocatable, capacity) -> dict:
    """One resource of a cluster: requests against allocatable (what the scheduler compares),
    printed in cores or GiB, with the share for the bar."""
    requested, allocatable = _decimal(requested), _decimal(allocatable)
    capacity = _decimal(capacity)
    fmt = _cores if resource == "cpu" else _gib
    percent = _percent(requested, allocatable)
    return {
        "requested": fmt(requested) if requested is not None else None,
        "allocatable": fmt(allocatable),
        "capacity": fmt(capacity),
        "percent": percent,
        "level": _level(percent),
    }


def cluster_rows(rows: list[dict]) -> tuple[list[dict], list[dict], list[dict], dict]:
    """The clusters table, the abnormal pods and troubled nodes across clusters (each with
    its links), and the totals of the summary cards."""
    link = Links()
    # translated once per page, not once per cell
    aria, usage = _("%(resource)s of %(cluster)s"), [(r, str(text)) for r, text in USAGE]
    clusters, pods, nodes = [], [], []
    known: set[str] = set()
    rows = sorted(rows, key=lambda r: ((r.get("display_name") or r["name"]).lower(), r["name"]))
    totals = {
        "clusters": len(rows),
        "unreachable": 0,
        "nodes": 0,
        "ready_nodes": 0,
        "pods": 0,
        "abnormal_pods": 0,
        "abnormal_nodes": 0,
    }
    for row in rows:
        name = row["name"]
        row = dict(row)
        row["url"] = link("console:cluster", cluster=name)
        row["phase_label"] = label(PHASES, row["phase"])
        row["pods_url"] = link("console:pods", cluster=name)
        requests, allocatable = row.get("requests") or {}, row.get("allocatable") or {}
        capacity = row.get("capacity") or {}
        shown_as = row.get("display_name") or name
        row["usage"] = [
            {
                "resource": resource,
                "aria": aria % {"resource": text, "cluster": shown_as},
                **_usage(
                    resource,
                    requests.get(resource),
                    allocatable.get(resource),
                    capacity.get(resource),
                ),
            }
            for resource, text in usage
        ]
        if not row["reachable"]:
            totals["unreachable"] += 1
        for total, field in (
            ("nodes", "nodes"),
            ("ready_nodes", "ready_nodes"),
            ("pods", "pods"),
            ("abnormal_pods", "abnormal_pod_count"),
            ("abnormal_nodes", "abnormal_node_count"),
        ):
            if row.get(field) is not None:
                known.add(total)
                totals[total] += row[field]
        for pod in row.get("abnormal_pods") or []:
            url = link("console:pod", cluster=name, namespace=pod["namespace"], name=pod["name"])
            if url is None and row["pods_url"]:
                url = f"{row['pods_url']}?" + urlencode(
                    {"namespace": pod["namespace"], "search": pod["name"]}
                )
            pods.append({**pod, "cluster": name, "cluster_label": row["display_name"], "url": url})
        for node in row.get("abnormal_nodes") or []:
            url = link("console:node", cluster=name, name=node["name"])
            nodes.append(
                {**node, "cluster": name, "cluster_label": row["display_name"], "url": url}
            )
        clusters.append(row)
    # a total nobody may see (a project member's node inventory) is unknown, not zero
    for total in ("nodes", "ready_nodes", "pods", "abnormal_pods", "abnormal_nodes"):
        if total not in known:
            totals[total] = None
    return clusters, pods[:ABNORMAL_ROWS], nodes[:ABNORMAL_ROWS], totals


def quota_use(projects: list[Project]) -> dict[int, list[dict]]:
    """Per project (of ``projects``): its quota over every cluster it spans — hard, given out
    to namespaces and sub-projects, and used by its namespaces — as the API's quota report
    computes it, for all the projects at once (three queries however many)."""
    ids = [p.pk for p in projects]
    if not ids:
        return {}
    hard, given, used = {}, {}, {}
    for project_id, row in ProjectCluster.objects.filter(project_id__in=ids).values_list(
        "project_id", "hard"
    ):
        hard.setdefault(project_id, []).append(row)
    for project_id, row_hard, row_used in ProjectNamespace.objects.filter(
        project_id__in=ids
    ).values_list("project_id", "hard", "used"):
        given.setdefault(project_id, []).append(row_hard)
        used.setdefault(project_id, []).append(row_used)
    for parent_id, row in ProjectCluster.objects.filter(project__parent_id__in=ids).values_list(
        "project__parent_id", "hard"
    ):
        given.setdefault(parent_id, []).append(row)
    report = {}
    for project_id in ids:
        try:
            limit = quota.total(hard.get(project_id, []))
            allocated = quota.total(given.get(project_id, []))
            using = quota.total(used.get(project_id, []))
        except quantity.QuantityError:  # a stored amount the API server would not take
            continue
        names = [n for n in QUOTA_ORDER if n in limit]
        names += sorted(n for n in limit if n not in QUOTA_ORDER)
        bars = []
        for name in names[:QUOTA_BARS]:
            percent = _percent(using.get(name, Decimal(0)), limit[name])
            bars.append(
                {
                    "resource": name,
                    "label": QUOTA_LABELS.get(name, name),
                    "hard": quota.fmt(name, limit[name]),
                    "allocated": quota.fmt(name, allocated.get(name, Decimal(0))),
                    "used": quota.fmt(name, using.get(name, Decimal(0))),
                    "percent": percent,
                    "level": _level(percent),
                }
            )
        report[project_id] = bars
    return report


class OverviewView(ConsoleView):
    """Clusters (phase, version, nodes, CPU and memory requests against what the nodes
    offer), the pods and nodes that need a look, projects with their quota use, and what
    happened lately — each part only for those who may see it. Clusters are shown from their
    stored inventory when it is recent; the others are asked concurrently within a budget."""

    template_name = "console/overview.html"
    fragment_template = "console/overview_clusters.html"

    @property
    def fragment(self) -> bool:
        """An htmx refresh of the clusters part only."""
        return bool(self.request.htmx) and self.request.GET.get("fragment") == "clusters"

    def get_template_names(self):
        return [self.fragment_template if self.fragment else self.template_name]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, scope = self.request.user, self.scope
        context["title"] = _("Overview")
        rows = []
        if can_any(user, "listClusters", model=Cluster):
            # credentials are loaded (and decrypted) only for the clusters the page asks
            found = list(
                restrict(Cluster.objects.in_scope(scope), user, "listClusters")
                .select_related("tenant")
                .defer("labels", "architectures", "gpu_summary")
            )
            answers = cluster_overview.overview(found, budget_s=PAGE_BUDGET_S, fresh_s=FRESH_S)
            rows = [
                visibility.redact_overview_row(user, cluster, row)
                for cluster, row in zip(found, answers, strict=True)
            ]
        clusters, abnormal_pods, abnormal_nodes, totals = cluster_rows(rows)
        waiting = any(row["stale"] for row in clusters)
        context.update(
            clusters=clusters,
            abnormal_pods=abnormal_pods,
            abnormal_nodes=abnormal_nodes,
            totals=totals,
            clusters_url=link("console:clusters"),
            refresh_s=REFRESH_WAITING_S if waiting else REFRESH_S,
        )
        if self.fragment:
            return context
        projects, more_projects = [], 0
        if can_any(user, "listProjects", model=Project):
            visible = restrict(Project.objects.in_scope(scope), user, "listProjects")
            projects = list(visible.select_related("tenant").order_by("name")[: PROJECT_ROWS + 1])
            more_projects = max(0, len(projects) - PROJECT_ROWS)
            projects = projects[:PROJECT_ROWS]
            quota_readable = set(
                restrict(
                    Project.objects.filter(pk__in=[p.pk for p in projects]),
                    user,
                    "getProjectQuota",
                ).values_list("pk", flat=True)
            )
            bars = quota_use([p for p in projects if p.pk in quota_readable])
            for project in projects:
                project.quota_bars = bars.get(project.pk)
                project.url = link("console:project", project=project.name)
                project.phase_label = label(PHASES, project.phase)
        operations = []
        if clusters:
            visible_clusters = {row["name"] for row in clusters if row.get("namespaces") is None}
            operations = list(
                ClusterOperation.objects.filter(cluster__name__in=visible_clusters)
                .filter(cluster__in=Cluster.objects.in_scope(scope))
                .select_related("cluster", "created_by")
                .order_by("-created_at")[:RECENT]
            )
            for op in operations:
                op.cluster_url = link("console:cluster", cluster=op.cluster.name)
                op.kind_label = label(OPERATION_KINDS, op.kind, op.get_kind_display())
                op.phase_label = label(PHASES, op.phase)
        events = []
        if can_any(user, "listAuditEvents"):
            events = list(
                restrict(AuditEvent.objects.in_scope(scope), user, "listAuditEvents")
                .select_related("user")
                .order_by("-created_at")[:RECENT]
            )
            for event in events:
                event.url = link("console:audit-event", pk=event.pk)
                event.outcome_label = label(OUTCOMES, event.outcome, event.get_outcome_display())
        context.update(
            projects=projects,
            more_projects=more_projects,
            projects_url=link("console:projects"),
            audit_url=link("console:audit"),
            operations=operations,
            events=events,
        )
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
