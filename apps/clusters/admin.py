"""Clusters and their nodes in the admin, for operators.

The change pages show what an operator reads — phase, conditions as a table, capacity and
allocatable with units, architectures, GPUs, labels as chips, the nodes — and offer the
operations of the API (health check, node sync, credential rotation, cordon / uncordon /
drain) as admin actions and buttons. Each operation is authorized like the REST endpoint
that does the same thing (same action name, same resource path, same tenant), goes through
the same service function, and is audited once by the audit middleware under the API's action
name. A refusal is an error message naming the action; an unreachable cluster says so.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.authz import check, check_collection
from apps.core.admin import (
    TenantScopedAdmin,
    chips,
    conditions_table,
    failed,
    human_quantity,
    label_chips,
    name_operation,
    permitted,
    phase_badge,
    refuse,
    resources_table,
    table,
)
from apps.core.admin_links import console_link

from . import k8s, resources, services, visibility
from .models import Cluster, ClusterOperation, Node

UPDATE = "updateCluster"  # health check, sync and rotation, as the API names them
NODE_ACTIONS = {"cordon": "cordonNode", "uncordon": "uncordonNode", "drain": "drainNode"}
NODE_BUTTONS = {
    "cordon": gettext_lazy("Cordon"),
    "uncordon": gettext_lazy("Uncordon"),
    "drain": gettext_lazy("Drain"),
}
NODE_VERBS = {
    "cordon": gettext_lazy("cordon"),
    "uncordon": gettext_lazy("uncordon"),
    "drain": gettext_lazy("drain"),
}
NODE_DONE = {
    "cordon": gettext_lazy("Cordoned %(node)s of %(cluster)s"),
    "uncordon": gettext_lazy("Uncordoned %(node)s of %(cluster)s"),
}


def node_resource(cluster: Cluster, node: str) -> str:
    return resources.resource_path(cluster.name, resources.KINDS["nodes"], None, node)


# -- the operations, shared by the actions, the buttons and the node admin ------------------------
def run_health_check(request, cluster: Cluster) -> bool:
    if not permitted(request, UPDATE, cluster.authz_resource, cluster.tenant):
        return False
    cluster = services.check_health(cluster)
    health = next((c for c in cluster.conditions if c.get("type") == "HealthCheck"), {})
    if health.get("status") == "False":
        reason = cluster.message or health.get("message")
        failed(
            request,
            _("Health check of %(cluster)s failed: %(reason)s")
            % {"cluster": cluster.name, "reason": reason},
        )
        return False
    messages.success(
        request,
        _("Health check of %(cluster)s: %(phase)s, Kubernetes %(version)s")
        % {
            "cluster": cluster.name,
            "phase": cluster.get_phase_display(),
            "version": cluster.version,
        },
    )
    return True


def run_sync(request, cluster: Cluster) -> bool:
    if not permitted(request, UPDATE, cluster.authz_resource, cluster.tenant):
        return False
    try:
        cluster = services.sync_nodes(cluster)
    except k8s.ClusterError as exc:
        failed(
            request,
            _("Sync of %(cluster)s failed: %(reason)s")
            % {"cluster": cluster.name, "reason": exc.detail},
        )
        return False
    messages.success(
        request,
        _("Synced %(count)s nodes of %(cluster)s")
        % {"count": cluster.node_count, "cluster": cluster.name},
    )
    return True


def run_node_operation(request, cluster: Cluster, node: str, operation: str) -> bool:
    """Cordon, uncordon or drain ``node`` of ``cluster``, as the node endpoints of the REST
    API do (``apps.clusters.api.resources.NodeOperationViewSet``): the node's action on its
    path, and for a drain ``deletePod`` on every pod of the cluster too."""
    action, resource = NODE_ACTIONS[operation], node_resource(cluster, node)
    if not permitted(request, action, resource, cluster.tenant):
        return False
    if operation == "drain":
        pods = f"cluster:{cluster.name}/namespace:*/pod:*"
        decision = check_collection(request.user, "deletePod", pods, tenant=cluster.tenant)
        if not decision:
            reason = _("draining evicts pods; %(reason)s") % {"reason": decision.reason}
            refuse(request, "deletePod", pods, reason)
            return False
    try:
        with services.client_for(cluster) as client:
            if operation == "drain":
                report = resources.drain(client, node)
            else:
                answer = resources.set_unschedulable(client, node, operation == "cordon")
    except k8s.ClusterError as exc:
        failed(
            request,
            _("Could not %(operation)s %(node)s of %(cluster)s: %(reason)s")
            % {
                "operation": NODE_VERBS[operation],
                "node": node,
                "cluster": cluster.name,
                "reason": exc.detail,
            },
        )
        return False
    # The snapshot follows what the cluster now says (the next sync refreshes the rest).
    cordoned = True if operation == "drain" else bool(answer.get("spec", {}).get("unschedulable"))
    Node.objects.filter(cluster=cluster, name=node).update(unschedulable=cordoned)
    if operation == "drain":
        evicted = ", ".join(report["evicted"]) or _("no pods")
        skipped = "; ".join(f"{s['pod']} ({s['reason']})" for s in report["skipped"])
        text = _("Drained %(node)s of %(cluster)s: evicted %(evicted)s") % {
            "node": node,
            "cluster": cluster.name,
            "evicted": evicted,
        }
        if skipped:
            text += "; " + _("skipped %(skipped)s") % {"skipped": skipped}
        messages.success(request, text)
    else:
        messages.success(request, NODE_DONE[operation] % {"node": node, "cluster": cluster.name})
    return True


def _ready_label(node: Node) -> str:
    return _("Ready") if node.ready else _("NotReady")


def _scheduling(node: Node):
    return phase_badge("Pending", _("cordoned")) if node.unschedulable else _("schedulable")


def _phase_of(obj) -> str:
    return phase_badge(obj.phase, obj.get_phase_display())


class ClusterOperationInline(admin.TabularInline):
    model = ClusterOperation
    extra = 0
    can_delete = False
    fields = ["kind", "phase_shown", "target", "steps_shown", "attempts", "message", "created_at"]
    readonly_fields = fields
    classes = ["collapse"]
    verbose_name_plural = gettext_lazy("Operations")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        return True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("cluster")

    @admin.display(description=gettext_lazy("Phase"))
    def phase_shown(self, obj):
        return _phase_of(obj)

    @admin.display(description=gettext_lazy("Steps"))
    def steps_shown(self, obj):
        if not obj.steps:
            return "—"
        return format_html_join(
            ", ",
            "{} {}",
            ((s.get("name", ""), "✓" if s.get("status") == "True" else "✗") for s in obj.steps),
        )


class RotateCredentialForm(forms.Form):
    """A new credential for the cluster: a bearer token, or a client certificate and key; the
    CA only when it changes. Probed before anything is stored (the old one stays on failure)."""

    token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=gettext_lazy("A bearer token (leave empty when using a client certificate)."),
    )
    client_cert = forms.CharField(
        required=False,
        label=gettext_lazy("Client certificate (PEM)"),
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    client_key = forms.CharField(
        required=False,
        label=gettext_lazy("Client key (PEM)"),
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off"}),
    )
    ca_data = forms.CharField(
        required=False,
        label=gettext_lazy("Cluster CA (PEM)"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("Only when the CA changes; the stored one is kept otherwise."),
    )

    def clean_token(self):
        return services.bearer_token(self.cleaned_data["token"].strip(), "token")

    def spec(self, cluster: Cluster) -> k8s.Connection:
        data = self.cleaned_data
        return k8s.Connection(
            server=cluster.server,
            token=data["token"],
            # The stored CA unless a new one is given: the probe verifies the server with it.
            ca_data=data["ca_data"] or cluster.credential.ca_data,
            client_cert=data["client_cert"],
            client_key=data["client_key"],
            insecure=cluster.credential.insecure_skip_tls_verify,
        )


class _DryRun(Exception):
    """Rolls back a validation run of the update service."""


class ClusterForm(forms.ModelForm):
    """Display name and labels, judged by :func:`services.update_cluster` before saving (its
    rules and messages, not a second copy of them)."""

    class Meta:
        model = Cluster
        fields = ["display_name", "labels"]

    def changes(self) -> dict:
        return {
            n: self.cleaned_data[n] for n in ("display_name", "labels") if n in self.changed_data
        }

    def clean(self):
        cleaned = super().clean()
        if self.errors or self.instance.pk is None:
            return cleaned
        labels = cleaned.get("labels")
        if labels is not None and (
            not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values())
        ):
            self.add_error("labels", _('Labels are an object of strings: {"key": "value"}.'))
            return cleaned
        try:
            with transaction.atomic():
                services.update_cluster(
                    actor=None, cluster=Cluster.objects.get(pk=self.instance.pk), **self.changes()
                )
                raise _DryRun
        except _DryRun:
            pass
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        return cleaned


@admin.register(Cluster)
class ClusterAdmin(TenantScopedAdmin):
    """Clusters are imported through the API, the console or ``manage.py importcluster``
    (which probe them); here operators watch them and operate on them. Credentials are never
    shown: rotating one is a form of its own."""

    # Extends guardian's change form (its "Object permissions" button stays).
    change_form_template = "admin/clusters/cluster/change_form.html"
    form = ClusterForm
    list_display = [
        "name",
        "display_name",
        "tenant",
        "phase_shown",
        "version",
        "node_count",
        "architectures_shown",
        "gpus_shown",
        "last_probe_at",
    ]
    list_filter = ["phase", "tenant"]
    list_select_related = ["tenant"]
    search_fields = ["name", "display_name", "server"]
    readonly_fields = [
        "name",
        "console",
        "server",
        "phase_shown",
        "message",
        "version",
        "credential_shown",
        "resources_shown",
        "node_count",
        "architectures_shown",
        "gpus_shown",
        "nodes_shown",
        "conditions_shown",
        "consecutive_failures",
        "last_probe_at",
        "labels_shown",
        "created_by",
        "created_at",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "console",
                    "tenant",
                    "display_name",
                    "phase_shown",
                    "message",
                    "version",
                    "server",
                    "credential_shown",
                ]
            },
        ),
        (
            gettext_lazy("Capacity"),
            {"fields": ["resources_shown", "node_count", "architectures_shown", "gpus_shown"]},
        ),
        (gettext_lazy("Nodes"), {"fields": ["nodes_shown"]}),
        (
            gettext_lazy("Health"),
            {"fields": ["conditions_shown", "consecutive_failures", "last_probe_at"]},
        ),
        (gettext_lazy("Labels"), {"fields": ["labels_shown"]}),
        (
            gettext_lazy("Edit labels (JSON)"),
            {"fields": ["labels"], "classes": ["collapse"]},
        ),
        (gettext_lazy("Record"), {"fields": ["created_by", "created_at"], "classes": ["collapse"]}),
    ]
    inlines = [ClusterOperationInline]
    actions = ["check_health_now", "sync_nodes_now"]

    def has_add_permission(self, request) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("tenant", "created_by")

    # -- display ---------------------------------------------------------------------------------
    @admin.display(description=gettext_lazy("Phase"), ordering="phase")
    def phase_shown(self, obj):
        return _phase_of(obj)

    @admin.display(description=gettext_lazy("Console"))
    def console(self, obj):
        return console_link("console:cluster", cluster=obj.name) or "—"

    @admin.display(description=gettext_lazy("Credential"))
    def credential_shown(self, obj):
        cred = getattr(obj, "credential", None)
        if cred is None:
            return _("none")
        text = _("%(kind)s, rotated %(when)s") % {
            "kind": cred.kind,
            "when": cred.rotated_at.strftime("%Y-%m-%d %H:%M UTC") if cred.rotated_at else "—",
        }
        if cred.insecure_skip_tls_verify:
            text += " " + _("(TLS verification off)")
        return text

    @admin.display(description=gettext_lazy("Capacity and allocatable"))
    def resources_shown(self, obj):
        return resources_table(obj.capacity, obj.allocatable)

    @admin.display(description=gettext_lazy("Architectures"))
    def architectures_shown(self, obj):
        return chips(obj.architectures)

    @admin.display(description=gettext_lazy("GPUs"))
    def gpus_shown(self, obj):
        summary = obj.gpu_summary or {}
        count = summary.get("gpus") or 0
        if not count:
            return _("none")
        nodes = summary.get("nodes") or []
        return _("%(gpus)s on %(nodes)s") % {
            "gpus": human_quantity("nvidia.com/gpu", count),
            "nodes": ", ".join(nodes),
        }

    @admin.display(description=gettext_lazy("Conditions"))
    def conditions_shown(self, obj):
        return conditions_table(obj.conditions)

    @admin.display(description=gettext_lazy("Labels"))
    def labels_shown(self, obj):
        return label_chips(obj.labels)

    @admin.display(description=gettext_lazy("Nodes"))
    def nodes_shown(self, obj):
        """The node inventory with a cordon / uncordon / drain button per node (each posts to
        :meth:`node_operation_view` through the page's operations form)."""
        if not getattr(obj, "_sees_nodes", False):
            return _("not shown: you may not list this cluster's nodes")
        nodes = list(obj.nodes.all())
        if not nodes:
            return _("none synced yet (use “Sync nodes”)")
        viewer = obj._viewer
        rows = []
        for node in nodes:
            # Only the buttons the viewer may use (the operation itself judges again).
            allowed = [
                operation
                for operation in (
                    ("uncordon", "drain") if node.unschedulable else ("cordon", "drain")
                )
                if check(viewer, NODE_ACTIONS[operation], node_resource(obj, node.name), obj.tenant)
            ]
            buttons = (
                format_html_join(
                    " ",
                    '<button type="submit" class="button" form="tke-operations" formaction="{}" '
                    'aria-label="{} {}">{}</button>',
                    (
                        (
                            reverse(
                                "admin:clusters_cluster_node_operation",
                                args=[obj.pk, node.name, operation],
                            ),
                            NODE_BUTTONS[operation],
                            node.name,
                            NODE_BUTTONS[operation],
                        )
                        for operation in allowed
                    ),
                )
                or "—"
            )
            rows.append(
                (
                    node.name,
                    phase_badge("Running" if node.ready else "Failed", _ready_label(node)),
                    _scheduling(node),
                    node.architecture or "—",
                    human_quantity("cpu", node.capacity.get("cpu", "0")),
                    human_quantity("memory", node.capacity.get("memory", "0")),
                    node.gpus or "—",
                    node.kubelet_version or "—",
                    buttons,
                )
            )
        headers = [_("Node"), _("Status"), _("Scheduling"), _("Architecture"), _("CPU")]
        headers += [_("Memory"), _("GPUs"), _("Kubelet"), _("Operations")]
        return table(
            headers,
            format_html_join(
                "",
                '<tr><th scope="row">{}</th><td>{}</td><td>{}</td><td>{}</td>'
                '<td class="tke-nowrap">{}</td><td class="tke-nowrap">{}</td><td>{}</td><td>{}</td>'
                "<td>{}</td></tr>",
                rows,
            ),
        )

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            # Nodes are the platform's (apps.clusters.visibility): nodes_shown asks this.
            obj._sees_nodes = visibility.sees_nodes(request.user, obj)
            obj._viewer = request.user
            # The change page shows the cluster's operation buttons to who may use them.
            obj.may_update = bool(check(request.user, UPDATE, obj.authz_resource, obj.tenant))
        return obj

    # -- writes through the services -------------------------------------------------------------
    def save_model(self, request, obj, form, change):
        saved = services.update_cluster(
            actor=request.user, cluster=Cluster.objects.get(pk=obj.pk), **form.changes()
        )
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})

    def delete_model(self, request, obj):
        services.delete_cluster(actor=request.user, cluster=obj)

    def delete_queryset(self, request, queryset):
        for cluster in queryset:
            services.delete_cluster(actor=request.user, cluster=cluster)

    # -- actions on the change list ------------------------------------------------------------
    @admin.action(description=gettext_lazy("Check health now"))
    def check_health_now(self, request, queryset):
        clusters = list(queryset.select_related("credential", "tenant"))
        name_operation(request, UPDATE, [c.authz_resource for c in clusters])
        for cluster in clusters:
            run_health_check(request, cluster)

    @admin.action(description=gettext_lazy("Sync nodes (refresh the inventory)"))
    def sync_nodes_now(self, request, queryset):
        clusters = list(queryset.select_related("credential", "tenant"))
        name_operation(request, UPDATE, [c.authz_resource for c in clusters])
        for cluster in clusters:
            run_sync(request, cluster)

    # -- buttons on the change page --------------------------------------------------------------
    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/health-check/",
                wrap(self.health_check_view),
                name="clusters_cluster_health_check",
            ),
            path("<path:object_id>/sync/", wrap(self.sync_view), name="clusters_cluster_sync"),
            path(
                "<path:object_id>/rotate-credential/",
                wrap(self.rotate_credential_view),
                name="clusters_cluster_rotate_credential",
            ),
            path(
                "<path:object_id>/nodes/<str:node>/<str:operation>/",
                wrap(self.node_operation_view),
                name="clusters_cluster_node_operation",
            ),
            *super().get_urls(),
        ]

    def _cluster(self, request, object_id) -> Cluster:
        """The cluster as the change page finds it: other tenants' and invisible ones are 404."""
        cluster = self.get_object(request, unquote(object_id))
        if cluster is None or not self.has_view_or_change_permission(request, cluster):
            raise Http404("No such cluster.")
        return cluster

    def _back(self, cluster: Cluster):
        return HttpResponseRedirect(reverse("admin:clusters_cluster_change", args=[cluster.pk]))

    def health_check_view(self, request, object_id):
        cluster = self._cluster(request, object_id)
        if request.method != "POST":
            return self._back(cluster)
        name_operation(request, UPDATE, [cluster.authz_resource])
        run_health_check(request, cluster)
        return self._back(cluster)

    def sync_view(self, request, object_id):
        cluster = self._cluster(request, object_id)
        if request.method != "POST":
            return self._back(cluster)
        name_operation(request, UPDATE, [cluster.authz_resource])
        run_sync(request, cluster)
        return self._back(cluster)

    def node_operation_view(self, request, object_id, node, operation):
        cluster = self._cluster(request, object_id)
        if operation not in NODE_ACTIONS or not cluster.nodes.filter(name=node).exists():
            raise Http404("No such node operation.")
        if request.method != "POST":
            return self._back(cluster)
        name_operation(request, NODE_ACTIONS[operation], [node_resource(cluster, node)])
        run_node_operation(request, cluster, node, operation)
        return self._back(cluster)

    def rotate_credential_view(self, request, object_id):
        cluster = self._cluster(request, object_id)
        form = RotateCredentialForm(request.POST or None)
        if request.method == "POST":
            name_operation(request, UPDATE, [cluster.authz_resource])
            if not permitted(request, UPDATE, cluster.authz_resource, cluster.tenant):
                return self._back(cluster)
            if form.is_valid():
                try:
                    services.rotate_credential(
                        actor=request.user, cluster=cluster, spec=form.spec(cluster)
                    )
                except ValidationError as exc:
                    request.audit_outcome = "failure"
                    for field, errors in exc.message_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                except k8s.ClusterError as exc:
                    request.audit_outcome = "failure"
                    fields = getattr(exc, "fields", None) or {}
                    for field, errors in fields.items():
                        form.add_error(field if field in form.fields else None, errors)
                    if not fields:
                        form.add_error(None, str(exc.detail))
                else:
                    messages.success(
                        request,
                        _("Rotated the credential of %(cluster)s") % {"cluster": cluster.name},
                    )
                    return self._back(cluster)
            else:
                request.audit_outcome = "failure"
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": cluster,
            "title": _("Rotate the credential of %(cluster)s") % {"cluster": cluster.name},
            "subtitle": cluster.name,
            "form": form,
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/clusters/cluster/rotate_credential.html", context)


@admin.register(Node)
class NodeAdmin(TenantScopedAdmin):
    """The node inventory as last synced, with cordon / uncordon / drain as actions."""

    tenant_field = "cluster__tenant"
    change_form_template = "admin/clusters/node/change_form.html"
    list_display = [
        "name",
        "cluster",
        "architecture",
        "ready_shown",
        "scheduling",
        "cpu",
        "memory",
        "gpus",
        "synced_at",
    ]
    list_filter = ["architecture", "ready", "unschedulable"]
    list_select_related = ["cluster", "cluster__tenant"]
    search_fields = ["name", "cluster__name"]
    readonly_fields = [
        "name",
        "cluster",
        "console",
        "ready_shown",
        "scheduling",
        "architecture",
        "os_image",
        "kubelet_version",
        "gpus",
        "resources_shown",
        "labels_shown",
        "synced_at",
    ]
    fields = readonly_fields
    actions = ["cordon_nodes", "uncordon_nodes", "drain_nodes"]

    def tenant_of(self, request, obj=None):
        return request.user.tenant if obj is None else obj.cluster.tenant

    def resource_of(self, obj=None):
        if obj is None:
            return "cluster:*/node:*"
        return node_resource(obj.cluster, obj.name)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_object(self, request, object_id, from_field=None):
        node = super().get_object(request, object_id, from_field)
        if node is not None:
            # The change page's buttons: only those the viewer may use.
            node.may = {
                operation: bool(
                    check(
                        request.user,
                        action,
                        node_resource(node.cluster, node.name),
                        node.cluster.tenant,
                    )
                )
                for operation, action in NODE_ACTIONS.items()
            }
        return node

    @admin.display(description=gettext_lazy("Status"), ordering="ready")
    def ready_shown(self, obj):
        return phase_badge("Running" if obj.ready else "Failed", _ready_label(obj))

    @admin.display(description=gettext_lazy("Scheduling"), ordering="unschedulable")
    def scheduling(self, obj):
        return _scheduling(obj)

    @admin.display(description=gettext_lazy("CPU"))
    def cpu(self, obj):
        return human_quantity("cpu", obj.capacity.get("cpu", "0"))

    @admin.display(description=gettext_lazy("Memory"))
    def memory(self, obj):
        return human_quantity("memory", obj.capacity.get("memory", "0"))

    @admin.display(description=gettext_lazy("Capacity and allocatable"))
    def resources_shown(self, obj):
        return resources_table(obj.capacity, obj.allocatable)

    @admin.display(description=gettext_lazy("Labels"))
    def labels_shown(self, obj):
        return label_chips(obj.labels)

    @admin.display(description=gettext_lazy("Console"))
    def console(self, obj):
        return console_link("console:cluster", cluster=obj.cluster.name) or "—"

    def _run(self, request, queryset, operation):
        nodes = list(queryset.select_related("cluster__credential", "cluster__tenant"))
        name_operation(
            request, NODE_ACTIONS[operation], [node_resource(n.cluster, n.name) for n in nodes]
        )
        for node in nodes:
            run_node_operation(request, node.cluster, node.name, operation)

    @admin.action(description=gettext_lazy("Cordon the selected nodes"))
    def cordon_nodes(self, request, queryset):
        self._run(request, queryset, "cordon")

    @admin.action(description=gettext_lazy("Uncordon the selected nodes"))
    def uncordon_nodes(self, request, queryset):
        self._run(request, queryset, "uncordon")

    @admin.action(description=gettext_lazy("Drain the selected nodes (evicts their pods)"))
    def drain_nodes(self, request, queryset):
        self._run(request, queryset, "drain")
