"""Every write to policies, roles, bindings and group membership, and the guards that keep
"no one acts above themselves" (DESIGN.md, security baseline) true for users too.

Guards run on every write, inside the write's transaction:
- no privilege escalation: whoever grants something (a binding, a policy edit or role edit
  that changes what bound subjects hold, adding a member to a group) must hold it;
- no deny lifted from below: whoever removes or weakens an explicit deny (deleting a binding,
  a group, a role or a policy, editing statements, taking a policy out of a role, removing a
  group member) must hold the denied permissions themselves (:func:`guard_change`);
- no acting on someone above oneself: editing, disabling, resetting the password of,
  deleting a user or their keys needs at least what that user holds (:func:`assert_may_act_on`);
- no lock-out: after the change, the tenant still has an active administrator.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import enforcer
from .catalog import validate_action, validate_resource
from .choices import Effect, PolicyScope
from .engine import ALLOW, Statement, TenantIndex, may_overlap
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


# -- no one acts above themselves ------------------------------------------------------------
def _where(domain: str) -> str:
    return "platform-wide" if domain == ALL_DOMAINS else f"in project {domain}"


def _is_administrator_in(index: TenantIndex, user_id) -> bool:
    return any(link.policy == ADMINISTRATOR for link, _via in index.links_for(user_id, None))


def _domains_of(index: TenantIndex, user_id) -> set[str]:
    """Every domain the user holds something in (always the platform domain)."""
    subjects = [("user", user_id)] + [("group", g) for g in index.groups_of.get(user_id, ())]
    domains = {ALL_DOMAINS}
    for subject in subjects:
        domains |= {link.domain for link in index.links_of.get(subject, ())}
    return domains


def _deny_lifted_by(deny, target_denies) -> bool:
    """Is all of ``deny`` (one of the actor's) also denied to the target by a single deny of
    theirs? Then the part of a target's allow that ``deny`` takes from the actor is not the
    target's either (sound; may say no when a union of the target's denies would do)."""
    return any(
        all(any(m.covers(a) for m in theirs.actions) for a in deny.statement.actions)
        and all(any(m.covers(r) for m in theirs.resources) for r in deny.statement.resources)
        for theirs in target_denies
    )


def _first_uncovered(index: TenantIndex, actor_id, target_id, project):
    """The first (action, resource) pattern the target is allowed and the actor is not, or
    None when the actor holds everything the target holds in ``project``."""
    held = [c for c, _link, _via in index.statements_for(actor_id, project)]
    theirs = [c for c, _link, _via in index.statements_for(target_id, project)]
    target_denies = [c for c in theirs if c.is_deny]
    actor_allows = [c for c in held if not c.is_deny]
    # An actor's deny that the target is under as well costs the actor nothing over them.
    actor_denies = [c for c in held if c.is_deny and not _deny_lifted_by(c, target_denies)]
    for compiled in theirs:
        if compiled.is_deny:
            continue
        for action in compiled.statement.actions:
            for resource in compiled.statement.resources:
                covered = any(
                    any(m.covers(action) for m in c.actions)
                    and any(m.covers(resource) for m in c.resources)
                    for c in actor_allows
                )
                denied = any(
                    any(may_overlap(action, m.pattern) for m in c.actions)
                    and any(may_overlap(resource, m.pattern) for m in c.resources)
                    for c in actor_denies
                )
                if not covered or denied:
                    return action, resource
    return None


def _object_grants(user) -> set[tuple]:
    from guardian.models import UserObjectPermission

    return set(
        UserObjectPermission.objects.filter(user=user).values_list(
            "permission_id", "content_type_id", "object_pk"
        )
    )


def assert_may_act_on(actor, target, what: str) -> None:
    """Refuse (PermissionDenied, saying why) ``actor`` doing ``what`` to the user ``target``
    unless the actor already holds at least everything the target holds.

    Why this is the rule: resetting a password, creating or re-enabling a key, editing or
    enabling an account all let the actor *become* the target (or keep the target's
    credentials working), so the action is safe exactly when becoming the target gains the
    actor nothing. That is: every permission the target has, the actor has too, in every
    domain the target is bound in (platform ``*`` and each project), and every
    django-guardian object grant the target has, the actor has too. The target's own denies
    need no check — becoming a more restricted user is no gain; they only matter when the
    actor is under the same deny (then it takes nothing from the actor that the target has).

    Allowed without comparing: management commands (no actor), the platform administrator,
    a tenant administrator of the target's tenant, and acting on oneself (nothing to gain;
    self-disable and self-delete are refused elsewhere). Nobody but the platform
    administrator acts on a platform administrator.
    """
    if actor is None or actor.is_superuser or actor.pk == target.pk:
        return
    name = f"user '{target.username}'"
    if target.is_superuser or target.tenant_id is None or target.tenant_id != actor.tenant_id:
        raise PermissionDenied(
            f"You cannot {what} {name}: only the platform administrator may act on them."
        )
    # Built from the database as it is now, inside the caller's transaction.
    index = enforcer.build_index(target.tenant_id, version=None)
    if _is_administrator_in(index, actor.pk):
        return
    for domain in sorted(_domains_of(index, target.pk)):
        missing = _first_uncovered(index, actor.pk, target.pk, _project_of(domain))
        if missing is not None:
            action, resource = missing
            raise PermissionDenied(
                f"You cannot {what} {name}: they may {action} on {resource} {_where(domain)} "
                "and you may not. Acting on a user needs at least every permission they hold "
                "(or a tenant administrator)."
            )
    if not _object_grants(target) <= _object_grants(actor):
        raise PermissionDenied(
            f"You cannot {what} {name}: they have object permissions (granted in the admin) "
            "that you do not."
        )


# -- no deny lifted from below -----------------------------------------------------------------
def holders(*, policy=None, role=None, binding=None, group=None) -> set:
    """Ids of the users who hold ``policy`` / ``role`` / ``binding`` / ``group``'s bindings
    now, directly or through a group."""
    from apps.accounts.models import Group

    if binding is not None:
        bindings = [binding]
    elif policy is not None:
        bindings = Binding.objects.filter(Q(policy=policy) | Q(role__policies=policy))
    elif role is not None:
        bindings = role.bindings.all()
    else:
        return set(group.members.values_list("pk", flat=True))
    users = {b.user_id for b in bindings if b.user_id}
    groups = {b.group_id for b in bindings if b.group_id}
    if groups:
        through = Group.members.through.objects.filter(group_id__in=groups)
        users |= set(through.values_list("user_id", flat=True))
    return users


def _username(user_id) -> str:
    from apps.accounts.models import User

    name = User.objects.filter(pk=user_id).values_list("username", flat=True).first()
    return f"user '{name}'" if name else "a user"


def _statements(index: TenantIndex, user_id, project) -> set[Statement]:
    return {c.statement for c, _link, _via in index.statements_for(user_id, project)}


def guard_change(*, actor, tenant, affected, apply, what: str):
    """Run ``apply()`` (the write, inside the caller's transaction) and refuse it — raising
    PermissionDenied, so the transaction rolls back — when it lifts an explicit deny from
    one of the ``affected`` users that the actor could not grant (the actor must hold the
    denied permissions, as allows, without that deny), or gives them an allow the actor does
    not hold. The same rule as granting, in both directions: removing a deny is granting
    what it denied.

    Consequence: a user can never lift a deny that applies to themselves (they do not hold
    what it denies) unless they are a tenant administrator. Removing an allow is always
    fine (the last-administrator guard aside). Compared per affected user and per domain
    (platform ``*`` and each project they are bound in), on the rules before and after the
    write, so a deny still held through another binding is not "lifted".
    """
    if actor is None or actor.is_superuser or not affected:
        return apply()
    before = enforcer.build_index(tenant.pk, version=None)
    if _is_administrator_in(before, actor.pk):
        return apply()
    result = apply()
    after = enforcer.build_index(tenant.pk, version=None)
    checked: set[tuple] = set()
    for user_id in sorted(affected):
        for domain in sorted(_domains_of(before, user_id) | _domains_of(after, user_id)):
            project = _project_of(domain)
            old = _statements(before, user_id, project)
            new = _statements(after, user_id, project)
            lifted = [s for s in old - new if s.effect != ALLOW]
            granted = [s for s in new - old if s.effect == ALLOW]
            for stmt, verb in [(s, "lift") for s in lifted] + [(s, "grant") for s in granted]:
                as_allow = Statement(stmt.actions, stmt.resources, ALLOW)
                if (as_allow, domain) in checked:
                    continue
                checked.add((as_allow, domain))
                if not before.holds(actor.pk, as_allow, project):
                    raise PermissionDenied(
                        f"You cannot {what}: it would {verb} the "
                        f"{'deny' if verb == 'lift' else 'permission'} "
                        f"{', '.join(stmt.actions)} on {', '.join(stmt.resources)} "
                        f"{_where(domain)} for {_username(user_id)}, and you do not hold "
                        "that yourself (lifting a deny is granting what it denies)."
                    )
    return result


# -- predefined ------------------------------------------------------------------------------
@transaction.atomic
def ensure_predefined_policies(tenant) -> None:
    """Create (or bring up to date) the tenant's predefined policies. Idempotent: one read,
    then one insert of those missing and one update of those that differ (a new tenant costs
    two statements, not a read-and-write per policy), and one version bump if anything
    changed (bulk writes send no ``post_save``)."""
    wanted = {
        spec["name"]: {
            "display_name": spec["display_name"],
            "description": spec["description"],
            "category": spec["category"],
            "scope": spec.get("scope", PolicyScope.PLATFORM),
            "statements": spec["statements"],
            "predefined": True,
        }
        for spec in PREDEFINED
    }
    existing = {
        policy.name: policy
        for policy in Policy.objects.select_for_update().filter(tenant=tenant, name__in=wanted)
    }
    missing = [
        Policy(tenant=tenant, name=name, **fields)
        for name, fields in wanted.items()
        if name not in existing
    ]
    changed = []
    for name, policy in existing.items():
        fields = wanted[name]
        if any(getattr(policy, field) != value for field, value in fields.items()):
            for field, value in fields.items():
                setattr(policy, field, value)
            policy.updated_at = timezone.now()
            changed.append(policy)
    Policy.objects.bulk_create(missing)
    Policy.objects.bulk_update(changed, [*wanted[PREDEFINED[0]["name"]], "updated_at"])
    if missing or changed:
        enforcer.bump_version(tenant.pk)


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
    guard_change(
        actor=actor,
        tenant=policy.tenant,
        affected=holders(policy=policy) if "statements" in changes else (),
        apply=policy.save,
        what=f"change policy '{policy.name}'",
    )
    assert_administrator_remains(policy.tenant)
    return policy


@transaction.atomic
def delete_policy(*, actor, policy: Policy) -> None:
    _refuse_predefined(policy)
    _delete_guarded(actor, policy, f"delete policy '{policy.name}'", policy=policy)


def _delete_guarded(actor, obj, what: str, **holder) -> None:
    """Delete a policy, role, binding or group: it takes what it granted and what it denied
    from everyone who held it, so the deny guard runs, and an administrator must remain."""
    tenant = obj.tenant
    guard_change(
        actor=actor, tenant=tenant, affected=holders(**holder), apply=obj.delete, what=what
    )
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
        guard_change(
            actor=actor,
            tenant=role.tenant,
            affected=holders(role=role),
            apply=lambda: role.policies.set(policies),
            what=f"change the policies of role '{role.name}'",
        )
    for name, value in changes.items():
        setattr(role, name, value)
    role.save()
    assert_administrator_remains(role.tenant)
    return role


@transaction.atomic
def delete_role(*, actor, role: Role) -> None:
    _delete_guarded(actor, role, f"delete role '{role.name}'", role=role)


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
    what = f"delete the binding {binding}"
    if binding.domain != ALL_DOMAINS:
        # Administrators are those bound platform-wide (tenant_administrators): a binding in
        # a project's domain never makes or unmakes one, so only the deny guard applies.
        guard_change(
            actor=actor,
            tenant=binding.tenant,
            affected=holders(binding=binding),
            apply=binding.delete,
            what=what,
        )
        return
    _delete_guarded(actor, binding, what, binding=binding)


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
    guard_change(
        actor=actor,
        tenant=group.tenant,
        affected={getattr(u, "pk", u) for u in users},
        apply=lambda: group.members.remove(*users),
        what=f"remove members from group '{group.name}'",
    )
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
        remove_group_members(actor=actor, group=group, users=removed)


@transaction.atomic
def delete_group(*, actor, group) -> None:
    """Deleting a group takes its bindings (its denies too) from every member."""
    _delete_guarded(actor, group, f"delete group '{group.name}'", group=group)
