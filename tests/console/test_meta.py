"""Every console page has a permission matrix (tests/console/matrix.py), like every API
endpoint (tests/test_meta.py); the few POST-only actions name the test covering them."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from django.urls import URLPattern, URLResolver, get_resolver, resolve

import tests.console
from tests.console.matrix import ConsoleMatrix

# Routes that are not pages (POST-only actions), and the test that covers their authorization.
# A test module may add its own as a module-level ``NOT_PAGES`` dict of the same shape.
NOT_PAGES = {
    "console:tenant-switch": "tests.console.test_pages.test_others_cannot_switch_tenant",
}


def _console_routes() -> set[str]:
    names: set[str] = set()

    def walk(patterns, namespace: str):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and namespace == "console" and pattern.name:
                names.add(f"console:{pattern.name}")

    walk(get_resolver().url_patterns, "")
    return names


def _modules():
    for module_info in pkgutil.walk_packages(tests.console.__path__, "tests.console."):
        yield importlib.import_module(module_info.name)


def _not_pages() -> dict[str, str]:
    found = dict(NOT_PAGES)
    for module in _modules():
        if module.__name__ != __name__:
            found.update(getattr(module, "NOT_PAGES", {}))
    return found


def _covered() -> set[str]:
    covered = set()
    for module in _modules():
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, ConsoleMatrix) and cls is not ConsoleMatrix and cls.url:
                covered.add(resolve(cls.url.split("?")[0]).view_name)
            if issubclass(cls, ConsoleMatrix) and getattr(cls, "url_name", ""):
                covered.add(cls.url_name)
    return covered


def test_every_console_page_has_a_permission_matrix():
    routes = _console_routes()
    assert "console:overview" in routes
    not_pages = _not_pages()
    missing = sorted(routes - _covered() - set(not_pages))
    assert not missing, f"console pages without a ConsoleMatrix: {missing}"
    for test in not_pages.values():
        module, _, name = test.rpartition(".")
        assert hasattr(importlib.import_module(module), name), f"{test} does not exist"
