"""The global DRF permission class. App viewsets hold no permission code: they name their
kind and the base viewset (``apps/core/api/viewsets.py``) supplies action and resource."""

from __future__ import annotations

from rest_framework import exceptions, permissions

from .enforcer import can_any, check


def _deny(action: str, resource: str, reason: str):
    raise exceptions.PermissionDenied(f"You are not allowed to {action} on {resource}: {reason}.")


class PortalPermission(permissions.BasePermission):
    """Authenticated, then the permission layer:

    - list: the user may do the list action on at least something (rows are then filtered
      in SQL by ``restrict``);
    - create and other collection actions: ``check`` on the collection resource;
    - detail routes: nothing here — ``get_object()`` first answers 404 for what the user
      cannot see, then :meth:`has_object_permission` checks the object.

    Views that are not portal viewsets (no ``authz_action``) only require authentication.
    """

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        get_action = getattr(view, "authz_action", None)
        if get_action is None or getattr(view, "action", "") is None:
            return True  # not a portal viewset, or a method it does not route (405)
        if (view.lookup_url_kwarg or view.lookup_field) in view.kwargs:
            return True
        action = get_action()
        resource, tenant = view.authz_collection()
        if request.method in permissions.SAFE_METHODS:
            queryset = getattr(view, "queryset", None)
            model = queryset.model if queryset is not None else None
            if not can_any(request.user, action, model=model):
                _deny(action, resource, "no policy allows it")
            return True
        decision = check(
            request.user, action, resource, tenant=tenant, owner=view.authz_collection_owner()
        )
        if not decision:
            _deny(action, resource, decision.reason)
        return True

    def has_object_permission(self, request, view, obj) -> bool:
        get_action = getattr(view, "authz_action", None)
        if get_action is None:
            return True
        action = get_action()
        resource, tenant = view.authz_object(obj)
        decision = check(
            request.user, action, resource, tenant=tenant, owner=view.object_owner(obj), obj=obj
        )
        if not decision:
            _deny(action, resource, decision.reason)
        return True
