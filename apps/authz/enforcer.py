"""The one decision point of the portal: :func:`check` and :func:`restrict`.

Every door (API permission class, admin base, console views, websocket consumers, the
kubectl proxy, tasks) calls these two functions and nothing else, so the policy behind them
can change without touching app code.

The policy today is the foundation's placeholder:

- the platform administrator (superuser) may do anything, in any tenant;
- a tenant administrator (``is_staff`` user of the tenant) may do anything in their tenant;
- every other user of the tenant may read (``get*``, ``list*``, ``watch*``) in their tenant,
  and sees only their own rows of models listed in ``OWNED_BY``;
- anonymous users may do nothing.

It will be replaced by the Casbin-equivalent policy layer (policies, roles, bindings).
"""

from __future__ import annotations

from dataclasses import dataclass

READ_PREFIXES = ("get", "list", "watch")

# Models whose rows a non-administrator sees only when they are the row's owner.
OWNED_BY = {"audit.auditevent": "user", "accounts.apikey": "user"}


@dataclass(frozen=True)
class Decision:
    """The outcome of one check and the rule that decided it (for ``explain``)."""

    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def is_read_action(action: str) -> bool:
    return action.startswith(READ_PREFIXES)


def check(user, action: str, resource: str, tenant=None, project=None) -> Decision:
    """May ``user`` perform ``action`` on ``resource``?

    ``tenant`` is the tenant owning the resource; None means a platform-level resource
    (for example creating a tenant), which only the platform administrator may touch.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return Decision(False, "not authenticated")
    if user.is_superuser:
        return Decision(True, "platform administrator")
    if tenant is None or user.tenant_id != getattr(tenant, "pk", tenant):
        return Decision(False, f"{action} on {resource} is outside your tenant")
    if user.is_staff:
        return Decision(True, "tenant administrator")
    if is_read_action(action):
        return Decision(True, "tenant members may read")
    return Decision(False, f"only tenant administrators may {action} on {resource}")


def restrict(queryset, user, action: str):
    """Limit ``queryset`` (already scoped to the request's tenant) to rows ``user`` may
    ``action``, in SQL."""
    if user is None or not user.is_authenticated:
        return queryset.none()
    if user.is_superuser or user.is_staff:
        return queryset
    owner_field = OWNED_BY.get(queryset.model._meta.label_lower)
    if owner_field:
        return queryset.filter(**{owner_field: user})
    return queryset
