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


def portal_for(user) -> dict:
    """Who ``user`` is to the consoles (TKEStack's ``portal``): whether they administer the
    tenant platform-wide, and the projects they are a member of with their roles in each.
    Answered from the compiled policy index (one query for the projects)."""
    from apps.authz.services import is_administrator

    from .models import Project

    projects = []
    if user.tenant_id is not None:
        index = index_for_tenant(user.tenant)
        roles: dict[str, set[str]] = {}
        for domain in index.domains_held(user.pk):
            for link, _via in index.links_for(user.pk, domain):
                if link.domain == domain:
                    roles.setdefault(domain, set()).add(link.policy)
        rows = (
            Project.objects.filter(tenant_id=user.tenant_id, name__in=list(roles))
            .select_related("parent")
            .order_by("name")
        )
        projects = [
            {
                "name": p.name,
                "display_name": p.display_name,
                "roles": sorted(roles[p.name]),
                "parent": p.parent.name if p.parent_id else None,
                "phase": p.phase,
            }
            for p in rows
        ]
    return {
        "username": user.username,
        "tenant": user.tenant.slug if user.tenant_id else None,
        "administrator": bool(user.is_superuser or is_administrator(user)),
        "projects": projects,
    }
