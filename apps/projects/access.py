"""Which namespaces of a cluster a user may act on: the one answer every door uses when a
request spans namespaces (the kubectl proxy's ``get pods -A`` and ``get ns``, the REST resource
API's lists across namespaces, the console).

A request across namespaces is judged in the platform domain. When the platform domain does
not allow it, the user still may act on the namespaces owned by projects in which they hold
policies: those namespaces, each judged in its own project's domain (a deny on one of them
drops it, not the others).
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.authz.enforcer import check, check_collection, index_for_tenant


@dataclass(frozen=True)
class Reach:
    """``everything``: the platform domain allows the request across all namespaces;
    otherwise ``namespaces`` (sorted) are the ones the user may act on, maybe none."""

    everything: bool
    namespaces: tuple[str, ...] = ()
    reason: str = ""

    def __bool__(self) -> bool:
        return self.everything or bool(self.namespaces)


def namespace_path(cluster_name: str, namespace: str, segment: str) -> str:
    """``cluster:<c>/namespace:<ns>`` + ``/<segment>`` (``pod:*``); the Namespace object itself
    when ``segment`` is empty."""
    base = f"cluster:{cluster_name}/namespace:{namespace}"
    return f"{base}/{segment}" if segment else base


def reach(user, cluster, action: str, segment: str) -> Reach:
    """May ``user`` do ``action`` (a list or watch) on ``segment`` across the namespaces of
    ``cluster``, and if not everywhere, where? One decision per owned namespace, all answered
    from the compiled index (no query once the index is built)."""
    everywhere = namespace_path(cluster.name, "*", segment)
    decision = check_collection(user, action, everywhere, tenant=cluster.tenant)
    if decision:
        return Reach(True, reason=decision.reason)
    if decision.matched or user.tenant_id is None or user.tenant_id != cluster.tenant_id:
        return Reach(False, reason=decision.reason)  # explicitly denied, or not their tenant
    index = index_for_tenant(user.tenant)
    domains = index.domains_held(user.pk)
    if not domains:
        return Reach(False, reason=decision.reason)
    allowed = tuple(
        namespace
        for namespace in index.ownership.namespaces_of(cluster.name, domains)
        if _judge(user, action, namespace_path(cluster.name, namespace, segment), cluster.tenant)
    )
    return Reach(False, allowed, reason=decision.reason)


def _judge(user, action: str, resource: str, tenant) -> bool:
    judge = check_collection if "*" in resource else check
    return bool(judge(user, action, resource, tenant=tenant))
