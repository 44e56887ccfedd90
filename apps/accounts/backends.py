"""Password sign-in for tenant users (``tenant/username``) and platform administrators."""

from django.contrib.auth.backends import ModelBackend


class TenantAwareModelBackend(ModelBackend):
    """Django's ModelBackend, refusing users whose tenant is disabled.

    Name resolution lives in ``PortalUserManager.get_by_natural_key``; an ambiguous bare
    username raises MultipleObjectsReturned there, which we treat as a failed sign-in.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        from django.core.exceptions import PermissionDenied

        from apps.core.middleware import client_ip

        from . import throttle
        from .models import User

        if throttle.locked(username or "", client_ip(request) if request else None):
            # PermissionDenied stops Django trying other backends; authenticate() then sends
            # user_login_failed, which counts the attempt and restarts the lock's window
            # (throttle.record_failure): hammering a locked account keeps it locked.
            raise PermissionDenied("too many failed sign-ins")
        try:
            return super().authenticate(request, username=username, password=password, **kwargs)
        except User.MultipleObjectsReturned:
            User().set_password(password)  # same cost as a real check: no timing oracle
            return None

    def user_can_authenticate(self, user) -> bool:
        if not super().user_can_authenticate(user):
            return False
        return user.tenant_id is None or user.tenant.is_active
