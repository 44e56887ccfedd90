"""Releases: a chart version installed into a namespace of a cluster, upgraded, rolled back and
uninstalled by the portal (Helm's semantics, the portal's hands).

The Helm v4 SDK (``helm_python``) renders the chart offline; the portal applies the objects
itself with server-side apply (:func:`apps.clusters.resources.apply_documents`, which undoes
what it applied when a later document fails) and records every install, upgrade and rollback as
a :class:`~apps.charts.models.ReleaseRevision` holding the values and the applied manifest.

What a release may do is what its actor may do: besides the release action
(``createRelease`` / ``updateRelease`` / ``rollbackRelease`` / ``deleteRelease`` on
``cluster:<c>/namespace:<ns>/release:<name>``), every rendered object is judged exactly as the
YAML apply API judges it (``create<Kind>`` and ``update<Kind>`` on its resource path, the
privilege-bearing bodies of :mod:`apps.clusters.privileged`), every object an upgrade or
rollback prunes needs ``delete<Kind>``, and an uninstall needs ``delete<Kind>`` on each object.
Pod Security is the cluster's: the namespace's labels, which members cannot change, make the
API server refuse what they forbid, and that refusal fails the revision like any other.

Semantics, as Helm (the rendering half in :mod:`apps.charts.rendering`):

- rendered with the release's name, namespace and revision (``.Release.*``) and Helm's default
  Capabilities (the SDK renders offline: ``lookup`` returns nothing); ``NOTES.txt`` and empty
  documents are skipped; objects applied in Helm's install order;
- charts with hooks (``helm.sh/hook``) other than ``test`` are refused with a message naming
  the template: the portal does not run hook jobs. ``test`` hooks are left out (they run only
  on ``helm test``);
- CRDs from ``crds/`` are applied first, never pruned and never deleted (Helm does not either);
- every object is labelled ``app.kubernetes.io/managed-by: tke-portal`` and annotated
  ``meta.helm.sh/release-name`` / ``meta.helm.sh/release-namespace``; an existing object that
  carries another release's annotations (or none) is not taken over: the revision fails;
- namespaced objects are put in the release's namespace whatever the template says;
- an upgrade or rollback applies the new manifest and then deletes the objects of the previous
  deployed revision that are no longer rendered; a rollback re-applies the chosen revision's
  stored manifest and values as a new revision (rollback to 1 from 3 creates 4);
- a failed apply marks the new revision ``failed`` with the cluster's message, undoes what it
  had applied, and leaves the previous revision deployed (``Release.revision`` keeps naming it;
  ``Release.status`` is ``failed`` until an operation succeeds). Retrying is another upgrade;
- an uninstall deletes the objects and keeps the Release row with status ``uninstalled`` and
  its history (``helm uninstall --keep-history``); installing the same name again starts the
  next revision number.

Operations on one release are serialized: a short transaction locks the Release row
(``select_for_update``) and marks it pending; the cluster work happens after it commits (no
network I/O inside a transaction, k8s.py); another operation meanwhile gets 409, unless the
pending mark is older than ``RELEASE_OPERATION_LEASE_S`` (a crashed worker).

Errors, for every caller (API, console, tasks): ``django.core.exceptions.ValidationError``
naming the field (``name``, ``namespace``, ``chart``, ``values.<key>``, ``revision``) before
anything is recorded; ``PermissionDenied`` naming the action and path that are missing;
:class:`apps.core.errors.Conflict` (409) for a busy release, a name in use, or an object of
another release; the cluster's :class:`apps.clusters.k8s.ClusterError` (``ClusterUnreachable``:
"Cluster X is unreachable …", ``ClusterInvalid`` with its fields …) once the revision is
recorded as failed. The services run in the caller's thread and make cluster calls: never call
them inside ``transaction.atomic()``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import helm_python
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from apps.authz import check
from apps.clusters import k8s, resources
from apps.clusters.privileged import write_denial
from apps.clusters.services import client_for
from apps.core.errors import Conflict

from .access import can_read
from .choices import ReleaseStatus, RevisionStatus
from .models import ChartVersion, Release, ReleaseRevision, release_name_validator
from .rendering import (
    INSTALL_RANK,
    NAME_ANNOTATION,
    NAMESPACE_ANNOTATION,
    Rendered,
    check_values,
    manifest_documents,
    manifest_text,
    object_ident,
    object_key,
    render_chart,
)

FIELD_MANAGER = "tke-portal-release"
PENDING = (
    ReleaseStatus.PENDING_INSTALL,
    ReleaseStatus.PENDING_UPGRADE,
    ReleaseStatus.PENDING_ROLLBACK,
    ReleaseStatus.UNINSTALLING,
)


# -- rendering ------------------------------------------------------------------------------------
def render(*, chart_version: ChartVersion, name: str, namespace: str, values) -> list[dict]:
    """The objects an install of ``chart_version`` as release ``name`` in ``namespace`` with
    ``values`` would apply, in order: the chart's CRDs, then its templates' objects, labelled
    and annotated as the portal applies them. Offline: nothing is asked of a cluster.
    ValidationError naming the field when the values, the chart or a template is refused."""
    rendered = render_chart(chart_version, name, namespace, values, revision=1, upgrade=False)
    return [*rendered.crds, *rendered.docs]


# -- authorization -------------------------------------------------------------------------------
def _judge(actor, action: str, resource: str, tenant) -> None:
    decision = check(actor, action, resource, tenant=tenant)
    if not decision:
        raise PermissionDenied(f"You are not allowed to {action} on {resource}: {decision.reason}.")


def release_path(cluster, namespace: str, name: str) -> str:
    return f"cluster:{cluster.name}/namespace:{namespace}/release:{name}"


def may_pull(actor, chart_version: ChartVersion) -> bool:
    """May ``actor`` read this chart version: the chart groups' one read rule
    (:func:`apps.charts.access.can_read`) for the chart an install names."""
    chart = chart_version.chart
    return can_read(actor, chart.group, chart.name)


def _authorize_chart(actor, cluster, chart_version: ChartVersion) -> None:
    group = chart_version.chart.group
    if group.tenant_id != cluster.tenant_id or not may_pull(actor, chart_version):
        # Not the release's tenant's, or not readable: as if it did not exist.
        raise ValidationError(
            {"chart": f"Chart {chart_version.chart}:{chart_version.version} not found."}
        )


def _authorize_objects(actor, cluster, namespace, docs, pruned=()) -> None:
    """The checks the YAML apply API makes for each document, and delete for what is pruned."""
    for doc in docs:
        kind = resources.kind_of_document(doc)
        ns = namespace if kind.namespaced else None
        path = resources.resource_path(cluster.name, kind, ns, doc["metadata"]["name"])
        for action in (f"create{kind.authz_name}", f"update{kind.authz_name}"):
            _judge(actor, action, path, cluster.tenant)
        reason = write_denial(actor, cluster, kind.kind, ns, doc)
        if reason:
            raise PermissionDenied(f"You are not allowed to write {object_ident(doc)}: {reason}.")
    for doc in pruned:
        kind = resources.kind_of_document(doc)
        ns = namespace if kind.namespaced else None
        path = resources.resource_path(cluster.name, kind, ns, doc["metadata"]["name"])
        _judge(actor, f"delete{kind.authz_name}", path, cluster.tenant)


# -- serialization of operations -----------------------------------------------------------------
def _lease() -> timedelta:
    return timedelta(seconds=getattr(settings, "RELEASE_OPERATION_LEASE_S", 600))


def _claim(release: Release, pending: str, *, allow: tuple[str, ...] | None = None) -> Release:
    """Lock the row, refuse while another operation holds it, mark it ``pending``."""
    with transaction.atomic():
        locked = Release.objects.select_for_update().get(pk=release.pk)
        status = locked.status
        if status in PENDING and locked.updated_at <= timezone.now() - _lease():
            status = ReleaseStatus.FAILED  # its operation died midway: recoverable as failed
        if status in PENDING:
            raise Conflict(
                f"Release {locked.namespace}/{locked.name} is busy ({locked.status}); "
                "try again when that operation has finished."
            )
        if allow is not None and status not in allow:
            raise Conflict(
                f"Release {locked.namespace}/{locked.name} is {locked.status}: "
                f"this needs a release that is {' or '.join(allow)}."
            )
        locked.status = pending
        locked.save(update_fields=["status", "updated_at"])
    return locked


def _next_revision(release: Release) -> int:
    top = release.revisions.aggregate(top=Max("revision"))["top"]
    return (top or 0) + 1


def _live_revision(release: Release) -> ReleaseRevision | None:
    return release.revisions.filter(status=RevisionStatus.DEPLOYED).order_by("-revision").first()


def values_of(revision: ReleaseRevision | None) -> dict:
    """The user-supplied values of a revision (decrypted), {} for none."""
    if revision is None or not revision.values:
        return {}
    return json.loads(revision.values)


def _merged(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


# -- the cluster side ----------------------------------------------------------------------------
def _refuse_foreign(client, release: Release, docs: list[dict]) -> None:
    """An existing object that is not this release's is not taken over (Helm's "invalid
    ownership metadata"): a Conflict naming it."""
    for doc in docs:
        kind = resources.kind_of_document(doc)
        meta = doc["metadata"]
        try:
            live = client.get(kind.path(meta.get("namespace"), meta["name"]))
        except k8s.ClusterNotFound:
            continue
        annotations = (live.get("metadata") or {}).get("annotations") or {}
        owner = (annotations.get(NAME_ANNOTATION), annotations.get(NAMESPACE_ANNOTATION))
        if owner != (release.name, release.namespace):
            said = f"release {owner[1]}/{owner[0]}" if owner[0] else "no release"
            raise Conflict(
                f"{object_ident(doc)} already exists and belongs to {said}; it is not taken over "
                f"by release {release.namespace}/{release.name}."
            )


def _delete(client, docs: list[dict]) -> list[str]:
    """Delete the objects (reverse install order); those already gone are fine. Returns what
    could not be deleted, with why."""
    problems = []
    ordered = sorted(
        docs, key=lambda d: INSTALL_RANK.get(d["kind"], len(INSTALL_RANK)), reverse=True
    )
    for doc in ordered:
        kind = resources.kind_of_document(doc)
        meta = doc["metadata"]
        try:
            resources.delete_object(client, kind, meta.get("namespace"), meta["name"])
        except k8s.ClusterNotFound:
            continue
        except k8s.ClusterError as exc:
            problems.append(f"{object_ident(doc)}: {exc.detail}")
    return problems


@dataclass
class _Plan:
    operation: str  # Install, Upgrade, Rollback
    revision: int
    rendered: Rendered
    values: dict
    chart_version: ChartVersion | None
    previous: ReleaseRevision | None
    pruned: list[dict]
    target: int | None = None  # a rollback's revision


def _pruned(previous: ReleaseRevision | None, docs: list[dict]) -> list[dict]:
    if previous is None:
        return []
    keep = {object_key(d) for d in docs}
    return [d for d in manifest_documents(previous.manifest) if object_key(d) not in keep]


def _run(actor, release: Release, plan: _Plan) -> Release:
    """Apply the plan (the release is claimed), prune, record the outcome. A cluster failure
    is recorded on a failed revision and raised again."""
    rendered = plan.rendered
    failure: Exception | None = None
    problems: list[str] = []
    finished = False
    try:
        with client_for(release.cluster) as client:
            _refuse_foreign(client, release, rendered.docs)
            error, results = resources.apply_documents(
                client,
                [dict(d) for d in [*rendered.crds, *rendered.docs]],
                release.namespace,
                FIELD_MANAGER,
            )
            if error is not None:
                failure = _failed_apply(error, results)
            else:
                problems = _delete(client, plan.pruned)
        finished = True
    except (k8s.ClusterError, Conflict) as exc:
        failure, finished = exc, True
    finally:
        if not finished:  # an unexpected error goes on up, the release as before, not busy
            _release_claim(release)
    return _record(actor, release, plan, failure, problems)


def _failed_apply(error: k8s.ClusterError, results: list[dict]) -> k8s.ClusterError:
    """The cluster's error, its detail naming the document that failed and the undo."""
    index = next(i for i, r in enumerate(results) if r["action"] == "failed")
    broken = [
        r["object"] for r in results[:index] if str(r.get("rollback", "")).startswith("failed")
    ]
    said = f"{results[index]['object']}: {results[index]['error']}"
    if broken:
        said += f" (undoing the objects applied before it failed for {', '.join(broken)})"
    exc = type(error)(said)
    exc.fields = getattr(error, "fields", {})
    return exc


def _record(actor, release, plan: _Plan, failure, problems) -> Release:
    rendered = plan.rendered
    with transaction.atomic():
        locked = Release.objects.select_for_update().get(pk=release.pk)
        revision = ReleaseRevision(
            release=locked,
            revision=plan.revision,
            chart_name=rendered.chart_name,
            chart_version_name=rendered.chart_version_name,
            app_version=rendered.app_version,
            values=json.dumps(plan.values, sort_keys=True),
            manifest=manifest_text(rendered.docs),
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        if failure is not None:
            detail = str(getattr(failure, "detail", failure))
            revision.status = RevisionStatus.FAILED
            revision.description = f"{plan.operation} failed: {detail}"
            revision.save()
            locked.status = ReleaseStatus.FAILED
            locked.message = revision.description
            if plan.previous is None and locked.revision == 0:
                locked.chart_version = plan.chart_version
                locked.chart_name = rendered.chart_name
                locked.chart_version_name = rendered.chart_version_name
            locked.save()
        else:
            ReleaseRevision.objects.filter(release=locked, status=RevisionStatus.DEPLOYED).update(
                status=RevisionStatus.SUPERSEDED
            )
            revision.status = RevisionStatus.DEPLOYED
            revision.description = f"{plan.operation} complete"
            if plan.operation == "Rollback":
                revision.description = f"Rollback to {plan.target} complete"
            if problems:
                revision.description += "; not deleted: " + "; ".join(problems)
            revision.save()
            locked.status = ReleaseStatus.DEPLOYED
            locked.revision = plan.revision
            locked.chart_version = plan.chart_version
            locked.chart_name = rendered.chart_name
            locked.chart_version_name = rendered.chart_version_name
            locked.message = revision.description
            locked.save()
    if failure is not None:
        raise failure
    return locked


# -- the operations ------------------------------------------------------------------------------
def _check_name(name: str) -> None:
    try:
        release_name_validator(name)
        if len(name) > 53:
            raise ValidationError("At most 53 characters.")
        helm_python.validate_release_name(name)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from None
    except helm_python.HelmInvalidArgError as exc:
        raise ValidationError({"name": str(exc)}) from None


def _check_namespace(cluster, namespace: str) -> None:
    """The namespace exists in the cluster (a release never creates it)."""
    if not resources.DNS_LABEL.match(namespace or ""):
        raise ValidationError({"namespace": "A namespace name (lowercase letters, digits, '-')."})
    with client_for(cluster) as client:
        try:
            client.get(resources.KINDS["namespaces"].path(None, namespace))
        except k8s.ClusterNotFound:
            raise ValidationError(
                {"namespace": f"Namespace {namespace} does not exist in cluster {cluster.name}."}
            ) from None


def _project_of(cluster, namespace: str):
    from apps.projects.models import ProjectNamespace

    owned = (
        ProjectNamespace.objects.filter(cluster=cluster, namespace=namespace)
        .select_related("project")
        .first()
    )
    return owned.project if owned else None


def install(*, actor, cluster, namespace: str, name: str, chart_version, values=None) -> Release:
    """Install ``chart_version`` as release ``name`` in ``namespace`` of ``cluster``: revision
    1 (or the next number, over an uninstalled release or one whose install failed).
    Needs createRelease, the right to read the chart, and create/update on every object."""
    _check_name(name)
    path = release_path(cluster, namespace, name)
    _judge(actor, "createRelease", path, cluster.tenant)
    _authorize_chart(actor, cluster, chart_version)
    values = check_values(values)
    existing = Release.objects.filter(cluster=cluster, namespace=namespace, name=name).first()
    revision_hint = _next_revision(existing) if existing else 1
    rendered = render_chart(
        chart_version, name, namespace, values, revision=revision_hint, upgrade=False
    )
    _authorize_objects(actor, cluster, namespace, [*rendered.crds, *rendered.docs])
    _check_namespace(cluster, namespace)
    project = _project_of(cluster, namespace)
    release = _claim_install(actor, cluster, namespace, name, chart_version, rendered, project)
    revision = _next_revision(release)
    if revision != revision_hint:  # another install got in between: render for this number
        rendered = render_chart(
            chart_version, name, namespace, values, revision=revision, upgrade=False
        )
    plan = _Plan("Install", revision, rendered, values, chart_version, None, [])
    return _run(actor, release, plan)


def _claim_install(actor, cluster, namespace, name, chart_version, rendered, project) -> Release:
    reinstallable = (ReleaseStatus.UNINSTALLED, ReleaseStatus.FAILED)
    try:
        with transaction.atomic():
            release, created = Release.objects.select_for_update().get_or_create(
                cluster=cluster,
                namespace=namespace,
                name=name,
                defaults={
                    "tenant": cluster.tenant,
                    "project": project,
                    "chart_version": chart_version,
                    "chart_name": rendered.chart_name,
                    "chart_version_name": rendered.chart_version_name,
                    "status": ReleaseStatus.PENDING_INSTALL,
                    "created_by": actor if getattr(actor, "pk", None) else None,
                },
            )
    except IntegrityError:
        raise Conflict(f"Release {namespace}/{name} is being installed by someone else.") from None
    if created:
        return release
    if release.revision != 0:  # a revision is live: installing again would orphan objects
        raise Conflict(
            f"Release {namespace}/{name} already exists ({release.status}, revision "
            f"{release.revision} deployed); upgrade it, roll it back or uninstall it instead."
        )
    release = _claim(release, ReleaseStatus.PENDING_INSTALL, allow=reinstallable)
    if release.project_id != getattr(project, "pk", None):
        release.project = project
        release.save(update_fields=["project", "updated_at"])
    return release


def upgrade(*, actor, release, chart_version=None, values=None, reuse_values=False) -> Release:
    """Upgrade to ``chart_version`` (default: the live one) with ``values`` (None: the live
    revision's values, as Helm does when none are given; ``reuse_values``: the new values
    merged over them). Objects of the previous revision no longer rendered are deleted."""
    cluster = release.cluster
    _judge(actor, "updateRelease", release.authz_resource, cluster.tenant)
    if chart_version is None:
        chart_version = release.chart_version
        if chart_version is None:
            raise ValidationError(
                {"chart": "The release's chart version was deleted: name the version to use."}
            )
    _authorize_chart(actor, cluster, chart_version)
    live = _live_revision(release)
    if values is None:
        values = values_of(live)
    else:
        values = check_values(values)
        if reuse_values:
            values = _merged(values_of(live), values)
    revision = _next_revision(release)
    rendered = render_chart(
        chart_version, release.name, release.namespace, values, revision=revision, upgrade=True
    )
    pruned = _pruned(live, rendered.docs)
    _authorize_objects(actor, cluster, release.namespace, [*rendered.crds, *rendered.docs], pruned)
    allowed = (ReleaseStatus.DEPLOYED, ReleaseStatus.FAILED)
    release = _claim(release, ReleaseStatus.PENDING_UPGRADE, allow=allowed)
    if _next_revision(release) != revision:
        _release_claim(release)
        raise Conflict("The release changed meanwhile; try again.")
    plan = _Plan("Upgrade", revision, rendered, values, chart_version, live, pruned)
    return _run(actor, release, plan)


def rollback(*, actor, release, revision: int) -> Release:
    """Re-apply revision ``revision``'s manifest and values as a new revision; objects of the
    live revision it does not hold are deleted."""
    cluster = release.cluster
    _judge(actor, "rollbackRelease", release.authz_resource, cluster.tenant)
    target = release.revisions.filter(revision=revision).first()
    if target is None:
        raise ValidationError({"revision": f"Release {release.name} has no revision {revision}."})
    docs = manifest_documents(target.manifest)
    if not docs:
        raise ValidationError({"revision": f"Revision {revision} has no manifest to re-apply."})
    live = _live_revision(release)
    pruned = _pruned(live, docs)
    _authorize_objects(actor, cluster, release.namespace, docs, pruned)
    number = _next_revision(release)
    release = _claim(
        release,
        ReleaseStatus.PENDING_ROLLBACK,
        allow=(ReleaseStatus.DEPLOYED, ReleaseStatus.FAILED),
    )
    if _next_revision(release) != number:
        _release_claim(release)
        raise Conflict("The release changed meanwhile; try again.")
    rendered = Rendered(
        chart_name=target.chart_name,
        chart_version_name=target.chart_version_name,
        app_version=target.app_version,
        docs=docs,
    )
    chart_version = None
    if release.chart_version_id and release.chart_version.chart.name == target.chart_name:
        chart_version = release.chart_version.chart.versions.filter(
            version=target.chart_version_name
        ).first()
    plan = _Plan(
        "Rollback", number, rendered, values_of(target), chart_version, live, pruned, revision
    )
    return _run(actor, release, plan)


def _release_claim(release: Release) -> None:
    """Give a claim back unused (the state before it: deployed if a revision is live)."""
    with transaction.atomic():
        locked = Release.objects.select_for_update().get(pk=release.pk)
        locked.status = ReleaseStatus.DEPLOYED if locked.revision else ReleaseStatus.FAILED
        locked.save(update_fields=["status", "updated_at"])


def uninstall(*, actor, release) -> None:
    """Delete the release's objects; keep the Release row (status uninstalled) and its
    revisions as history (``helm uninstall --keep-history``). Needs deleteRelease and delete
    on every object. A cluster failure leaves the release failed with the message: retry."""
    cluster = release.cluster
    _judge(actor, "deleteRelease", release.authz_resource, cluster.tenant)
    live = _live_revision(release)
    docs = manifest_documents(live.manifest) if live else []
    _authorize_objects(actor, cluster, release.namespace, [], docs)
    release = _claim(
        release,
        ReleaseStatus.UNINSTALLING,
        allow=(ReleaseStatus.DEPLOYED, ReleaseStatus.FAILED),
    )
    problems: list[str] = []
    failure: k8s.ClusterError | None = None
    try:
        with client_for(cluster) as client:
            problems = _delete(client, docs)
    except k8s.ClusterError as exc:
        failure = exc
    with transaction.atomic():
        locked = Release.objects.select_for_update().get(pk=release.pk)
        if failure is not None or problems:
            said = str(failure.detail) if failure is not None else "; ".join(problems)
            locked.status = ReleaseStatus.FAILED
            locked.message = f"Uninstall failed: {said}"
            locked.save()
        else:
            locked.revisions.filter(status=RevisionStatus.DEPLOYED).update(
                status=RevisionStatus.SUPERSEDED
            )
            locked.status = ReleaseStatus.UNINSTALLED
            locked.revision = 0
            locked.message = "Uninstallation complete"
            locked.save()
    if failure is not None:
        raise failure
    if problems:
        raise k8s.ClusterError(f"Uninstall failed: {'; '.join(problems)}")


def preview(*, actor, cluster, namespace: str, name: str, chart_version, values=None) -> dict:
    """A dry run of installing (or, when the release is installed, upgrading to)
    ``chart_version`` with ``values``: judged as that operation would be, rendered, and each
    object dry-run applied on the cluster (server-side) for its diff against the live object.
    Nothing is changed or recorded. Returns ``{"operation", "revision", "objects", "results",
    "deleted"}`` (the objects as rendered; ``deleted``: what an upgrade would prune)."""
    _check_name(name)
    existing = Release.objects.filter(cluster=cluster, namespace=namespace, name=name).first()
    live = _live_revision(existing) if existing is not None else None
    upgrading = existing is not None and live is not None
    action = "updateRelease" if upgrading else "createRelease"
    _judge(actor, action, release_path(cluster, namespace, name), cluster.tenant)
    _authorize_chart(actor, cluster, chart_version)
    values = check_values(values)
    revision = _next_revision(existing) if existing is not None else 1
    rendered = render_chart(
        chart_version, name, namespace, values, revision=revision, upgrade=upgrading
    )
    pruned = _pruned(live, rendered.docs)
    objects = [*rendered.crds, *rendered.docs]
    _authorize_objects(actor, cluster, namespace, objects, pruned)
    _check_namespace(cluster, namespace)
    with client_for(cluster) as client:
        results = [
            resources.apply_document(client, dict(doc), namespace, True, FIELD_MANAGER)
            for doc in objects
        ]
    return {
        "operation": "upgrade" if upgrading else "install",
        "revision": revision,
        "objects": objects,
        "results": results,
        "deleted": [object_ident(d) for d in pruned],
    }
