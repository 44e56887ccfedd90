"""The console's terminal page of a pod: authorized like the websocket (``execPod`` on the
pod, in its project's domain), with a container picker; the browser then opens the
websocket itself (apps/console/static/console/terminal.js)."""

from __future__ import annotations

from django.http import Http404

from apps.accounts.reauth import reauth_url, session_is_fresh
from apps.clusters import k8s, resources
from apps.console.views.kube import ClusterPage

from . import services


class PodStreamPage(ClusterPage):
    """A page that opens one of the pod's websockets: authorized with the socket's action."""

    tab = "console:pods"
    action = ""
    socket = ""

    def get_context_data(self, **kwargs):
        namespace, name = self.kwargs["namespace"], self.kwargs["name"]
        self.judge(self.action, services.pod_resource(self.cluster.name, namespace, name))
        kind = resources.KINDS["pods"]
        pod = self.call(lambda c: resources.get_object(c, kind, namespace, name))
        if isinstance(self.cluster_error, k8s.ClusterNotFound):
            raise Http404(str(self.cluster_error.detail))
        containers = []
        if pod:
            running = {
                s.get("name")
                for s in (pod.get("status") or {}).get("containerStatuses") or []
                if "running" in (s.get("state") or {})
            }
            for c in (pod.get("spec") or {}).get("containers") or []:
                containers.append({"name": c.get("name", ""), "running": c.get("name") in running})
        chosen = self.request.GET.get("container", "")
        if chosen not in {c["name"] for c in containers}:
            chosen = next((c["name"] for c in containers if c["running"]), "")
        context = super().get_context_data(**kwargs)
        context.update(
            title=f"{name} · {self.socket}",
            namespace=namespace,
            name=name,
            pod=pod,
            containers=containers,
            container=chosen,
            fresh=session_is_fresh(self.request.session),
            reauth_url=reauth_url(self.request.get_full_path()),
            socket_path=(
                f"/ws/clusters/{self.cluster.name}/namespaces/{namespace}/pods/{name}/{self.socket}"
            ),
        )
        return context


class PodTerminalView(PodStreamPage):
    template_name = "console/terminal/pod.html"
    action = services.EXEC_ACTION
    socket = "exec"


class PodLogsView(PodStreamPage):
    """Live logs of a pod's container: follow, pause/resume, the drop markers shown."""

    template_name = "console/terminal/logs.html"
    action = services.LOG_ACTION
    socket = "logs"
