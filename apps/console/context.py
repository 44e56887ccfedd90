"""The console shell's context for every page that extends ``base.html``: navigation,
projects, the tenant switcher and the scope. Values are computed only when a template reads
them (the admin and the API never pay for them) and once per request."""

from __future__ import annotations

from functools import cache

from . import nav
from .scope import console_scope, switchable_tenants


def console(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    match = getattr(request, "resolver_match", None)
    current = match.view_name if match is not None else ""

    @cache
    def sections():
        return nav.platform_sections(user, current)

    @cache
    def projects():
        return nav.project_sections(user)

    @cache
    def tenants():
        return switchable_tenants(user)

    @cache
    def scope():
        return console_scope(request)

    @cache
    def cluster_tabs():
        # The tabs of the cluster a page is about (its URL's ``cluster``), for
        # templates/console/clusters/_tabs.html; a view may put its own in the context.
        cluster = match.kwargs.get("cluster") if match is not None else None
        return nav.visible_cluster_tabs(user, cluster, current) if cluster else []

    return {
        "nav_sections": sections,
        "nav_projects": projects,
        "switch_tenants": tenants,
        "scope": scope,
        "cluster_tabs": cluster_tabs,
    }
