"""Project namespaces: create, resize, delete, import, move, and the periodic reconcile.

Every write here is two halves. The portal half runs in one transaction: quota admission
(:mod:`.allocation` locks the project's quota row on the cluster, so two requests cannot both
take the last of something), the :class:`ProjectNamespace` row, and a ``ClusterOperation`` with
``target = namespace:<name>``. The cluster half runs after commit, in a Celery task
(:func:`apps.projects.tasks.run_namespace_operation`), as named steps: a re-run (re-delivery,
retry, the reconcile resuming a failed operation) repeats only the steps not recorded as done.
Cluster calls never happen inside a transaction (``k8s.TransactionalClusterCall``).

On the cluster a project namespace is:

- the Namespace, labelled ``tkeportal.io/tenant=<tenant slug>`` and
  ``tkeportal.io/project=<project name>``;
- the ResourceQuota ``tkeportal-quota`` whose ``spec.hard`` is the row's ``hard``;
- when that quota limits cpu or memory, the LimitRange ``tkeportal-limits`` giving containers
  default requests and limits, so a pod that names none is still admitted by the quota.

Creating never adopts a namespace that already exists on the cluster (that is an import);
importing adopts one when its quota fits what the project has left.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from apps.audit.choices import Channel
from apps.audit.services import record_event
from apps.authz import check
from apps.clusters import k8s
from apps.clusters.choices import OperationKind, OperationPhase
from apps.clusters.models import Cluster, ClusterOperation
from apps.clusters.services import client_for
from apps.core import quantity

from . import allocation, quota
from .choices import NamespacePhase, ProjectPhase
from .models import NamespaceReconcile, Project, ProjectNamespace, namespace_name_validator

logger = logging.getLogger("tkeportal.projects")

LABEL_TENANT = "tkeportal.io/tenant"
LABEL_PROJECT = "tkeportal.io/project"
QUOTA_NAME = "tkeportal-quota"
LIMITS_NAME = "tkeportal-limits"
MERGE_PATCH = "application/merge-patch+json"

# Container defaults of the LimitRange, each capped by the namespace's own quota.
DEFAULT_REQUEST = {"cpu": "100m", "memory": "128Mi"}
DEFAULT_LIMIT = {"cpu": "500m", "memory": "512Mi"}

# What a delete takes with it (the preview counts these).
WORKLOADS = {
    "deployments": "/apis/apps/v1/namespaces/{ns}/deployments",
    "statefulsets": "/apis/apps/v1/namespaces/{ns}/statefulsets",
    "daemonsets": "/apis/apps/v1/namespaces/{ns}/daemonsets",
    "jobs": "/apis/batch/v1/namespaces/{ns}/jobs",
    "cronjobs": "/apis/batch/v1/namespaces/{ns}/cronjobs",
}
CONTENT = {
    "pods": "/api/v1/namespaces/{ns}/pods",
    "services": "/api/v1/namespaces/{ns}/services",
    "configmaps": "/api/v1/namespaces/{ns}/configmaps",
    "secrets": "/api/v1/namespaces/{ns}/secrets",
    "persistentvolumeclaims": "/api/v1/namespaces/{ns}/persistentvolumeclaims",
}

# Operation kind → the cluster steps its task runs, in order.
STEPS = {
    OperationKind.NAMESPACE_CREATE: ("EnsureNamespace", "EnsureResourceQuota", "EnsureLimitRange"),
    OperationKind.NAMESPACE_IMPORT: ("EnsureNamespace", "EnsureResourceQuota", "EnsureLimitRange"),
    OperationKind.NAMESPACE_QUOTA: ("EnsureResourceQuota", "EnsureLimitRange"),
    OperationKind.NAMESPACE_MOVE: ("EnsureNamespace", "Finished"),
    OperationKind.NAMESPACE_DELETE: ("DeleteNamespace", "EnsureNamespaceGone"),
}
# A Pending row younger than this has its task in flight: the reconcile leaves it alone.
PENDING_GRACE = timedelta(minutes=5)


class NamespaceRefused(k8s.ClusterConflict):
    """The cluster's namespace is not in a state the operation may take over (it exists and is
    not the project's, or it is being deleted)."""

    default_code = "namespace_refused"


# -- cluster primitives (each idempotent; ``current`` saves a GET when the caller has it) -------
_UNKNOWN = object()


def ns_path(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}"


def quota_path(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/resourcequotas/{QUOTA_NAME}"


def limits_path(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/limitranges/{LIMITS_NAME}"


def get_or_none(client: k8s.KubeClient, path: str) -> dict | None:
    try:
        return client.get(path)
    except k8s.ClusterNotFound:
        return None


def labels_for(row: ProjectNamespace) -> dict[str, str]:
    return {LABEL_TENANT: row.tenant.slug, LABEL_PROJECT: row.project.name}


POD_SECURITY = "pod-security.kubernetes.io/"


def namespace_labels_for(row: ProjectNamespace) -> dict[str, str]:
    """The Namespace's labels: ownership, and the Pod Security levels the platform sets
    (``PORTAL_PROJECT_POD_SECURITY_*``) — members cannot change them (a Namespace object is
    changed in the platform's domain) and the reconcile puts them back."""
    labels = labels_for(row)
    for mode in ("enforce", "warn"):
        level = getattr(settings, f"PORTAL_PROJECT_POD_SECURITY_{mode.upper()}", "")
        if level and level != "privileged":
            labels[POD_SECURITY + mode] = level
            labels[f"{POD_SECURITY}{mode}-version"] = "latest"
    return labels


def terminating(obj: dict) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp")) or (
        (obj.get("status") or {}).get("phase") == "Terminating"
    )


def ensure_namespace(client, row: ProjectNamespace, *, adopt: bool, current=_UNKNOWN) -> str:
    """The namespace exists with the project's labels. An existing namespace is taken over only
    with ``adopt`` or when it already carries this project's label (an earlier attempt of the
    same creation made it). Returns what was done ("" for nothing)."""
    cluster, name = row.cluster.name, row.namespace
    obj = get_or_none(client, ns_path(name)) if current is _UNKNOWN else current
    want = namespace_labels_for(row)
    if obj is None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": want}}
        try:
            client.request("POST", "/api/v1/namespaces", body=body)
            return f"namespace {name} created"
        except k8s.ClusterConflict:
            obj = client.get(ns_path(name))  # created meanwhile: judge what is there
    if terminating(obj):
        raise NamespaceRefused(
            f"Namespace {name} on cluster {cluster} is being deleted; try again once it is gone."
        )
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if not adopt and labels.get(LABEL_PROJECT) != row.project.name:
        raise NamespaceRefused(
            f"Namespace {name} already exists on cluster {cluster} and does not belong to "
            f"project {row.project.name}: import it instead of creating it."
        )
    wrong = {k: v for k, v in want.items() if labels.get(k) != v}
    if not wrong:
        return ""
    client.request(
        "PATCH", ns_path(name), body={"metadata": {"labels": want}}, content_type=MERGE_PATCH
    )
    return "labels " + ", ".join(f"{k}={v}" for k, v in sorted(wrong.items())) + " set"


def same_quantities(a: dict | None, b: dict | None) -> bool:
    """Two resource lists name the same resources with equal amounts ("1Gi" == "1024Mi")."""
    a, b = a or {}, b or {}
    if set(a) != set(b):
        return False
    try:
        return all(quantity.parse(str(a[k])) == quantity.parse(str(b[k])) for k in a)
    except quantity.QuantityError:
        return False


def ensure_quota(client, row: ProjectNamespace, *, current=_UNKNOWN) -> str:
    """The ResourceQuota exists with ``spec.hard`` equal to the row's ``hard``."""
    name = row.namespace
    obj = get_or_none(client, quota_path(name)) if current is _UNKNOWN else current
    if obj is None:
        body = {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": QUOTA_NAME, "labels": labels_for(row)},
            "spec": {"hard": dict(row.hard)},
        }
        try:
            client.request("POST", f"{ns_path(name)}/resourcequotas", body=body)
            return f"ResourceQuota {QUOTA_NAME} created"
        except k8s.ClusterConflict:
            obj = client.get(quota_path(name))
    had = (obj.get("spec") or {}).get("hard") or {}
    if same_quantities(had, row.hard):
        return ""
    # A merge patch keeps keys it does not name: remove the ones the row no longer has.
    hard = {**{k: None for k in had if k not in row.hard}, **row.hard}
    client.request(
        "PATCH", quota_path(name), body={"spec": {"hard": hard}}, content_type=MERGE_PATCH
    )
    was = ", ".join(f"{k}={v}" for k, v in sorted(had.items())) or "nothing"
    return f"ResourceQuota {QUOTA_NAME} hard set back to the portal's (was {was})"


def limit_range_spec(hard: dict) -> dict | None:
    """Container defaults for a namespace whose quota limits cpu or memory (such a quota refuses
    pods that name no request or limit), capped by the quota itself; None when not needed."""
    amounts = quota.amounts(hard)
    defaults: dict[str, str] = {}
    requests: dict[str, str] = {}
    for resource in ("cpu", "memory"):
        req_cap = amounts.get(f"requests.{resource}")
        lim_cap = amounts.get(f"limits.{resource}")
        if req_cap is None and lim_cap is None:
            continue
        like = "1Gi" if resource == "memory" else None
        request = quantity.parse(DEFAULT_REQUEST[resource])
        limit = quantity.parse(DEFAULT_LIMIT[resource])
        for cap in (req_cap, lim_cap):
            if cap is not None:
                request = min(request, cap)
        if lim_cap is not None:
            limit = min(limit, lim_cap)
        limit = max(limit, request)  # Kubernetes wants defaultRequest <= default
        requests[resource] = quantity.format_quantity(request, like)
        defaults[resource] = quantity.format_quantity(limit, like)
    if not defaults:
        return None
    return {"limits": [{"type": "Container", "default": defaults, "defaultRequest": requests}]}


def _same_limits(a: list | None, b: list | None) -> bool:
    a, b = a or [], b or []
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x.get("type") != y.get("type"):
            return False
        for key in set(x) | set(y):
            if key != "type" and not same_quantities(x.get(key), y.get(key)):
                return False
    return True


def ensure_limit_range(client, row: ProjectNamespace, *, current=_UNKNOWN) -> str:
    """The LimitRange matches :func:`limit_range_spec` of the row's quota (absent when None)."""
    name = row.namespace
    want = limit_range_spec(row.hard)
    obj = get_or_none(client, limits_path(name)) if current is _UNKNOWN else current
    if want is None:
        if obj is None:
            return ""
        try:
            client.request("DELETE", limits_path(name))
        except k8s.ClusterNotFound:
            return ""
        return f"LimitRange {LIMITS_NAME} removed (the quota limits no cpu or memory)"
    if obj is None:
        body = {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": {"name": LIMITS_NAME, "labels": labels_for(row)},
            "spec": want,
        }
        try:
            client.request("POST", f"{ns_path(name)}/limitranges", body=body)
            return f"LimitRange {LIMITS_NAME} created"
        except k8s.ClusterConflict:
            obj = client.get(limits_path(name))
    if _same_limits((obj.get("spec") or {}).get("limits"), want["limits"]):
        return ""
    client.request("PATCH", limits_path(name), body={"spec": want}, content_type=MERGE_PATCH)
    return f"LimitRange {LIMITS_NAME} set back to the portal's defaults"


def quota_hard_of(client, namespace: str) -> dict[str, str]:
    """What the namespace's existing ResourceQuotas allow: per resource, the smallest limit
    any of them sets (every quota of a namespace applies)."""
    items = client.get(f"{ns_path(namespace)}/resourcequotas").get("items") or []
    out: dict[str, str] = {}
    for item in items:
        for name, value in ((item.get("spec") or {}).get("hard") or {}).items():
            if name not in out or quantity.parse(str(value)) < quantity.parse(out[name]):
                out[name] = str(value)
    return out


def contents(client, namespace: str) -> dict:
    """How many objects of each kind a namespace holds (what deleting it deletes)."""
    return {
        "workloads": {k: client.count(p.format(ns=namespace)) for k, p in WORKLOADS.items()},
        **{k: client.count(p.format(ns=namespace)) for k, p in CONTENT.items()},
    }


# -- input ---------------------------------------------------------------------------------------
def validate_name(namespace: object) -> str:
    if not isinstance(namespace, str) or not namespace:
        raise ValidationError({"namespace": "Give the namespace a name."})
    try:
        namespace_name_validator(namespace)
    except ValidationError as exc:
        raise ValidationError({"namespace": exc.messages}) from None
    return namespace


def _validate_hard(hard: object) -> dict[str, str]:
    try:
        return quota.normalize(hard)
    except quota.QuotaError as exc:
        raise ValidationError(exc.errors) from None


def _admit(project: Project, cluster: Cluster, hard: dict, **options) -> None:
    """Quota admission; the caller holds ``allocation.lock`` in the same transaction."""
    try:
        allocation.require_fits(project, cluster, hard, **options)
    except quota.QuotaError as exc:
        raise ValidationError(exc.errors) from None


def _span(project: Project, cluster: Cluster) -> None:
    if project.phase == ProjectPhase.TERMINATING:
        raise ValidationError({"project": f"Project {project.name} is being deleted."})
    if not allocation.lock(project, cluster):
        raise ValidationError(
            {"cluster": f"Project {project.name} does not span cluster {cluster.name}."}
        )


def _not_owned(cluster: Cluster, namespace: str) -> None:
    if ProjectNamespace.objects.filter(cluster=cluster, namespace=namespace).exists():
        raise ValidationError(
            {
                "namespace": f"Namespace {namespace} on cluster {cluster.name} already belongs to "
                "a project."
            }
        )


def _actor(actor):
    return actor if getattr(actor, "pk", None) else None


def _operation(row: ProjectNamespace, kind: str, actor, steps=()) -> ClusterOperation:
    op = ClusterOperation.objects.create(
        tenant=row.tenant,
        cluster=row.cluster,
        kind=kind,
        target=f"namespace:{row.namespace}",
        phase=OperationPhase.PENDING,
        created_by=_actor(actor),
    )
    for name in steps:
        op.record_step(name, True)
    return op


def _enqueue(op: ClusterOperation) -> None:
    from .tasks import run_namespace_operation

    transaction.on_commit(lambda: run_namespace_operation.delay(op.pk))


# -- create, import --------------------------------------------------------------------------------
def create_namespace(
    *, actor, project: Project, cluster: Cluster, namespace: str, hard: object
) -> ProjectNamespace:
    """A new namespace of ``project`` on ``cluster`` with quota ``hard``: admitted against what
    the project has left there, stored Pending, then made on the cluster by a task."""
    namespace = validate_name(namespace)
    hard = _validate_hard(hard)
    _not_owned(cluster, namespace)
    with client_for(cluster) as client:
        if get_or_none(client, ns_path(namespace)) is not None:
            raise ValidationError(
                {
                    "namespace": f"Namespace {namespace} already exists on cluster {cluster.name}: "
                    "import it into the project instead."
                }
            )
    return _add(actor, project, cluster, namespace, hard, OperationKind.NAMESPACE_CREATE)


def import_namespace(
    *, actor, project: Project, cluster: Cluster, namespace: str, hard: object = None
) -> ProjectNamespace:
    """An existing namespace of ``cluster`` joins ``project``. Its quota is ``hard`` when given,
    else what its ResourceQuotas already allow; either must fit what the project has left."""
    namespace = validate_name(namespace)
    _may_take_over(actor, cluster, namespace)
    given = hard is not None
    hard = _validate_hard(hard) if given else {}
    _not_owned(cluster, namespace)
    with client_for(cluster) as client:
        obj = get_or_none(client, ns_path(namespace))
        if obj is None:
            raise ValidationError(
                {
                    "namespace": f"Namespace {namespace} does not exist on cluster {cluster.name}: "
                    "create it instead."
                }
            )
        if terminating(obj):
            raise ValidationError(
                {"namespace": f"Namespace {namespace} on cluster {cluster.name} is being deleted."}
            )
        if not given:
            hard = _validate_hard(quota_hard_of(client, namespace))
    return _add(actor, project, cluster, namespace, hard, OperationKind.NAMESPACE_IMPORT)


def _may_take_over(actor, cluster: Cluster, namespace: str) -> None:
    """Importing takes over a namespace that exists, with everything in it (its service
    accounts' tokens included): a change of the Namespace object, which only the platform
    domain may make — a project owner must not import kube-system. (No actor: the operator.)"""
    if actor is None:
        return
    namespace_object = f"cluster:{cluster.name}/namespace:{namespace}"
    decision = check(actor, "updateNamespace", namespace_object, tenant=cluster.tenant)
    if not decision:
        raise PermissionDenied(
            f"Importing namespace {namespace} hands it and everything in it to the project: "
            f"you need updateNamespace on {namespace_object} ({decision.reason})."
        )


def _add(actor, project, cluster, namespace, hard, kind) -> ProjectNamespace:
    with transaction.atomic():
        _span(project, cluster)
        _not_owned(cluster, namespace)
        _admit(project, cluster, hard)
        row = ProjectNamespace.objects.create(
            tenant=project.tenant,
            project=project,
            cluster=cluster,
            namespace=namespace,
            hard=hard,
            phase=NamespacePhase.PENDING,
            created_by=_actor(actor),
        )
        _enqueue(_operation(row, kind, actor))
    return row


# -- quota, delete, move -------------------------------------------------------------------------
def _locked(row: ProjectNamespace) -> ProjectNamespace:
    locked = (
        ProjectNamespace.objects.select_for_update(of=("self",))
        .select_related("project", "cluster", "tenant")
        .filter(pk=row.pk)
        .first()
    )
    if locked is None:
        raise ValidationError({"namespace": "The namespace was deleted meanwhile."})
    if locked.phase == NamespacePhase.TERMINATING:
        raise ValidationError({"namespace": f"Namespace {locked.namespace} is being deleted."})
    return locked


def update_quota(*, actor, row: ProjectNamespace, hard: object) -> ProjectNamespace:
    """Resize: admitted against what the project has left besides this namespace; a task puts
    the new quota on the cluster."""
    hard = _validate_hard(hard)
    with transaction.atomic():
        allocation.lock(row.project, row.cluster)
        row = _locked(row)
        _admit(row.project, row.cluster, hard, except_namespace=row.pk)
        row.hard = hard
        row.save(update_fields=["hard", "updated_at"])
        _enqueue(_operation(row, OperationKind.NAMESPACE_QUOTA, actor))
    return row


def delete_preview(row: ProjectNamespace) -> dict:
    """What deleting the namespace deletes, as the cluster has it now."""
    with client_for(row.cluster) as client:
        obj = get_or_none(client, ns_path(row.namespace))
        counts = contents(client, row.namespace) if obj is not None else None
    return {
        "project": row.project.name,
        "cluster": row.cluster.name,
        "namespace": row.namespace,
        "exists": obj is not None,
        "phase": (obj or {}).get("status", {}).get("phase", ""),
        "labels": ((obj or {}).get("metadata") or {}).get("labels") or {},
        "contents": counts,
        "released_quota": dict(row.hard),
    }


def delete_namespace(*, actor, row: ProjectNamespace) -> ProjectNamespace:
    """Terminating now; a task deletes the Kubernetes namespace and the row once it is gone."""
    with transaction.atomic():
        row = _locked(row)
        row.phase = NamespacePhase.TERMINATING
        row.message = "Deleting the namespace and everything in it."
        row.save(update_fields=["phase", "message", "updated_at"])
        _enqueue(_operation(row, OperationKind.NAMESPACE_DELETE, actor))
    return row


def move_namespace(*, actor, row: ProjectNamespace, destination: Project) -> ProjectNamespace:
    """TKEStack's NsEmigration: the namespace leaves its project for ``destination`` (same
    tenant, spanning the cluster, with room for its quota), recorded as the steps
    OldOneLocked → OldOneDetached → NewOneCreated here and relabelled → Finished by a task."""
    if destination.pk == row.project_id:
        raise ValidationError({"destination": f"The namespace is already in {destination.name}."})
    if destination.tenant_id != row.tenant_id:
        raise ValidationError({"destination": f"No project named {destination.name}."})
    with transaction.atomic():
        if destination.phase == ProjectPhase.TERMINATING:
            raise ValidationError({"destination": f"Project {destination.name} is being deleted."})
        if not allocation.lock(destination, row.cluster):
            raise ValidationError(
                {
                    "destination": f"Project {destination.name} does not span cluster "
                    f"{row.cluster.name}."
                }
            )
        row = _locked(row)
        source = row.project
        op = _operation(row, OperationKind.NAMESPACE_MOVE, actor)
        op.record_step("OldOneLocked", True, f"held by {source.name}")
        _admit(destination, row.cluster, row.hard, field="destination")
        op.record_step("OldOneDetached", True, f"released from {source.name}")
        row.project = destination
        row.phase = NamespacePhase.PENDING
        row.message = f"Moved from project {source.name}; relabelling on the cluster."
        row.save(update_fields=["project", "phase", "message", "updated_at"])
        op.record_step("NewOneCreated", True, f"owned by {destination.name}")
        _enqueue(op)
    return row


# -- running operations (tasks and the reconcile) -----------------------------------------------
def _run_step(client, op: ClusterOperation, row: ProjectNamespace, step: str) -> str:
    if step == "EnsureNamespace":
        return ensure_namespace(client, row, adopt=op.kind != OperationKind.NAMESPACE_CREATE)
    if step == "EnsureResourceQuota":
        return ensure_quota(client, row)
    if step == "EnsureLimitRange":
        return ensure_limit_range(client, row)
    if step == "Finished":
        return f"{row.namespace} is in project {row.project.name}"
    if step == "DeleteNamespace":
        obj = get_or_none(client, ns_path(row.namespace))
        if obj is None:
            return "already gone"
        if not _labelled_for(obj, row):
            # The portal deletes only a namespace it made or took over for this project.
            return (
                f"namespace {row.namespace} not deleted: it is not labelled "
                f"{LABEL_PROJECT}={row.project.name} on the cluster; only the row goes"
            )
        if not terminating(obj):
            try:
                client.request("DELETE", ns_path(row.namespace))
            except k8s.ClusterNotFound:
                return "already gone"
        return "deletion requested"
    if step == "EnsureNamespaceGone":
        obj = get_or_none(client, ns_path(row.namespace))
        if obj is not None and not _labelled_for(obj, row):
            return "left in place (not the project's)"
        if obj is not None:
            raise _StillThere(f"namespace {row.namespace} is still terminating on the cluster")
        return "gone"
    raise ValueError(f"unknown step {step}")


def _labelled_for(obj: dict, row: ProjectNamespace) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get(LABEL_PROJECT) == row.project.name


class _StillThere(Exception):
    """The namespace is still being deleted: not a failure, the operation waits."""


def run_operation(op: ClusterOperation) -> str:
    """Run the steps of ``op`` that are not done yet; the row follows (Available, Failed with
    the cluster's message, or removed after a delete). Returns the operation's phase."""
    row = (
        ProjectNamespace.objects.select_related("project", "cluster__credential", "tenant")
        .filter(cluster_id=op.cluster_id, namespace=op.target.removeprefix("namespace:"))
        .first()
    )
    if row is None:
        _finish(op, OperationPhase.FAILED, "the project namespace no longer exists")
        return op.phase
    deleting = op.kind == OperationKind.NAMESPACE_DELETE
    if row.phase == NamespacePhase.TERMINATING and not deleting:
        _finish(op, OperationPhase.FAILED, "superseded: the namespace is being deleted")
        return op.phase
    op.attempts += 1
    op.phase = OperationPhase.RUNNING
    op.save(update_fields=["attempts", "phase", "updated_at"])
    try:
        with client_for(row.cluster) as client:
            for step in STEPS[op.kind]:
                if op.step_done(step):
                    continue
                try:
                    op.record_step(step, True, _run_step(client, op, row, step))
                except _StillThere as wait:
                    op.record_step(step, False, str(wait))
                    op.message = str(wait)
                    op.save(update_fields=["message", "updated_at"])
                    _set_row(row, message=f"Waiting: {wait}.")
                    return op.phase  # Running: the reconcile finishes it
                except k8s.ClusterError as exc:
                    op.record_step(step, False, str(exc.detail))
                    raise
    except k8s.ClusterError as exc:
        _finish(op, OperationPhase.FAILED, str(exc.detail))
        if op.kind == OperationKind.NAMESPACE_CREATE and isinstance(exc, NamespaceRefused):
            # Someone else's namespace took the name between the request and the task: the
            # creation is over. A row left behind would hand the project that namespace
            # (ownership decides every authorization on it) and its delete would delete it.
            ProjectNamespace.objects.filter(
                pk=row.pk, phase__in=(NamespacePhase.PENDING, NamespacePhase.FAILED)
            ).delete()
            return op.phase
        if deleting:
            _set_row(row, message=f"Deletion failed, will retry: {exc.detail}")
        else:
            _set_row(row, phase=NamespacePhase.FAILED, message=str(exc.detail))
        return op.phase
    _finish(op, OperationPhase.SUCCEEDED, "")
    if deleting:
        ProjectNamespace.objects.filter(pk=row.pk, phase=NamespacePhase.TERMINATING).delete()
    else:
        _set_row(
            row,
            phase=NamespacePhase.AVAILABLE,
            message="",
            only_if=(NamespacePhase.PENDING, NamespacePhase.FAILED, NamespacePhase.AVAILABLE),
        )
    return op.phase


def _finish(op: ClusterOperation, phase: str, message: str) -> None:
    op.phase, op.message = phase, message
    op.save(update_fields=["phase", "message", "updated_at"])


def _set_row(row: ProjectNamespace, only_if=None, **fields) -> None:
    """Update the row's state without overwriting what a request changed meanwhile (its quota,
    its project, a delete that started)."""
    rows = ProjectNamespace.objects.filter(pk=row.pk)
    if only_if:
        rows = rows.filter(phase__in=only_if)
    rows.update(**fields, updated_at=timezone.now())


def latest_operation(row: ProjectNamespace) -> ClusterOperation | None:
    return (
        ClusterOperation.objects.filter(
            cluster_id=row.cluster_id, target=f"namespace:{row.namespace}"
        )
        .exclude(kind=OperationKind.NAMESPACE_RECONCILE)
        .order_by("-created_at", "-id")
        .first()
    )


# -- reconcile ---------------------------------------------------------------------------------
def reconcile_interval() -> timedelta:
    return timedelta(seconds=settings.PORTAL_NAMESPACE_RECONCILE_INTERVAL)


def backoff(failures: int) -> timedelta:
    """Exponential: one interval after the first failure, doubling, at most the maximum."""
    seconds = settings.PORTAL_NAMESPACE_RECONCILE_INTERVAL * 2 ** max(failures - 1, 0)
    return timedelta(seconds=min(seconds, settings.PORTAL_NAMESPACE_RECONCILE_MAX_BACKOFF))


LEASE = timedelta(minutes=5)


def _claim(cluster: Cluster, force: bool) -> NamespaceReconcile | None:
    """This run's lease on the cluster's reconcile, or None when it is not due or another run
    holds it."""
    now = timezone.now()
    with transaction.atomic():
        NamespaceReconcile.objects.get_or_create(cluster=cluster)
        state = NamespaceReconcile.objects.select_for_update().get(cluster=cluster)
        if state.leased_until and state.leased_until > now:
            return None
        if not force and state.next_attempt_at and state.next_attempt_at > now:
            return None
        state.leased_until = now + LEASE
        state.last_attempt_at = now
        state.save(update_fields=["leased_until", "last_attempt_at"])
    return state


def reconcile_cluster(cluster: Cluster, *, force: bool = False) -> dict:
    """Compare every project namespace of ``cluster`` with the cluster and repair the drift:
    a namespace deleted behind the portal's back is recreated, an edited or deleted quota or
    limit range is put back, labels are restored, failed operations are resumed and deletions
    finished; ``used`` is refreshed from the quota's status. A cluster that cannot be reached
    leaves every row as it is, with a message, and is tried again after an exponential
    back-off. Never raises for the cluster's failures."""
    state = _claim(cluster, force)
    if state is None:
        return {"skipped": True}
    summary = {"skipped": False, "repaired": {}, "checked": 0, "errors": {}}
    try:
        _reconcile_rows(cluster, summary)
    except k8s.ClusterError as exc:
        _failed(cluster, state, exc)
        summary["failed"] = str(exc.detail)
        return summary
    except BaseException:
        # A bug, a time limit: let the next run try rather than wait for the lease.
        NamespaceReconcile.objects.filter(pk=state.pk).update(leased_until=None)
        raise
    now = timezone.now()
    state.failures, state.message = 0, ""
    state.last_success_at, state.next_attempt_at = now, now + reconcile_interval()
    state.leased_until = None
    state.save()
    return summary


def _failed(cluster: Cluster, state: NamespaceReconcile, exc: k8s.ClusterError) -> None:
    now = timezone.now()
    state.failures += 1
    state.next_attempt_at = now + backoff(state.failures)
    what = "unreachable" if isinstance(exc, k8s.ClusterUnreachable) else "failed"
    state.message = (
        f"cluster {cluster.name} {what} ({state.failures} attempt"
        f"{'s' if state.failures > 1 else ''} in a row; next at "
        f"{state.next_attempt_at:%Y-%m-%d %H:%M:%S}Z): {exc.detail}"
    )
    state.leased_until = None
    state.save()
    ProjectNamespace.objects.filter(cluster=cluster).update(message=state.message, updated_at=now)
    logger.info("namespace reconcile of %s: %s", cluster.name, state.message)


def _index(items: list[dict]) -> dict[str, dict]:
    return {(i.get("metadata") or {}).get("namespace") or i["metadata"]["name"]: i for i in items}


def _reconcile_rows(cluster: Cluster, summary: dict) -> None:
    rows = list(
        ProjectNamespace.objects.filter(cluster=cluster)
        .select_related("project", "tenant", "cluster__credential")
        .order_by("namespace")
    )
    if not rows:
        return
    with client_for(cluster) as client:
        # Three lists for the whole cluster instead of three GETs per namespace.
        namespaces = _index(client.get("/api/v1/namespaces").get("items") or [])
        selector = {"fieldSelector": f"metadata.name={QUOTA_NAME}"}
        quotas = _index(client.get("/api/v1/resourcequotas", query=selector).get("items") or [])
        selector = {"fieldSelector": f"metadata.name={LIMITS_NAME}"}
        limits = _index(client.get("/api/v1/limitranges", query=selector).get("items") or [])
        for row in rows:
            summary["checked"] += 1
            try:
                repaired = _reconcile_row(
                    client, row, namespaces.get(row.namespace), quotas, limits
                )
            except k8s.ClusterUnreachable:
                raise
            except k8s.ClusterError as exc:  # this namespace only (a 403, a 422): the rest go on
                summary["errors"][row.namespace] = str(exc.detail)
                _set_row(row, message=f"Reconcile failed: {exc.detail}")
                continue
            if repaired:
                summary["repaired"][row.namespace] = repaired


def _reconcile_row(client, row, ns_obj, quotas, limits) -> list[str]:
    now = timezone.now()
    if row.phase == NamespacePhase.PENDING and now - row.created_at < PENDING_GRACE:
        return []  # its task is running
    if row.phase == NamespacePhase.TERMINATING:
        op = latest_operation(row)
        if op is None or op.kind != OperationKind.NAMESPACE_DELETE:
            op = _operation(row, OperationKind.NAMESPACE_DELETE, None)
        run_operation(op)
        return []
    op = latest_operation(row)
    unfinished = (
        op
        if row.phase != NamespacePhase.AVAILABLE and op and op.phase != OperationPhase.SUCCEEDED
        else None
    )
    if unfinished is not None and unfinished.kind == OperationKind.NAMESPACE_CREATE:
        # A creation never adopts what it finds: resume it rather than repair.
        if run_operation(unfinished) != OperationPhase.SUCCEEDED:
            return []
        unfinished = None
        row.refresh_from_db()
        ns_obj = get_or_none(client, ns_path(row.namespace))
        quotas[row.namespace] = get_or_none(client, quota_path(row.namespace))
        limits[row.namespace] = get_or_none(client, limits_path(row.namespace))
    if ns_obj is not None and terminating(ns_obj):
        _set_row(
            row,
            message=f"Namespace {row.namespace} is being deleted on the cluster outside the "
            "portal; it will be recreated once it is gone.",
        )
        return []
    if ns_obj is None:
        quotas.pop(row.namespace, None)
        limits.pop(row.namespace, None)
    repairs: list[str] = []
    done = ensure_namespace(client, row, adopt=True, current=ns_obj)
    if done:
        repairs.append(
            done.replace("created", "recreated (it was deleted outside the portal)")
            if ns_obj is None
            else done
        )
    done = ensure_quota(client, row, current=quotas.get(row.namespace))
    if done:
        repairs.append(done)
    done = ensure_limit_range(client, row, current=limits.get(row.namespace))
    if done:
        repairs.append(done)
    current_quota = None if repairs else quotas.get(row.namespace)
    if current_quota is None:
        current_quota = get_or_none(client, quota_path(row.namespace)) or {}
    used = (current_quota.get("status") or {}).get("used") or row.used
    _set_row(
        row,
        only_if=(NamespacePhase.AVAILABLE, NamespacePhase.PENDING, NamespacePhase.FAILED),
        used=used,
        reconciled_at=now,
        phase=NamespacePhase.AVAILABLE,
        message=("Repaired: " + "; ".join(repairs) + ".") if repairs else "",
    )
    if repairs:
        _record_repairs(row, repairs)
    if unfinished is not None:
        # An import, resize or move that failed: what it wanted is in place now; finish it.
        run_operation(unfinished)
    return repairs


def _record_repairs(row: ProjectNamespace, repairs: list[str]) -> None:
    op = _operation(row, OperationKind.NAMESPACE_RECONCILE, None)
    for index, repair in enumerate(repairs, 1):
        op.record_step(f"Repair{index}", True, repair)
    _finish(op, OperationPhase.SUCCEEDED, "; ".join(repairs))
    record_event(
        action="reconcileProjectNamespace",
        tenant=row.tenant,
        resource=row.authz_resource,
        channel=Channel.TASK,
        status_code=200,
        message="; ".join(repairs),
    )
