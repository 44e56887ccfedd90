"""Cluster pages: the list with the import form, a cluster's page (basic information,
conditions, health check, credential rotation) and its nodes (cordon, uncordon, drain with
its report, labels and taints).

Every write goes through the service the REST API calls (``apps.clusters.services`` and
``apps.clusters.resources``) after the same decision (the same action on the same resource
path), and names itself on the request so the audit middleware records it once, as it does
for the API.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from apps.accounts.reauth import reauth_url, session_is_fresh
from apps.authz import check, restrict
from apps.clusters import k8s, resources, services, visibility
from apps.clusters.api.serializers import ClusterImportSerializer, CredentialInputSerializer
from apps.clusters.models import Cluster
from apps.core import quantity

from .base import ConsoleView
from .kube import ClusterPage, to_yaml

GPU_RESOURCES = services.GPU_RESOURCES
IMPORT_FIELDS = (
    "display_name",
    "kubeconfig",
    "context",
    "server",
    "token",
    "ca_data",
    "client_cert",
    "client_key",
)


def _errors(exc) -> dict[str, list[str]]:
    """Field → messages from a serializer's errors, a Django ValidationError or a cluster
    error that names fields (a probe with the given credential failed)."""
    if isinstance(exc, dict):
        return {k: [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in exc.items()}
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
        return {"form": [str(m) for m in exc.messages]}
    if isinstance(exc, k8s.ClusterError):
        fields = {k: [str(m) for m in v] for k, v in (exc.fields or {}).items()}
        return fields or {"form": [str(exc.detail)]}
    return {"form": [str(exc)]}


def _place(errors: dict, shown: tuple[str, ...], kubeconfig_given: bool) -> dict:
    """Errors about fields the form does not show (or that came from a kubeconfig) go next
    to the kubeconfig, else to the form's top."""
    placed: dict[str, list[str]] = {}
    for field, messages in errors.items():
        target = field
        if kubeconfig_given and field in ("server", "token", "ca_data", "client_cert"):
            target = "kubeconfig"
        elif field not in shown:
            target = "form"
        placed.setdefault(target, []).extend(messages)
    return placed


def _cluster_rows(user, clusters):
    rows = []
    for cluster in clusters:
        nodes = visibility.sees_nodes(user, cluster)
        rows.append({"cluster": cluster, "sees_nodes": nodes})
    return rows


class ClustersView(ConsoleView):
    """The clusters the user may see, and (for whoever may createCluster) the import form."""

    template_name = "console/clusters/list.html"
    authz_action = "listClusters"
    authz_model = Cluster

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        clusters = (
            restrict(Cluster.objects.in_scope(self.scope), user, "listClusters")
            .select_related("tenant", "credential")
            .order_by("display_name", "name")
        )
        context.update(
            title=_("Clusters"),
            rows=_cluster_rows(user, clusters),
            may_import=self.may_import(),
            choose_tenant=self.scope.tenant is None and user.is_superuser,
            values=kwargs.get("values", {}),
            errors=kwargs.get("errors", {}),
            unreachable=kwargs.get("unreachable", ""),
        )
        return context

    def may_import(self) -> bool:
        tenant = self.scope.tenant
        return tenant is not None and bool(
            check(self.request.user, "createCluster", "cluster:*", tenant)
        )

    def post(self, request, *args, **kwargs):
        """Import a cluster: the API's serializer reads the fields, ``import_cluster`` probes
        and stores it; every error is shown next to its field."""
        request.audit_action, request.audit_resource = "createCluster", "cluster:*"
        tenant = self.scope.tenant
        if tenant is None:
            errors = {"form": [_("Choose a tenant first (the tenant switcher).")]}
            return self.form_again(request, errors, {})
        self.require("createCluster", "cluster:*", tenant=tenant)
        data = {k: request.POST.get(k, "") for k in IMPORT_FIELDS}
        data["insecure_skip_tls_verify"] = request.POST.get("insecure_skip_tls_verify") == "on"
        values = {k: v for k, v in data.items() if k in ("display_name", "context", "server")}
        if "@" in urlsplit(values["server"]).netloc:  # credentials: refused, never shown back
            values["server"] = ""
        body = ClusterImportSerializer(data=data)
        kubeconfig = bool(data["kubeconfig"].strip())
        if not body.is_valid():
            errors = _place(_errors(body.errors), IMPORT_FIELDS, kubeconfig)
            return self.form_again(request, errors, values)
        unreachable = ""
        try:
            cluster = services.import_cluster(
                actor=request.user,
                tenant=tenant,
                display_name=body.validated_data["display_name"],
                spec=body.to_spec(),
            )
        except (ValidationError, k8s.ClusterError) as exc:
            if isinstance(exc, k8s.ClusterError):
                code = getattr(exc.detail, "code", "") or exc.default_code
                if code in ("cluster_unreachable", "cluster_address_refused"):
                    unreachable = str(exc.detail)
            errors = _place(_errors(exc), IMPORT_FIELDS, kubeconfig)
            return self.form_again(request, errors, values, unreachable)
        request.audit_resource = cluster.authz_resource
        target = reverse("console:cluster", kwargs={"cluster": cluster.name})
        if request.htmx:
            response = render(request, "console/clusters/_imported.html", {"url": target})
            response["HX-Redirect"] = target
            return response
        return HttpResponseRedirect(target)

    def form_again(self, request, errors, values, unreachable=""):
        context = self.get_context_data(errors=errors, values=values, unreachable=unreachable)
        template = "console/clusters/_import.html" if request.htmx else self.template_name
        # htmx swaps only 2xx answers: the form with its errors comes back as 200 to it.
        return render(request, template, context, status=200 if request.htmx else 400)


class ClusterView(ClusterPage):
    """A cluster: basic information, conditions, credential, health check and rotation."""

    template_name = "console/clusters/detail.html"
    tab = "console:cluster"

    def get_context_data(self, **kwargs):
        self.judge("getCluster", self.cluster.authz_resource)
        context = super().get_context_data(**kwargs)
        cluster = self.cluster
        context.update(
            title=cluster.display_name or cluster.name,
            sees_nodes=visibility.sees_nodes(self.request.user, cluster),
            resources=human_resources(cluster.capacity or {}, cluster.allocatable or {}),
            may_update=self.allowed("updateCluster", cluster.authz_resource),
            errors=kwargs.get("errors", {}),
            rotated=kwargs.get("rotated", False),
        )
        return context


class ClusterHealthView(ClusterPage):
    """POST: probe the cluster now (``services.check_health``, as the API's health-check)."""

    template_name = "console/clusters/_health.html"
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        self.judge("updateCluster", self.cluster.authz_resource, audit=True)
        self.cluster = services.check_health(self.cluster)
        context = self.get_context_data()
        context.update(sees_nodes=visibility.sees_nodes(request.user, self.cluster), checked=True)
        if not request.htmx:
            return HttpResponseRedirect(reverse("console:cluster", kwargs=self.kwargs))
        return render(request, self.template_name, context)


class ClusterRotateView(ClusterView):
    """POST: replace the credential (probed first; the old one stays on failure)."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        self.judge("updateCluster", self.cluster.authz_resource, audit=True)
        fields = ("kubeconfig", "context", "token", "ca_data", "client_cert", "client_key")
        data = {k: request.POST.get(k, "") for k in fields}
        data["server"] = self.cluster.server
        kubeconfig = bool(data["kubeconfig"].strip())
        if not kubeconfig and not data["ca_data"].strip():
            # "CA: empty keeps it" — the probe of the new token verifies with the stored CA.
            data["ca_data"] = self.cluster.credential.ca_data
        body = CredentialInputSerializer(data=data)
        errors, rotated = {}, False
        if not body.is_valid():
            errors = _place(_errors(body.errors), fields, kubeconfig)
        else:
            try:
                self.cluster = services.rotate_credential(
                    actor=request.user, cluster=self.cluster, spec=body.to_spec()
                )
                rotated = True
            except (ValidationError, k8s.ClusterError) as exc:
                errors = _place(_errors(exc), fields, kubeconfig)
        if not request.htmx and not errors:
            return HttpResponseRedirect(reverse("console:cluster", kwargs=self.kwargs))
        context = self.get_context_data(errors=errors, rotated=rotated)
        if request.htmx:  # htmx swaps only 2xx answers: the form and its errors as 200
            return render(request, "console/clusters/_rotate.html", context)
        return render(request, self.template_name, context, status=400)


# -- nodes ---------------------------------------------------------------------------------------
def _quantity(value, memory=False, cpu=False) -> str:
    """A capacity as people read it: memory in GiB/MiB, CPU in cores, the rest as
    Kubernetes prints it."""
    if value in (None, ""):
        return "—"
    if not (memory or cpu):
        return str(value)
    try:
        amount = quantity.parse(value)
    except quantity.QuantityError:
        return str(value)
    if cpu:
        return _("%(n)s cores") % {"n": f"{amount.normalize():f}"}
    gib = amount / (1024**3)
    if gib >= 1:
        return f"{gib:.1f} GiB"
    return f"{amount / (1024**2):.0f} MiB"


def human_resources(capacity: dict, allocatable: dict) -> list[dict]:
    """(resource, capacity, allocatable) rows with units, CPU and memory first."""
    names = sorted(set(capacity) | set(allocatable), key=lambda n: (n not in ("cpu", "memory"), n))
    return [
        {
            "name": name,
            "capacity": _quantity(capacity.get(name), name == "memory", name == "cpu"),
            "allocatable": _quantity(allocatable.get(name), name == "memory", name == "cpu"),
        }
        for name in names
    ]


def node_row(node: dict) -> dict:
    meta, spec, status = node.get("metadata", {}), node.get("spec", {}), node.get("status", {})
    labels = meta.get("labels") or {}
    info = status.get("nodeInfo") or {}
    capacity, allocatable = status.get("capacity") or {}, status.get("allocatable") or {}
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    roles = sorted(
        key.split("/", 1)[1] for key in labels if key.startswith("node-role.kubernetes.io/")
    )
    gpus = sum(int(capacity.get(r, 0) or 0) for r in GPU_RESOURCES)

    def resources_of(source):
        return {
            "cpu": _quantity(source.get("cpu"), cpu=True),
            "memory": _quantity(source.get("memory"), memory=True),
            "pods": _quantity(source.get("pods")),
        }

    return {
        "name": meta.get("name", ""),
        "ready": ready,
        "unschedulable": bool(spec.get("unschedulable")),
        "roles": roles or ["<none>"],
        "version": info.get("kubeletVersion", ""),
        "arch": info.get("architecture") or labels.get("kubernetes.io/arch", ""),
        "gpus": gpus,
        "capacity": resources_of(capacity),
        "allocatable": resources_of(allocatable),
        "labels": labels,
        "taints": spec.get("taints") or [],
    }


class NodeBase(ClusterPage):
    tab = "console:nodes"

    def node_path(self, name: str | None) -> str:
        return resources.resource_path(self.cluster.name, resources.KINDS["nodes"], None, name)

    def node_powers(self) -> dict:
        path = self.node_path("*")
        return {
            action: self.allowed(action, path)
            for action in ("cordonNode", "uncordonNode", "drainNode", "updateNode")
        }


class NodesView(NodeBase):
    """The cluster's nodes, live: status, roles, version, architecture, GPUs, capacity and
    allocatable with units; cordon, uncordon and drain for whoever may."""

    template_name = "console/clusters/nodes.html"

    def get_context_data(self, **kwargs):
        self.judge("listNodes", self.node_path(None))
        page = self.call(lambda c: resources.list_objects(c, resources.KINDS["nodes"]))
        context = super().get_context_data(**kwargs)
        context.update(
            title=_("Nodes"),
            rows=[node_row(n) for n in (page or {}).get("items", [])],
            may=self.node_powers(),
        )
        return context


class NodeOperationView(NodeBase):
    """POST cordon / uncordon / drain of one node, as the API's node operations: the row
    comes back (and drain's report: what was evicted, what was skipped and why)."""

    template_name = "console/clusters/_node_row.html"
    http_method_names = ["post"]
    ACTIONS = {"cordon": "cordonNode", "uncordon": "uncordonNode", "drain": "drainNode"}

    def post(self, request, *args, **kwargs):
        op, name = self.kwargs["op"], self.kwargs["name"]
        if op not in self.ACTIONS:
            raise Http404(op)
        self.judge(self.ACTIONS[op], self.node_path(name), audit=True)
        if op == "drain":
            pods = f"cluster:{self.cluster.name}/namespace:*/pod:*"
            self.judge("deletePod", pods)
        report = None
        try:
            with self.client() as client:
                if op == "drain":
                    report = resources.drain(client, name)
                else:
                    resources.set_unschedulable(client, name, op == "cordon")
                node = resources.get_object(client, resources.KINDS["nodes"], None, name)
        except k8s.ClusterNotFound as exc:
            raise Http404(str(exc.detail)) from None
        except k8s.ClusterError as exc:
            self.cluster_error = exc
            node = None
        if not request.htmx:
            nodes = reverse("console:nodes", kwargs={"cluster": self.cluster.name})
            return HttpResponseRedirect(nodes)
        context = self.get_context_data()
        context.update(
            row=node_row(node) if node else None,
            report=report,
            may=self.node_powers(),
            name=name,
        )
        return render(request, self.template_name, context)


def _parse_labels(text: str) -> dict[str, str]:
    labels = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValidationError({"labels": _("Line %(n)s: write key=value.") % {"n": number}})
        labels[key.strip()] = value.strip()
    return labels


TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _parse_taints(text: str) -> list[dict]:
    taints = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        head, sep, effect = line.rpartition(":")
        if not sep or effect not in TAINT_EFFECTS:
            raise ValidationError(
                {
                    "taints": _("Line %(n)s: write key=value:Effect (Effect one of %(e)s).")
                    % {"n": number, "e": ", ".join(TAINT_EFFECTS)}
                }
            )
        key, _eq, value = head.partition("=")
        if not key.strip():
            raise ValidationError({"taints": _("Line %(n)s: the key is missing.") % {"n": number}})
        taint = {"key": key.strip(), "effect": effect}
        if value.strip():
            taint["value"] = value.strip()
        taints.append(taint)
    return taints


class NodeView(NodeBase):
    """One node: details, YAML, and (for whoever may updateNode) its labels and taints."""

    template_name = "console/clusters/node.html"

    def get_context_data(self, **kwargs):
        name = self.kwargs["name"]
        self.judge("getNode", self.node_path(name))
        node = kwargs.get("node")
        if node is None:
            try:
                with self.client() as client:
                    node = resources.get_object(client, resources.KINDS["nodes"], None, name)
            except k8s.ClusterNotFound as exc:
                raise Http404(str(exc.detail)) from None
            except k8s.ClusterError as exc:
                self.cluster_error = exc
        context = super().get_context_data(**kwargs)
        row = node_row(node) if node else None
        context.update(
            title=name,
            name=name,
            row=row,
            conditions=((node or {}).get("status") or {}).get("conditions") or [],
            yaml=to_yaml(node) if node else "",
            may_update=self.allowed("updateNode", self.node_path(name)),
            may_shell=self.allowed("execNode", self.node_path(name)),
            labels_text=kwargs.get("labels_text")
            or "\n".join(f"{k}={v}" for k, v in sorted((row or {}).get("labels", {}).items())),
            taints_text=kwargs.get("taints_text")
            or "\n".join(
                f"{t.get('key')}{'=' + t['value'] if t.get('value') else ''}:{t.get('effect')}"
                for t in (row or {}).get("taints", [])
            ),
            errors=kwargs.get("errors", {}),
            saved=kwargs.get("saved", False),
        )
        return context

    def post(self, request, *args, **kwargs):
        """Replace the node's labels and taints (updateNode, a patch through resources)."""
        name = self.kwargs["name"]
        self.judge("updateNode", self.node_path(name), audit=True)
        labels_text = request.POST.get("labels", "")
        taints_text = request.POST.get("taints", "")
        try:
            labels, taints = _parse_labels(labels_text), _parse_taints(taints_text)
        except ValidationError as exc:
            context = self.get_context_data(
                errors=_errors(exc), labels_text=labels_text, taints_text=taints_text
            )
            return render(request, self.template_name, context, status=200 if request.htmx else 400)
        node, errors = None, {}
        try:
            with self.client() as client:
                current = resources.get_object(client, resources.KINDS["nodes"], None, name)
                old = (current.get("metadata") or {}).get("labels") or {}
                patch = {
                    "metadata": {"labels": {**dict.fromkeys(old), **labels}},
                    "spec": {"taints": taints or None},
                }
                node = resources.patch_object(client, resources.KINDS["nodes"], None, name, patch)
        except k8s.ClusterNotFound as exc:
            raise Http404(str(exc.detail)) from None
        except k8s.ClusterError as exc:
            # The cluster's 422 causes go next to the field they are about.
            errors = {}
            for field, messages in _errors(exc).items():
                target = (
                    "labels"
                    if field.startswith("metadata.labels")
                    else "taints"
                    if field.startswith("spec.taints")
                    else "form"
                )
                errors.setdefault(target, []).extend(
                    f"{field}: {m}" if target != "form" or field != "form" else m for m in messages
                )
            if not exc.fields:
                self.cluster_error = exc
        context = self.get_context_data(
            node=node,
            errors=errors,
            saved=not errors,
            labels_text=labels_text if errors else "",
            taints_text=taints_text if errors else "",
        )
        # htmx swaps only 2xx answers: the page with its errors comes back as 200 to it.
        status = 400 if errors and not request.htmx else 200
        return render(request, self.template_name, context, status=status)


class NodeShellView(NodeBase):
    """A shell on the node (``execNode``, which no wildcard grants: in practice the platform
    administrator's): the pod terminal's page and script on the node shell's websocket
    (apps/terminal/nodeshell.py), which makes and removes the node's debug pod."""

    template_name = "console/terminal/node.html"

    def get_context_data(self, **kwargs):
        name = self.kwargs["name"]
        self.judge("execNode", self.node_path(name))
        context = super().get_context_data(**kwargs)
        context.update(
            title=f"{name} · shell",
            name=name,
            fresh=session_is_fresh(self.request.session),
            reauth_url=reauth_url(self.request.get_full_path()),
            socket_path=f"/ws/clusters/{self.cluster.name}/nodes/{name}/shell",
            namespace=settings.TERMINAL_NODE_SHELL_NAMESPACE,
            image=settings.TERMINAL_NODE_SHELL_IMAGE,
        )
        return context


__all__ = [
    "NodeShellView",
    "ClusterHealthView",
    "ClusterRotateView",
    "ClusterView",
    "ClustersView",
    "NodeOperationView",
    "NodeView",
    "NodesView",
]
