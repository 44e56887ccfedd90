"""The action/resource table of every API endpoint, read from the code itself."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    name: str
    action: str
    resource: str
    view: type | None = None


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def _clean(path: str) -> str:
    path = path.replace("^", "").replace("$", "").replace("\\Z", "")
    for token in ("(?P<",):
        while token in path:
            start = path.index(token)
            end = path.index(">", start)
            close = path.index(")", end)
            path = path[:start] + "{" + path[start + 4 : end] + "}" + path[close + 1 :]
    return "/" + path


def api_routes() -> list[Route]:
    """Every (method, path) under /api/v1/ with its authorization action and resource."""
    routes: list[Route] = []
    for raw, pattern in _walk(get_resolver().url_patterns):
        if not raw.startswith("api/v1/"):
            continue
        callback = pattern.callback
        cls = getattr(callback, "cls", None)
        actions = getattr(callback, "actions", None)
        path = _clean(raw)
        if cls is None:
            continue
        if actions:
            # DRF adds "head" to a viewset's actions on its first request: leave it out so
            # the table does not depend on what has been served.
            actions = {m: a for m, a in actions.items() if m not in ("head", "options")}
        if actions and hasattr(cls, "authz_action"):
            for method, name in actions.items():
                view = cls()
                view.action = name
                view.kwargs = (
                    {cls.lookup_url_kwarg or cls.lookup_field: "{name}"} if ("{" in path) else {}
                )
                resource = view.authz_resource_path().replace("{name}", "<name>")
                routes.append(
                    Route(
                        method.upper(), path, pattern.name or "", view.authz_action(), resource, cls
                    )
                )
        else:
            methods = (
                [m.upper() for m in actions]
                if actions
                else [
                    m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(cls, m)
                ]
            )
            action = getattr(cls, "authz_doc", "authenticated")
            for method in methods:
                routes.append(Route(method, path, pattern.name or "", action, "-", cls))
    return sorted(routes, key=lambda r: (r.path, r.method))
