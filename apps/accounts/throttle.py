"""Sign-in hardening: too many failed sign-ins lock the account (and, more loosely, the client
address) for a while. Counters live in the cache (Redis in production), so every process
sees them.

Failures count per *account*, whatever form of its name was typed: ``acme/bob``, ``bob``
(when that names one user) and ``ACME/Bob`` all resolve to the same user, so an attacker
cannot get five more guesses by spelling the name differently. A name that resolves to no
one (or to several users) counts under its normalised spelling. Every failure — the refused
attempts at a locked account included — restarts the lock's window, so hammering a locked
account keeps it locked.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.dispatch import receiver

from apps.core.middleware import client_ip


def _limits() -> tuple[int, int]:
    return (
        getattr(settings, "PORTAL_LOGIN_MAX_FAILURES", 5),
        getattr(settings, "PORTAL_LOGIN_LOCKOUT_SECONDS", 900),
    )


def _account(username: str):
    """The user a typed sign-in name designates, case-insensitively, or None (unknown or
    ambiguous). Mirrors ``PortalUserManager.get_by_natural_key``: ``tenant/name``, else a
    platform administrator of that name, else the only user of that name."""
    from .models import User

    name = (username or "").strip()
    if not name:
        return None
    if "/" in name:
        slug, _, bare = name.partition("/")
        users = User.objects.filter(tenant__slug__iexact=slug, username__iexact=bare)
    else:
        platform = User.objects.filter(username__iexact=name, tenant__isnull=True)
        users = platform if platform.exists() else User.objects.filter(username__iexact=name)
    found = list(users.only("pk", "tenant_id")[:2])
    return found[0] if len(found) == 1 else None


def _user_key(user) -> str:
    return f"login-fail:account:{user.tenant_id or '-'}:{user.pk}"


def _name_key(username: str) -> str:
    name = hashlib.sha256((username or "").strip().lower().encode()).hexdigest()[:32]
    return f"login-fail:name:{name}"


def _keys(username: str, ip: str | None) -> tuple[str, str]:
    account = _account(username)
    user_key = _user_key(account) if account is not None else _name_key(username)
    return user_key, f"login-fail:ip:{ip or '-'}"


def locked(username: str, ip: str | None) -> bool:
    """Is this account (or name) locked, or has this address failed far too often?"""
    max_failures, _ = _limits()
    user_key, ip_key = _keys(username, ip)
    counts = cache.get_many([user_key, ip_key])
    return counts.get(user_key, 0) >= max_failures or counts.get(ip_key, 0) >= max_failures * 4


def record_failure(username: str, ip: str | None) -> None:
    _, window = _limits()
    for key in _keys(username, ip):
        cache.add(key, 0, timeout=window)
        try:
            cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.set(key, 1, timeout=window)
        # incr keeps the first failure's expiry; the window runs from the latest failure.
        cache.touch(key, window)


def reset_account(user) -> None:
    cache.delete(_user_key(user))


def lockout_minutes() -> int:
    return max(1, _limits()[1] // 60)


@receiver(user_login_failed)
def _on_failure(sender, credentials, request=None, **kwargs):
    record_failure(credentials.get("username", ""), client_ip(request) if request else None)


@receiver(user_logged_in)
def _on_success(sender, request, user, **kwargs):
    reset_account(user)
