"""Quota admission: what a project has given out on a cluster and what is left.

A project's quota on a cluster (:class:`ProjectCluster.hard`) is shared by its namespaces there
(each namespace's ``hard``) and its sub-projects' quotas there. Nothing may be given out past
it. Callers change allocations inside ``transaction.atomic()`` and call :func:`lock` first: the
project's row for the cluster is locked ``FOR UPDATE``, so two concurrent requests cannot both
take the last of something.
"""

from __future__ import annotations

from django.db import transaction

from . import quota
from .models import Project, ProjectCluster, ProjectNamespace


def lock(project: Project, cluster) -> ProjectCluster | None:
    """The project's quota row for ``cluster``, locked until the transaction ends; None when
    the project does not span the cluster."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("allocation.lock() must run inside transaction.atomic()")
    return (
        ProjectCluster.objects.select_for_update().filter(project=project, cluster=cluster).first()
    )


def allocated(
    project: Project,
    cluster,
    *,
    except_namespace: int | None = None,
    except_child: int | None = None,
) -> quota.Amounts:
    """What ``project`` has given out on ``cluster``: its namespaces' quotas plus its direct
    sub-projects' quotas (leaving out one namespace or child, whose new size is being judged)."""
    namespaces = ProjectNamespace.objects.filter(project=project, cluster=cluster)
    if except_namespace is not None:
        namespaces = namespaces.exclude(pk=except_namespace)
    children = ProjectCluster.objects.filter(project__parent=project, cluster=cluster)
    if except_child is not None:
        children = children.exclude(project_id=except_child)
    return quota.total(
        [*namespaces.values_list("hard", flat=True), *children.values_list("hard", flat=True)]
    )


def left(project: Project, cluster, **leaving_out) -> quota.Amounts | None:
    """What ``project`` still has on ``cluster`` (per resource it limits); None when it does not
    span the cluster."""
    row = ProjectCluster.objects.filter(project=project, cluster=cluster).first()
    if row is None:
        return None
    return quota.remaining(row.hard, allocated(project, cluster, **leaving_out))


def require_fits(
    project: Project, cluster, requested: dict, *, field: str = "hard", **leaving_out
) -> None:
    """Raise :class:`quota.QuotaError` on ``field`` when ``requested`` does not fit in what
    ``project`` has left on ``cluster``, saying how much is left of each resource."""
    remaining = left(project, cluster, **leaving_out)
    if remaining is None:
        raise quota.QuotaError(
            {"cluster": [f"project {project.name} has no quota on cluster {cluster.name}"]}
        )
    errors: dict[str, list[str]] = {}
    short = quota.shortfall(requested, remaining)
    if short:
        errors[field] = [
            f"does not fit in what project {project.name} has left on cluster {cluster.name}: "
            + quota.describe_shortfall(short)
        ]
    unlimited = quota.unlimited_in(requested, remaining)
    if unlimited:
        errors.setdefault(field, []).append(
            f"project {project.name} limits {', '.join(unlimited)} on cluster {cluster.name}: "
            "set a quota for each (left: "
            + ", ".join(f"{n} {quota.fmt(n, max(remaining[n], 0))}" for n in unlimited)
            + ")"
        )
    if errors:
        raise quota.QuotaError(errors)
