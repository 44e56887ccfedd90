"""Every write to users, groups and API keys. Atomic; each takes the acting user."""

from __future__ import annotations

import re
from datetime import timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from . import keys
from .models import APIKey, User

API_KEY_MIN_LIFETIME = timedelta(minutes=1)
API_KEY_MAX_LIFETIME = timedelta(days=366)
_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``12h``, ``7d``, ``2w`` → timedelta; ValueError otherwise."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise ValueError(f"'{text}' is not a duration like 30m, 12h, 7d or 2w")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


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
    return user


@transaction.atomic
def update_user(*, actor, user: User, **changes) -> User:
    allowed = {"display_name", "email", "phone", "is_active", "is_staff"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in unknown})
    if actor.pk == user.pk and (
        changes.get("is_active") is False or changes.get("is_staff") is False
    ):
        raise ValidationError(
            {"is_active": "You cannot disable yourself or remove your own administrator role."}
        )
    for name, value in changes.items():
        setattr(user, name, value)
    user.full_clean(exclude=["password"], validate_unique=False)
    user.save()
    return user


@transaction.atomic
def set_password(*, actor, user: User, password: str) -> User:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)
    user.save(update_fields=["password"])
    return user


@transaction.atomic
def delete_user(*, actor, user: User) -> None:
    if actor.pk == user.pk:
        raise ValidationError({"username": "You cannot delete yourself."})
    user.delete()


@transaction.atomic
def create_api_key(
    *, actor, user: User, expires_in: timedelta, description: str = ""
) -> tuple[APIKey, str]:
    """Create a key for ``user``; returns the row and the plaintext, which is never stored."""
    if not (API_KEY_MIN_LIFETIME <= expires_in <= API_KEY_MAX_LIFETIME):
        raise ValidationError(
            {"expires": "The key's lifetime must be between one minute and one year."}
        )
    plaintext, prefix, digest = keys.generate()
    key = APIKey.objects.create(
        tenant_id=user.tenant_id,
        user=user,
        prefix=prefix,
        digest=digest,
        description=description,
        expires_at=timezone.now() + expires_in,
    )
    return key, plaintext


@transaction.atomic
def set_api_key_disabled(*, actor, key: APIKey, disabled: bool) -> APIKey:
    key.disabled = disabled
    key.save(update_fields=["disabled"])
    return key
