"""Sign-in lockout, built on django-axes: too many failed password sign-ins lock the *account*
for a while, and far more failures from one *client address* lock that address.

**One account, whatever its name was typed as.** Axes counts failures under a "username";
ours is the account the typed name resolves to (``AXES_USERNAME_CALLABLE`` =
:func:`username_for_axes`): ``acme/bob``, ``ACME/Bob``, the tenant field ``acme`` with the name
``bob`` (the console form joins them before it authenticates; :func:`qualify`), and a bare
``bob`` when that names exactly one user, all count as ``acme/bob``. A name that resolves to no
one — or to several users, which the backends refuse anyway — counts under its lower-cased
spelling, so unknown names lock exactly like real ones and the lock is no oracle.

**Per account and per address, with different limits.** Axes keeps one row per (name, address,
user agent) and, for each of its lockout parameters (``AXES_LOCKOUT_PARAMETERS = ["username",
"ip_address"]``), sums the recent failures; but it compares all of them with *one* limit. The
address limit must be higher (one user must not lock a whole office behind one NAT), so
:class:`PortalAxesHandler` overrides the one number axes compares, ``get_failures``: it is the
account's failures, raised to the account limit when the address has reached its own limit
(``PORTAL_LOGIN_MAX_FAILURES_PER_IP``). Axes' own checks (``is_locked``: failures ≥ limit,
and the lock detection after a failure) then mean exactly "account ≥
``PORTAL_LOGIN_MAX_FAILURES`` or address ≥ ``PORTAL_LOGIN_MAX_FAILURES_PER_IP``". The address
is the portal's one client-address rule (``apps.core.middleware.client_ip``, honouring
``PORTAL_TRUSTED_PROXIES``).

**Attempts at a locked account extend the lock.** A refused attempt is still a failed sign-in
(``AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = True``): it is counted and moves the
row's attempt time to now, so a lock ends ``PORTAL_LOGIN_LOCKOUT_SECONDS`` after the *last*
attempt, and a script that keeps trying keeps itself locked out at no cost to anyone else.
The message says how long from now ("try again in N minutes"), which is the truth for a person
who then waits. Failures count while they keep coming: a row expires a whole lockout period
after its last failure.

**Only password attempts.** Sign-ins without a password (OpenID Connect callbacks) are neither
checked nor counted here: the identity provider rate-limits its own password form.

**Success** clears the account's failures (not the address's: someone who signs in to their
own account must not wipe the count of their guesses at others). So does an administrator's
password reset (:func:`reset_account`).

**Every door.** :class:`LockoutBackend` is first in ``AUTHENTICATION_BACKENDS``, so every
password ``authenticate()`` — console form, admin, re-authentication, the password-change
check, LDAP logins (same form) and a direct call without a request — is refused while locked.
The forms then say so (:class:`LockoutAwareMixin` via :func:`status`); axes' own middleware
is not used (``axes.W002`` is silenced): the forms render the lock themselves, and axes
8.3.1's middleware passes the wrong arguments to a lockout callable under ASGI.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.core import checks
from django.db.models import Max, Sum
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import exceptions, status

from apps.core.middleware import client_ip

# Longest name axes can store (AccessAttempt.username).
_KEY_MAX = 255


# -- settings, as axes callables --------------------------------------------------------------
def account_limit() -> int:
    return settings.PORTAL_LOGIN_MAX_FAILURES


def address_limit() -> int:
    return settings.PORTAL_LOGIN_MAX_FAILURES_PER_IP


def failure_limit(request=None, credentials=None) -> int:
    """``AXES_FAILURE_LIMIT``: the account limit (see :meth:`PortalAxesHandler.get_failures`
    for how the address limit is folded into it)."""
    return account_limit()


def cool_off(request=None) -> timedelta:
    """``AXES_COOLOFF_TIME``: how long a lock lasts after the last attempt."""
    return timedelta(seconds=settings.PORTAL_LOGIN_LOCKOUT_SECONDS)


def client_address(request) -> str | None:
    """``AXES_CLIENT_IP_CALLABLE``: the portal's client-address rule."""
    return getattr(request, "client_ip", None) or client_ip(request)


# -- the account a typed name designates ------------------------------------------------------
def qualify(tenant: str | None, username: str | None) -> str:
    """``tenant/username`` as the backends expect it: the typed name when it already names a
    tenant, or when no tenant was given."""
    username = (username or "").strip()
    tenant = (tenant or "").strip().lower()
    if tenant and username and "/" not in username:
        return f"{tenant}/{username}"
    return username


def key_for(user) -> str:
    """The lock key of a user: ``<tenant>/<username>``, or a platform administrator's name."""
    if user.tenant_id is None:
        return user.username
    return f"{user.tenant.slug}/{user.username}"


def resolve(typed: str):
    """The user a typed sign-in name designates, case-insensitively, or None (unknown or
    ambiguous). Mirrors ``PortalUserManager.get_by_natural_key``: ``tenant/name``, else a
    platform administrator of that name, else the only user of that name."""
    from .models import User

    name = (typed or "").strip()
    if not name:
        return None
    users = User.objects.select_related("tenant")
    if "/" in name:
        slug, _, bare = name.partition("/")
        found = list(users.filter(tenant__slug__iexact=slug, username__iexact=bare)[:2])
        if not found and "@" in bare:
            # A directory may match its people by mail too ((|(uid=…)(mail=…))): the address
            # of a directory user is the same account, not a fresh counter to guess with.
            found = list(
                users.filter(tenant__slug__iexact=slug, email__iexact=bare.strip()).exclude(
                    identity_provider=None
                )[:2]
            )
    else:
        found = list(users.filter(username__iexact=name, tenant__isnull=True)[:1])
        if not found:
            found = list(users.filter(username__iexact=name)[:2])
    return found[0] if len(found) == 1 else None


def account_key(typed: str) -> str:
    user = resolve(typed)
    if user is not None:
        return key_for(user)
    return (typed or "").strip().lower()[:_KEY_MAX]


def username_for_axes(request, credentials=None) -> str | None:
    """``AXES_USERNAME_CALLABLE``: the lock key of the name in ``credentials`` (what
    ``authenticate()`` was given) or, failing that, of the posted tenant and username.
    Memoised on the request: axes asks several times per attempt."""
    typed = credentials.get("username") if credentials else None
    if typed is None and request is not None:
        data = getattr(request, "POST", None) or {}
        typed = qualify(data.get("tenant"), data.get("username")) or None
    if not typed:
        return None
    memo = request.__dict__.setdefault("_portal_lock_keys", {}) if request is not None else {}
    if typed not in memo:
        memo[typed] = account_key(typed)
    return memo[typed]


def detached_request() -> HttpRequest:
    """Stands in for the request a direct ``authenticate()`` call did not pass: no client
    address, so only the account counts."""
    return HttpRequest()


# -- the lock ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Lock:
    """An active lock: on the account or on the client address, until when."""

    scope: str  # "account" | "address"
    until: datetime

    @property
    def minutes(self) -> int:
        return max(1, math.ceil((self.until - timezone.now()).total_seconds() / 60))

    @property
    def message(self) -> str:
        whose = "for this account" if self.scope == "account" else "from your network address"
        minutes = self.minutes
        unit = "minute" if minutes == 1 else "minutes"
        return f"Too many failed sign-ins {whose}: try again in {minutes} {unit}."


class LockedOut(exceptions.APIException):
    """A password check refused because of a lock (the API answers 429 with its message)."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "sign_in_locked"

    def __init__(self, lock: Lock):
        super().__init__(lock.message)
        self.lock = lock
        self.wait = max(0, int((lock.until - timezone.now()).total_seconds()))


class PortalAxesHandler(AxesDatabaseHandler):
    """Axes' database handler (rows the platform administrator sees and clears in the admin)
    with the portal's two limits, password-only counting and account-only reset."""

    def _recent(self, request):
        threshold = request.axes_attempt_time - get_cool_off(request)
        return AccessAttempt.objects.filter(attempt_time__gte=threshold)

    def _totals(self, rows) -> tuple[int, datetime | None]:
        found = rows.aggregate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        return found["failures"] or 0, found["last"]

    def lock(self, request, credentials=None) -> Lock | None:
        """The lock this attempt runs into, if any (the account's first)."""
        recent = self._recent(request)
        username = get_client_username(request, credentials)
        if username:
            failures, last = self._totals(recent.filter(username=username))
            if failures >= account_limit():
                return Lock("account", last + get_cool_off(request))
        if request.axes_ip_address:
            failures, last = self._totals(recent.filter(ip_address=request.axes_ip_address))
            if failures >= address_limit():
                return Lock("address", last + get_cool_off(request))
        return None

    def get_failures(self, request, credentials=None) -> int:
        """The one number axes compares with the account limit: the account's recent
        failures, or at least that limit once the address is locked."""
        recent = self._recent(request)
        username = get_client_username(request, credentials)
        failures = self._totals(recent.filter(username=username))[0] if username else 0
        if request.axes_ip_address:
            from_address = self._totals(recent.filter(ip_address=request.axes_ip_address))[0]
            if from_address >= address_limit():
                return max(failures, account_limit())
        return failures

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        if "password" not in (credentials or {}):
            return  # not a password guess (single sign-on callbacks)
        if request is None:
            request = detached_request()
            AxesProxyHandler.update_request(request)
        super().user_login_failed(sender, credentials, request, **kwargs)

    def user_logged_in(self, sender, request, user, **kwargs):
        super().user_logged_in(sender, request, user, **kwargs)
        reset_account(user)


class LockoutBackend(AxesStandaloneBackend):
    """First authentication backend: refuses every password sign-in while the account or
    the client address is locked (PermissionDenied stops Django from asking the other
    backends; ``authenticate()`` then sends ``user_login_failed``, which counts it). It never
    signs anyone in itself."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if password is None:
            return None  # no password, nothing to guess: not ours to throttle
        request = request if request is not None else detached_request()
        try:
            return super().authenticate(request, username=username, password=password, **kwargs)
        except AxesBackendPermissionDenied:
            # For the audit event of this attempt (apps.accounts.signals).
            request.portal_sign_in_reason = "refused without checking the password: " + (
                status(request, username or "") or Lock("account", timezone.now())
            ).message.lower().rstrip(".")
            raise


def status(request, typed_username: str) -> Lock | None:
    """Is a sign-in as ``typed_username`` from this request's address locked out now?"""
    AxesProxyHandler.update_request(request)
    handler = AxesProxyHandler.get_implementation()
    return handler.lock(request, {"username": typed_username})


def reset_account(user) -> int:
    """Forget the account's failures (success, an administrator's password reset)."""
    count, _ = AccessAttempt.objects.filter(username=key_for(user)).delete()
    return count


@checks.register(checks.Tags.security)
def check_limits(app_configs=None, **kwargs):
    """The address limit must be above the account limit: otherwise one user's typos lock
    everyone behind the same address (an office NAT) before their own account locks."""
    if settings.PORTAL_LOGIN_MAX_FAILURES_PER_IP <= settings.PORTAL_LOGIN_MAX_FAILURES:
        return [
            checks.Error(
                "PORTAL_LOGIN_MAX_FAILURES_PER_IP "
                f"({settings.PORTAL_LOGIN_MAX_FAILURES_PER_IP}) must be higher than "
                f"PORTAL_LOGIN_MAX_FAILURES ({settings.PORTAL_LOGIN_MAX_FAILURES}).",
                id="accounts.E001",
            )
        ]
    return []
