"""The OpenAPI document groups operations by area (one tag each, documented in the settings'
``TAGS``), never one flat ``v1`` list."""

from __future__ import annotations

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client, tenant_admin):
    client.force_login(tenant_admin)
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, operation


def test_every_operation_has_one_documented_tag(schema):
    documented = [tag["name"] for tag in settings.SPECTACULAR_SETTINGS["TAGS"]]
    assert [tag["name"] for tag in schema["tags"]] == documented
    used = set()
    for path, method, operation in _operations(schema):
        assert len(operation["tags"]) == 1, (path, method, operation["tags"])
        used.add(operation["tags"][0])
    assert "v1" not in used
    assert used == set(documented), used ^ set(documented)


@pytest.mark.parametrize(
    ("path", "method", "tag"),
    [
        ("/api/v1/clusters/", "get", "clusters"),
        ("/api/v1/clusters/{name}/health-check/", "post", "clusters"),
        ("/api/v1/projects/", "get", "projects"),
        ("/api/v1/projects/{project}/members/", "post", "projects"),
        ("/api/v1/portal/", "get", "projects"),
        ("/api/v1/policies/", "get", "authz"),
        ("/api/v1/bindings/", "post", "authz"),
        ("/api/v1/users/", "get", "accounts"),
        ("/api/v1/api-keys/", "post", "accounts"),
        ("/api/v1/identity-providers/", "get", "identity"),
        ("/api/v1/audit-events/", "get", "audit"),
        ("/api/v1/tenants/", "get", "tenants"),
        ("/api/v1/clusters/{name}/kubeconfig", "post", "kubectl"),
    ],
)
def test_operations_are_grouped_by_area(schema, path, method, tag):
    assert path in schema["paths"], sorted(p for p in schema["paths"] if path[:20] in p)
    assert schema["paths"][path][method]["tags"] == [tag]
