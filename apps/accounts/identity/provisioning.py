"""What every directory provider does with the identity it vouched for, written once.

- :func:`provision_user` — at each sign-in (and LDAP sync): find the user this provider
  knows under ``external_id`` (LDAP DN, OIDC ``sub``), or create them in the provider's
  tenant with ``source`` = the provider type; refuse to take over an account that another
  provider, or a local password, owns (a directory that may create ``admin`` must not sign
  in *as* the tenant's local ``admin``); update the profile; rewrite group memberships and
  the administrator flag from what the directory says.
- :func:`set_directory_state` — record what the directory said about a user; a user it no
  longer lists (or lists as disabled) stops working at once: sessions (the backends'
  ``get_user``) and API keys (``authentication.authenticate_api_key``) ask
  ``User.vouched_for`` on every request.

Group rules: for a provider's users, memberships in the groups *that provider manages* are
exactly what the directory says; every other membership (a local group an administrator
added them to) is left alone. A provider manages the groups it mirrored
(``Group.identity_provider``) and the targets of its ``group_mapping``. A mirrored group
never takes over a local group of the same name: that group is skipped and the sign-in's
report says so.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from apps.audit.choices import Channel, Outcome
from apps.audit.services import record_event

from ..choices import DirectoryState, ProviderType, UserSource
from ..models import Group, IdentityProvider, User, username_validator

logger = logging.getLogger("tkeportal.identity")


class ProvisioningRefused(Exception):
    """The directory vouched for someone the portal will not sign in; the message says why
    (shown on the sign-in page and stored in the audit event)."""


class EntryReplaced(ProvisioningRefused):
    """The user's directory entry was deleted and a new one made under the same name: that is
    another person, who must not inherit the portal account (its groups, API keys, history).
    The old account counts as gone; an administrator deletes it to let the newcomer in."""

    def __init__(self, message: str, user: User):
        super().__init__(message)
        self.user = user


@dataclass(frozen=True)
class ExternalGroup:
    """A group the directory says the user is in: its stable id (DN or claim value) and the
    name a mirrored portal group gets."""

    external_id: str
    name: str


@dataclass
class Identity:
    """What a provider learned about someone at sign-in or sync."""

    username: str
    external_id: str
    # The entry's permanent id when the directory has one (LDAP entryUUID/objectGUID).
    entry_uid: str = ""
    email: str = ""
    display_name: str = ""
    phone: str = ""
    groups: list[ExternalGroup] = field(default_factory=list)


_INVALID = re.compile(r"[^a-z0-9._@-]+")
# A directory saying a user is in more groups than this is refused rather than mirrored:
# every mirrored group is a row (a provider, or a user editing their own claims at a lax
# one, must not flood the tenant), and narrowing the group search is the administrator's fix.
MAX_GROUPS = 1000
# Longest stable id kept (User.external_id, Group.external_id).
MAX_EXTERNAL_ID = 512


def portal_name(raw: str) -> str:
    """A directory name as a portal user/group name: lowercased, other characters → ``-``;
    empty when nothing valid is left."""
    name = _INVALID.sub("-", (raw or "").strip().lower()).strip("-._@")[:63]
    try:
        username_validator(name)
    except ValidationError:
        return ""
    return name


def _user_source(provider: IdentityProvider) -> str:
    return UserSource.LDAP if provider.type == "ldap" else UserSource.OIDC


def provision_user(provider: IdentityProvider, identity: Identity, *, request=None) -> User:
    """The portal user for ``identity`` (created on first sign-in), with profile, groups and
    administrator status brought up to date. Raises :class:`ProvisioningRefused`; when the
    entry turned out to be a re-created one (:class:`EntryReplaced`), the account it would
    have inherited is first marked missing, so its sessions and API keys stop too."""
    try:
        return _provision(provider, identity, request=request)
    except EntryReplaced as exc:
        set_directory_state(exc.user, DirectoryState.MISSING, detail=str(exc))
        raise


@transaction.atomic
def _provision(provider: IdentityProvider, identity: Identity, *, request=None) -> User:
    username = portal_name(identity.username)
    if not username or username != identity.username.strip().lower():
        raise ProvisioningRefused(
            f"'{identity.username}' cannot be a portal username (use lowercase letters, "
            "digits and . _ @ -)"
        )
    if not identity.external_id:
        raise ProvisioningRefused("the provider gave no stable id for this user")
    if len(identity.external_id) > MAX_EXTERNAL_ID:
        raise ProvisioningRefused(
            f"the provider's id for this user is {len(identity.external_id)} characters long; "
            f"at most {MAX_EXTERNAL_ID} are kept"
        )
    tenant = provider.tenant
    user = (
        User.objects.select_for_update()
        .filter(identity_provider=provider, external_id=identity.external_id)
        .first()
    )
    created = False
    if user is None:
        holder = User.objects.filter(tenant=tenant, username=username).first()
        if holder is not None:
            owner = (
                f"identity provider '{holder.identity_provider.name}'"
                if holder.identity_provider_id
                else "a local account"
            )
            raise ProvisioningRefused(
                f"the username '{username}' in tenant '{tenant.slug}' belongs to {owner}; "
                f"'{provider.name}' cannot sign in as it"
            )
        user = User(
            tenant=tenant,
            username=username,
            source=_user_source(provider),
            identity_provider=provider,
            external_id=identity.external_id,
        )
        user.set_unusable_password()
        created = True
    if not created and identity.entry_uid and user.external_uid not in ("", identity.entry_uid):
        raise EntryReplaced(
            f"the directory entry {identity.external_id} was deleted and re-created (its "
            f"entry id changed): it is not the person the portal account '{user.username}' "
            "belongs to; an administrator must delete that account first",
            user,
        )
    if identity.entry_uid:
        user.external_uid = identity.entry_uid[:64]
    if not created and user.username != username:
        # The directory renamed them: follow, unless the new name is someone else's.
        if User.objects.filter(tenant=tenant, username=username).exclude(pk=user.pk).exists():
            raise ProvisioningRefused(
                f"the directory renamed this user to '{username}', which is taken in tenant "
                f"'{tenant.slug}'"
            )
        user.username = username
    user.email = identity.email[:254] or user.email
    user.display_name = identity.display_name[:128] or user.display_name
    user.phone = identity.phone[:32] or user.phone
    user.directory_state = DirectoryState.PRESENT
    user.directory_checked_at = timezone.now()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # a concurrent first sign-in created them
        raise ProvisioningRefused(f"'{username}' was created concurrently; sign in again") from exc
    if created:
        record_event(
            action="identity.user_created",
            user=user,
            tenant=tenant,
            resource=user.authz_resource,
            channel=Channel.CONSOLE if request is not None else Channel.TASK,
            status_code=201,
            message=f"first sign-in through identity provider '{provider.name}'",
        )
    notes = sync_groups(provider, user, identity.groups)
    if notes:
        logger.warning("identity provider %s, user %s: %s", provider, user, "; ".join(notes))
    return user


def managed_groups(provider: IdentityProvider):
    """The portal groups whose memberships ``provider`` decides for its users."""
    mapped = set((provider.config or {}).get("group_mapping", {}).values())
    return Group.objects.filter(
        Q(tenant=provider.tenant) & (Q(identity_provider=provider) | Q(name__in=mapped))
    )


def _target_groups(provider: IdentityProvider, groups: Iterable[ExternalGroup], notes):
    config = provider.config or {}
    mapping = config.get("group_mapping", {})
    wanted: dict[str, ExternalGroup | None] = {}
    for group in groups:
        if group.external_id in mapping:
            wanted[mapping[group.external_id]] = None
        elif config.get("mirror_groups"):
            name = portal_name(group.name)
            if not name:
                notes.append(f"group '{group.name}' has no valid portal name; not mirrored")
                continue
            wanted.setdefault(name, group)
    existing = {g.name: g for g in Group.objects.filter(tenant=provider.tenant, name__in=wanted)}
    targets = []
    for name, source in wanted.items():
        group = existing.get(name)
        if group is None:
            group = Group.objects.create(
                tenant=provider.tenant,
                name=name,
                display_name=(source.name if source else name)[:128],
                source=_user_source(provider),
                identity_provider=provider,
                external_id=source.external_id if source else "",
                description=f"Mirrored from identity provider '{provider.name}'.",
            )
        elif source is not None and group.identity_provider_id != provider.pk:
            notes.append(
                f"directory group '{source.name}' was not mirrored: portal group '{name}' "
                "exists and is not managed by this provider"
            )
            continue
        targets.append(group)
    return targets


def sync_groups(provider: IdentityProvider, user: User, groups: Iterable[ExternalGroup]) -> list:
    """Rewrite ``user``'s memberships in ``provider``'s managed groups and, when the provider
    names administrator groups, their administrator status. Returns notes for the report."""
    from apps.authz.services import add_group_members, make_administrator, remove_group_members

    groups = list(groups)
    if len(groups) > MAX_GROUPS:
        raise ProvisioningRefused(
            f"identity provider '{provider.name}' lists {len(groups)} groups for "
            f"{user.username}; at most {MAX_GROUPS} are accepted (narrow its group search or "
            "groups claim)"
        )
    notes: list[str] = []
    kept = [g for g in groups if len(g.external_id) <= MAX_EXTERNAL_ID]
    if len(kept) != len(groups):
        notes.append(f"{len(groups) - len(kept)} group(s) with ids over {MAX_EXTERNAL_ID} ignored")
        groups = kept
    targets = {g.pk: g for g in _target_groups(provider, groups, notes)}
    current = {g.pk: g for g in managed_groups(provider).filter(members=user)}
    for pk in targets.keys() - current.keys():
        add_group_members(actor=None, group=targets[pk], users=[user])
    for pk in current.keys() - targets.keys():
        remove_group_members(actor=None, group=current[pk], users=[user])
    admin_groups = set((provider.config or {}).get("admin_groups", []))
    if admin_groups:
        is_admin = any(g.external_id in admin_groups for g in groups)
        try:
            with transaction.atomic():
                make_administrator(actor=None, user=user, admin=is_admin)
                if user.is_staff != is_admin:
                    user.is_staff = is_admin
                    user.save(update_fields=["is_staff"])
        except (ValidationError, PermissionDenied) as exc:
            notes.append(f"administrator status of {user.username} left unchanged: {exc}")
    return notes


def set_directory_state(user: User, state: str, *, detail: str = "") -> None:
    """Record what the directory said about ``user``. Leaving the directory (or being
    disabled there) ends their access at the next request; coming back restores it."""
    previous = user.directory_state
    now = timezone.now()
    User.objects.filter(pk=user.pk).update(directory_state=state, directory_checked_at=now)
    user.directory_state, user.directory_checked_at = state, now
    if state == previous or state == DirectoryState.UNREACHABLE:
        return
    if state in (DirectoryState.MISSING, DirectoryState.DISABLED):
        action, outcome = "identity.user_revoked", Outcome.DENIED
    else:
        action, outcome = "identity.user_restored", Outcome.SUCCESS
    record_event(
        action=action,
        user=user,
        tenant=user.tenant,
        resource=user.authz_resource,
        channel=Channel.TASK,
        outcome=outcome,
        message=detail or f"identity provider reports the user as {state}",
    )


def users_due(provider: IdentityProvider, older_than) -> Iterable[User]:
    """The provider's users whose last directory check is older than ``older_than``. OIDC
    users without a refresh grant cannot be asked about and are left out: their
    ``directory_checked_at`` stays the time of their last sign-in, which bounds how long
    they are trusted (``User.directory_refusal``)."""
    users = User.objects.filter(identity_provider=provider, is_active=True)
    if provider.type == ProviderType.OIDC:
        users = users.exclude(directory_grant="")  # empty is stored empty, not encrypted
    return (
        users.filter(Q(directory_checked_at__isnull=True) | Q(directory_checked_at__lt=older_than))
        .select_related("tenant", "identity_provider")
        .order_by("directory_checked_at", "pk")
    )
