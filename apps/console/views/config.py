"""Console views of the config area beyond the generic object forms: the workloads an
HorizontalPodAutoscaler form offers for the chosen namespace (an HTMX fragment of options).

Authorized like the API's lists: the cluster must be visible (404 otherwise), and the user
must be allowed to list Deployments or StatefulSets in that namespace (each judged in the
namespace's project domain); only the kinds they may list are asked of the cluster.
"""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext as _

from apps.authz import check_collection
from apps.clusters import k8s, resources

from ..forms.config import SCALE_TARGETS
from .base import ConsoleDenied, ConsoleView
from .forms import ClusterPageMixin


class HPATargetsView(ClusterPageMixin, ConsoleView):
    """``?namespace=<ns>&current=<Kind>/<name>`` → ``<option>``s of the namespace's
    Deployments and StatefulSets (the current target kept selected, even when gone)."""

    template_name = "console/forms/config/_hpa_targets.html"

    def authorize(self) -> None:
        cluster = self.get_cluster()
        namespace = self.request.GET.get("namespace") or ""
        if not resources.DNS_LABEL.match(namespace):
            raise Http404("Choose a namespace.")
        self.namespace = namespace
        self.kinds = []
        reasons = []
        for kind in SCALE_TARGETS:
            plural = SCALE_TARGETS[kind][1]
            target = resources.kind_for(plural)
            action = f"list{target.authz_name}s"
            path = resources.resource_path(cluster.name, target, namespace, None)
            decision = check_collection(self.request.user, action, path, tenant=cluster.tenant)
            if decision:
                self.kinds.append(target)
            else:
                reasons.append((action, path, decision.reason))
        if not self.kinds:
            action, path, reason = reasons[0]
            raise ConsoleDenied(action, path, reason)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        current = self.request.GET.get("current") or ""
        options, error = [], ""
        try:
            with self.client() as client:
                for kind in self.kinds:
                    page = resources.list_objects(client, kind, self.namespace, limit=500)
                    options += [
                        (f"{kind.kind}/{item['metadata']['name']}", kind.kind,
                         item["metadata"]["name"])
                        for item in page["items"]
                    ]  # fmt: skip
        except k8s.ClusterError as exc:
            error = _("Cluster %(cluster)s unreachable: %(detail)s") % {
                "cluster": self.get_cluster().name,
                "detail": exc.detail,
            }
        values = {value for value, _kind, _name in options}
        if current and current not in values:
            kind, _slash, name = current.partition("/")
            options.insert(0, (current, kind, name))
        context.update(options=options, current=current, error=error, namespace=self.namespace)
        return context
