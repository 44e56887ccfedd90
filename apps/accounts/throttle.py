"""Sign-in hardening: too many failed sign-ins lock the name (and, more loosely, the client
address) for a while. Counters live in the cache (Redis in production), so every process
sees them."""

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


def _keys(username: str, ip: str | None) -> tuple[str, str]:
    name = hashlib.sha256((username or "").strip().lower().encode()).hexdigest()[:32]
    return f"login-fail:user:{name}", f"login-fail:ip:{ip or '-'}"


def locked(username: str, ip: str | None) -> bool:
    """Is this name locked, or has this address failed far too often?"""
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


def reset(username: str, ip: str | None) -> None:
    cache.delete(_keys(username, ip)[0])


def lockout_minutes() -> int:
    return max(1, _limits()[1] // 60)


@receiver(user_login_failed)
def _on_failure(sender, credentials, request=None, **kwargs):
    record_failure(credentials.get("username", ""), client_ip(request) if request else None)


@receiver(user_logged_in)
def _on_success(sender, request, user, **kwargs):
    reset(request.POST.get("username", "") if request else "", client_ip(request))
