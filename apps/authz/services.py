"""Every write to policies, roles, bindings and group membership.

Two guards run on every write, inside the write's transaction:
- no privilege escalation: whoever grants something (a binding, a policy edit or role edit
  that changes what bound subjects hold, adding a member to a group) must hold it;
- no lock-out: after the change, the tenant still has an active administrator.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from . import enforcer
from .catalog import validate_action, validate_resource
from .choices import Effect, PolicyScope
from .models import ALL_DOMAINS, Binding, Policy, Role
from .predefined import ADMINISTRATOR, PREDEFINED


# -- validation ------------------------------------------------------------------------------
def validate_statements(statements) -> list[dict]:
    """Normalised statements, or ValidationError naming ``statements[i].field``."""
    if not isinstance(statements, list) or not statements:
        raise ValidationError({"statements": ["Give at least one statement."]})
    errors: dict[str, list[str]] = {}
    cleaned = []
    for i, stmt in enumerate(statements):
        where = f"statements[{i}]"
        if not isinstance(stmt, dict):
            errors[where] = ["Each statement is an object {actions, resources, effect}."]
            continue
        unknown = set(stmt) - {"actions", "resources", "effect"}
        if unknown:
            errors[where] = [f"Unknown key(s): {', '.join(sorted(unknown))}."]
        effect = stmt.get("effect", Effect.ALLOW)
        if effect not in Effect.values:
            errors[f"{where}.effect"] = [f"'{effect}' is not one of allow, deny."]
        for key, validate in (("actions", validate_action), ("resources", validate_resource)):
            values = stmt.get(key)
            if (
                not isinstance(values, list)
                or not values
                or not all(isinstance(v, str) for v in values)
            ):
                errors[f"{where}.{key}"] = [f"Give a non-empty list of {key}."]
                continue
            problems = [msg for msg in map(validate, values) if msg]
            if problems:
                errors[f"{where}.{key}"] = problems
        if not errors:
            cleaned.append(
                {
                    "actions": list(stmt["actions"]),
                    "resources": list(stmt["resources"]),
                    "effect": effect,
                }
            )
    if errors:
        raise ValidationError(errors)
    return cleaned


def _project_of(domain: str) -> str | None:
    return None if domain == ALL_DOMAINS else domain


def _require_holds(actor, statements, domains, what: str) -> None:
    for domain in domains:
        if not enforcer.holds(actor, statements, _project_of(domain)):
            where = "platform-wide" if domain == ALL_DOMAINS else f"in project {domain}"
            raise PermissionDenied(
                f"You cannot grant {what} {where}: you do not hold all of its permissions."
            )


def _statements_of_target(policy=None, role=None) -> list[dict]:
    if policy is not None:
        return list(policy.statements)
    return [s for p in role.policies.all() for s in p.statements]


def tenant_administrators(tenant) -> list:
    """Active users holding the administrator policy platform-wide, from the database as it
    is now (inside the caller's transaction)."""
    from apps.accounts.models import User

    index = enforcer.build_index(tenant.pk, version=None)
    return [
        user
        for user in User.objects.filter(tenant=tenant, is_active=True)
        if any(link.policy == ADMINISTRATOR for link, _via in index.links_for(user.pk, None))
    ]


def assert_administrator_remains(tenant) -> None:
    if not tenant_administrators(tenant):
        raise ValidationError(
            "This would leave the tenant without an active administrator; "
            "make someone else administrator first."
        )


# -- predefined ------------------------------------------------------------------------------
@transaction.atomic
def ensure_predefined_policies(tenant) -> None:
    """Create (or bring up to date) the tenant's predefined policies. Idempotent."""
    for spec in PREDEFINED:
        Policy.objects.update_or_create(
            tenant=tenant,
            name=spec["name"],
            defaults={
                "display_name": spec["display_name"],
                "description": spec["description"],
                "category": spec["category"],
                "scope": spec.get("scope", PolicyScope.PLATFORM),
                "statements": spec["statements"],
                "predefined": True,
            },
        )


def predefined(tenant, name: str) -> Policy:
    return Policy.objects.get(tenant=tenant, name=name, predefined=True)


# -- policies ------------------------------------------------------------------------------
@transaction.atomic
def create_policy(
    *,
    actor,
    tenant,
    name,
    statements,
    display_name="",
    description="",
    scope=PolicyScope.PLATFORM,
    category="",
) -> Policy:
    if Policy.objects.filter(tenant=tenant, name=name).exists():
        raise ValidationError({"name": f"A policy named '{name}' already exists."})
    policy = Policy(
        tenant=tenant,
        name=name,
        display_name=display_name,
        description=description,
        scope=scope,
        category=category,
        statements=validate_statements(statements),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    policy.full_clean(validate_unique=False)
    policy.save()
    return policy


def _refuse_predefined(obj) -> None:
    if getattr(obj, "predefined", False):
        raise ValidationError(f"'{obj.name}' is predefined and cannot be changed or deleted.")


def _domains_bound(*, policy=None, role=None) -> set[str]:
    domains = set()
    if policy is not None:
        domains |= set(policy.bindings.values_list("domain", flat=True))
        domains |= set(
            Binding.objects.filter(role__policies=policy).values_list("domain", flat=True)
        )
    if role is not None:
        domains |= set(role.bindings.values_list("domain", flat=True))
    return domains


@transaction.atomic
def update_policy(*, actor, policy: Policy, **changes) -> Policy:
    _refuse_predefined(policy)
    allowed = {"display_name", "description", "statements", "category", "scope"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in unknown})
    if "statements" in changes:
        changes["statements"] = validate_statements(changes["statements"])
        _require_holds(
            actor, changes["statements"], _domains_bound(policy=policy), f"policy '{policy.name}'"
        )
    for name, value in changes.items():
        setattr(policy, name, value)
    policy.full_clean(validate_unique=False)
    policy.save()
    assert_administrator_remains(policy.tenant)
    return policy


@transaction.atomic
def delete_policy(*, actor, policy: Policy) -> None:
    _refuse_predefined(policy)
    tenant = policy.tenant
    policy.delete()
    assert_administrator_remains(tenant)


# -- roles -----------------------------------------------------------------------------------
def _check_same_tenant(tenant, objects, field: str) -> None:
    if any(obj.tenant_id != tenant.pk for obj in objects):
        raise ValidationError({field: "Unknown object."})


@transaction.atomic
def create_role(*, actor, tenant, name, policies=(), display_name="", description="") -> Role:
    if Role.objects.filter(tenant=tenant, name=name).exists():
        raise ValidationError({"name": f"A role named '{name}' already exists."})
    _check_same_tenant(tenant, policies, "policies")
    role = Role(
        tenant=tenant,
        name=name,
        display_name=display_name,
        description=description,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    role.full_clean(validate_unique=False)
    role.save()
    role.policies.set(policies)
    return role


@transaction.atomic
def update_role(*, actor, role: Role, policies=None, **changes) -> Role:
    for name in set(changes) - {"display_name", "description"}:
        raise ValidationError({name: "This field cannot be changed."})
    if policies is not None:
        _check_same_tenant(role.tenant, policies, "policies")
        added = [p for p in policies if p.pk not in set(role.policies.values_list("pk", flat=True))]
        statements = [s for p in added for s in p.statements]
        if statements:
            _require_holds(actor, statements, _domains_bound(role=role), f"role '{role.name}'")
        role.policies.set(policies)
    for name, value in changes.items():
        setattr(role, name, value)
    role.save()
    assert_administrator_remains(role.tenant)
    return role


@transaction.atomic
def delete_role(*, actor, role: Role) -> None:
    tenant = role.tenant
    role.delete()
    assert_administrator_remains(tenant)


# -- bindings ----------------------------------------------------------------------------------
@transaction.atomic
def create_binding(
    *, actor, tenant, user=None, group=None, policy=None, role=None, domain: str = ALL_DOMAINS
) -> Binding:
    if (user is None) == (group is None):
        raise ValidationError({"subject": "Bind exactly one of user or group."})
    if (policy is None) == (role is None):
        raise ValidationError({"target": "Bind exactly one of policy or role."})
    for field, obj in (("user", user), ("group", group), ("policy", policy), ("role", role)):
        if obj is not None and obj.tenant_id != tenant.pk:
            raise ValidationError({field: "Unknown object."})
    binding = Binding(
        tenant=tenant,
        user=user,
        group=group,
        policy=policy,
        role=role,
        domain=domain,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    binding.full_clean(validate_unique=False, validate_constraints=False)
    if Binding.objects.filter(
        tenant=tenant, user=user, group=group, policy=policy, role=role, domain=domain
    ).exists():
        raise ValidationError({"domain": "This binding already exists."})
    target = f"policy '{policy.name}'" if policy else f"role '{role.name}'"
    _require_holds(actor, _statements_of_target(policy, role), [domain], target)
    binding.save()
    return binding


@transaction.atomic
def delete_binding(*, actor, binding: Binding) -> None:
    tenant = binding.tenant
    binding.delete()
    assert_administrator_remains(tenant)


def make_administrator(*, actor, user, admin: bool) -> None:
    """Grant or revoke the administrator policy platform-wide (``is_tenant_admin``)."""
    policy = predefined(user.tenant, ADMINISTRATOR)
    existing = Binding.objects.filter(
        tenant=user.tenant, user=user, policy=policy, domain=ALL_DOMAINS
    )
    if admin and not existing.exists():
        create_binding(actor=actor, tenant=user.tenant, user=user, policy=policy)
    elif not admin and existing.exists():
        with transaction.atomic():
            existing.delete()
            assert_administrator_remains(user.tenant)


def is_administrator(user) -> bool:
    if user.tenant_id is None:
        return bool(user.is_superuser)
    index = enforcer.index_for_tenant(user.tenant)
    return any(link.policy == ADMINISTRATOR for link, _ in index.links_for(user.pk, None))


# -- group membership ---------------------------------------------------------------------------
@transaction.atomic
def add_group_members(*, actor, group, users) -> None:
    for user in users:
        if user.tenant_id != group.tenant_id:
            raise ValidationError({"members": "Unknown user."})
    for binding in group.bindings.select_related("policy", "role"):
        _require_holds(
            actor,
            _statements_of_target(binding.policy, binding.role),
            [binding.domain],
            f"group '{group.name}' (it is bound to {binding.target_label})",
        )
    group.members.add(*users)


@transaction.atomic
def remove_group_members(*, actor, group, users) -> None:
    group.members.remove(*users)
    assert_administrator_remains(group.tenant)


@transaction.atomic
def set_group_members(*, actor, group, users) -> None:
    current = set(group.members.values_list("pk", flat=True))
    wanted = {u.pk for u in users}
    added = [u for u in users if u.pk not in current]
    if added:
        add_group_members(actor=actor, group=group, users=added)
    removed = current - wanted
    if removed:
        group.members.remove(*removed)
        assert_administrator_remains(group.tenant)
