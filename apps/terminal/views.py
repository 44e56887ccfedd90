"""The console's terminal page of a pod: authorized like the websocket (``execPod`` on the
pod, in its project's domain), with a container picker; the browser then opens the
websocket itself (apps/console/static/console/terminal.js)."""

from __future__ import annotations

import gzip

from csp.decorators import csp_update
from django.http import Http404, HttpResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _

from apps.accounts.reauth import reauth_url, session_is_fresh
from apps.audit.choices import Channel
from apps.audit.models import AuditEvent
from apps.audit.services import record_event
from apps.authz.enforcer import restrict
from apps.clusters import k8s, resources
from apps.console.views.base import ConsoleView
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


# -- recordings, for auditors ------------------------------------------------------------------
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
        resource = f"auditevent:{session.open_event_id or '-'}"
        self.require(
            "replayTerminalSession",
            resource,
            tenant=session.tenant,
            obj=session.open_event,
            owner=session.user_id,
        )
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
            raise Http404("This session was not recorded.")
        text = gzip.decompress(blob)
        response = HttpResponse(text, content_type="application/x-asciicast; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="terminal-{session.pk}.cast"'
        return response
