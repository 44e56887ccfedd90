"""OpenAPI tags: the API documentation groups operations by area (clusters, projects, authz …)
instead of one flat ``v1`` list (drf-spectacular's default tag is the first path segment after
the common prefix, which for ``/api/v1/…`` is ``v1``).

An operation's tag is its view's app (``apps.<app>.…``), except where a part of an app is an
area of its own for the reader (``IDENTITY_VIEWS``, ``MODULE_TAGS``); ``extend_schema(tags=…)``
on a view still wins. ``SPECTACULAR_SETTINGS["TAGS"]`` (settings) is the documented order and
description of each.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema

# Views (by class name) that form an area of their own.
IDENTITY_VIEWS = frozenset({"IdentityProviderViewSet"})
# Modules (by prefix) that form an area of their own.
MODULE_TAGS = {
    "apps.clusters.api.resources": "cluster-resources",
    "apps.clusters.proxy": "kubectl",
}


def tag_for(view_class) -> str | None:
    if view_class.__name__ in IDENTITY_VIEWS:
        return "identity"
    module = view_class.__module__
    for prefix, tag in MODULE_TAGS.items():
        if module == prefix or module.startswith(prefix + "."):
            return tag
    parts = module.split(".")
    if len(parts) > 1 and parts[0] == "apps":
        return parts[1]
    return None


class PortalAutoSchema(AutoSchema):
    def get_tags(self) -> list[str]:
        tag = tag_for(type(self.view))
        return [tag] if tag else super().get_tags()
