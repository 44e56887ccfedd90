"""Every write to users, groups and API keys. Atomic; each takes the acting user."""

from __future__ import annotations

import re
from datetime import timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from . import keys
from .choices import UserSource
from .models import APIKey, User

API_KEY_MIN_LIFETIME = timedelta(minutes=1)
API_KEY_MAX_LIFETIME = timedelta(days=366)
_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# No lifetime the portal grants comes near this; it only keeps arithmetic on dates in range.
MAX_DURATION = timedelta(days=3660)


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``12h``, ``7d``, ``2w`` → timedelta; ValueError otherwise, also for
    anything longer than ``MAX_DURATION`` (callers name their field and apply their own,
    smaller limits; ``99999999999999999999d`` must not reach timedelta's OverflowError)."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise ValueError(f"'{text}' is not a duration like 30m, 12h, 7d or 2w")
    digits, unit = match.groups()
    seconds_per_unit = _UNIT_SECONDS[unit]
    # Compared as integers first: a 20-digit count would overflow timedelta itself.
    if len(digits) > 12 or int(digits) * seconds_per_unit > MAX_DURATION.total_seconds():
        raise ValueError(f"'{text}' is longer than the longest lifetime, {MAX_DURATION.days}d")
    return timedelta(**{_UNITS[unit]: int(digits)})


@transaction.atomic
def create_user(
    *,
    actor,
    tenant,
    username: str,
    password: str | None,
    email: str = "",
    display_name: str = "",
    phone: str = "",
    is_tenant_admin: bool = False,
    field_prefix: str = "",
) -> User:
    """Create a local user in ``tenant``. ``field_prefix`` names fields in errors when the
    user is created as part of another form (``admin_username`` in tenant creation)."""
    if User.objects.filter(tenant=tenant, username=username).exists():
        raise ValidationError(
            {f"{field_prefix}username": f"User '{username}' already exists in this tenant."}
        )
    user = User(
        tenant=tenant,
        username=username,
        email=email,
        display_name=display_name,
        phone=phone,
        is_staff=is_tenant_admin,
    )
    try:
        user.full_clean(exclude=["password"], validate_unique=False)
    except ValidationError as exc:
        raise ValidationError(
            {f"{field_prefix}{k}": v for k, v in exc.message_dict.items()}
        ) from exc
    if password:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({f"{field_prefix}password": exc.messages}) from exc
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    if is_tenant_admin:
        from apps.authz.services import make_administrator

        make_administrator(actor=actor, user=user, admin=True)
    return user


@transaction.atomic
def update_user(*, actor, user: User, is_tenant_admin: bool | None = None, **changes) -> User:
    """Change a user's profile or status. ``is_tenant_admin`` grants or revokes the
    administrator policy (and admin-site access); the tenant always keeps one administrator."""
    from apps.authz.services import (
        assert_administrator_remains,
        assert_may_act_on,
        make_administrator,
    )

    allowed = {"display_name", "email", "phone", "is_active"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in unknown})
    assert_may_act_on(actor, user, _verb_for(changes, is_tenant_admin))
    if getattr(actor, "pk", None) == user.pk and changes.get("is_active") is False:
        raise ValidationError({"is_active": "You cannot disable yourself."})
    for name, value in changes.items():
        setattr(user, name, value)
    if is_tenant_admin is not None:
        user.is_staff = is_tenant_admin
    user.full_clean(exclude=["password"], validate_unique=False)
    user.save()
    if is_tenant_admin is not None and user.tenant_id is not None:
        make_administrator(actor=actor, user=user, admin=is_tenant_admin)
    # Only a change that can take administrator rights away is held to the tenant keeping
    # one (a tenant that has none — its directory administrators gone — can still be
    # repaired: its users edited, enabled, made administrators).
    if user.tenant_id is not None and (
        changes.get("is_active") is False or is_tenant_admin is False
    ):
        assert_administrator_remains(user.tenant)
    return user


def _verb_for(changes: dict, is_tenant_admin: bool | None) -> str:
    if changes.get("is_active") is False:
        return "disable"
    if changes.get("is_active") is True:
        return "enable"
    if is_tenant_admin is not None:
        return "change the administrator status of"
    return "edit"


def assert_local_password(user: User, field: str = "password") -> None:
    """Directory users (LDAP, OIDC) have no local password: their directory holds it."""
    if user.source != UserSource.LOCAL:
        provider = user.identity_provider
        where = f"identity provider '{provider.name}'" if provider else "their directory"
        raise ValidationError(
            {
                field: f"'{user.username}' signs in through {where} ({user.source.upper()}): "
                "their password is set there, not in the portal."
            }
        )


@transaction.atomic
def set_password(*, actor, user: User, password: str) -> User:
    """An administrator sets (resets) another user's password. The user must choose a new one
    at their next sign-in; their sessions end now and their sign-in lockout is cleared. API
    keys keep working (they are not the password). Your own password is changed with
    :func:`change_own_password`, which asks for the current one."""
    from apps.authz.services import assert_may_act_on

    if getattr(actor, "pk", None) == user.pk:
        raise ValidationError(
            {
                "password": "Change your own password with POST /api/v1/me/password/ (or "
                "the console's Change password page): it asks for your current one."
            }
        )
    assert_may_act_on(actor, user, "reset the password of")
    assert_local_password(user)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)
    user.save(update_fields=["password"])
    after_administrator_reset(user)
    return user


def after_administrator_reset(user: User) -> None:
    """What follows an administrator setting someone's password (API or admin page): they
    must choose their own at the next sign-in, their sessions end, their lockout is cleared."""
    from . import lockout, sessions

    user.password_changed_at = timezone.now()
    user.must_change_password = True
    user.save(update_fields=["password_changed_at", "must_change_password"])
    sessions.end_sessions(user)
    lockout.reset_account(user)


def check_own_password(request, user: User, password: str, field: str = "old_password") -> None:
    """Is ``password`` the signed-in ``user``'s? Checked with ``authenticate()`` under the
    user's own name, so guesses go through the sign-in lockout like any sign-in (and the
    failure is counted: this runs outside any transaction that could roll it back). Raises
    ``ValidationError`` on ``field`` (wrong) or :class:`lockout.LockedOut` (locked)."""
    from django.contrib.auth import authenticate

    from . import lockout

    raw = getattr(request, "_request", request)
    checked = authenticate(raw, username=str(user), password=password or "")
    if checked is not None and checked.pk == user.pk:
        return
    lock = lockout.status(raw, str(user))
    if lock is not None:
        raise lockout.LockedOut(lock)
    raise ValidationError({field: "This is not your current password."})


def change_own_password(*, actor: User, request, old_password: str, new_password: str) -> User:
    """The signed-in user changes their own local password: the current one is checked (see
    :func:`check_own_password`), the new one validated; every *other* session of theirs ends,
    the current one (if the request has one) stays signed in."""
    from django.contrib.auth import update_session_auth_hash

    from . import lockout, sessions

    assert_local_password(actor, "old_password")
    # Not atomic as a whole: a rolled-back transaction would take the counted failure with it.
    check_own_password(request, actor, old_password)
    try:
        validate_password(new_password, actor)
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.messages}) from exc
    raw = getattr(request, "_request", request)
    with transaction.atomic():
        actor.set_password(new_password)
        actor.password_changed_at = timezone.now()
        actor.must_change_password = False
        actor.save(update_fields=["password", "password_changed_at", "must_change_password"])
        keep = None
        if raw.user.is_authenticated and raw.session.session_key and not _by_api_key(request):
            update_session_auth_hash(raw, actor)  # rotates the key, keeps this session valid
            keep = raw.session.session_key
        sessions.end_sessions(actor, keep=keep)
        lockout.reset_account(actor)
    return actor


def _by_api_key(request) -> bool:
    return isinstance(getattr(request, "auth", None), APIKey)


@transaction.atomic
def delete_user(*, actor, user: User) -> None:
    from apps.authz.services import assert_administrator_remains, assert_may_act_on

    if getattr(actor, "pk", None) == user.pk:
        raise ValidationError({"username": "You cannot delete yourself."})
    assert_may_act_on(actor, user, "delete")
    tenant = user.tenant
    user.delete()
    if tenant is not None:
        assert_administrator_remains(tenant)


# -- groups ----------------------------------------------------------------------------------
@transaction.atomic
def create_group(*, actor, tenant, name, display_name="", description="", members=()):
    from apps.authz.services import add_group_members

    from .models import Group

    if Group.objects.filter(tenant=tenant, name=name).exists():
        raise ValidationError({"name": f"A group named '{name}' already exists."})
    group = Group(tenant=tenant, name=name, display_name=display_name, description=description)
    group.full_clean(validate_unique=False)
    group.save()
    if members:
        add_group_members(actor=actor, group=group, users=list(members))
    return group


@transaction.atomic
def update_group(*, actor, group, members=None, **changes):
    from apps.authz.services import set_group_members

    for name in set(changes) - {"display_name", "description"}:
        raise ValidationError({name: "This field cannot be changed."})
    for name, value in changes.items():
        setattr(group, name, value)
    group.save()
    if members is not None:
        set_group_members(actor=actor, group=group, users=list(members))
    return group


def delete_group(*, actor, group) -> None:
    from apps.authz.services import delete_group as delete_guarded

    delete_guarded(actor=actor, group=group)


@transaction.atomic
def create_api_key(
    *,
    actor,
    user: User,
    expires_in: timedelta,
    description: str = "",
    parent: APIKey | None = None,
    fit_parent: bool = False,
    cluster=None,
) -> tuple[APIKey, str]:
    """Create a key for ``user``; returns the row and the plaintext, which is never stored.

    ``parent`` is the key the request was authenticated with, if any: the new key cannot
    outlive it (a 7-day kubeconfig key must not mint a 1-year key) nor reach further than it
    (a key limited to a cluster only mints keys limited to that cluster): a longer lifetime is
    refused, or with ``fit_parent`` (a default the caller did not choose) shortened to fit.
    ``cluster`` limits
    the new key to kubectl on that cluster (:meth:`APIKey.allows_cluster`).
    """
    from apps.authz.services import assert_may_act_on

    if not (API_KEY_MIN_LIFETIME <= expires_in <= API_KEY_MAX_LIFETIME):
        raise ValidationError(
            {"expires_in": "The key's lifetime must be between one minute and one year."}
        )
    if actor is not None and actor.pk != user.pk:
        assert_may_act_on(actor, user, "create an API key for")
    now = timezone.now()
    expires_at = now + expires_in
    if parent is not None:
        if parent.cluster_id is not None and getattr(cluster, "pk", None) != parent.cluster_id:
            raise PermissionDenied(
                f"API key {parent.prefix}… is limited to cluster {parent.cluster.name}: "
                "it cannot create keys for anything else."
            )
        if expires_at > parent.expires_at and fit_parent:
            expires_at = parent.expires_at
            if expires_at - now < API_KEY_MIN_LIFETIME:
                raise ValidationError(
                    {"expires_in": f"API key {parent.prefix}… expires in under a minute."}
                )
        if expires_at > parent.expires_at:
            left = max(parent.expires_at - now, timedelta(0))
            raise ValidationError(
                {
                    "expires_in": (
                        f"A key created with API key {parent.prefix}… cannot outlive it: it "
                        f"expires at {parent.expires_at:%Y-%m-%d %H:%M:%S} UTC, in "
                        f"{int(left.total_seconds()) // 60} minutes. Ask for less, or sign in "
                        "with your password."
                    )
                }
            )
    plaintext, prefix, digest = keys.generate()
    key = APIKey.objects.create(
        tenant_id=user.tenant_id,
        user=user,
        prefix=prefix,
        digest=digest,
        description=description,
        expires_at=expires_at,
        cluster=cluster,
    )
    return key, plaintext


def _assert_may_enable(actor, key: APIKey) -> None:
    """An administrator's disable sticks: a key disabled by someone else is enabled again
    only by that person or by someone who may act on them (holds at least what they hold).
    A key whose disabler is unknown (deleted, a command, or disabled before the portal kept
    track) needs a tenant administrator."""
    from apps.authz.services import assert_may_act_on, is_administrator

    if actor is None or actor.is_superuser or key.disabled_by_id == actor.pk:
        return
    if key.disabled_by_id is None:
        if is_administrator(actor) and actor.tenant_id == key.tenant_id:
            return
        raise PermissionDenied(
            f"API key {key.prefix}… was disabled by an administrator; only a tenant "
            "administrator can enable it again."
        )
    disabler = key.disabled_by
    try:
        assert_may_act_on(actor, disabler, "undo a key disable made by")
    except PermissionDenied as exc:
        raise PermissionDenied(
            f"API key {key.prefix}… was disabled by {disabler.username}; only they or someone "
            f"holding at least what they hold can enable it again ({exc})"
        ) from exc


@transaction.atomic
def set_api_key_disabled(*, actor, key: APIKey, disabled: bool) -> APIKey:
    from apps.authz.services import assert_may_act_on

    if actor is not None and actor.pk != key.user_id:
        verb = "disable API keys of" if disabled else "enable API keys of"
        assert_may_act_on(actor, key.user, verb)
    if disabled:
        if not key.disabled:
            key.disabled = True
            key.disabled_by = actor if getattr(actor, "pk", None) else None
    elif key.disabled:
        _assert_may_enable(actor, key)
        key.disabled, key.disabled_by = False, None
    key.save(update_fields=["disabled", "disabled_by"])
    return key


@transaction.atomic
def delete_api_key(*, actor, key: APIKey) -> None:
    from apps.authz.services import assert_may_act_on

    if actor is not None and actor.pk != key.user_id:
        assert_may_act_on(actor, key.user, "delete API keys of")
    key.delete()


# -- identity providers -----------------------------------------------------------------------
_PROVIDER_FIELDS = {"display_name", "enabled", "priority", "config", "secret"}


def _assert_identity_admin(actor, tenant) -> None:
    """Identity is the root of trust: whoever configures a provider decides who is who
    (and, through group mapping, who is an administrator). Only tenant administrators (and
    the platform administrator) may, whatever a custom policy grants."""
    from apps.authz.services import is_administrator

    if actor is None or actor.is_superuser:
        return
    if actor.tenant_id != tenant.pk or not is_administrator(actor):
        raise PermissionDenied(
            "Only tenant administrators configure identity providers: a provider decides "
            "who every user of the tenant is."
        )


def _check_provider(provider) -> None:
    from rest_framework.exceptions import ValidationError as DRFValidationError

    from .identity.config import validate_config

    try:
        provider.config = validate_config(provider.type, provider.config or {})
    except DRFValidationError as exc:
        raise ValidationError(exc.detail) from exc
    if provider.type == "local" and provider.secret:
        raise ValidationError({"secret": "Local accounts take no secret."})
    try:
        provider.full_clean(exclude=["tenant"], validate_unique=False)
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from exc


@transaction.atomic
def create_identity_provider(
    *,
    actor,
    tenant,
    name: str,
    type: str,
    display_name: str = "",
    enabled: bool = True,
    priority: int = 100,
    config: dict | None = None,
    secret: str = "",
):
    from .models import IdentityProvider

    _assert_identity_admin(actor, tenant)
    if IdentityProvider.objects.filter(tenant=tenant, name=name).exists():
        raise ValidationError({"name": f"An identity provider named '{name}' already exists."})
    if type == "local" and IdentityProvider.objects.filter(tenant=tenant, type="local").exists():
        raise ValidationError({"type": "This tenant already has its local-accounts provider."})
    provider = IdentityProvider(
        tenant=tenant,
        name=name,
        type=type,
        display_name=display_name,
        enabled=enabled,
        priority=priority,
        config=config or {},
        secret=secret or "",
    )
    _check_provider(provider)
    provider.save()
    return provider


@transaction.atomic
def update_identity_provider(*, actor, provider, **changes):
    """Change a provider. ``secret`` omitted keeps the stored one; ``config`` replaces the
    whole config (validated with defaults). Disabling a directory provider ends its users'
    sessions and API keys at their next request."""
    _assert_identity_admin(actor, provider.tenant)
    for name in set(changes) - _PROVIDER_FIELDS:
        raise ValidationError({name: "This field cannot be changed."})
    if changes.get("secret") is None:
        changes.pop("secret", None)
    for name, value in changes.items():
        setattr(provider, name, value)
    if "config" in changes:
        provider.discovery = {}  # the issuer may have changed: discover again
    _check_provider(provider)
    provider.save()
    return provider


@transaction.atomic
def delete_identity_provider(*, actor, provider) -> None:
    _assert_identity_admin(actor, provider.tenant)
    count = provider.users.count()
    if count:
        raise ValidationError(
            {
                "name": f"Identity provider '{provider.name}' still has {count} user(s); "
                "disable it (their access ends at once) or delete them first."
            }
        )
    provider.groups.update(identity_provider=None)
    provider.delete()


def test_identity_provider(*, actor, provider) -> dict:
    """Run the type's connection probe and keep its report on the provider."""
    from .identity import module_for

    _assert_identity_admin(actor, provider.tenant)
    module = module_for(provider.type)
    if module is None:
        report = {
            "ok": True,
            "failed_step": None,
            "tested_at": timezone.now().isoformat(),
            "steps": [
                {
                    "name": "local",
                    "ok": True,
                    "detail": "local accounts need no connection",
                    "ms": 0,
                }
            ],
        }
    else:
        report = module.test_connection(provider).as_dict()
    type(provider).objects.filter(pk=provider.pk).update(last_test=report)
    provider.last_test = report
    return report


def sync_identity_provider(*, actor, provider) -> str:
    """Queue a full sync (every user's presence and groups) of an LDAP provider; returns
    the Celery task id. The report lands in ``provider.last_sync``."""
    from .tasks import sync_identity_provider as task

    _assert_identity_admin(actor, provider.tenant)
    if provider.type != "ldap":
        raise ValidationError({"type": "Only LDAP directories can be synced on demand."})
    if not provider.enabled:
        raise ValidationError({"enabled": f"Identity provider '{provider.name}' is disabled."})
    return task.delay(provider.pk).id


def sync_user(*, actor, user):
    """Ask a directory user's provider about them now (presence, profile, groups)."""
    from apps.authz.services import assert_may_act_on

    from .identity import module_for

    if user.identity_provider_id is None:
        raise ValidationError({"username": f"'{user.username}' is a local account."})
    assert_may_act_on(actor, user, "sync")
    provider = user.identity_provider
    if not provider.enabled:
        raise ValidationError({"username": f"Identity provider '{provider.name}' is disabled."})
    module_for(provider.type).revalidate(provider, [user])
    user.refresh_from_db()
    return user
