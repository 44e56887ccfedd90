"""A cluster's workloads (Deployment, StatefulSet, DaemonSet, Job, CronJob) and one workload's
page: its pods, its revisions, and scale, restart and rollback over HTMX.

Authorized like the REST API (``apps/clusters/api/resources.py``): a list across namespaces
is judged for the whole cluster in the platform domain, else per project namespace
(``apps.projects.access.reach``); one object's page needs ``get<Kind>``; scale, restart and
rollback need ``scale<Kind>``, ``restart<Kind>``, ``rollback<Kind>`` on the object. Every
cluster call goes through ``apps.clusters.resources``; the calls one page needs are made
concurrently (clients are built first, so no thread touches the database).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.authz import check, check_collection
from apps.authz.catalog import KINDS as CATALOG
from apps.clusters import k8s, resources
from apps.projects import access
from apps.terminal.logs import WORKLOAD_KINDS
from apps.terminal.services import EXEC_ACTION, LOG_ACTION
from apps.terminal.views import may_on_workload

from .base import ConsoleDenied, ConsoleView
from .forms import ClusterPageMixin, ClusterTabsMixin

WORKLOADS = ("deployments", "statefulsets", "daemonsets", "jobs", "cronjobs")
KIND_LABELS = {
    "deployments": gettext_lazy("Deployments"),
    "statefulsets": gettext_lazy("StatefulSets"),
    "daemonsets": gettext_lazy("DaemonSets"),
    "jobs": gettext_lazy("Jobs"),
    "cronjobs": gettext_lazy("CronJobs"),
}
# Objects listed per kind on one page of the workloads list.
PAGE = 200

_pool: ThreadPoolExecutor | None = None


def concurrently(calls: list) -> list:
    """Run the zero-argument callables at once; their results (or the ClusterError each
    raised) in order."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="console-workloads")

    def run(call):
        try:
            return call()
        except k8s.ClusterError as exc:
            return exc

    if len(calls) == 1:
        return [run(calls[0])]
    return [future.result() for future in [_pool.submit(run, call) for call in calls]]


def plural_of(kind: resources.Kind) -> str:
    entry = CATALOG.get(kind.authz_name)
    return entry[0] if entry else kind.authz_name + "s"


def _selector(obj: dict) -> str:
    labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _images(obj: dict, kind: str) -> list[str]:
    path = ("spec", "template")
    if kind == "cronjobs":
        path = ("spec", "jobTemplate", "spec", "template")
    spec = obj
    for key in (*path, "spec"):
        spec = (spec or {}).get(key) or {}
    return [c.get("image", "") for c in spec.get("containers") or []]


def _time(value: str | None):
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def summary(obj: dict, kind: str) -> dict:
    """What a row or a page header says about a workload."""
    meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status") or {}
    row = {
        "kind": kind,
        "name": meta.get("name", ""),
        "namespace": meta.get("namespace", ""),
        "images": _images(obj, kind),
        "created": _time(meta.get("creationTimestamp")),
        "labels": meta.get("labels") or {},
    }
    if kind in ("deployments", "statefulsets"):
        row["desired"] = spec.get("replicas", 1)
        row["ready"] = status.get("readyReplicas", 0)
    elif kind == "daemonsets":
        row["desired"] = status.get("desiredNumberScheduled", 0)
        row["ready"] = status.get("numberReady", 0)
    elif kind == "jobs":
        row["desired"] = spec.get("completions", 1)
        row["ready"] = status.get("succeeded", 0)
    else:
        row["schedule"] = spec.get("schedule", "")
        row["suspended"] = bool(spec.get("suspend"))
        row["active"] = len(status.get("active") or [])
        row["last_schedule"] = _time(status.get("lastScheduleTime"))
    row["healthy"] = kind == "cronjobs" or row.get("ready") == row.get("desired")
    return row


def workload_url(cluster: str, namespace: str, kind: str, name: str) -> str:
    kwargs = {"cluster": cluster, "namespace": namespace, "kind": kind, "name": name}
    return reverse("console:workload", kwargs=kwargs)


class WorkloadListView(ClusterTabsMixin, ClusterPageMixin, ConsoleView):
    """Every workload of the five kinds the user may list, filtered by kind, namespace and
    name; one concurrent list per kind."""

    template_name = "console/workloads/list.html"

    def authorize(self) -> None:
        cluster = self.get_cluster()
        self.reaches = {}
        reason = ""
        for plural in WORKLOADS:
            kind = resources.KINDS[plural]
            found = access.reach(
                self.request.user,
                cluster,
                f"list{plural_of(kind)}",
                f"{kind.authz_name.lower()}:*",
            )
            if found:
                self.reaches[plural] = None if found.everything else found.namespaces
            reason = reason or found.reason
        if not self.reaches:
            path = resources.resource_path(cluster.name, resources.KINDS["deployments"], None, None)
            raise ConsoleDenied("listDeployments", path, reason)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        cluster = self.get_cluster()
        params = self.request.GET
        namespace = (params.get("namespace") or "").strip()
        wanted = params.get("kind") or ""
        search = (params.get("q") or "").strip()[:253]
        # A continue token belongs to one kind's list: it pages only a list of that kind.
        cont = (params.get("continue") or "").strip()[:2048] if wanted else ""
        kinds = [k for k in WORKLOADS if k in self.reaches and (not wanted or k == wanted)]
        calls, clients = [], []
        for plural in kinds:
            client = self.client()
            clients.append(client)
            calls.append(self._lister(client, plural, namespace, search, cont))
        try:
            answers = concurrently(calls)
        finally:
            for client in clients:
                client.close()
        rows, errors, truncated, next_pages = [], [], [], []
        for plural, answer in zip(kinds, answers, strict=True):
            if isinstance(answer, k8s.ClusterError):
                errors.append(str(answer.detail))
                continue
            rows += [summary(item, plural) for item in answer["items"]]
            if answer.get("continue"):
                truncated.append(KIND_LABELS[plural])
                query = {"kind": plural, "namespace": namespace, "q": search}
                query["continue"] = answer["continue"]
                next_pages.append((KIND_LABELS[plural], f"?{urlencode(query)}"))
        for row in rows:
            row["url"] = workload_url(cluster.name, row["namespace"], row["kind"], row["name"])
            row["kind_label"] = resources.KINDS[row["kind"]].kind
        rows.sort(key=lambda r: (r["namespace"], r["kind"], r["name"]))
        restricted = sorted({ns for within in self.reaches.values() if within for ns in within})
        context.update(self.cluster_context(cluster))
        context.update(
            title=_("Workloads"),
            rows=rows,
            errors=sorted(set(errors)),
            truncated=truncated,
            next_pages=next_pages,
            paged=bool(cont),
            namespace=namespace,
            kind_filter=wanted,
            search=search,
            kinds=[(k, KIND_LABELS[k]) for k in WORKLOADS if k in self.reaches],
            namespaces=restricted or sorted({r["namespace"] for r in rows}),
            creatable=self._creatable(cluster),
            page_size=PAGE,
        )
        return context

    def _lister(self, client, plural: str, namespace: str, search: str, cont: str = ""):
        kind = resources.KINDS[plural]
        within = self.reaches[plural]
        page = {"limit": PAGE, "search": search, "cont": cont or None}

        def call():
            try:
                if within is None:
                    return resources.list_objects(client, kind, namespace or None, **page)
                spaces = tuple(n for n in within if not namespace or n == namespace)
                if not spaces:
                    return {"items": [], "continue": None}
                return resources.list_in_namespaces(client, kind, spaces, **page)
            except ValidationError as exc:  # a continue token that is not this list's
                return k8s.ClusterBadRequest("; ".join(exc.messages))

        return call

    def _creatable(self, cluster) -> list[tuple[str, str]]:
        out = []
        for plural in WORKLOADS:
            kind = resources.KINDS[plural]
            found = access.reach(
                self.request.user,
                cluster,
                f"create{kind.authz_name}",
                f"{kind.authz_name.lower()}:*",
            )
            if found:
                url = reverse("console:form-new", kwargs={"cluster": cluster.name, "kind": plural})
                out.append((url, kind.kind))
        return out

    def render_to_response(self, context, **kwargs):
        if self.request.htmx and self.request.htmx.target == "workloads-table":
            self.template_name = "console/workloads/_table.html"
        return super().render_to_response(context, **kwargs)


class WorkloadMixin(ClusterTabsMixin, ClusterPageMixin):
    def object_path(self) -> str:
        return resources.resource_path(
            self.kwargs["cluster"], self.get_kind(), self.kwargs["namespace"], self.kwargs["name"]
        )

    def allowed(self, action: str, resource: str | None = None) -> bool:
        decide = check_collection if resource and "*" in resource else check
        return bool(
            decide(
                self.request.user,
                action,
                resource or self.object_path(),
                tenant=self.get_cluster().tenant,
            )
        )


class WorkloadView(WorkloadMixin, ConsoleView):
    """One workload: its state, pods (or a CronJob's jobs), revisions, and its operations."""

    template_name = "console/workloads/detail.html"

    def authorize(self) -> None:
        kind = self.get_kind()
        if kind.plural not in WORKLOADS:
            raise Http404("Not a workload kind.")
        self.get_cluster()
        self.judge(f"get{kind.authz_name}", self.object_path())

    def get(self, request, *args, **kwargs):
        context = self.get_context_data(**kwargs)
        return self.render_to_response(context, status=context.get("status", 200))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        cluster, kind = self.get_cluster(), self.get_kind()
        namespace, name = self.kwargs["namespace"], self.kwargs["name"]
        context.update(self.cluster_context(cluster))
        context.update(kind=kind, namespace=namespace, name=name, title=f"{kind.kind} {name}")
        with self.client() as client:
            try:
                obj = resources.get_object(client, kind, namespace, name)
            except k8s.ClusterError as exc:
                context.update(error=str(exc.detail), status=exc.status_code)
                return context
        context.update(self.details(obj))
        return context

    def details(self, obj: dict) -> dict:
        cluster, kind = self.get_cluster(), self.get_kind()
        namespace, name = self.kwargs["namespace"], self.kwargs["name"]
        pods_path = f"cluster:{cluster.name}/namespace:{namespace}/pod:*"
        may_pods = self.allowed("listPods", pods_path)
        jobs_path = f"cluster:{cluster.name}/namespace:{namespace}/job:*"
        may_jobs = kind.plural == "cronjobs" and self.allowed("listJobs", jobs_path)
        # As the API's …/revisions/: whoever may get the workload sees its history.
        may_revisions = kind.plural in resources.REVISIONED
        selector = _selector(obj)
        uid = obj["metadata"].get("uid")
        calls, clients = [], []

        def with_client(fn):
            client = self.client()
            clients.append(client)
            return lambda: fn(client)

        if may_pods and selector and kind.plural != "cronjobs":
            calls.append(
                with_client(
                    lambda c: resources.list_objects(
                        c, resources.KINDS["pods"], namespace, label_selector=selector
                    )["items"]
                )
            )
        else:
            calls.append(lambda: None)
        if may_revisions:
            calls.append(with_client(lambda c: resources.revisions(c, kind, namespace, name)))
        else:
            calls.append(lambda: None)
        if may_jobs:
            calls.append(
                with_client(
                    lambda c: [
                        j
                        for j in resources.list_objects(c, resources.KINDS["jobs"], namespace)[
                            "items"
                        ]
                        if any(
                            o.get("uid") == uid for o in j["metadata"].get("ownerReferences") or []
                        )
                    ]
                )
            )
        else:
            calls.append(lambda: None)
        try:
            pods, revisions, jobs = concurrently(calls)
        finally:
            for client in clients:
                client.close()
        errors = [str(a.detail) for a in (pods, revisions, jobs) if isinstance(a, k8s.ClusterError)]
        pods = [] if isinstance(pods, k8s.ClusterError) else pods
        revisions = [] if isinstance(revisions, k8s.ClusterError) else revisions
        revisions = [{**r, "created": _time(r.get("created"))} for r in revisions or []]
        jobs = [] if isinstance(jobs, k8s.ClusterError) else jobs
        current = next((r["revision"] for r in revisions if r.get("current")), 0)
        path = self.object_path()
        a = kind.authz_name
        return {
            "obj": obj,
            "row": summary(obj, kind.plural),
            "pods": [_pod_row(cluster.name, p) for p in pods or []],
            "may_pods": may_pods,
            "revisions": revisions or [],
            "current_revision": current,
            "may_revisions": may_revisions,
            "jobs": [summary(j, "jobs") for j in jobs or []],
            "may_jobs": may_jobs,
            "errors": errors,
            "can_scale": kind.plural in resources.SCALABLE and self.allowed(f"scale{a}", path),
            "can_restart": kind.plural in resources.WORKLOADS_WITH_RESTART
            and self.allowed(f"restart{a}", path),
            "can_rollback": kind.plural in resources.REVISIONED
            and self.allowed(f"rollback{a}", path),
            "can_edit": self.allowed(f"update{a}", path),
            **self.stream_links(kind),
            "edit_url": reverse(
                "console:form-edit",
                kwargs={
                    "cluster": cluster.name,
                    "namespace": namespace,
                    "kind": kind.plural,
                    "name": name,
                },  # fmt: skip
            ),
        }

    def stream_links(self, kind) -> dict:
        """The web terminal's pages of this workload's pods (apps/terminal/views.py): the
        terminal picker for who may ``execPod`` there, the live logs for who may follow them
        (the checks their websockets make)."""
        if kind.plural not in WORKLOAD_KINDS:
            return {}
        cluster, user = self.get_cluster(), self.request.user
        kwargs = {key: self.kwargs[key] for key in ("cluster", "namespace", "name")}
        kwargs["kind"] = kind.plural
        links = {}
        for key, action, route in (
            ("terminal_url", EXEC_ACTION, "console:workload-terminal"),
            ("logs_url", LOG_ACTION, "console:workload-logs"),
        ):
            if may_on_workload(user, cluster, kwargs["namespace"], kind, kwargs["name"], action):
                links[key] = reverse(route, kwargs=kwargs)
        return links


def _pod_row(cluster: str, pod: dict) -> dict:
    meta, status = pod.get("metadata", {}), pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    try:
        url = reverse(
            "console:pod",
            kwargs={
                "cluster": cluster,
                "namespace": meta.get("namespace"),
                "name": meta.get("name"),
            },  # fmt: skip
        )
    except NoReverseMatch:
        url = ""
    return {
        "name": meta.get("name", ""),
        "phase": status.get("phase", "Unknown"),
        "node": (pod.get("spec") or {}).get("nodeName", ""),
        "restarts": sum(s.get("restartCount", 0) for s in statuses),
        "ready": sum(1 for s in statuses if s.get("ready")),
        "containers": len((pod.get("spec") or {}).get("containers") or []),
        "created": _time(meta.get("creationTimestamp")),
        "url": url,
    }


class WorkloadActionView(WorkloadMixin, ConsoleView):
    """POST-only: scale, restart or roll back (``operation`` from the route), then the
    workload page (its body, for HTMX) with the outcome."""

    operation = ""
    http_method_names = ["post"]

    def authorize(self) -> None:
        kind = self.get_kind()
        if kind.plural not in WORKLOADS:
            raise Http404("Not a workload kind.")
        allowed_kinds = {
            "scale": resources.SCALABLE,
            "restart": resources.WORKLOADS_WITH_RESTART,
            "rollback": resources.REVISIONED,
        }[self.operation]
        if kind.plural not in allowed_kinds:
            raise Http404(f"{kind.kind} cannot be {self.operation}d here.")
        action = f"{self.operation}{kind.authz_name}"
        path = self.object_path()
        self.request.audit_action, self.request.audit_resource = action, path
        self.judge(action, path)

    def post(self, request, *args, **kwargs):
        kind, namespace, name = self.get_kind(), self.kwargs["namespace"], self.kwargs["name"]
        status = 200
        try:
            with self.client() as client:
                if self.operation == "scale":
                    replicas = _whole(request.POST.get("replicas"), "replicas")
                    resources.scale(client, kind, namespace, name, replicas)
                    said = _("Scaled to %(n)s replicas.") % {"n": replicas}
                elif self.operation == "restart":
                    resources.restart(client, kind, namespace, name)
                    said = _("Restart requested: the pods are being replaced.")
                else:
                    revision = _whole(request.POST.get("revision") or "0", "revision")
                    resources.rollback(client, kind, namespace, name, revision or None)
                    said = (
                        _("Rolled back to revision %(n)s.") % {"n": revision}
                        if revision
                        else _("Rolled back to the previous revision.")
                    )
            messages.success(request, said)
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
            status = 400
        except k8s.ClusterError as exc:
            messages.error(request, str(exc.detail))
            status = exc.status_code
        url = workload_url(self.kwargs["cluster"], namespace, kind.plural, name)
        if not request.htmx:
            return HttpResponseRedirect(url)
        view = WorkloadView()
        view.setup(request, **self.kwargs)
        view.scope = self.scope
        view._cluster = self.get_cluster()
        context = view.get_context_data(**self.kwargs)
        response = view.render_to_response(context, status=status)
        response["HX-Push-Url"] = url
        return response


def _whole(value, field: str) -> int:
    text = (value or "").strip()
    if not text.isdigit() or int(text) > 10000:
        raise ValidationError(_("%(field)s: a whole number from 0 to 10000.") % {"field": field})
    return int(text)
