"""The synchronous half of a terminal session: who is calling, may they, and the records.

Authorization is the kubectl proxy's for ``pods/<pod>/exec`` (``apps.clusters.proxy``): the
cluster must be readable (``getCluster``, else it is answered as unknown), then ``execPod`` on
``cluster:<c>/namespace:<ns>/pod:<pod>``, judged by the permission layer in the domain of the
project owning the namespace (the enforcer finds it) or the platform domain. A node shell
(:mod:`.nodeshell`) is judged the same way with ``execNode`` on ``cluster:<c>/node:<n>``
(:func:`authorize_on`), always in the platform domain.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed

from apps.accounts.authentication import authenticate_api_key
from apps.audit.choices import Channel, Outcome
from apps.audit.services import record_event
from apps.authz.enforcer import check
from apps.clusters import k8s
from apps.clusters.models import Cluster
from apps.clusters.resources import resource_path
from apps.clusters.services import connection_for

from .models import TerminalSession, TerminalSettings
from .recording import Recorder, recording_dir, write_file

log = logging.getLogger(__name__)

EXEC_ACTION = "execPod"
NODE_SHELL_ACTION = "execNode"
LOG_ACTION = "getPodLog"


class Refusal(Exception):
    """Why a session may not open: ``code`` is the HTTP status it stands for."""

    def __init__(self, code: int, message: str, extra: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra or {}


@dataclass
class Caller:
    user: object
    api_key_id: int | None = None
    api_key: object = None


@dataclass
class Grant:
    """A session the caller may open: the cluster, its connection, the resource judged."""

    caller: Caller
    cluster: Cluster
    conn: k8s.Connection
    action: str
    resource: str


def caller_from_api_key(token: str, client_ip: str | None) -> Caller:
    try:
        key = authenticate_api_key(token, client_ip)
    except AuthenticationFailed as exc:
        raise Refusal(401, str(exc.detail)) from exc
    return Caller(key.user, key.pk, key)


def pod_resource(cluster_name: str, namespace: str, pod: str) -> str:
    return f"cluster:{cluster_name}/namespace:{namespace}/pod:{pod}"


def node_resource(cluster_name: str, node: str) -> str:
    return f"cluster:{cluster_name}/node:{node}"


def _cluster_of(caller: Caller, cluster_name: str) -> Cluster:
    """The cluster as the caller may see it, or :class:`Refusal` (404 for a cluster the caller
    may not read or that is in another tenant; 403 for an API key issued for another one)."""
    user = caller.user
    if user is None or not user.is_authenticated or not user.is_active:
        raise Refusal(401, "sign in first")
    clusters = Cluster.objects.select_related("credential", "tenant")
    if not user.is_superuser:
        clusters = clusters.filter(tenant_id=user.tenant_id)
    cluster = clusters.filter(name=cluster_name).first()
    if cluster is None or not check(
        user, "getCluster", cluster.authz_resource, tenant=cluster.tenant
    ):
        raise Refusal(404, f"cluster {cluster_name} not found")
    key = caller.api_key
    if key is not None and not key.allows_cluster(cluster.name):
        raise Refusal(403, f"API key {key.prefix}… was issued for cluster {key.cluster.name} only")
    return cluster


def _judge(user, action: str, resource: str, cluster: Cluster) -> None:
    decision = check(user, action, resource, tenant=cluster.tenant)
    if not decision:
        raise Refusal(
            403, f'portal user "{user.username}" may not {action} on {resource} ({decision.reason})'
        )


def authorize(caller: Caller, action: str, cluster_name: str, namespace: str, pod: str) -> Grant:
    """The grant for ``action`` on the pod, or :class:`Refusal` (404 for a cluster the caller
    may not see or that is in another tenant, 403 when the permission layer says no). Nothing
    here talks to the cluster."""
    return authorize_on(
        caller, action, cluster_name, lambda name: pod_resource(name, namespace, pod)
    )


def authorize_on(caller: Caller, action: str, cluster_name: str, resource_of) -> Grant:
    """:func:`authorize` for any resource of the cluster (``resource_of(cluster name)``)."""
    cluster = _cluster_of(caller, cluster_name)
    resource = resource_of(cluster.name)
    _judge(caller.user, action, resource, cluster)
    return Grant(caller, cluster, connection_for(cluster), action, resource)


def workload_checks(
    cluster_name: str, namespace: str, kind, name: str, action: str
) -> list[tuple[str, str]]:
    """(action, resource) pairs that must all be allowed to follow a workload's logs
    (``action`` = ``getPodLog``) or pick one of its pods for a terminal (``execPod``):
    ``get<Kind>`` on the workload (its selector chooses the pods, so it is read from the
    workload, never taken from the caller), ``listPods`` (the pods are named) — and
    ``watchPods`` for logs, which watch them — and ``action`` on the namespace's pods. Each
    pod is judged again before it is used (:func:`may_on_pod`): a deny on one pod leaves that
    pod out. The socket and the console pages judge the same list."""
    pods = pod_resource(cluster_name, namespace, "*")
    checks = [
        (f"get{kind.authz_name}", resource_path(cluster_name, kind, namespace, name)),
        ("listPods", pods),
    ]
    if action == LOG_ACTION:
        checks.append(("watchPods", pods))
    checks.append((action, pods))
    return checks


def authorize_workload(caller: Caller, cluster_name: str, namespace: str, kind, name: str) -> Grant:
    """The grant to follow the logs of a workload's pods (``kind``: a
    :class:`apps.clusters.resources.Kind`), or :class:`Refusal`, judged (:func:`workload_checks`)
    before any cluster connection."""
    cluster = _cluster_of(caller, cluster_name)
    for action, resource in workload_checks(cluster.name, namespace, kind, name, LOG_ACTION):
        _judge(caller.user, action, resource, cluster)
    resource = resource_path(cluster.name, kind, namespace, name)
    return Grant(caller, cluster, connection_for(cluster), LOG_ACTION, resource)


def may_on_pod(user, action: str, cluster: Cluster, namespace: str, pod: str) -> bool:
    """``action`` on one pod (in its project's domain)."""
    resource = pod_resource(cluster.name, namespace, pod)
    return bool(check(user, action, resource, tenant=cluster.tenant))


def may_read_log(grant: Grant, namespace: str, pod: str) -> bool:
    """``getPodLog`` on one pod of a granted workload stream."""
    return may_on_pod(grant.caller.user, LOG_ACTION, grant.cluster, namespace, pod)


def recording_enabled(tenant) -> bool:
    row = TerminalSettings.objects.filter(tenant=tenant).only("record_sessions").first()
    return True if row is None else row.record_sessions


def _describe(container: str, command: list[str]) -> str:
    return f"container {container or '(default)'}, command {' '.join(command)!r}"


def audit_refusal(
    caller: Caller | None, action: str, resource: str, refusal: Refusal, path: str, source_ip
) -> None:
    """A refused session of a known caller (anonymous attempts are not stored)."""
    user = caller.user if caller else None
    if user is None or not user.is_authenticated:
        return
    record_event(
        action=action,
        user=user,
        resource=resource,
        channel=Channel.WEBSOCKET,
        status_code=refusal.code,
        outcome=Outcome.DENIED if refusal.code in (401, 403, 404) else Outcome.FAILURE,
        api_key_id=caller.api_key_id,
        source_ip=source_ip,
        method="GET",
        path=path[:1024],
        message=f"terminal session refused: {refusal.message}"[:2000],
    )


def open_session(
    grant: Grant,
    *,
    namespace: str,
    pod: str,
    container: str,
    command: list[str],
    tty: bool,
    protocol: str,
    path: str,
    source_ip: str | None,
    node: str = "",
) -> TerminalSession:
    """The session row and the audit event of its opening (the cluster accepted the exec).
    ``node``: a node shell (``pod`` is then its debug pod)."""
    user = grant.caller.user
    with transaction.atomic():
        session = TerminalSession.objects.create(
            tenant=grant.cluster.tenant,
            user=user,
            username=str(user),
            api_key_id=grant.caller.api_key_id,
            cluster=grant.cluster,
            cluster_name=grant.cluster.name,
            namespace=namespace,
            pod=pod,
            node=node,
            container=container,
            command=command,
            tty=tty,
            protocol=protocol,
            source_ip=source_ip,
        )
        session.open_event = record_event(
            action=grant.action,
            user=user,
            tenant=grant.cluster.tenant,
            resource=grant.resource,
            channel=Channel.WEBSOCKET,
            status_code=101,
            outcome=Outcome.SUCCESS,
            api_key_id=grant.caller.api_key_id,
            source_ip=source_ip,
            method="GET",
            path=path[:1024],
            request_id=f"terminal-{session.pk}",
            message=(
                f"terminal session {session.pk} opened in {session.place}: "
                f"{_describe(container, command)}, tty {'on' if tty else 'off'}, {protocol}"
            ),
        )
        session.save(update_fields=["open_event"])
    return session


def close_session(
    session: TerminalSession,
    *,
    exit_code: int | None,
    reason: str,
    recorder: Recorder | None,
    path: str,
) -> None:
    """Complete the session row (end, exit status, recording) and audit its end."""
    session.ended_at = timezone.now()
    session.exit_code = exit_code
    session.close_reason = reason[:512]
    if recorder is not None:
        blob, root = recorder.compressed(), recording_dir()
        if root is not None:
            try:
                session.recording_path = write_file(root, session.tenant_id, session.pk, blob)
            except OSError as exc:
                # The recording is kept all the same (in the row) rather than lost.
                log.error(
                    "terminal session %s: recording not written to %s: %s", session.pk, root, exc
                )
        if not session.recording_path:
            session.recording = blob
        session.recording_bytes = recorder.size
        session.recording_capped = recorder.capped
    seconds = (session.ended_at - session.started_at).total_seconds()
    status = "no exit status" if exit_code is None else f"exit code {exit_code}"
    with transaction.atomic():
        session.save(
            update_fields=[
                "ended_at",
                "exit_code",
                "close_reason",
                "recording",
                "recording_path",
                "recording_bytes",
                "recording_capped",
            ]
        )
        record_event(
            action=session.action,
            user=session.user,
            tenant=session.tenant,
            resource=session.resource,
            channel=Channel.WEBSOCKET,
            status_code=101,
            outcome=Outcome.SUCCESS,
            api_key_id=session.api_key_id,
            source_ip=session.source_ip,
            method="GET",
            path=path[:1024],
            duration_ms=int(seconds * 1000),
            request_id=f"terminal-{session.pk}",
            message=(
                f"terminal session {session.pk} closed after {seconds:.1f}s in "
                f"{session.place}: "
                f"{_describe(session.container, session.command)}; {status}; {reason}"
                + ("; recorded" if recorder is not None else "; not recorded")
            )[:2000],
        )


def audit_stream(
    grant: Grant, path: str, source_ip: str | None, message: str = "live log stream opened"
) -> None:
    """A live log stream opened (one row: a stream has no outcome worth a second one)."""
    record_event(
        action=grant.action,
        user=grant.caller.user,
        tenant=grant.cluster.tenant,
        resource=grant.resource,
        channel=Channel.WEBSOCKET,
        status_code=101,
        outcome=Outcome.SUCCESS,
        api_key_id=grant.caller.api_key_id,
        source_ip=source_ip,
        method="GET",
        path=path[:1024],
        message=message[:2000],
    )


def recording_limit() -> int:
    return int(settings.TERMINAL_RECORDING_MAX_BYTES)
