"""The console's terminal page of a pod: authorized like the websocket (``execPod`` on the
pod, in its project's domain), with a container picker; the browser then opens the
websocket itself (apps/console/static/console/terminal.js)."""

from __future__ import annotations

import gzip
from urllib.parse import urlencode

from csp.decorators import csp_update
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.accounts.reauth import reauth_url, session_is_fresh
from apps.audit.choices import Channel
from apps.audit.models import AuditEvent
from apps.audit.services import record_event
from apps.authz.enforcer import check, restrict
from apps.clusters import k8s, resources
from apps.console.views.base import ConsoleDenied, ConsoleView
from apps.console.views.kube import ClusterPage

from . import services
from .models import TerminalSession
from .recording import RecordingMissing, locate, stored


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

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # container=* follows every container, each line prefixed with its name.
        context["all_containers"] = len(context["containers"]) > 1
        return context


# -- a workload's pods: a terminal in one of them, the logs of all ------------------------------
def may_on_workload(user, cluster, namespace: str, kind, name: str, action: str) -> bool:
    """Whether the workload page offers the terminal picker (``execPod``) or the workload's
    live logs (``getPodLog``): the checks the socket and the pages make."""
    checks = services.workload_checks(cluster.name, namespace, kind, name, action)
    return all(check(user, a, r, tenant=cluster.tenant) for a, r in checks)


def _running(pod: dict) -> list[str]:
    running = {
        s.get("name")
        for s in (pod.get("status") or {}).get("containerStatuses") or []
        if "running" in (s.get("state") or {})
    }
    return [
        c.get("name", "")
        for c in (pod.get("spec") or {}).get("containers") or []
        if c.get("name") in running
    ]


class WorkloadStreamPage(ClusterPage):
    """A page about a workload's pods for one of the pod sockets: judged with the socket's
    checks (``services.workload_checks``); the workload and its pods (by its own selector)
    read from the cluster."""

    tab = "console:workloads"
    action = ""

    def workload(self):
        kind = resources.KINDS[self.kwargs["kind"]]
        namespace, name = self.kwargs["namespace"], self.kwargs["name"]
        checks = services.workload_checks(self.cluster.name, namespace, kind, name, self.action)
        for action, resource in checks:
            decision = check(self.request.user, action, resource, tenant=self.cluster.tenant)
            if not decision:
                raise ConsoleDenied(action, resource, decision.reason)
        obj = self.call(lambda c: resources.get_object(c, kind, namespace, name))
        if isinstance(self.cluster_error, k8s.ClusterNotFound):
            raise Http404(str(self.cluster_error.detail))
        pods = []
        selector = resources.label_selector(((obj or {}).get("spec") or {}).get("selector"))
        if obj and selector:
            listed = self.call(
                lambda c: resources.list_objects(
                    c, resources.KINDS["pods"], namespace, label_selector=selector
                )
            )
            pods = sorted((listed or {}).get("items") or [], key=lambda p: p["metadata"]["name"])
        return kind, obj, selector, pods

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        namespace, name = self.kwargs["namespace"], self.kwargs["name"]
        context.update(
            namespace=namespace,
            name=name,
            workload_url=reverse(
                "console:workload",
                kwargs={
                    "cluster": self.cluster.name,
                    "namespace": namespace,
                    "kind": self.kwargs["kind"],
                    "name": name,
                },
            ),
        )
        return context


class WorkloadTerminalView(WorkloadStreamPage):
    """Pick one of the workload's running pods and a running container of it: each choice
    opens that pod's terminal page (``console:pod-terminal``); only pods the user may
    ``execPod`` are offered."""

    template_name = "console/terminal/workload.html"
    action = services.EXEC_ACTION

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        kind, obj, selector, pods = self.workload()
        namespace = self.kwargs["namespace"]
        choices, left_out = [], 0
        for pod in pods:
            pod_name = pod["metadata"]["name"]
            containers = _running(pod)
            if not containers:
                continue
            if not services.may_on_pod(
                self.request.user, services.EXEC_ACTION, self.cluster, namespace, pod_name
            ):
                left_out += 1
                continue
            url = reverse(
                "console:pod-terminal",
                kwargs={"cluster": self.cluster.name, "namespace": namespace, "name": pod_name},
            )
            choices.append(
                {
                    "pod": pod_name,
                    "node": (pod.get("spec") or {}).get("nodeName", ""),
                    "containers": [
                        {"name": c, "url": f"{url}?{urlencode({'container': c})}"}
                        for c in containers
                    ],
                }
            )
        context.update(
            title=f"{self.kwargs['name']} · {gettext('Terminal')}",
            kind=kind,
            found=obj is not None,
            selector=selector,
            choices=choices,
            left_out=left_out,
        )
        return context


class WorkloadLogsView(WorkloadStreamPage):
    """The live logs of every pod of a workload (``WorkloadLogsConsumer``): the pod-logs page,
    with all containers (or one) and a filter by pod."""

    template_name = "console/terminal/logs.html"
    action = services.LOG_ACTION

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        kind, obj, selector, pods = self.workload()
        template = ((obj or {}).get("spec") or {}).get("template") or {}
        names = [c.get("name", "") for c in (template.get("spec") or {}).get("containers") or []]
        namespace, name = self.kwargs["namespace"], self.kwargs["name"]
        context.update(
            title=f"{name} · {gettext('Live logs')}",
            kind=kind,
            pod=obj,  # the page's "there is something to follow"
            workload=True,
            containers=[{"name": n, "running": True} for n in names],
            container="*",
            all_containers=True,
            pods=[p["metadata"]["name"] for p in pods],
            back_url=context["workload_url"],
            socket_path=(
                f"/ws/clusters/{self.cluster.name}/namespaces/{namespace}"
                f"/workloads/{kind.plural}/{name}/logs"
            ),
        )
        return context


# -- recordings, for auditors ------------------------------------------------------------------
REPLAY_ACTION = "replayTerminalSession"


def replay_decision(user, session: TerminalSession):
    """May ``user`` replay the session? ``replayTerminalSession`` on its opening audit event
    (self-service for one's own sessions)."""
    return check(
        user,
        REPLAY_ACTION,
        f"auditevent:{session.open_event_id or '-'}",
        tenant=session.tenant,
        obj=session.open_event,
        owner=session.user_id,
    )


def replayable_session(user, event: AuditEvent) -> TerminalSession | None:
    """The terminal session ``event`` opened, when ``user`` may replay it (the audit event
    page links to its replay), else None."""
    session = (
        TerminalSession.objects.filter(tenant_id=event.tenant_id, open_event=event)
        .select_related("tenant", "open_event")
        .defer("recording")
        .first()
    )
    if session is None or not replay_decision(user, session):
        return None
    return session


class SessionAccess:
    """A terminal session is part of the audit trail: listed to who may list audit events,
    replayed by who may ``replayTerminalSession`` on its opening audit event (a recording
    holds what was typed — passwords too — so reading the event is not enough)."""

    authz_action = "listAuditEvents"
    authz_model = AuditEvent

    def get_session(self) -> TerminalSession:
        session = (
            TerminalSession.objects.in_scope(self.scope)
            .select_related("open_event")
            .filter(pk=self.kwargs["pk"])
            .first()
        )
        if session is None:
            raise Http404("No such terminal session.")
        decision = replay_decision(self.request.user, session)
        if not decision:
            resource = f"auditevent:{session.open_event_id or '-'}"
            raise ConsoleDenied(REPLAY_ACTION, resource, decision.reason)
        return session


class TerminalSessionsView(SessionAccess, ConsoleView):
    """The newest terminal sessions the user may audit."""

    template_name = "console/terminal/sessions.html"
    title = _("Terminal sessions")
    limit = 100

    def get_context_data(self, **kwargs):
        events = restrict(
            AuditEvent.objects.in_scope(self.scope), self.request.user, "listAuditEvents"
        )
        sessions = list(
            TerminalSession.objects.in_scope(self.scope)
            .filter(open_event__in=events.values("pk"))
            .defer("recording")
            .order_by("-started_at", "-id")[: self.limit]
        )
        context = super().get_context_data(**kwargs)
        context.update(sessions=sessions, limit=self.limit)
        return context


@method_decorator(csp_update({"script-src": ["'wasm-unsafe-eval'"]}), name="dispatch")
class TerminalSessionView(SessionAccess, ConsoleView):
    """One session: who, where, how it ended, and its recording in asciinema-player (which
    runs its terminal emulator as WebAssembly: allowed on this page only)."""

    template_name = "console/terminal/session.html"

    def get_context_data(self, **kwargs):
        session = self.get_session()
        record_event(
            action="replayTerminalSession",
            user=self.request.user,
            tenant=session.tenant,
            resource=f"auditevent:{session.open_event_id}",
            channel=Channel.CONSOLE,
            status_code=200,
            method="GET",
            path=self.request.get_full_path()[:1024],
            message=f"terminal session {session.pk} viewed (recording replay)",
        )
        missing = ""
        if session.recording_path:
            try:
                locate(session.recording_path)
            except RecordingMissing as exc:
                missing = str(exc)
        context = super().get_context_data(**kwargs)
        context.update(
            session=session,
            recording_missing=missing,
            title=_("Terminal session %(pk)s") % {"pk": session.pk},
        )
        return context


class TerminalCastView(SessionAccess, ConsoleView):
    """The session's recording as an asciicast v2 file (for the player, or to download)."""

    def get(self, request, *args, **kwargs):
        session = self.get_session()
        try:
            blob = stored(session)
        except RecordingMissing as exc:
            # Said plainly (the console's 404 page would not say why).
            return HttpResponse(
                f"The recording of terminal session {session.pk} cannot be read: {exc}.\n",
                status=404,
                content_type="text/plain; charset=utf-8",
            )
        if blob is None:
            if session.recording_purged_at:
                return HttpResponse(
                    f"The recording of terminal session {session.pk} was removed on "
                    f"{session.recording_purged_at:%Y-%m-%d} at the end of its retention.\n",
                    status=404,
                    content_type="text/plain; charset=utf-8",
                )
            raise Http404("This session was not recorded.")
        text = gzip.decompress(blob)
        response = HttpResponse(text, content_type="application/x-asciicast; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="terminal-{session.pk}.cast"'
        return response
