"""The one decision point of the portal: :func:`check`, :func:`restrict`, :func:`explain`.

Every door (API permission class, admin base, console views, websocket consumers, the
kubectl proxy, tasks) calls these and nothing else.

Order of a decision:
1. not signed in or inactive → deny;
2. resource outside the user's tenant (``tenant`` of the resource differs) → deny, and a
   platform-level resource (``tenant=None``) is for the platform administrator only;
3. platform administrator (superuser) → allow;
4. the tenant's compiled policies (``engine.TenantIndex``): an explicit deny ends it;
5. self-service: a user's own API keys, own audit trail, own profile (``SELF_ACTIONS``);
6. django-guardian object grants made in the admin, for a concrete object.

Each process keeps one compiled index per tenant, rebuilt when the tenant's
``authz_version`` (read with the user's tenant row, i.e. fresh on every request) changes.
"""

from __future__ import annotations

import secrets
import threading

from django.db import transaction
from django.db.models import Q

from .catalog import EXPLICIT_ACTIONS
from .engine import (
    DENY,
    READ_PREFIXES,
    BindingSpec,
    Decision,
    Matcher,
    Ownership,
    Statement,
    TenantIndex,
)

# Rows a user may always act on because they are the user's own, by action.
SELF_ACTIONS = frozenset(
    {
        "listAPIKeys",
        "getAPIKey",
        "createAPIKey",
        "updateAPIKey",
        "deleteAPIKey",
        "disableAPIKey",
        "enableAPIKey",
        "listAuditEvents",
        "getAuditEvent",
        "replayTerminalSession",  # one's own terminal sessions
        "getUser",
        "listUsers",
        "listUserPermissions",
        # notifications addressed to a receiver linked to the user (the console's inbox):
        # read them and mark them read or unread
        "listMessages",
        "getMessage",
        "updateMessage",
    }
)
# model label → field naming the owner ("pk": the row is the user itself)
OWNED_BY = {
    "accounts.apikey": "user",
    "audit.auditevent": "user",
    "accounts.user": "pk",
    "notify.message": "receiver__user",
}

_GUARDIAN_VERBS = (
    ("get", "view"),
    ("list", "view"),
    ("watch", "view"),
    ("update", "change"),
    ("delete", "delete"),
)

_EXPLICIT = frozenset(a.lower() for a in EXPLICIT_ACTIONS)

_lock = threading.Lock()
_indexes: dict[int, TenantIndex] = {}


# -- index lifecycle -----------------------------------------------------------------------
def build_index(tenant_id: int, version) -> TenantIndex:
    """Compile one tenant's rules and its projects' ownership of namespaces (8 queries)."""
    from apps.accounts.models import Group
    from apps.projects.models import Project, ProjectCluster, ProjectNamespace

    from .models import Binding, Policy, Role

    policies = {
        p.name: [Statement.from_dict(s) for s in p.statements]
        for p in Policy.objects.filter(tenant_id=tenant_id).only("name", "statements")
    }
    roles = {
        r.name: [p.name for p in r.policies.all()]
        for r in Role.objects.filter(tenant_id=tenant_id).prefetch_related("policies")
    }
    bindings = []
    for b in Binding.objects.filter(tenant_id=tenant_id).select_related("policy", "role"):
        subject = ("user", b.user_id) if b.user_id else ("group", b.group_id)
        target = ("policy", b.policy.name) if b.policy_id else ("role", b.role.name)
        bindings.append(BindingSpec(subject, target, b.domain, ref=b.pk))
    members: dict[int, list[int]] = {}
    through = Group.members.through.objects.filter(group__tenant_id=tenant_id)
    for group_id, user_id in through.values_list("group_id", "user_id"):
        members.setdefault(group_id, []).append(user_id)
    owned = ProjectNamespace.objects.filter(tenant_id=tenant_id).values_list(
        "cluster__name", "namespace", "project__name"
    )
    spans: dict[str, list[str]] = {}
    for cluster, project in ProjectCluster.objects.filter(project__tenant_id=tenant_id).values_list(
        "cluster__name", "project__name"
    ):
        spans.setdefault(cluster, []).append(project)
    projects = Project.objects.filter(tenant_id=tenant_id).values_list("name", flat=True)
    ownership = Ownership({(c, n): p for c, n, p in owned}, spans, projects)
    return TenantIndex(policies, roles, bindings, members, version=version, ownership=ownership)


def index_for_tenant(tenant) -> TenantIndex:
    version = _live_version(tenant)
    index = _indexes.get(tenant.pk)
    if index is not None and index.version == version:
        return index
    index = build_index(tenant.pk, version)
    with _lock:
        _indexes[tenant.pk] = index
    return index


def bump_version(tenant_id: int) -> None:
    """Invalidate every process's compiled rules for a tenant.

    The version is a random number rather than a counter so that a value written inside a
    transaction that later rolls back is never reused for different rules.

    Inside a transaction, rules compiled after the write (a guard checking what the actor
    holds, a later step of the same service) describe uncommitted rows: they are cached under
    the new version, which only this transaction has seen, never under the version the
    callers' tenant rows still carry — else a rollback (of the transaction or of a savepoint)
    would leave rules for rows that do not exist cached as current.
    """
    from apps.tenants.models import Tenant

    version = secrets.randbits(62)
    with _lock:
        _indexes.pop(tenant_id, None)
    Tenant.objects.filter(pk=tenant_id).update(authz_version=version)

    def committed():
        _uncommitted().pop(tenant_id, None)
        _indexes.pop(tenant_id, None)

    if transaction.get_connection().in_atomic_block:
        _uncommitted()[tenant_id] = (version, committed)
    transaction.on_commit(committed)


_local = threading.local()


def _uncommitted() -> dict:
    """tenant id → (version, on-commit marker) of this thread's transaction's last bump."""
    pending = getattr(_local, "pending", None)
    if pending is None:
        pending = _local.pending = {}
    return pending


def _live_version(tenant):
    """The tenant's rules version as this thread's transaction sees it: its own bump while
    that bump is still part of the transaction (Django drops the on-commit callbacks of a
    savepoint that rolls back: the marker tells), else the version the tenant row carries."""
    entry = _uncommitted().get(tenant.pk)
    if entry is None:
        return tenant.authz_version
    version, marker = entry
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(f is marker for _s, f, _r in connection.run_on_commit):
        return version
    _uncommitted().pop(tenant.pk, None)
    return tenant.authz_version


def forget_all() -> None:
    with _lock:
        _indexes.clear()


# -- decisions -----------------------------------------------------------------------------
def _same_tenant(user, tenant) -> bool:
    return tenant is not None and user.tenant_id == getattr(tenant, "pk", tenant)


def check(
    user,
    action: str,
    resource: str,
    tenant=None,
    project: str | None = None,
    owner=None,
    obj=None,
) -> Decision:
    """May ``user`` do ``action`` on ``resource`` (owned by ``tenant``, in ``project``)?

    ``owner`` (a user) enables self-service rules; ``obj`` enables django-guardian grants.
    """
    return _decide(user, action, resource, tenant, project, owner, obj, explain=False)


def check_collection(
    user, action: str, resource: str, tenant=None, project: str | None = None
) -> Decision:
    """Like :func:`check`, for a request on a set of objects that cannot be filtered row by row
    (a Kubernetes list, watch or delete-all: ``resource`` holds ``*``). Allowed only if no deny
    covers any member of the set — a deny on one namespace or one object refuses the whole
    collection rather than being skipped by it; the reason names the deny so the caller can
    ask for a narrower set."""
    decision = check(user, action, resource, tenant=tenant, project=project)
    if not decision or "*" not in resource or user.is_superuser:
        return decision
    deny = index_for_tenant(user.tenant).overlapping_deny(user.pk, action, resource, project)
    if deny is None:
        return decision
    return Decision(
        False,
        f"policy {deny['policy']} denies {action} on {deny['resource_pattern']}, which is "
        "part of this collection; ask for the objects outside it (a namespace, a name)",
        [{**deny, "effect": "deny"}],
    )


def explain(user, action, resource, tenant=None, project=None, owner=None, obj=None) -> Decision:
    """Like :func:`check`, listing every rule that matched and through which binding."""
    return _decide(user, action, resource, tenant, project, owner, obj, explain=True)


def _decide(user, action, resource, tenant, project, owner, obj, explain) -> Decision:
    if user is None or not user.is_authenticated or not user.is_active:
        return Decision(False, "not authenticated")
    if user.is_superuser:
        return Decision(True, "platform administrator")
    if tenant is None:
        return Decision(False, "only the platform administrator may do this")
    if not _same_tenant(user, tenant):
        return Decision(False, f"{resource} is outside your tenant")
    index = index_for_tenant(user.tenant)
    if action.lower() in _EXPLICIT:
        return _named_only(index.decide(user.pk, action, resource, project, explain=True), action)
    decision = index.decide(user.pk, action, resource, project, explain)
    if decision.allowed or decision.matched:  # allowed, or explicitly denied
        return decision
    if owner is not None and getattr(owner, "pk", owner) == user.pk and action in SELF_ACTIONS:
        return Decision(True, "your own object (self-service)")
    if obj is not None and _guardian_allows(user, action, obj):
        return Decision(True, "object permission granted in the admin")
    return decision


def _named_only(decision: Decision, action: str) -> Decision:
    """An action of ``catalog.EXPLICIT_ACTIONS``: allowed only by an allow statement naming
    it (``decision`` is an explain: every matching rule). Object grants never give it."""
    if not decision.allowed:
        return decision
    lowered = action.lower()
    named = [m for m in decision.matched if m["action_pattern"].lower() == lowered]
    if named:
        return Decision(True, f"allowed by policy {named[0]['policy']}", named)
    return Decision(
        False,
        f"{action} is granted only by a policy that names it; "
        f"'{decision.matched[0]['action_pattern']}' (policy {decision.matched[0]['policy']}) "
        "does not reach it",
    )


def check_here_or_in_project(user, action: str, resource: str, owner) -> bool:
    """``check`` in the tenant's domain of ``owner`` (a row with ``tenant`` and an optional
    ``project``), then, when it serves a project, in that project's domain, where the
    project's roles are bound (registry namespaces, chart groups)."""
    if check(user, action, resource, tenant=owner.tenant):
        return True
    project = owner.project.name if owner.project_id else None
    return bool(project) and bool(
        check(user, action, resource, tenant=owner.tenant, project=project)
    )


def can_any(user, action: str, project: str | None = None, model=None) -> bool:
    """Is ``action`` allowed for the user on at least some resource (list endpoints: the rows
    are then filtered by :func:`restrict`)? For a ``model`` whose rows belong to projects,
    an allow in any project domain the user holds counts too."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser or action in SELF_ACTIONS:
        return True
    if user.tenant_id is None:
        return False
    allows, _ = _resource_matchers(user, action, project)
    if action.lower() in _EXPLICIT:
        return _names(user, action, project)
    if allows or _has_guardian_grants(user, action):
        return True
    return any(
        _resource_matchers(user, action, domain)[0]
        for domain in _project_domains(user, action, project, model)
    )


def _names(user, action: str, project) -> bool:
    """Does the user hold an allow statement naming ``action`` (not through a wildcard)?"""
    lowered = action.lower()
    return any(
        not compiled.is_deny and any(m.pattern.lower() == lowered for m in compiled.actions)
        for compiled, _link, _via in index_for_tenant(user.tenant).statements_for(user.pk, project)
    )


def _resource_matchers(user, action, project):
    index = index_for_tenant(user.tenant)
    lowered = action.lower()
    allows: list[Matcher] = []
    denies: list[Matcher] = []
    for compiled, _link, _via in index.statements_for(user.pk, project):
        if any(m.matches(lowered) for m in compiled.actions):
            (denies if compiled.is_deny else allows).extend(compiled.resources)
    return allows, denies


# -- lists -----------------------------------------------------------------------------------
def restrict(queryset, user, action: str, project: str | None = None):
    """``queryset`` limited, in SQL, to rows whose resource path ``user`` may ``action``.

    The model's ``authz_path_expression()`` gives each row's resource path as a database
    expression, and every allow/deny pattern becomes a case-insensitive regex filter on it.
    Rows that belong to projects (the model names the ORM path to the project's name in
    ``authz_project_field``) are also judged in each project domain the user holds policies
    in; ``authz_project_reads_only`` models (a cluster, a project: containers) only for reads,
    as :class:`~apps.authz.engine.Ownership` decides for single checks. A row of an
    ``authz_project_exclusive`` model (owned by exactly one project, whose path ``check``
    judges in that project's domain alone) is judged in that domain only; a cluster, which
    many projects span, is also readable through the platform domain.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.is_superuser:
        return queryset
    if user.tenant_id is None:
        return queryset.none()
    model = queryset.model
    path_of = getattr(model, "authz_path_expression", None)
    if path_of is not None:
        queryset = queryset.annotate(_authz_path=path_of())
    allowed = _allowed_rows(user, action, project, model, path_of is not None, platform=True)
    domains = _project_domains(user, action, project, model)
    exclusive = bool(domains) and getattr(model, "authz_project_exclusive", False)
    if exclusive:
        # A row owned by one project is judged in that project's domain only (as check()
        # judges its path; object grants too, after the denies): a deny bound there must hide
        # it from lists too. Rows of projects the user holds nothing in are judged alike in
        # their domain and the platform's.
        allowed &= ~Q(**{f"{model.authz_project_field}__in": domains})
    for domain in domains:
        rows = _allowed_rows(user, action, domain, model, path_of is not None, platform=exclusive)
        owned = model._default_manager.filter(**{model.authz_project_field: domain})
        allowed |= Q(pk__in=owned.values("pk")) & rows
    return queryset.filter(allowed)


def _project_domains(user, action: str, project: str | None, model) -> list[str]:
    if project is not None or getattr(model, "authz_project_field", None) is None:
        return []
    if getattr(model, "authz_project_reads_only", False) and not action.lower().startswith(
        READ_PREFIXES
    ):
        return []
    return sorted(index_for_tenant(user.tenant).domains_held(user.pk))


def _allowed_rows(user, action: str, project, model, has_path: bool, platform: bool) -> Q:
    """The rows allowed in one domain, as a Q on ``_authz_path`` (deny beats allow)."""
    allows, denies = _resource_matchers(user, action, project)
    if any(m.kind == "any" for m in denies):
        return Q(pk__in=[])
    if any(m.kind == "any" for m in allows):
        # (An empty Q() OR-ed with anything is that thing, not "everything": handle "*" apart.)
        allowed = ~Q(pk__in=[])
    else:
        allowed = Q(pk__in=[])
        if has_path:
            for matcher in allows:
                allowed |= Q(_authz_path__iregex=_sql_regex(matcher))
        if platform:
            owner_field = OWNED_BY.get(model._meta.label_lower)
            if owner_field and action in SELF_ACTIONS:
                allowed |= Q(**{owner_field: user.pk})
            grants = _guardian_queryset(user, action, model)
            if grants is not None:
                allowed |= Q(pk__in=grants)
    if denies and has_path:
        for matcher in denies:
            allowed &= ~Q(_authz_path__iregex=_sql_regex(matcher))
    return allowed


def _sql_regex(matcher: Matcher) -> str:
    from .engine import pattern_regex

    return pattern_regex(matcher.pattern)


# -- django-guardian -------------------------------------------------------------------------
def _guardian_codename(action: str, model) -> str | None:
    for prefix, verb in _GUARDIAN_VERBS:
        if action.startswith(prefix):
            return f"{model._meta.app_label}.{verb}_{model._meta.model_name}"
    return None


def _guardian_allows(user, action: str, obj) -> bool:
    codename = _guardian_codename(action, type(obj))
    if codename is None:
        return False
    from guardian.core import ObjectPermissionChecker

    return ObjectPermissionChecker(user).has_perm(codename.split(".", 1)[1], obj)


def _guardian_queryset(user, action: str, model):
    codename = _guardian_codename(action, model)
    if codename is None:
        return None
    from guardian.shortcuts import get_objects_for_user

    return get_objects_for_user(
        user, codename, klass=model, with_superuser=False, accept_global_perms=False
    ).values("pk")


def _has_guardian_grants(user, action: str) -> bool:
    from guardian.models import UserObjectPermission

    verb = next((v for prefix, v in _GUARDIAN_VERBS if action.startswith(prefix)), None)
    if verb is None:
        return False
    return UserObjectPermission.objects.filter(
        user=user, permission__codename__startswith=f"{verb}_"
    ).exists()


def effective_statements(user, project: str | None = None) -> list[dict]:
    """Every statement the user holds (in ``project`` or platform-wide), with its source."""
    if user.tenant_id is None:
        return []
    index = index_for_tenant(user.tenant)
    return [
        {
            **compiled.statement.as_dict(),
            "policy": compiled.policy,
            "domain": link.domain,
            "via": via,
        }
        for compiled, link, via in index.statements_for(user.pk, project)
    ]


def holds(user, statements, project: str | None = None) -> bool:
    """Does ``user`` hold every statement (privilege-escalation guard)?"""
    if user is None:
        return True  # management commands act as the operator
    if user.is_superuser:
        return True
    if user.tenant_id is None:
        return False
    index = index_for_tenant(user.tenant)
    for raw in statements:
        statement = raw if isinstance(raw, Statement) else Statement.from_dict(raw)
        if not index.holds(user.pk, statement, project):
            return False
        if statement.effect == DENY:
            continue
        # An action no wildcard reaches is held only by name, on every resource granted.
        for action in statement.actions:
            if action.lower() not in _EXPLICIT:
                continue
            for resource in statement.resources:
                if not check(user, action, resource, tenant=user.tenant, project=project):
                    return False
    return True
