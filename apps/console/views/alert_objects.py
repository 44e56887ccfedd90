"""The objects an alarm policy may name, read from its cluster: a small JSON endpoint the policy
form (``alerts.js``) turns into a list of check boxes that fill the object names.

``GET alarms/objects/<cluster>/?type=node|pod|workload&namespace=…&workload_kind=…`` answers
``{"names": [...], "truncated": bool}``: the cluster's nodes, the pods of a namespace (of one
workload kind when the policy names one, as the evaluator picks them), or the workloads of one
kind in a namespace. Authorized as the pages that list those objects
(``apps/console/views/kube.py``, ``workloads.py``), with their action names: the cluster must be
readable (``getCluster``, else 404), then ``listNodes`` on the cluster, or ``listPods`` /
``list<Workloads>`` on the namespace, a namespace outside the user's reach (a project member:
their project's) refused — the console's 403, as JSON (the request asks for JSON). A cluster
that does not answer is its error as JSON (``cluster_unreachable``…), never a 500: the form
keeps its text box, and a name typed there needs no object yet.
"""

from __future__ import annotations

from django.http import JsonResponse
from django.utils.translation import gettext as _

from apps.clusters import k8s, resources
from apps.core.api.errors import error_body
from apps.monitoring.alerts.choices import PolicyType, WorkloadKind
from apps.monitoring.models import Series

from .base import ConsoleDenied
from .kube import ClusterPage
from .workloads import plural_of

# A pod's controller → the workload the collector files it under (until it has been
# collected: a ReplicaSet's pods are its Deployment's, as nearly all are).
CONTROLLER_WORKLOAD = {"ReplicaSet": WorkloadKind.DEPLOYMENT}
# Names one answer lists at most (a namespace with more is typed, as before).
LIMIT = 500
WORKLOAD_PLURALS = {
    WorkloadKind.DEPLOYMENT: "deployments",
    WorkloadKind.STATEFULSET: "statefulsets",
    WorkloadKind.DAEMONSET: "daemonsets",
    WorkloadKind.JOB: "jobs",
    WorkloadKind.CRONJOB: "cronjobs",
}


def problem(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse(error_body(code, detail), status=status)


class PolicyObjectsView(ClusterPage):
    """The names of the objects a policy of ``type`` could watch in the cluster (JSON)."""

    http_method_names = ["get"]

    def get(self, request, *args, **kwargs):
        params = request.GET
        policy_type = params.get("type", "")
        namespace = None
        if policy_type == PolicyType.NODE:
            kind = resources.KINDS["nodes"]
            self.judge("listNodes", resources.resource_path(self.cluster.name, kind, None, None))
        elif policy_type in (PolicyType.POD, PolicyType.WORKLOAD):
            namespace = params.get("namespace", "").strip()
            if not namespace:
                return problem(400, "namespace_required", _("Give the policy's namespace first."))
            if not resources.DNS_LABEL.match(namespace):
                return problem(
                    400,
                    "invalid_namespace",
                    _("%(name)s is not a namespace name.") % {"name": namespace},
                )
            if policy_type == PolicyType.POD:
                kind = resources.KINDS["pods"]
            else:
                plural = WORKLOAD_PLURALS.get(params.get("workload_kind", ""))
                if plural is None:
                    return problem(
                        400, "workload_kind_required", _("Choose the workload kind first.")
                    )
                kind = resources.KINDS[plural]
            self.judge_namespace(kind, namespace)
        else:
            return problem(
                400,
                "no_objects",
                _("Only node, workload and pod policies choose their objects."),
            )
        try:
            with self.client() as client:
                page = resources.list_objects(client, kind, namespace, limit=LIMIT)
        except k8s.ClusterError as exc:
            return problem(exc.status_code, exc.get_codes(), str(exc.detail))
        items = page["items"]
        kind_wanted = params.get("workload_kind", "")
        if policy_type == PolicyType.POD and kind_wanted:
            items = self.of_workload_kind(items, namespace, kind_wanted)
        names = sorted(item["metadata"]["name"] for item in items)
        return JsonResponse({"names": names, "truncated": bool(page.get("continue"))})

    def of_workload_kind(self, pods: list[dict], namespace: str, kind: str) -> list[dict]:
        """The pods a pod policy of workload ``kind`` watches, as the evaluator picks them: by
        the workload kind the collector recorded on the pod's series; a pod not collected yet
        by its controller (a ReplicaSet's pods are a Deployment's)."""
        recorded = dict(
            Series.objects.filter(
                cluster=self.cluster, level="pod", key__startswith=f"{namespace}/"
            ).values_list("key", "labels__workload_kind")
        )

        def kind_of(pod: dict) -> str:
            key = f"{namespace}/{pod['metadata']['name']}"
            if key in recorded:
                return recorded[key] or ""
            for ref in pod["metadata"].get("ownerReferences") or []:
                if ref.get("controller"):
                    return CONTROLLER_WORKLOAD.get(ref.get("kind", ""), ref.get("kind", ""))
            return ""

        return [pod for pod in pods if kind_of(pod) == kind]

    def judge_namespace(self, kind: resources.Kind, namespace: str) -> None:
        """``list<Kind>`` in ``namespace`` as the pods and workloads pages judge it: among the
        namespaces the user reaches, then on the namespace's path."""
        action = f"list{plural_of(kind)}"
        path = resources.resource_path(self.cluster.name, kind, namespace, None)
        within = self.reach(action, path.split("/", 2)[2])
        if within is not None and namespace not in within:
            raise ConsoleDenied(action, path, _("not one of your namespaces"))
        self.judge(action, path)
