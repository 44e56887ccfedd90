"""Every write to clusters: import, credential rotation, health and inventory updates."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import logging
import socket
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core import quantity, safeyaml

from . import addresses, k8s
from .choices import ClusterPhase, ConditionStatus, OperationKind, OperationPhase
from .models import Cluster, ClusterCredential, ClusterOperation, Node

logger = logging.getLogger("tkeportal.clusters")

# Consecutive failed health checks before a Running cluster turns Failed.
FAILURE_THRESHOLD = 3
GPU_RESOURCES = ("nvidia.com/gpu", "tencent.com/vcuda-core")


# -- input -------------------------------------------------------------------------------------
# What a user gives to import a cluster (a kubeconfig or the fields) is a ``k8s.Connection``
# without a name yet: one dataclass for given and stored credentials alike.


def _b64(value: str, field: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationError({field: "Not valid base64 PEM data."}) from exc


def bearer_token(value: str, field: str) -> str:
    """A bearer token as HTTP can carry it (visible ASCII): anything else is a field error,
    not a 500 when the header is encoded."""
    if value and not all(33 <= ord(ch) < 127 for ch in value):
        raise ValidationError({field: "The token must be visible ASCII characters only."})
    return value


def spec_from_kubeconfig(text: str, context: str | None = None) -> k8s.Connection:
    """Read server and credential of one context. Only embedded data is accepted: paths to
    files, exec plugins and auth providers would make the portal read its own disk or run
    programs."""
    config = safeyaml.load(text, field="kubeconfig")  # a 400 naming kubeconfig if refused
    if not isinstance(config, dict) or not config.get("contexts"):
        raise ValidationError({"kubeconfig": "No contexts in this kubeconfig."})
    wanted = context or config.get("current-context")
    contexts = {c.get("name"): c.get("context") or {} for c in config["contexts"]}
    if wanted not in contexts:
        raise ValidationError(
            {"context": f"Context '{wanted}' not found; available: {', '.join(sorted(contexts))}"}
        )
    ctx = contexts[wanted]
    clusters = {c.get("name"): c.get("cluster") or {} for c in config.get("clusters") or []}
    users = {u.get("name"): u.get("user") or {} for u in config.get("users") or []}
    cluster = clusters.get(ctx.get("cluster"))
    user = users.get(ctx.get("user"), {})
    if cluster is None:
        raise ValidationError({"kubeconfig": f"Context '{wanted}' names an unknown cluster."})
    if "certificate-authority" in cluster:
        raise ValidationError(
            {
                "kubeconfig": "certificate-authority points at a file: embed it as "
                "certificate-authority-data instead."
            }
        )
    for key in ("tokenFile", "exec", "auth-provider", "client-certificate", "client-key"):
        if key in user:
            raise ValidationError(
                {
                    "kubeconfig": f"user.{key} is not supported: use an embedded token or "
                    "client-certificate-data/client-key-data."
                }
            )
    spec = k8s.Connection(
        server=cluster.get("server", ""),
        token=bearer_token(user.get("token", ""), "kubeconfig"),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
    )
    if cluster.get("certificate-authority-data"):
        spec.ca_data = _b64(cluster["certificate-authority-data"], "kubeconfig")
    if user.get("client-certificate-data"):
        spec.client_cert = _b64(user["client-certificate-data"], "kubeconfig")
        spec.client_key = _b64(user.get("client-key-data", ""), "kubeconfig")
    return spec


def validate_server(server: str) -> str:
    """An http(s) URL without credentials whose host passes the client address policy
    (:mod:`apps.clusters.addresses`) as it resolves now. Every connection checks again: this
    check alone would not stop a name that resolves elsewhere later. Raises ValidationError."""
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError({"server": "Use an http:// or https:// URL with a host."})
    if parts.username or parts.password:
        raise ValidationError({"server": "Credentials do not belong in the URL."})
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ValidationError({"server": f"Not a valid port: {exc}."}) from exc
    try:
        addresses.resolve_checked(parts.hostname, port)
    except addresses.AddressRefused as exc:
        raise ValidationError({"server": f"{exc}."}) from exc
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else "not a valid host name"
        raise ValidationError({"server": f"Cannot resolve {parts.hostname}: {reason}."}) from exc
    return server.rstrip("/")


# -- conditions ---------------------------------------------------------------------------------
def set_condition(cluster: Cluster, type_: str, ok: bool, reason: str = "", message: str = ""):
    now = timezone.now().isoformat()
    status = ConditionStatus.TRUE if ok else ConditionStatus.FALSE
    for condition in cluster.conditions:
        if condition["type"] == type_:
            if condition["status"] != status:
                condition["lastTransitionTime"] = now
            condition.update(status=status, reason=reason, message=message, lastProbeTime=now)
            return
    cluster.conditions.append(
        {
            "type": type_,
            "status": status,
            "reason": reason,
            "message": message,
            "lastProbeTime": now,
            "lastTransitionTime": now,
        }
    )


def _record_step(op: ClusterOperation, name: str, ok: bool, message: str = "") -> None:
    op.record_step(name, ok, message)


# -- import ---------------------------------------------------------------------------------------
def probe(conn: k8s.Connection) -> dict:
    """GET /version and discovery; returns the version info or raises a ClusterError. A
    credential being tried is not cached: the client is closed after the probe."""
    with k8s.KubeClient(conn) as client:
        version = client.version()
        client.discovery()
    return version


class ClusterProbeFailed(k8s.ClusterError):
    """Probing with a credential the caller has just given failed. That is an answer about
    their input (a rejected token, a CA that does not match, an address that does not
    answer), so it is a 400 naming the field to fix and keeping the cluster error's code: a
    5xx would say the portal failed."""

    status_code = 400


def _probe_for_import(spec: k8s.Connection, display_name: str) -> dict:
    try:
        return probe(dataclasses.replace(spec, name=display_name))
    except k8s.ClusterCredentialRejected as exc:
        failure, fields = exc, {"token": ["The cluster rejected this credential."]}
    except k8s.ClientCertificateInvalid as exc:
        failure, fields = exc, {"client_cert": [str(exc.detail)]}
    except k8s.ClusterCAInvalid as exc:
        failure, fields = exc, {"ca_data": [str(exc.detail)]}
    except k8s.ClusterTLSError as exc:
        failure, fields = exc, {"ca_data": ["The CA does not match the server's certificate."]}
    except k8s.ClusterError as exc:
        failure, fields = exc, {"server": [str(exc.detail)]}
    code = getattr(failure.detail, "code", None) or failure.default_code
    raise ClusterProbeFailed(str(failure.detail), code=code, fields=fields) from failure


def import_cluster(
    *, actor, tenant, display_name: str, spec: k8s.Connection, labels: dict | None = None
) -> Cluster:
    """Validate, probe within a timeout, then store the cluster and its encrypted credential
    and record the import as an operation. Node inventory follows in a task."""
    if not display_name:
        raise ValidationError({"display_name": "Give the cluster a name."})
    if Cluster.objects.filter(tenant=tenant, display_name=display_name).exists():
        raise ValidationError({"display_name": f"A cluster named '{display_name}' exists."})
    spec.server = validate_server(spec.server)
    if not spec.token and not (spec.client_cert and spec.client_key):
        raise ValidationError({"token": "Give a bearer token or a client certificate and key."})
    version = _probe_for_import(spec, display_name)
    with transaction.atomic():
        cluster = Cluster.objects.create(
            tenant=tenant,
            display_name=display_name,
            server=spec.server,
            version=version.get("gitVersion", ""),
            labels=labels or {},
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        ClusterCredential.objects.create(
            cluster=cluster,
            ca_data=spec.ca_data,
            token=spec.token,
            client_cert=spec.client_cert,
            client_key=spec.client_key,
            insecure_skip_tls_verify=spec.insecure,
        )
        op = ClusterOperation.objects.create(
            tenant=tenant,
            cluster=cluster,
            kind=OperationKind.IMPORT,
            phase=OperationPhase.RUNNING,
            created_by=cluster.created_by,
        )
        _record_step(op, "EnsureAddress", True, spec.server)
        _record_step(op, "EnsureProbe", True, f"Kubernetes {cluster.version}")
        _record_step(op, "EnsureCredential", True)
        set_condition(cluster, "HealthCheck", True, "Probed", "version and discovery answered")
        cluster.save(update_fields=["conditions"])
    from .tasks import finish_import

    transaction.on_commit(lambda: finish_import.delay(op.pk))
    return cluster


def connection_for(cluster: Cluster) -> k8s.Connection:
    cred = cluster.credential
    return k8s.Connection(
        name=cluster.name,
        server=cluster.server,
        token=cred.token,
        ca_data=cred.ca_data,
        client_cert=cred.client_cert,
        client_key=cred.client_key,
        insecure=cred.insecure_skip_tls_verify,
        impersonate_user=cred.impersonate_user,
        impersonate_groups=list(cred.impersonate_groups),
    )


def client_for(cluster: Cluster, timeout=None) -> k8s.KubeClient:
    """A client on the cluster's cached connection pool (rebuilt when the credential or the
    server changed)."""
    return k8s.client(cluster.pk, connection_for(cluster), timeout=timeout)


def _forget_client_on_commit(cluster_pk: int) -> None:
    transaction.on_commit(lambda: k8s.clients.forget(cluster_pk))


def rotate_credential(
    *, actor, cluster: Cluster, spec: k8s.Connection, move: bool = False
) -> Cluster:
    """Replace the credential after probing the cluster with the new one. With ``move`` the
    server address may change too (validated like an import). The probe runs before the
    transaction: nothing is written, and no row is locked, while the cluster answers."""
    server = validate_server(spec.server) if move else cluster.server
    spec = dataclasses.replace(spec, server=server)
    if not spec.token and not (spec.client_cert and spec.client_key):
        raise ValidationError({"token": "Give a bearer token or a client certificate and key."})
    _probe_for_import(spec, cluster.name)
    with transaction.atomic():
        cluster = Cluster.objects.select_for_update().get(pk=cluster.pk)
        if cluster.server != server:
            cluster.server = server
            cluster.save(update_fields=["server", "updated_at"])
        cred = cluster.credential
        cred.token, cred.ca_data = spec.token, spec.ca_data or cred.ca_data
        cred.client_cert, cred.client_key = spec.client_cert, spec.client_key
        cred.save()
        ClusterOperation.objects.create(
            tenant=cluster.tenant,
            cluster=cluster,
            kind=OperationKind.ROTATE_CREDENTIAL,
            phase=OperationPhase.SUCCEEDED,
            steps=[
                {
                    "name": "EnsureProbe",
                    "status": "True",
                    "message": "",
                    "time": timezone.now().isoformat(),
                }
            ],
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        _forget_client_on_commit(cluster.pk)
    return record_health(cluster, ok=True, version=None)


# -- health and inventory ----------------------------------------------------------------------
def record_health(
    cluster: Cluster, ok: bool, version: str | None, reason: str = "", message: str = ""
) -> Cluster:
    """Apply one health probe result: Running on success, Failed after FAILURE_THRESHOLD
    consecutive failures, back to Running on recovery."""
    with transaction.atomic():
        cluster = Cluster.objects.select_for_update().get(pk=cluster.pk)
        cluster.last_probe_at = timezone.now()
        if ok:
            cluster.consecutive_failures = 0
            if cluster.phase != ClusterPhase.TERMINATING:
                cluster.phase = ClusterPhase.RUNNING
            cluster.message = ""
            if version:
                cluster.version = version
            set_condition(cluster, "HealthCheck", True, "Healthy", "")
        else:
            cluster.consecutive_failures += 1
            cluster.message = message
            set_condition(cluster, "HealthCheck", False, reason, message)
            if cluster.consecutive_failures >= FAILURE_THRESHOLD and (
                cluster.phase != ClusterPhase.TERMINATING
            ):
                cluster.phase = ClusterPhase.FAILED
        cluster.save()
    return cluster


def check_health(cluster: Cluster) -> Cluster:
    try:
        with client_for(cluster, timeout=(3.0, 5.0)) as client:
            version = client.version().get("gitVersion", "")
    except k8s.ClusterError as exc:
        logger.info("health check of %s failed: %s", cluster.name, exc.detail)
        return record_health(
            cluster, ok=False, version=None, reason=exc.default_code, message=str(exc.detail)
        )
    return record_health(cluster, ok=True, version=version)


def sync_nodes(cluster: Cluster) -> Cluster:
    """Refresh the node inventory and the cluster's summary (count, architectures, GPUs,
    capacity and allocatable). Idempotent."""
    with client_for(cluster) as client:
        items = client.list_nodes()
    seen = set()
    totals: dict[str, dict[str, list[str]]] = {"capacity": {}, "allocatable": {}}
    arches, gpu_nodes, gpu_total = set(), [], 0
    with transaction.atomic():
        for item in items:
            meta, status = item.get("metadata", {}), item.get("status", {})
            info = status.get("nodeInfo", {})
            capacity, allocatable = status.get("capacity", {}), status.get("allocatable", {})
            gpus = sum(int(capacity.get(r, 0) or 0) for r in GPU_RESOURCES)
            ready = any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in status.get("conditions", [])
            )
            Node.objects.update_or_create(
                cluster=cluster,
                name=meta["name"],
                defaults={
                    "architecture": info.get("architecture", ""),
                    "os_image": info.get("osImage", ""),
                    "kubelet_version": info.get("kubeletVersion", ""),
                    "ready": ready,
                    "unschedulable": bool(item.get("spec", {}).get("unschedulable")),
                    "gpus": gpus,
                    "capacity": capacity,
                    "allocatable": allocatable,
                    "labels": meta.get("labels", {}),
                },
            )
            seen.add(meta["name"])
            if info.get("architecture"):
                arches.add(info["architecture"])
            if gpus:
                gpu_nodes.append(meta["name"])
                gpu_total += gpus
            for kind, source in (("capacity", capacity), ("allocatable", allocatable)):
                for resource in ("cpu", "memory", "pods", *GPU_RESOURCES):
                    if resource in source:
                        totals[kind].setdefault(resource, []).append(str(source[resource]))
        Node.objects.filter(cluster=cluster).exclude(name__in=seen).delete()
        cluster = Cluster.objects.select_for_update().get(pk=cluster.pk)
        cluster.node_count = len(seen)
        cluster.architectures = sorted(arches)
        cluster.gpu_summary = {"gpus": gpu_total, "nodes": sorted(gpu_nodes)}
        cluster.capacity = {r: quantity.total(v) for r, v in totals["capacity"].items()}
        cluster.allocatable = {r: quantity.total(v) for r, v in totals["allocatable"].items()}
        cluster.save()
    return cluster


@transaction.atomic
def update_cluster(*, actor, cluster: Cluster, **changes) -> Cluster:
    for name in set(changes) - {"display_name", "labels"}:
        raise ValidationError({name: "This field cannot be changed."})
    if (
        "display_name" in changes
        and Cluster.objects.filter(tenant=cluster.tenant, display_name=changes["display_name"])
        .exclude(pk=cluster.pk)
        .exists()
    ):
        raise ValidationError({"display_name": "Another cluster has this name."})
    for name, value in changes.items():
        setattr(cluster, name, value)
    cluster.save()
    return cluster


@transaction.atomic
def delete_cluster(*, actor, cluster: Cluster) -> None:
    """Forget the cluster (the cluster itself is untouched: it was imported)."""
    _forget_client_on_commit(cluster.pk)
    cluster.delete()
