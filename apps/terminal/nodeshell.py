"""The node shell: ``/ws/clusters/<cluster>/nodes/<node>/shell`` — a root shell on a node
for whoever holds ``execNode`` on ``cluster:<c>/node:<n>`` (no wildcard reaches it:
apps/authz/catalog.py ``EXPLICIT_ACTIONS``), the way ``kubectl debug node/<n>`` gives one.

1. The origin and the caller are checked, and ``execNode`` judged, exactly as for a pod's
   terminal (:mod:`.sockets`, :func:`.services.authorize_on`) before anything reaches the
   cluster. Refusals: control message and close code 4000 + HTTP status.
2. The node is read: unknown → 404, NotReady → 409 (no kubelet would start the pod).
3. A debug pod is created in ``TERMINAL_NODE_SHELL_NAMESPACE``, bound to the node
   (``nodeName``: no scheduler), in the node's PID, network and IPC namespaces, with one
   privileged container of ``TERMINAL_NODE_SHELL_IMAGE`` that tolerates every taint; labelled
   ``tke.portal/node-shell`` with its owner. The browser's socket is accepted and told
   ``{"type": "starting", "pod": …}``; the pod must run within
   ``TERMINAL_NODE_SHELL_START_TIMEOUT`` seconds (else 504 naming what it waits for).
4. ``nsenter -t 1 -m -u -i -n -p -- sh`` is exec'd in it and relayed, recorded and audited by
   the pod terminal's code (:func:`.exec.serve_session`; the session row has ``node`` set).
5. The pod is deleted (grace period 0) when the session ends, however it ends: the command
   exits, the browser goes, an error, a start timeout, the consumer cancelled. A portal process
   that dies mid-session leaves its pod behind: :func:`clean_orphans` (beat entry
   ``node-shell-cleanup``) deletes labelled pods older than ``TERMINAL_NODE_SHELL_ORPHAN_AGE``
   that no open session holds.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from datetime import datetime, timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from apps.audit.choices import Channel, Outcome
from apps.audit.services import record_event
from apps.clusters import k8s
from apps.clusters.services import connection_for

from . import services
from .exec import Target, connect_exec, serve_session
from .models import TerminalSession
from .services import Grant, Refusal
from .sockets import open_socket, refuse, send_json

logger = logging.getLogger("tkeportal.terminal")

LABEL = "tke.portal/node-shell"
OWNER_LABEL = "tke.portal/node-shell-owner"
OWNER_ANNOTATION = "tke.portal/node-shell-owner"
NODE_LABEL = "tke.portal/node-shell-node"
CONTAINER = "shell"
# As ``kubectl debug node/… -it --profile=sysadmin`` then ``chroot /host``: every namespace
# of the node's PID 1.
COMMAND = ["nsenter", "-t", "1", "-m", "-u", "-i", "-n", "-p", "--", "sh"]
# The container's own process only keeps the pod alive (a day at most).
KEEPALIVE = ["sleep", "86400"]
POLL = 0.2
_LABEL_VALUE = re.compile(r"[^A-Za-z0-9_.-]+")


def label_value(text: str) -> str:
    """``text`` as a label value (63 characters of ``[A-Za-z0-9_.-]``, alphanumeric ends)."""
    return _LABEL_VALUE.sub("_", text)[:63].strip("_.-") or "unknown"


def pod_manifest(name: str, node: str, owner: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": settings.TERMINAL_NODE_SHELL_NAMESPACE,
            "labels": {
                LABEL: "true",
                OWNER_LABEL: label_value(owner),
                NODE_LABEL: label_value(node),
                "app.kubernetes.io/managed-by": "tke-portal",
            },
            "annotations": {OWNER_ANNOTATION: owner},
        },
        "spec": {
            "nodeName": node,
            "hostPID": True,
            "hostNetwork": True,
            "hostIPC": True,
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 0,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "tolerations": [{"operator": "Exists"}],
            "containers": [
                {
                    "name": CONTAINER,
                    "image": settings.TERMINAL_NODE_SHELL_IMAGE,
                    "command": KEEPALIVE,
                    "stdin": True,
                    "tty": True,
                    "securityContext": {"privileged": True},
                }
            ],
        },
    }


def _client(grant: Grant) -> k8s.KubeClient:
    return k8s.client(grant.cluster.pk, grant.conn)


def _refusal(exc: k8s.ClusterError) -> Refusal:
    """The cluster's answer as a refusal: its 4xx kept, anything else (unreachable, slow,
    TLS, 5xx) a 502 as the exec socket says it."""
    code = exc.status_code if 400 <= exc.status_code < 500 else 502
    return Refusal(code, str(exc.detail))


def _ready(node: dict) -> tuple[bool, str]:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            why = cond.get("message") or cond.get("reason") or ""
            return cond.get("status") == "True", why
    return False, "it reports no Ready condition"


def check_node(grant: Grant, node: str) -> None:
    """:class:`Refusal` unless the node exists and is Ready (its kubelet would start the pod)."""
    cluster = grant.cluster.name
    try:
        found = _client(grant).get(f"/api/v1/nodes/{node}")
    except k8s.ClusterNotFound:
        raise Refusal(404, f"node {node} not found in cluster {cluster}") from None
    except k8s.ClusterError as exc:
        raise _refusal(exc) from None
    ready, why = _ready(found)
    if not ready:
        raise Refusal(
            409,
            f"node {node} of cluster {cluster} is NotReady ({why}): no kubelet there would "
            "start the node shell's pod",
        )


def create_pod(grant: Grant, node: str) -> str:
    """The debug pod's name, once the cluster accepted it; :class:`Refusal` otherwise."""
    owner = str(grant.caller.user)
    name = f"node-shell-{label_value(node)[:38].lower().strip('_.-')}-{secrets.token_hex(3)}"
    name = re.sub(r"[^a-z0-9-]", "-", name)
    namespace = settings.TERMINAL_NODE_SHELL_NAMESPACE
    try:
        _client(grant).request(
            "POST", f"/api/v1/namespaces/{namespace}/pods", body=pod_manifest(name, node, owner)
        )
    except k8s.ClusterError as exc:
        refusal = _refusal(exc)
        refusal.message = f"the node shell's pod could not be created: {refusal.message}"
        raise refusal from None
    return name


def _waiting_for(grant: Grant, pod: dict, node: str) -> str:
    """Why a pod is not running yet, in words (its containers' states, else its node's)."""
    status = pod.get("status") or {}
    for cs in status.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") and waiting.get("reason") != "ContainerCreating":
            return f"{waiting['reason']}: {waiting.get('message', '')}".rstrip(": ")
    try:
        found = _client(grant).get(f"/api/v1/nodes/{node}")
    except k8s.ClusterNotFound:
        return f"node {node} no longer exists"
    except k8s.ClusterError as exc:
        return str(exc.detail)
    ready, why = _ready(found)
    if not ready:
        return f"node {node} is NotReady ({why})"
    return f"phase {status.get('phase') or 'Pending'}"


def pod_phase(grant: Grant, name: str) -> tuple[str, dict]:
    namespace = settings.TERMINAL_NODE_SHELL_NAMESPACE
    try:
        pod = _client(grant).get(f"/api/v1/namespaces/{namespace}/pods/{name}")
    except k8s.ClusterNotFound:
        raise Refusal(410, f"the node shell's pod {namespace}/{name} was deleted") from None
    except k8s.ClusterError as exc:
        raise _refusal(exc) from None
    return (pod.get("status") or {}).get("phase") or "Pending", pod


async def wait_running(grant: Grant, name: str, node: str, deadline: float) -> None:
    """Until the pod runs; :class:`Refusal` when it ended or ``deadline`` (monotonic) passed.
    Cancelled when the browser leaves."""
    namespace = settings.TERMINAL_NODE_SHELL_NAMESPACE
    while True:
        phase, pod = await asyncio.to_thread(pod_phase, grant, name)
        if phase == "Running":
            return
        if phase in ("Succeeded", "Failed"):
            raise Refusal(502, f"the node shell's pod {namespace}/{name} ended ({phase})")
        if time.monotonic() >= deadline:
            limit = settings.TERMINAL_NODE_SHELL_START_TIMEOUT
            why = await asyncio.to_thread(_waiting_for, grant, pod, node)
            raise Refusal(
                504,
                f"the node shell's pod {namespace}/{name} did not start on node {node} "
                f"within {limit}s: {why}",
            )
        await asyncio.sleep(POLL)


def delete_pod(cluster_id, conn: k8s.Connection, name: str, namespace: str | None = None) -> bool:
    """Delete a node shell's pod at once (grace period 0); False when the cluster could not be
    told (the orphan cleanup will find it)."""
    namespace = namespace or settings.TERMINAL_NODE_SHELL_NAMESPACE
    try:
        k8s.client(cluster_id, conn).request(
            "DELETE",
            f"/api/v1/namespaces/{namespace}/pods/{name}",
            body={"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0},
        )
    except k8s.ClusterNotFound:
        return True
    except k8s.ClusterError as exc:
        logger.warning("node shell pod %s/%s of %s not deleted: %s", namespace, name, conn.name,
                       exc.detail)  # fmt: skip
        return False
    return True


def audit_pod(grant: Grant, what: str, name: str, outcome=Outcome.SUCCESS, code=201) -> None:
    namespace = settings.TERMINAL_NODE_SHELL_NAMESPACE
    record_event(
        action=services.NODE_SHELL_ACTION,
        user=grant.caller.user,
        tenant=grant.cluster.tenant,
        resource=grant.resource,
        channel=Channel.WEBSOCKET,
        status_code=code,
        outcome=outcome,
        api_key_id=grant.caller.api_key_id,
        method="POST" if code == 201 else "DELETE",
        path=f"/api/v1/namespaces/{namespace}/pods/{name}",
        message=f"node shell pod {namespace}/{name} {what}"[:2000],
    )


class NodeShellConsumer:
    """A plain ASGI application, like :class:`.exec.ExecConsumer`."""

    async def __call__(self, scope, receive, send) -> None:
        sock = await open_socket(scope, receive, send)
        if sock is None:
            return
        cluster_name, node = sock.kwargs["cluster"], sock.kwargs["node"]
        cols = _size(sock.param("cols"), 80)
        rows = _size(sock.param("rows"), 24)
        resource = services.node_resource(cluster_name, node)
        action = services.NODE_SHELL_ACTION
        caller, accepted = None, False

        async def refused(refusal: Refusal) -> None:
            await database_sync_to_async(services.audit_refusal)(
                caller, action, resource, refusal, sock.path, sock.client_ip
            )
            await refuse(sock, send, refusal, accepted=accepted)

        try:
            caller = await sock.caller()
            grant = await database_sync_to_async(services.authorize_on)(
                caller, action, cluster_name, lambda name: services.node_resource(name, node)
            )
            record = await database_sync_to_async(services.recording_enabled)(grant.cluster.tenant)
            await asyncio.to_thread(check_node, grant, node)
            name = await asyncio.to_thread(create_pod, grant, node)
        except Refusal as refusal:
            await refused(refusal)
            return

        namespace = settings.TERMINAL_NODE_SHELL_NAMESPACE
        reason = "ended"
        try:
            await database_sync_to_async(audit_pod)(grant, f"created on node {node}", name)
            await send({"type": "websocket.accept", "subprotocol": sock.chosen_subprotocol()})
            accepted = True
            await send_json(send, {"type": "starting", "pod": f"{namespace}/{name}", "node": node})
            deadline = time.monotonic() + float(settings.TERMINAL_NODE_SHELL_START_TIMEOUT)
            if not await _until(wait_running(grant, name, node, deadline), receive):
                reason = "the browser left while the pod was starting"
                return
            upstream = await connect_exec(grant.conn, namespace, name, CONTAINER, COMMAND, True)
            await serve_session(
                sock,
                receive,
                send,
                grant,
                upstream,
                Target(namespace, name, CONTAINER, list(COMMAND), True, node=node),
                cols=cols,
                rows=rows,
                record=record,
                accepted=True,
            )
        except Refusal as refusal:
            reason = refusal.message
            await refused(refusal)
        except OSError:
            reason = "connection lost"
        finally:
            # However the session ended (cancelled too): the pod goes.
            gone = await asyncio.shield(
                asyncio.to_thread(delete_pod, grant.cluster.pk, grant.conn, name)
            )
            await asyncio.shield(
                database_sync_to_async(audit_pod)(
                    grant,
                    f"deleted ({reason})" if gone else f"NOT deleted ({reason}): left to cleanup",
                    name,
                    Outcome.SUCCESS if gone else Outcome.FAILURE,
                    200 if gone else 502,
                )
            )


async def _until(work, receive) -> bool:
    """Await ``work`` while watching the browser: False (``work`` cancelled) when it leaves
    first. What the browser sends meanwhile is dropped (there is no shell to take it yet)."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            listen = asyncio.ensure_future(receive())
            done, _ = await asyncio.wait({task, listen}, return_when=asyncio.FIRST_COMPLETED)
            if listen in done and listen.result()["type"] == "websocket.disconnect":
                task.cancel()
                return False
            if task in done:
                listen.cancel()
                task.result()
                return True
    finally:
        if not task.done():
            task.cancel()


def _size(value: str, default: int) -> int:
    try:
        return max(1, min(int(value), 1000))
    except ValueError:
        return default


# -- orphans -----------------------------------------------------------------------------------
def _created(pod: dict) -> datetime | None:
    stamp = (pod.get("metadata") or {}).get("creationTimestamp")
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None
    except ValueError:
        return None


def clean_orphans(cluster, now: datetime | None = None) -> list[str]:
    """Delete the cluster's node shell pods older than ``TERMINAL_NODE_SHELL_ORPHAN_AGE`` that
    no open session holds (a session open longer than the absolute session timeout holds
    nothing: its process is gone); each deletion audited. The names deleted."""
    now = now or timezone.now()
    conn = connection_for(cluster)
    namespace = settings.TERMINAL_NODE_SHELL_NAMESPACE
    pods = k8s.client(cluster.pk, conn).get(
        f"/api/v1/namespaces/{namespace}/pods", query={"labelSelector": f"{LABEL}=true"}
    )
    oldest = now - timedelta(seconds=settings.TERMINAL_NODE_SHELL_ORPHAN_AGE)
    held = set(
        TerminalSession.objects.filter(
            cluster=cluster,
            namespace=namespace,
            ended_at__isnull=True,
            started_at__gte=now - timedelta(seconds=settings.PORTAL_SESSION_ABSOLUTE_TIMEOUT),
        )
        .exclude(node="")
        .values_list("pod", flat=True)
    )
    removed = []
    for pod in (pods or {}).get("items") or []:
        meta = pod.get("metadata") or {}
        name, created = meta.get("name", ""), _created(pod)
        if not name or name in held or created is None or created > oldest:
            continue
        if delete_pod(cluster.pk, conn, name, namespace):
            removed.append(name)
            record_event(
                action=services.NODE_SHELL_ACTION,
                tenant=cluster.tenant,
                username="system:node-shell-cleanup",
                resource=services.node_resource(cluster.name, pod["spec"].get("nodeName", "")),
                channel=Channel.TASK,
                status_code=200,
                outcome=Outcome.SUCCESS,
                method="DELETE",
                path=f"/api/v1/namespaces/{namespace}/pods/{name}",
                message=(
                    f"orphaned node shell pod {namespace}/{name} of "
                    f"{(meta.get('annotations') or {}).get(OWNER_ANNOTATION, '?')} deleted "
                    f"(created {created.isoformat()})"
                )[:2000],
            )
    return removed
