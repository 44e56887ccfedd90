"""The global DRF permission class. App viewsets hold no permission code: they name their
kind and the base viewset (``apps/core/api/viewsets.py``) supplies action and resource."""

from __future__ import annotations

from rest_framework import exceptions, permissions

from .enforcer import check


class PortalPermission(permissions.BasePermission):
    """Authenticated, then ``authz.check`` on the collection (list, create) or on the
    object (detail routes, after the queryset has hidden what the user may not see).

    Views that are not portal viewsets (no ``authz_action``) only require authentication.
    """

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        get_action = getattr(view, "authz_action", None)
        if get_action is None:
            return True
        if getattr(view, "action", "") is None:
            return True  # a method this endpoint does not route: DRF answers 405
        if (view.lookup_url_kwarg or view.lookup_field) in view.kwargs:
            # Detail routes: get_object() answers 404 for what the user cannot see, then
            # has_object_permission decides — so other tenants' objects are 404, not 403.
            return True
        action = get_action()
        resource, tenant = view.authz_collection()
        decision = check(request.user, action, resource, tenant=tenant)
        if not decision:
            raise exceptions.PermissionDenied(
                f"You are not allowed to {action} on {resource}: {decision.reason}."
            )
        return True

    def has_object_permission(self, request, view, obj) -> bool:
        get_action = getattr(view, "authz_action", None)
        if get_action is None:
            return True
        action = get_action()
        resource, tenant = view.authz_object(obj)
        decision = check(request.user, action, resource, tenant=tenant)
        if not decision:
            raise exceptions.PermissionDenied(
                f"You are not allowed to {action} on {resource}: {decision.reason}."
            )
        return True
