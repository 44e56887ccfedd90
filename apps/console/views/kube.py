"""What every console page about one cluster stands on, and the pages about its Kubernetes
objects: namespaces, pods, a generic list and object page for the other kinds (services,
ingresses, config maps, secrets, storage, HPAs, events, custom resources of installed CRDs).

Authorization is the REST resource API's (``apps/clusters/api/resources.py``), reached the
same way: the cluster must be readable (``getCluster``, else 404 like another tenant's), then
the TKEStack action on the resource path (``resources.resource_path``) is judged with
``check`` — ``check_collection`` for a set — and a request across namespaces asks
``apps.projects.access.reach`` which namespaces the user reaches (a project member: their
project's only). Cluster calls go through ``apps.clusters.resources`` / ``k8s``; a cluster
that does not answer is a message in the page, never a 500.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import yaml
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import NoReverseMatch, reverse
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.authz import check, check_collection, restrict
from apps.clusters import k8s, resources, services
from apps.clusters.models import Cluster
from apps.projects import access

from .. import nav
from .base import ConsoleDenied, ConsoleView

PAGE_SIZE = 50
# Kinds with a list and object page here (the workloads' own pages are the workloads area's).
LISTED = (
    "services",
    "ingresses",
    "configmaps",
    "secrets",
    "persistentvolumeclaims",
    "persistentvolumes",
    "storageclasses",
    "horizontalpodautoscalers",
    "events",
)
STORAGE = ("persistentvolumeclaims", "persistentvolumes", "storageclasses")
# The tab marked active for a kind's pages.
TAB_OF = {
    "services": "console:services",
    "ingresses": "console:ingresses",
    "configmaps": "console:configmaps",
    "secrets": "console:secrets",
    "persistentvolumeclaims": "console:storage",
    "persistentvolumes": "console:storage",
    "storageclasses": "console:storage",
    "horizontalpodautoscalers": "console:hpas",
    "events": "console:events",
}
KIND_TITLES = {
    "services": gettext_lazy("Services"),
    "ingresses": gettext_lazy("Ingresses"),
    "configmaps": gettext_lazy("ConfigMaps"),
    "secrets": gettext_lazy("Secrets"),
    "persistentvolumeclaims": gettext_lazy("Persistent volume claims"),
    "persistentvolumes": gettext_lazy("Persistent volumes"),
    "storageclasses": gettext_lazy("Storage classes"),
    "horizontalpodautoscalers": gettext_lazy("Horizontal pod autoscalers"),
    "events": gettext_lazy("Events"),
    "pods": gettext_lazy("Pods"),
    "nodes": gettext_lazy("Nodes"),
    "namespaces": gettext_lazy("Namespaces"),
}
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")


def concurrently(*calls):
    """Run the cluster calls of one page at the same time; their answers in order. A call
    that fails gives its ClusterError back instead of an answer (the page shows it)."""

    def run(call):
        try:
            return call()
        except (k8s.ClusterError, ValidationError) as exc:
            return exc

    if len(calls) == 1:
        return [run(calls[0])]
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def when(value):
    """A Kubernetes time (RFC 3339 text) as an aware datetime, so templates show it in the
    viewer's time zone (``|date``); the text itself when it is not one, None when empty."""
    if not value:
        return None
    parsed = parse_datetime(str(value)) if isinstance(value, str) else value
    return parsed or value


def with_times(items: list[dict], *keys: str) -> list[dict]:
    """Copies of ``items`` whose ``keys`` hold datetimes (:func:`when`)."""
    return [{**item, **{key: when(item.get(key)) for key in keys}} for item in items]


def to_yaml(obj) -> str:
    clean = dict(obj)
    meta = dict(clean.get("metadata") or {})
    meta.pop("managedFields", None)
    if meta:
        clean["metadata"] = meta
    return yaml.safe_dump(clean, sort_keys=False, allow_unicode=True)


def form_url(route: str, **kwargs) -> str | None:
    """The workloads area's form for a kind, when that area is merged and has one."""
    try:
        from apps.console.forms.registry import has_form
    except ImportError:
        return None
    if not has_form(kwargs["kind"]):
        return None
    try:
        return reverse(route, kwargs=kwargs)
    except NoReverseMatch:
        return None


def visible_cluster(user, scope, name: str) -> Cluster:
    """The cluster ``name`` as the API finds it: in the console's tenant scope and readable
    (``getCluster``) by ``user``; otherwise 404 (never 403: its existence is not told)."""
    visible = restrict(Cluster.objects.in_scope(scope), user, "getCluster")
    cluster = visible.select_related("credential", "tenant").filter(name=name).first()
    if cluster is None:
        raise Http404(f"Cluster {name} not found.")
    return cluster


class ClusterPage(ConsoleView):
    """A page about one cluster: the cluster is readable to the user (else 404, whatever
    tenant it is in), and its tabs are those the user may open."""

    authz_action = "getCluster"
    authz_model = Cluster
    tab = "console:cluster"

    def dispatch(self, request, *args, **kwargs):
        self.cluster_error = None
        self.page_error = ""  # a request the page could not answer (a stale continue token)
        return super().dispatch(request, *args, **kwargs)

    def authorize(self) -> None:
        # Not can_any: a cluster the user cannot read is 404, as in the API, never 403.
        self.cluster = self.get_cluster()

    def get_cluster(self) -> Cluster:
        cluster = visible_cluster(self.request.user, self.scope, self.kwargs["cluster"])
        self.request.audit_tenant = cluster.tenant  # audited in the cluster's tenant
        return cluster

    # -- authorization, as the REST resource API ----------------------------------------------
    def judge(self, action: str, resource: str, audit: bool = False):
        """Refuse (the console's 403) unless ``action`` on ``resource`` is allowed; a set
        (``*``) must not skip a deny on one of its members."""
        if audit:
            self.request.audit_action, self.request.audit_resource = action, resource
        judge = check_collection if "*" in resource else check
        decision = judge(self.request.user, action, resource, tenant=self.cluster.tenant)
        if not decision:
            raise ConsoleDenied(action, resource, decision.reason)
        return decision

    def allowed(self, action: str, resource: str) -> bool:
        judge = check_collection if "*" in resource else check
        return bool(judge(self.request.user, action, resource, tenant=self.cluster.tenant))

    def reach(self, action: str, segment: str) -> tuple[str, ...] | None:
        """None: the user may ``action`` across every namespace; else the namespaces they
        reach (each judged in its project's domain). None of them: the console's 403."""
        found = access.reach(self.request.user, self.cluster, action, segment)
        if found.everything:
            return None
        if not found.namespaces:
            resource = access.namespace_path(self.cluster.name, "*", segment)
            raise ConsoleDenied(action, resource, found.reason)
        return found.namespaces

    def client(self) -> k8s.KubeClient:
        return services.client_for(self.cluster)

    def call(self, fn):
        """One cluster call; on failure the error is kept for the page and None returned."""
        try:
            with self.client() as client:
                return fn(client)
        except k8s.ClusterError as exc:
            self.cluster_error = exc
            return None
        except ValidationError as exc:
            self.page_error = " ".join(exc.messages)
            return None

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["cluster"] = self.cluster
        context["cluster_tabs"] = nav.visible_cluster_tabs(
            self.request.user, self.cluster.name, self.tab
        )
        context["cluster_error"] = self.cluster_error
        context["cluster_conditions"] = with_times(
            self.cluster.conditions or [], "lastProbeTime", "lastTransitionTime"
        )
        context["page_error"] = self.page_error
        return context


def namespace_filter(params) -> str:
    """The ``namespace`` query parameter: a namespace name (a DNS label), as the API's routes
    take one, or "" — anything else (``web/../other``, ``*``) is 404, never judged nor sent."""
    namespace = params.get("namespace", "").strip()
    if namespace and not resources.DNS_LABEL.match(namespace):
        raise Http404("No such namespace.")
    return namespace


def _page_query(params, **changes) -> str:
    query = {k: v for k, v in params.items() if v}
    query.update({k: v for k, v in changes.items()})
    return urlencode({k: v for k, v in query.items() if v})


SEARCH_CHUNK = 1000
# "Previous page": the continue tokens of the pages before this one travel in the query string
# (``back``, newest last, joined by BACK_SEP; BACK_FIRST stands for the first page), at most
# BACK_DEPTH of them. A token in ``back`` is never sent to the cluster as it is: "Previous"
# makes it the ``continue`` parameter again, judged there like any other (a token naming a
# namespace outside the user's reach is refused). Neither mark is in a Kubernetes token's
# alphabet (base64url); a token holding one is not remembered (no "Previous" past it).
BACK_DEPTH = 10
BACK_SEP, BACK_FIRST = ".", "~"
BACK_MAX_CHARS = 8192


def back_stack(params) -> list[str]:
    """The ``back`` parameter as a list of tokens (newest last); [] when absent or malformed."""
    raw = params.get("back", "").strip()
    if not raw or len(raw) > BACK_MAX_CHARS:
        return []
    stack = raw.split(BACK_SEP)
    if any(not token or (BACK_FIRST in token and token != BACK_FIRST) for token in stack):
        return []
    return stack[-BACK_DEPTH:]


def _back_queries(params, next_token: str | None) -> tuple[str, str]:
    """(the next page's query, the previous page's query): the stack grows by this page's
    token going forward and loses its newest going back."""
    stack = back_stack(params)
    here = params.get("continue", "").strip() or BACK_FIRST
    if BACK_SEP in here or (BACK_FIRST in here and here != BACK_FIRST):
        forward: list[str] = []
    else:
        forward = [*stack, here][-BACK_DEPTH:]
    next_query = (
        _page_query(
            params,
            **{"continue": next_token, "offset": "", "back": BACK_SEP.join(forward)},
        )
        if next_token
        else ""
    )
    previous_query = ""
    if stack:
        target = stack[-1]
        previous_query = _page_query(
            params,
            **{
                "continue": "" if target == BACK_FIRST else target,
                "offset": "",
                "back": BACK_SEP.join(stack[:-1]),
            },
        )
    return next_query, previous_query


def fetch_page(fetch, params, search: str) -> dict:
    """One page of a list: ``items``, ``next_query`` and ``previous_query`` (the next and
    previous page's query strings, "" when there is none) and ``remaining`` (when the cluster
    says). Without a search, Kubernetes' own page (``limit``/``continue``; the way back in
    ``back``, see :func:`back_stack`). With one, the list is read in chunks of SEARCH_CHUNK,
    names filtered, until this page's matches are found (a search stops early rather than
    read every pod of a big cluster), then sliced at ``offset``. ``fetch(limit, cont)``
    asks the cluster for one chunk."""
    if not search:
        page = fetch(PAGE_SIZE, params.get("continue", "").strip() or None)
        next_query, previous_query = _back_queries(params, page.get("continue"))
        return {
            "items": page["items"],
            "next_query": next_query,
            "previous_query": previous_query,
            "remaining": page.get("remaining"),
        }
    offset = int(params["offset"]) if params.get("offset", "").isdigit() else 0
    items: list[dict] = []
    cont = None
    while True:
        page = fetch(SEARCH_CHUNK, cont)
        items += page["items"]
        cont = page.get("continue")
        if not cont or len(items) > offset + PAGE_SIZE:
            break
    more = len(items) > offset + PAGE_SIZE or bool(cont)
    back = max(offset - PAGE_SIZE, 0)
    return {
        "items": items[offset : offset + PAGE_SIZE],
        "next_query": _page_query(
            params, offset=str(offset + PAGE_SIZE), **{"continue": "", "back": ""}
        )
        if more
        else "",
        "previous_query": _page_query(
            params, offset=str(back) if back else "", **{"continue": "", "back": ""}
        )
        if offset
        else "",
        "remaining": None,
    }


class NamespacesView(ClusterPage):
    """The namespaces of a cluster the user may list (a project member: their project's)."""

    template_name = "console/clusters/namespaces.html"
    tab = "console:namespaces"

    def get_context_data(self, **kwargs):
        kind = resources.KINDS["namespaces"]
        path = resources.resource_path(self.cluster.name, kind, None, None)
        self.request.audit_resource = path
        within = self.reach("listNamespaces", "")
        search = self.request.GET.get("search", "").strip()
        if within is None:
            page = self.call(lambda c: resources.list_objects(c, kind, search=search))
        else:
            page = self.call(lambda c: resources.list_namespaces_named(c, within, search=search))
        context = super().get_context_data(**kwargs)
        items = [
            {
                "name": ns["metadata"]["name"],
                "phase": (ns.get("status") or {}).get("phase", ""),
                "labels": ns["metadata"].get("labels") or {},
                "created": when(ns["metadata"].get("creationTimestamp")),
            }
            for ns in (page or {}).get("items", [])
        ]
        context.update(
            title=_("Namespaces"),
            items=items,
            search=search,
            restricted=within is not None,
        )
        return context


# -- pods ---------------------------------------------------------------------------------------
def pod_row(pod: dict) -> dict:
    meta, spec, status = pod.get("metadata", {}), pod.get("spec", {}), pod.get("status", {})
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    phase = status.get("phase") or "Pending"
    reason = status.get("reason") or ""
    for s in statuses:
        waiting = (s.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            reason = waiting["reason"]
    if meta.get("deletionTimestamp"):
        reason = "Terminating"
    return {
        "name": meta.get("name", ""),
        "namespace": meta.get("namespace", ""),
        "phase": phase,
        "reason": reason,
        "ready": f"{ready}/{len(spec.get('containers') or [])}",
        "restarts": sum(int(s.get("restartCount") or 0) for s in statuses),
        "node": spec.get("nodeName") or "",
        "containers": [c.get("name", "") for c in spec.get("containers") or []],
        "ip": status.get("podIP") or "",
        "created": when(meta.get("creationTimestamp")),
    }


class PodsView(ClusterPage):
    """Pods, paged as Kubernetes pages (``limit``/``continue``), filtered by namespace, label
    selector and phase (server-side, as selectors), searched by name. The table refreshes
    itself every 2 s (HTMX polling of the table fragment, see ``_pods_table.html``)."""

    template_name = "console/clusters/pods.html"
    tab = "console:pods"
    POLL_SECONDS = 2

    def get_template_names(self):
        if self.request.htmx and self.request.GET.get("fragment") == "table":
            return ["console/clusters/_pods_table.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs):
        params = self.request.GET
        namespace = namespace_filter(params)
        selector = params.get("labelSelector", "").strip()
        phase = params.get("phase", "").strip()
        search = params.get("search", "").strip()
        cont = params.get("continue", "").strip() or None
        kind = resources.KINDS["pods"]
        if phase and phase not in PHASES:
            phase = ""
        query = {
            "label_selector": selector or None,
            "field_selector": f"status.phase={phase}" if phase else None,
            "search": search or None,
        }
        within = self.reach("listPods", "pod:*")
        if namespace:
            path = resources.resource_path(self.cluster.name, kind, namespace, None)
            if within is not None and namespace not in within:
                raise ConsoleDenied("listPods", path, _("not one of your namespaces"))
            self.judge("listPods", path)

            def chunk(client, limit, cont):
                return resources.list_objects(
                    client, kind, namespace, limit=limit, cont=cont, **query
                )
        elif within is None:

            def chunk(client, limit, cont):
                return resources.list_objects(client, kind, None, limit=limit, cont=cont, **query)
        else:

            def chunk(client, limit, cont):
                return resources.list_in_namespaces(
                    client, kind, within, limit=limit, cont=cont, **query
                )

        def pods(client):
            return fetch_page(lambda limit, cont: chunk(client, limit, cont), params, search)

        fragment = self.request.htmx and params.get("fragment") == "table"
        calls = [pods]
        # The filter's choices are the cluster's namespaces: only for whoever may list them
        # (as the API's namespace list judges it).
        every_namespace = resources.resource_path(
            self.cluster.name, resources.KINDS["namespaces"], None, None
        )
        if within is None and not fragment and self.allowed("listNamespaces", every_namespace):
            calls.append(
                lambda client: [
                    n["metadata"]["name"]
                    for n in resources.list_objects(client, resources.KINDS["namespaces"])["items"]
                ]
            )
        page, names = None, list(within or ())
        try:
            with self.client() as client:
                answers = concurrently(*(lambda fn=fn: fn(client) for fn in calls))
        except k8s.ClusterError as exc:  # the address policy refused it before any call
            answers = [exc]
        for answer in answers:
            if isinstance(answer, k8s.ClusterError):
                self.cluster_error = answer
            elif isinstance(answer, ValidationError):
                self.page_error = " ".join(answer.messages)
        if not isinstance(answers[0], Exception):
            page = answers[0]
        if len(answers) > 1 and not isinstance(answers[1], Exception):
            names = answers[1]
        rows = [pod_row(p) for p in (page or {}).get("items", [])]
        context = super().get_context_data(**kwargs)
        context.update(
            title=_("Pods"),
            rows=rows,
            namespaces=names,
            namespace=namespace,
            selector=selector,
            phase=phase,
            phases=PHASES,
            search=search,
            paged=bool(cont or params.get("offset")),
            next_query=(page or {}).get("next_query", ""),
            previous_query=(page or {}).get("previous_query", ""),
            table_query=_page_query(params, fragment="table"),
            first_query=_page_query(params, **{"continue": "", "offset": "", "back": ""}),
            remaining=(page or {}).get("remaining"),
            poll_seconds=self.POLL_SECONDS,
        )
        return context


class PodView(ClusterPage):
    """One pod: containers (image, state, restarts), conditions, events, YAML."""

    template_name = "console/clusters/pod.html"
    tab = "console:pods"

    def get_context_data(self, **kwargs):
        namespace, name = self.kwargs["namespace"], self.kwargs["name"]
        kind = resources.KINDS["pods"]
        path = resources.resource_path(self.cluster.name, kind, namespace, name)
        self.judge("getPod", path)
        events_path = f"cluster:{self.cluster.name}/namespace:{namespace}/event:*"
        may_events = self.allowed("listEvents", events_path)
        calls = [lambda c: resources.get_object(c, kind, namespace, name)]
        if may_events:
            calls.append(lambda c: resources.events_for(c, kind, namespace, name))
        try:
            with self.client() as client:
                answers = concurrently(*(lambda fn=fn: fn(client) for fn in calls))
        except k8s.ClusterError as exc:
            answers = [exc]
        pod = answers[0]
        if isinstance(pod, k8s.ClusterNotFound):
            raise Http404(str(pod.detail))
        if isinstance(pod, k8s.ClusterError):
            self.cluster_error, pod = pod, None
        events = answers[1] if len(answers) > 1 else []
        if isinstance(events, k8s.ClusterError):
            self.cluster_error, events = events, []
        events = [{**e, "seen": when(e.get("lastTimestamp") or e.get("eventTime"))} for e in events]
        containers = []
        if pod:
            statuses = {
                s.get("name"): s for s in (pod.get("status") or {}).get("containerStatuses") or []
            }
            for c in (pod.get("spec") or {}).get("containers") or []:
                s = statuses.get(c.get("name"), {})
                state = s.get("state") or {}
                which = next(iter(state), "")
                detail = state.get(which) or {}
                containers.append(
                    {
                        "name": c.get("name", ""),
                        "image": c.get("image", ""),
                        "state": which,
                        "reason": detail.get("reason", ""),
                        "ready": bool(s.get("ready")),
                        "restarts": int(s.get("restartCount") or 0),
                    }
                )
        context = super().get_context_data(**kwargs)
        context.update(
            title=name,
            namespace=namespace,
            name=name,
            pod=pod,
            row=pod_row(pod) if pod else None,
            containers=containers,
            conditions=with_times(
                ((pod or {}).get("status") or {}).get("conditions") or [], "lastTransitionTime"
            ),
            events=events,
            may_events=may_events,
            yaml=to_yaml(pod) if pod else "",
        )
        return context


# -- every other kind ---------------------------------------------------------------------------
class KindMixin:
    """A kind named in the URL: one of ``LISTED``, or ``<plural>.<group>`` of an installed
    CRD (custom resources, told apart by group and plural as the API does)."""

    def resolve_kind(self, client=None) -> resources.Kind:
        name = self.kwargs.get("kind") or self.fixed_kind
        if name in LISTED:
            return resources.KINDS[name]
        if "." not in name:
            raise Http404(f"Unknown kind {name}.")
        plural, group = name.split(".", 1)
        crds = resources.KINDS["customresourcedefinitions"]
        crd = self.call(lambda c: resources.get_object(c, crds, None, name))
        if crd is None:
            if isinstance(self.cluster_error, k8s.ClusterNotFound):
                raise Http404(f"No custom resource {name} is installed.")
            return None
        versions = [v for v in crd.get("spec", {}).get("versions", []) if v.get("served")]
        storage = next((v for v in versions if v.get("storage")), versions[0] if versions else {})
        try:
            return self.call(
                lambda c: resources.custom_kind(c, group, storage.get("name", "v1"), plural)
            )
        except k8s.ClusterNotFound as exc:
            raise Http404(str(exc.detail)) from None


class KindListView(KindMixin, ClusterPage):
    """Objects of one kind: in a namespace, or across the namespaces the user reaches."""

    template_name = "console/clusters/kind_list.html"
    fixed_kind = ""

    def get_context_data(self, **kwargs):
        params = self.request.GET
        name = self.kwargs.get("kind") or self.fixed_kind
        self.tab = TAB_OF.get(name, "console:crds")
        kind = self.resolve_kind()
        context = {"kind_name": name, "items": [], "namespaces": []}
        if kind is not None:
            context.update(self.list_kind(kind, params))
        context.update(
            title=KIND_TITLES.get(name, kind.kind if kind else name),
            kind=kind,
            kind_name=name,
            storage_kinds=STORAGE if name in STORAGE else (),
            create_url=form_url("console:form-new", cluster=self.cluster.name, kind=name),
        )
        base = super().get_context_data(**kwargs)
        base.update(context)
        return base

    def list_kind(self, kind: resources.Kind, params) -> dict:
        namespace = namespace_filter(params) if kind.namespaced else ""
        selector = params.get("labelSelector", "").strip()
        search = params.get("search", "").strip()
        cont = params.get("continue", "").strip() or None
        plural = self.plural_action(kind)
        query = {"label_selector": selector or None, "search": search or None}
        within = None
        if kind.namespaced and not namespace:
            segment = resources.resource_path(self.cluster.name, kind, "*", None).split("/", 2)[2]
            within = self.reach(plural, segment)
        else:
            self.judge(plural, resources.resource_path(self.cluster.name, kind, namespace, None))

        def chunk(client, limit, cont):
            if within is None:
                return resources.list_objects(
                    client, kind, namespace or None, limit=limit, cont=cont, **query
                )
            return resources.list_in_namespaces(
                client, kind, within, limit=limit, cont=cont, **query
            )

        page = self.call(
            lambda client: fetch_page(
                lambda limit, cont: chunk(client, limit, cont), params, search
            )
        )
        items = (page or {}).get("items", [])
        if kind.kind == "Secret":
            items = [resources.mask_secret(i) for i in items]
        return {
            "items": [self.row(kind, i) for i in items],
            "namespace": namespace,
            "namespaces": list(within or ()),
            "selector": selector,
            "search": search,
            "next_query": (page or {}).get("next_query", ""),
            "previous_query": (page or {}).get("previous_query", ""),
            "first_query": _page_query(params, **{"continue": "", "offset": "", "back": ""}),
            "paged": bool(cont or params.get("offset")),
        }

    @staticmethod
    def plural_action(kind: resources.Kind) -> str:
        from apps.authz.catalog import KINDS as CATALOG

        entry = CATALOG.get(kind.authz_name)
        return "list" + (entry[0] if entry else kind.authz_name + "s")

    def row(self, kind: resources.Kind, obj: dict) -> dict:
        meta = obj.get("metadata", {})
        summary = ""
        if kind.kind in ("ConfigMap", "Secret"):
            keys = {**(obj.get("data") or {}), **(obj.get("binaryData") or {})}
            summary = ", ".join(sorted(keys))
        elif kind.kind == "Service":
            spec = obj.get("spec", {})
            ports = ", ".join(
                f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or []
            )
            summary = f"{spec.get('type', 'ClusterIP')} {spec.get('clusterIP', '')} {ports}"
        elif kind.kind == "Ingress":
            hosts = [r.get("host", "*") for r in (obj.get("spec") or {}).get("rules") or []]
            summary = ", ".join(hosts)
        elif kind.kind == "PersistentVolumeClaim":
            spec, status = obj.get("spec", {}), obj.get("status", {})
            size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "")
            summary = f"{status.get('phase', '')} {size} {spec.get('storageClassName') or ''}"
        elif kind.kind == "PersistentVolume":
            spec, status = obj.get("spec", {}), obj.get("status", {})
            summary = f"{status.get('phase', '')} {(spec.get('capacity') or {}).get('storage', '')}"
        elif kind.kind == "StorageClass":
            summary = obj.get("provisioner", "")
        elif kind.kind == "HorizontalPodAutoscaler":
            spec, status = obj.get("spec", {}), obj.get("status", {})
            target = (spec.get("scaleTargetRef") or {}).get("name", "")
            summary = (
                f"{target}: {status.get('currentReplicas', 0)} "
                f"({spec.get('minReplicas', 1)}–{spec.get('maxReplicas', '')})"
            )
        elif kind.kind == "Event":
            involved = obj.get("involvedObject") or {}
            summary = (
                f"{obj.get('type', '')} {obj.get('reason', '')} "
                f"{involved.get('kind', '')}/{involved.get('name', '')}: {obj.get('message', '')}"
            )
        namespace = meta.get("namespace") or "-"
        return {
            "name": meta.get("name", ""),
            "namespace": meta.get("namespace", ""),
            "created": when(meta.get("creationTimestamp")),
            "summary": summary.strip(),
            "url": reverse(
                "console:object",
                kwargs={
                    "cluster": self.cluster.name,
                    "namespace": namespace,
                    "kind": self.kwargs.get("kind") or self.fixed_kind,
                    "name": meta.get("name", ""),
                },
            ),
        }


class ObjectView(KindMixin, ClusterPage):
    """One object, read-only YAML (Secret values masked without ``revealSecret``), its events."""

    template_name = "console/clusters/object.html"
    fixed_kind = ""

    def get_context_data(self, **kwargs):
        name, kind_name = self.kwargs["name"], self.kwargs["kind"]
        self.tab = TAB_OF.get(kind_name, "console:crds")
        kind = self.resolve_kind()
        namespace = self.kwargs["namespace"]
        namespace = None if namespace == "-" else namespace
        if kind is not None and kind.namespaced and namespace is None:
            raise Http404("A namespaced object needs its namespace.")
        if kind is not None and not kind.namespaced and namespace is not None:
            raise Http404("A cluster-scoped object has no namespace.")
        obj, revealed = None, False
        if kind is not None:
            path = resources.resource_path(self.cluster.name, kind, namespace, name)
            self.judge(f"get{kind.authz_name}", path)
            try:
                with self.client() as client:
                    obj = resources.get_object(client, kind, namespace, name)
            except k8s.ClusterNotFound as exc:
                raise Http404(str(exc.detail)) from None
            except k8s.ClusterError as exc:
                self.cluster_error = exc
            if obj is not None and kind.kind == "Secret":
                revealed = self.allowed("revealSecret", path)
                if not revealed:
                    obj = resources.mask_secret(obj)
        context = super().get_context_data(**kwargs)
        context.update(
            title=name,
            kind=kind,
            kind_name=kind_name,
            name=name,
            namespace=namespace,
            obj=obj,
            yaml=to_yaml(obj) if obj else "",
            masked=kind is not None and kind.kind == "Secret" and not revealed,
            list_url=reverse(
                "console:kind-list", kwargs={"cluster": self.cluster.name, "kind": kind_name}
            ),
            edit_url=form_url(
                "console:form-edit",
                cluster=self.cluster.name,
                namespace=self.kwargs["namespace"],
                kind=kind_name,
                name=name,
            ),
        )
        return context


class CustomResourcesView(ClusterPage):
    """The installed CRDs, each linking to its objects' list."""

    template_name = "console/clusters/crds.html"
    tab = "console:crds"

    def get_context_data(self, **kwargs):
        kind = resources.KINDS["customresourcedefinitions"]
        self.judge(
            "listCustomResourceDefinitions",
            resources.resource_path(self.cluster.name, kind, None, None),
        )
        page = self.call(lambda c: resources.list_objects(c, kind))
        rows = []
        for crd in (page or {}).get("items", []):
            spec = crd.get("spec", {})
            plural = (spec.get("names") or {}).get("plural", "")
            rows.append(
                {
                    "name": crd["metadata"]["name"],
                    "kind": (spec.get("names") or {}).get("kind", ""),
                    "group": spec.get("group", ""),
                    "scope": spec.get("scope", ""),
                    "versions": [v.get("name") for v in spec.get("versions") or []],
                    "url": reverse(
                        "console:kind-list",
                        kwargs={
                            "cluster": self.cluster.name,
                            "kind": f"{plural}.{spec.get('group', '')}",
                        },
                    ),
                }
            )
        context = super().get_context_data(**kwargs)
        context.update(title=_("Custom resources"), rows=rows)
        return context


__all__ = [
    "ClusterPage",
    "CustomResourcesView",
    "KindListView",
    "NamespacesView",
    "ObjectView",
    "PodView",
    "PodsView",
]
