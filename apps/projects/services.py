"""Every write to projects: the project itself, its quota on each cluster, its members.

Quota rules (``allocation`` keeps them under row locks):
- a project's quota on a cluster is one :class:`ProjectCluster` row; the clusters it has a row
  for are the clusters it spans;
- a sub-project spans only clusters its parent spans, and its quota there comes out of the
  parent's (the parent's row is locked, the child's new quota must fit in what is left);
- a quota is never lowered below what the project has given out on that cluster (its
  namespaces' and sub-projects' quotas), and a cluster with namespaces or sub-projects on it is
  never taken out of a project.

Members are authorization bindings in the project's domain (the project's name), made through
``apps.authz.services`` so "no one acts above themselves" holds here too: nobody gives a role
they do not hold in the project. A project keeps at least one owner unless the change is made
by someone who manages projects platform-wide.

Writes reaching the portal over HTTP (API, admin) are audited by the audit middleware, one row
per request, named by the view (``request.audit_action`` / ``audit_resource``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q

from apps.authz import check
from apps.authz import services as authz_services
from apps.authz.choices import PolicyScope
from apps.authz.models import Binding, Policy
from apps.clusters.models import Cluster

from . import allocation, quota
from .models import Project, ProjectCluster, ProjectNamespace, project_name_validator

PROJECT_OWNER = "project-owner"
PROJECT_MEMBER = "project-member"
PROJECT_VIEWER = "project-viewer"
GROUP_MARK = "@"


# -- input -------------------------------------------------------------------------------------
def _quota_error(exc: quota.QuotaError) -> ValidationError:
    return ValidationError(exc.errors)


def normalize_clusters(tenant, clusters) -> dict[Cluster, dict[str, str]]:
    """``{"cls-a": {"hard": {...}}}`` → {Cluster: normalised hard}; ValidationError naming
    ``clusters.<cls>`` / ``clusters.<cls>.hard.<resource>``."""
    if clusters is None:
        return {}
    if not isinstance(clusters, dict):
        raise ValidationError({"clusters": ['an object: cluster name → {"hard": {...}}']})
    known = {c.name: c for c in Cluster.objects.filter(tenant=tenant, name__in=list(clusters))}
    out: dict[Cluster, dict[str, str]] = {}
    errors: dict[str, list[str]] = {}
    for name, spec in clusters.items():
        where = f"clusters.{name}"
        cluster = known.get(name)
        if cluster is None:
            errors[where] = [f"no cluster {name} in this tenant"]
            continue
        if spec is None:
            spec = {}
        if not isinstance(spec, dict) or set(spec) - {"hard"}:
            errors[where] = ['an object {"hard": {resource: quantity}}']
            continue
        try:
            out[cluster] = quota.normalize(spec.get("hard"), field=f"{where}.hard")
        except quota.QuotaError as exc:
            errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    return out


def _validate_name(name: str) -> None:
    try:
        project_name_validator(name)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from exc
    if Project.objects.filter(name=name).exists():
        raise ValidationError({"name": [f"A project named {name} already exists."]})


def _validate_parent(tenant, project: Project | None, parent: Project | None) -> None:
    if parent is None:
        return
    if parent.tenant_id != tenant.pk:
        raise ValidationError({"parent": ["Unknown project."]})
    if project is None:
        return
    seen = parent
    while seen is not None:
        if seen.pk == project.pk:
            raise ValidationError(
                {"parent": [f"{parent.name} is {project.name} or one of its sub-projects."]}
            )
        seen = seen.parent


QUOTA_ACTION = "updateProjectQuota"


def _require_quota_right(actor, project: Project, why: str) -> None:
    """Refuse (PermissionDenied) unless ``actor`` may change ``project``'s quota (platform
    domain, like every change of the project container): where a project's quota comes from
    is part of its quota."""
    if actor is None:
        return  # management commands act as the operator
    decision = check(actor, QUOTA_ACTION, project.authz_resource, tenant=project.tenant)
    if not decision:
        raise PermissionDenied(
            f"{why}: you need {QUOTA_ACTION} on {project.authz_resource} ({decision.reason})."
        )


def _display_name_taken(tenant, display_name: str, exclude=None) -> None:
    rows = Project.objects.filter(tenant=tenant, display_name=display_name)
    if exclude is not None:
        rows = rows.exclude(pk=exclude.pk)
    if rows.exists():
        raise ValidationError({"display_name": [f"Another project is named {display_name!r}."]})


# -- quota -------------------------------------------------------------------------------------
def _names(rows) -> str:
    return ", ".join(rows)


def _blockers(project: Project, cluster) -> tuple[list[str], list[str]]:
    namespaces = list(
        ProjectNamespace.objects.filter(project=project, cluster=cluster)
        .order_by("namespace")
        .values_list("namespace", flat=True)
    )
    children = list(
        ProjectCluster.objects.filter(project__parent=project, cluster=cluster)
        .order_by("project__name")
        .values_list("project__name", flat=True)
    )
    return namespaces, children


def _require_covers_allocations(project: Project, cluster, hard: dict, field: str) -> None:
    """``hard`` (the project's new quota on ``cluster``) must hold what the project has given
    out there: per resource it limits, the namespaces' and sub-projects' quotas; and each of
    those must limit it too (or it could use all of it)."""
    given = allocation.allocated(project, cluster)
    limits = quota.amounts(hard)
    short = {
        name: (given[name], limit)
        for name, limit in sorted(limits.items())
        if given.get(name, 0) > limit
    }
    errors: list[str] = []
    if short:
        errors.append(
            f"is less than project {project.name} has given out on cluster {cluster.name} "
            "(namespaces and sub-projects): "
            + "; ".join(
                f"{name}: {quota.fmt(name, limit)} asked, {quota.fmt(name, used)} allocated"
                for name, (used, limit) in short.items()
            )
        )
    rows = [
        *(
            (f"namespace {ns}", hard_)
            for ns, hard_ in ProjectNamespace.objects.filter(
                project=project, cluster=cluster
            ).values_list("namespace", "hard")
        ),
        *(
            (f"sub-project {name}", hard_)
            for name, hard_ in ProjectCluster.objects.filter(
                project__parent=project, cluster=cluster
            ).values_list("project__name", "hard")
        ),
    ]
    for name in sorted(limits):
        unlimited = sorted(label for label, rl in rows if name not in (rl or {}))
        if unlimited:
            errors.append(
                f"limits {name}, which {', '.join(unlimited)} leave unlimited: set it there first"
            )
    if errors:
        raise ValidationError({field: errors})


def _apply_quota(project: Project, wanted: dict[Cluster, dict[str, str]], *, replace: bool) -> None:
    """Create, change (and with ``replace`` remove) the project's cluster rows, keeping every
    rule of the module docstring. Runs inside the caller's transaction."""
    parent = project.parent
    current = {row.cluster_id: row for row in project.clusters.select_related("cluster")}
    errors: dict[str, list[str]] = {}
    if replace:
        for cluster_id, row in sorted(current.items(), key=lambda kv: kv[1].cluster.name):
            if any(c.pk == cluster_id for c in wanted):
                continue
            allocation.lock(project, row.cluster)
            namespaces, children = _blockers(project, row.cluster)
            if namespaces or children:
                parts = []
                if namespaces:
                    parts.append(f"namespaces {_names(namespaces)}")
                if children:
                    parts.append(f"sub-projects {_names(children)}")
                errors[f"clusters.{row.cluster.name}"] = [
                    f"project {project.name} still has {' and '.join(parts)} on cluster "
                    f"{row.cluster.name}: remove them before taking the cluster out"
                ]
                continue
            row.delete()
    for cluster, hard in sorted(wanted.items(), key=lambda kv: kv[0].name):
        field = f"clusters.{cluster.name}.hard"
        try:
            if parent is not None:
                if allocation.lock(parent, cluster) is None:
                    errors[f"clusters.{cluster.name}"] = [
                        f"parent project {parent.name} does not span cluster {cluster.name}"
                    ]
                    continue
                allocation.require_fits(parent, cluster, hard, field=field, except_child=project.pk)
            row = current.get(cluster.pk)
            if row is None:
                ProjectCluster.objects.create(project=project, cluster=cluster, hard=hard)
                continue
            allocation.lock(project, cluster)
            _require_covers_allocations(project, cluster, hard, field)
        except quota.QuotaError as exc:
            errors.update(exc.errors)
            continue
        except ValidationError as exc:
            errors.update(exc.message_dict)
            continue
        if row.hard != hard:
            row.hard = hard
            row.save(update_fields=["hard", "updated_at"])
    if errors:
        raise ValidationError(errors)


# -- projects --------------------------------------------------------------------------------
@transaction.atomic
def create_project(
    *,
    actor,
    tenant,
    display_name: str,
    name: str | None = None,
    description: str = "",
    parent: Project | None = None,
    clusters=None,
) -> Project:
    """A project, with its quota on each cluster it spans (``clusters``: name → {hard})."""
    if not display_name:
        raise ValidationError({"display_name": ["Give the project a name."]})
    if name:
        _validate_name(name)
    _display_name_taken(tenant, display_name)
    _validate_parent(tenant, None, parent)
    if parent is not None:
        _require_quota_right(actor, parent, f"A sub-project's quota comes out of {parent.name}'s")
    wanted = normalize_clusters(tenant, clusters)
    project = Project(
        tenant=tenant,
        display_name=display_name,
        description=description,
        parent=parent,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    if name:
        project.name = name
    else:
        while Project.objects.filter(name=project.name).exists():
            project.name = Project._meta.get_field("name").default()
    project.full_clean(validate_unique=False, validate_constraints=False)
    project.save()
    _apply_quota(project, wanted, replace=False)
    return project


_UNSET = object()


@transaction.atomic
def update_project(
    *,
    actor,
    project: Project,
    display_name: str | None = None,
    description: str | None = None,
    parent=_UNSET,
    clusters=None,
) -> Project:
    """Rename, describe, move under another parent (or none), and (``clusters`` given) set its
    quota on every cluster it spans: clusters left out are taken out of the project."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    if display_name is not None:
        if not display_name:
            raise ValidationError({"display_name": ["Give the project a name."]})
        _display_name_taken(project.tenant, display_name, exclude=project)
        project.display_name = display_name
    if description is not None:
        project.description = description
    reparented = parent is not _UNSET and getattr(parent, "pk", None) != project.parent_id
    if reparented:
        _validate_parent(project.tenant, project, parent)
        # Leaving a parent hands its quota back; joining one takes from the new parent's.
        _require_quota_right(
            actor, project, f"Moving {project.name} to another parent changes its quota"
        )
        if parent is not None:
            _require_quota_right(
                actor, parent, f"Moving {project.name} under {parent.name} takes from its quota"
            )
        project.parent = parent
    project.save()
    if clusters is not None:
        wanted = normalize_clusters(project.tenant, clusters)
        current = {row.cluster_id: row.hard for row in project.clusters.all()}
        if {c.pk: hard for c, hard in wanted.items()} != current:
            _require_quota_right(actor, project, f"Changing {project.name}'s quota")
        _apply_quota(project, wanted, replace=True)
    elif reparented:
        # The same quota, now taken from the new parent's.
        current = {row.cluster: row.hard for row in project.clusters.select_related("cluster")}
        _apply_quota(project, current, replace=True)
    return project


@transaction.atomic
def set_quota(*, actor, project: Project, clusters, replace: bool = True) -> Project:
    """Set the project's hard quota per cluster (``replace``: the clusters given are all it
    spans; otherwise only those given change)."""
    _apply_quota(project, normalize_clusters(project.tenant, clusters), replace=replace)
    return project


def deletion_blockers(project: Project) -> list[str]:
    """What keeps ``project`` from being deleted, as sentences (empty: nothing)."""
    blockers = []
    namespaces = [
        f"{c}/{n}"
        for c, n in ProjectNamespace.objects.filter(project=project)
        .order_by("cluster__name", "namespace")
        .values_list("cluster__name", "namespace")
    ]
    if namespaces:
        blockers.append(f"namespaces {_names(namespaces)}")
    children = list(project.children.order_by("name").values_list("name", flat=True))
    if children:
        blockers.append(f"sub-projects {_names(children)}")
    return blockers


@transaction.atomic
def delete_project(*, actor, project: Project) -> None:
    """Delete a project that owns nothing (no namespaces, no sub-projects) and the bindings
    made in its domain."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    blockers = deletion_blockers(project)
    if blockers:
        raise ValidationError(
            f"Project {project.name} still has {' and '.join(blockers)}: delete them first."
        )
    # The domain goes away with the project: its bindings grant nothing anywhere else, so
    # deleting them lifts nothing (no guard to run).
    Binding.objects.filter(tenant=project.tenant, domain=project.name).delete()
    project.delete()


# -- members -----------------------------------------------------------------------------------
@dataclass
class Member:
    """A user or group bound in the project's domain, and the policies (or roles) bound."""

    kind: str  # "user" | "group"
    name: str
    display_name: str
    roles: list[str]
    bindings: list[Binding]

    @property
    def id(self) -> str:
        return self.name if self.kind == "user" else GROUP_MARK + self.name


def member_resource(project_name: str, member_id: str) -> str:
    return f"project:{project_name}/member:{member_id}"


def members_of(project: Project, bindings=None) -> list[Member]:
    """The project's members, users first, each with their roles (one query)."""
    if bindings is None:
        bindings = project_bindings(project)
    found: dict[tuple[str, str], Member] = {}
    for binding in bindings:
        if binding.user_id:
            key = ("user", binding.user.username)
            display = binding.user.display_name
        else:
            key = ("group", binding.group.name)
            display = binding.group.name
        member = found.setdefault(key, Member(key[0], key[1], display, [], []))
        member.roles.append(binding.policy.name if binding.policy_id else binding.role.name)
        member.bindings.append(binding)
    for member in found.values():
        member.roles.sort()
    return sorted(found.values(), key=lambda m: (m.kind != "user", m.name))


def project_bindings(project: Project):
    return (
        Binding.objects.filter(tenant_id=project.tenant_id, domain=project.name)
        .select_related("user", "group", "policy", "role")
        .order_by("id")
    )


def find_member(project: Project, member_id: str) -> Member | None:
    kind, name = subject_of(member_id)
    for member in members_of(project):
        if member.kind == kind and member.name == name:
            return member
    return None


def subject_of(member_id: str) -> tuple[str, str]:
    if member_id.startswith(GROUP_MARK):
        return "group", member_id[len(GROUP_MARK) :]
    return "user", member_id


def project_policies(tenant, names, field: str = "roles") -> list[Policy]:
    """The project-scope policies named (predefined project-owner/-member/-viewer or custom
    ones with scope project); ValidationError naming ``field`` otherwise."""
    if not isinstance(names, list | tuple) or not names:
        raise ValidationError({field: ["Give at least one role (a project-scope policy)."]})
    if not all(isinstance(n, str) for n in names):
        raise ValidationError({field: ["Roles are policy names."]})
    found = {
        p.name: p
        for p in Policy.objects.filter(tenant=tenant, name__in=names, scope=PolicyScope.PROJECT)
    }
    missing = [n for n in names if n not in found]
    if missing:
        raise ValidationError(
            {
                field: [
                    f"{', '.join(missing)}: not a project role (use project-owner, "
                    "project-member, project-viewer or a policy with scope project)"
                ]
            }
        )
    return [found[n] for n in dict.fromkeys(names)]


def _subject(tenant, kind: str, name: str):
    from apps.accounts.models import Group, User

    model = User if kind == "user" else Group
    lookup = {"username": name} if kind == "user" else {"name": name}
    subject = model.objects.filter(tenant=tenant, **lookup).first()
    if subject is None:
        raise ValidationError({kind: [f"No {kind} named {name!r} in this tenant."]})
    return subject


def _manages_projects(actor, project: Project) -> bool:
    """May ``actor`` change the project itself (the platform domain's question)?"""
    if actor is None:
        return True
    return bool(check(actor, "updateProject", project.authz_resource, tenant=project.tenant))


def _keep_an_owner(project: Project, manages: bool) -> None:
    """After a member change: refuse leaving the project without an owner, unless the actor
    manages projects platform-wide (``manages``, decided before the change: they can still
    reach the project to appoint one)."""
    if manages:
        return
    owners = Binding.objects.filter(
        tenant_id=project.tenant_id, domain=project.name, policy__name=PROJECT_OWNER
    )
    # A group owns only through its members: an empty group is no owner.
    if not owners.filter(Q(user__isnull=False) | Q(group__members__isnull=False)).exists():
        raise PermissionDenied(
            f"This would leave project {project.name} without a {PROJECT_OWNER}: make someone "
            "else owner first (or ask a platform administrator)."
        )


@transaction.atomic
def add_member(*, actor, project: Project, kind: str, name: str, roles) -> Member:
    """Bind a user or group of the tenant to ``roles`` in the project."""
    if kind not in ("user", "group"):
        raise ValidationError({"kind": ["user or group"]})
    subject = _subject(project.tenant, kind, name)
    policies = project_policies(project.tenant, roles)
    member_id = name if kind == "user" else GROUP_MARK + name
    if find_member(project, member_id) is not None:
        raise ValidationError(
            {kind: [f"{kind} {name} is already a member of {project.name}: change their roles."]}
        )
    for policy in policies:
        authz_services.create_binding(
            actor=actor,
            tenant=project.tenant,
            policy=policy,
            domain=project.name,
            **{kind: subject},
        )
    return find_member(project, member_id)


@transaction.atomic
def set_member_roles(*, actor, project: Project, member: Member, roles) -> Member:
    """Make ``roles`` exactly the member's roles in the project (new bindings are checked
    against what the actor holds; removed ones by the deny guard)."""
    policies = project_policies(project.tenant, roles)
    manages = _manages_projects(actor, project)
    wanted = {p.name for p in policies}
    subject = member.bindings[0].user if member.kind == "user" else member.bindings[0].group
    held = {b.policy.name for b in member.bindings if b.policy_id}
    # Grant before taking away: an owner moving themselves to member still holds what they
    # grant at the moment they grant it.
    for policy in policies:
        if policy.name not in held:
            authz_services.create_binding(
                actor=actor,
                tenant=project.tenant,
                policy=policy,
                domain=project.name,
                **{member.kind: subject},
            )
    for binding in member.bindings:
        target = binding.policy.name if binding.policy_id else None
        if target not in wanted:
            authz_services.delete_binding(actor=actor, binding=binding)
    _keep_an_owner(project, manages)
    return find_member(project, member.id)


@transaction.atomic
def remove_member(*, actor, project: Project, member: Member) -> None:
    manages = _manages_projects(actor, project)
    for binding in member.bindings:
        authz_services.delete_binding(actor=actor, binding=binding)
    _keep_an_owner(project, manages)
