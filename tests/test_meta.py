"""Meta-tests: every API endpoint has a permission matrix (or, for the few plain views, a
named test covering anonymous access and its rule)."""

import importlib
import inspect
import pkgutil

import pytest
from django.urls import resolve

import tests
from apps.authz.routes import api_routes
from tests.matrix import APIMatrix

# Views without a matrix class, by class name, and the test that covers their authorization
# (anonymous 401, cannot see 404, not permitted 403, permitted 2xx).
VIEW_TESTS = {
    "WorkloadOperationViewSet": "tests.clusters.test_resources.test_operation_permission_matrix",
    "NodeOperationViewSet": "tests.clusters.test_resources.test_operation_permission_matrix",
    "ApplyViewSet": "tests.clusters.test_resources.test_operation_permission_matrix",
    "OverviewViewSet": "tests.clusters.test_resources.test_overview_permission_matrix",
    "AlertmanagerWebhookViewSet": "tests.monitoring.test_alert_api.test_webhook_settings_matrix",
}
# Plain (non-viewset) endpoints and the tests that cover their authorization.
PLAIN_ENDPOINTS = {
    "/api/v1/clusters/<str:name>/kubeconfig": (
        "tests.clusters.test_kubeconfig.test_kubeconfig_permissions"
    ),
    "/api/v1/projects/<str:name>/kubeconfig": (
        "tests.projects.test_project_kubeconfig.test_project_kubeconfig_permissions"
    ),
    "/api/v1/portal/": "tests.projects.test_portal.test_portal_permissions",
    "/api/v1/me/": "tests.test_meta.test_plain_endpoints_need_authentication",
    "/api/v1/me/password/": "tests.accounts.test_passwords.test_change_own_password_matrix",
    "/api/v1/authz/check/": "tests.authz.test_api.test_check_for_yourself",
    "/api/v1/authz/explain/": (
        "tests.authz.test_api.test_checking_others_needs_permission_and_stays_in_tenant"
    ),
    # monitoring: metrics and the Prometheus-compatible API (c-query)
    "/api/v1/metrics/": "tests.monitoring.test_query.test_permission_matrix",
    "/api/v1/query_range": "tests.monitoring.test_promql_api.test_permission_matrix",
    "/api/v1/query": "tests.monitoring.test_promql_api.test_permission_matrix",
    "/api/v1/labels": "tests.monitoring.test_promql_api.test_permission_matrix",
    "/api/v1/label/<str:name>/values": "tests.monitoring.test_promql_api.test_permission_matrix",
    "/api/v1/series": "tests.monitoring.test_promql_api.test_permission_matrix",
    "/api/v1/metadata": "tests.monitoring.test_promql_api.test_permission_matrix",
    "/api/v1/status/buildinfo": "tests.monitoring.test_promql_api.test_permission_matrix",
    # monitoring: a cluster's collection settings (c-collect)
    "/api/v1/clusters/<str:cluster>/monitoring/": (
        "tests.monitoring.test_collect_settings.test_permission_matrix"
    ),
}


def _matrix_views() -> set[type]:
    """The view classes that some permission matrix exercises (resolved from its URL)."""
    views = set()
    for module_info in pkgutil.walk_packages(tests.__path__, "tests."):
        if ".sandbox" in module_info.name or module_info.name.endswith("conftest"):
            continue
        module = importlib.import_module(module_info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(obj, APIMatrix)
                and obj is not APIMatrix
                and (obj.view_url or obj.list_url)
            ):
                match = resolve(obj.view_url or obj.list_url)
                views.add(match.func.cls)
    return views


def test_every_api_endpoint_has_a_permission_matrix():
    covered = _matrix_views()
    missing = []
    for route in api_routes():
        if route.view in covered:
            continue
        test = PLAIN_ENDPOINTS.get(route.path) or VIEW_TESTS.get(
            getattr(route.view, "__name__", "")
        )
        if test is None:
            missing.append(f"{route.method} {route.path}")
            continue
        module, _, name = test.rpartition(".")
        assert hasattr(importlib.import_module(module), name), f"{test} does not exist"
    assert not missing, f"endpoints without a permission matrix: {missing}"


@pytest.mark.django_db
@pytest.mark.parametrize("path", sorted(PLAIN_ENDPOINTS))
def test_plain_endpoints_need_authentication(anon_client, path):
    response = anon_client.post(path) if path.endswith("check/") else anon_client.get(path)
    assert response.status_code == 401


def test_the_action_table_in_docs_is_current():
    """docs/authz-actions.md is generated from the code; regenerate it when this fails:
    ``manage.py authz_actions --markdown > docs/authz-actions.md``."""
    from pathlib import Path

    from apps.authz.management.commands.authz_actions import render_markdown

    path = Path(__file__).resolve().parent.parent / "docs" / "authz-actions.md"
    assert path.read_text() == render_markdown()
