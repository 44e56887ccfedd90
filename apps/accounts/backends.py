"""Sign-in backends and the one rule every door asks about a signed-in user.

``TenantAwareModelBackend`` checks local passwords (``tenant/username``, or a platform
administrator's bare name). LDAP and OIDC have their own backends
(``apps.accounts.identity.ldap`` / ``.oidc``), built on :class:`PortalBackendMixin` so a
session opened by any of them is re-checked with the same rule on every request.
"""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from .choices import ProviderType, UserSource


def may_act(user) -> bool:
    """May ``user`` (an authenticated row) act right now? Active, tenant active, and — for
    directory users — still vouched for by their identity provider. Sessions ask it through
    the backends' ``get_user``; API keys in ``authentication.authenticate_api_key``."""
    if not user.is_active:
        return False
    if user.tenant_id is not None and not user.tenant.is_active:
        return False
    return user.vouched_for


def account_refusal(user_id) -> str:
    """For code that holds only a session's user id (websockets, between requests): why that
    user may no longer act, in words ('' when :func:`may_act`)."""
    from .models import User

    user = User.objects.select_related("tenant", "identity_provider").filter(pk=user_id).first()
    if user is None:
        return "your account was deleted"
    if may_act(user):
        return ""
    if not user.is_active:
        return "your account was disabled"
    if user.tenant_id is not None and not user.tenant.is_active:
        return f"tenant '{user.tenant.slug}' was disabled"
    return f"your account is no longer vouched for: {user.directory_refusal()}"


class PortalBackendMixin:
    """``get_user`` (the session's check on every request) loads the user with what
    :func:`may_act` reads, in one query, and refuses whoever may not act."""

    def get_user(self, user_id):
        from .models import User

        user = User.objects.select_related("tenant", "identity_provider").filter(pk=user_id).first()
        return user if user is not None and may_act(user) else None

    def user_can_authenticate(self, user) -> bool:
        return may_act(user)


def local_sign_in_enabled(tenant) -> bool:
    """Password sign-in with local accounts is on unless the tenant has a disabled local
    provider row (an SSO-only tenant)."""
    if tenant is None:
        return True
    from .models import IdentityProvider

    return not IdentityProvider.objects.filter(
        tenant=tenant, type=ProviderType.LOCAL, enabled=False
    ).exists()


class TenantAwareModelBackend(PortalBackendMixin, ModelBackend):
    """Django's ModelBackend for local accounts: refuses directory users (their password
    lives in the directory), users whose tenant or local sign-in is disabled.

    Name resolution lives in ``PortalUserManager.get_by_natural_key``; an ambiguous bare
    username raises MultipleObjectsReturned there, which we treat as a failed sign-in.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        from .models import User

        # A locked account never gets here: apps.accounts.lockout.LockoutBackend is first.
        try:
            user = super().authenticate(request, username=username, password=password, **kwargs)
        except User.MultipleObjectsReturned:
            User().set_password(password)  # same cost as a real check: no timing oracle
            return None
        if user is None or user.source != UserSource.LOCAL:
            return None
        if not local_sign_in_enabled(user.tenant):
            return None
        return user
