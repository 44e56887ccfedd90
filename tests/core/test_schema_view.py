"""``/api/schema/`` is generated once per process, API version and language, and every
caller gets that same document."""

from __future__ import annotations

import pytest

from apps.core.api.schema import SchemaView

pytestmark = pytest.mark.django_db

JSON = "application/vnd.oai.openapi+json"


def test_the_document_is_generated_once_and_served_to_everyone(client, tenant_admin, other_user):
    SchemaView._documents.clear()
    client.force_login(tenant_admin)
    first = client.get("/api/schema/", HTTP_ACCEPT=JSON)
    assert first.status_code == 200 and "/api/v1/clusters/" in first.json()["paths"]
    assert list(SchemaView._documents) == [(None, "en")]
    stored = SchemaView._documents[(None, "en")]

    client.force_login(other_user)
    second = client.get("/api/schema/", HTTP_ACCEPT=JSON)
    assert second.json() == first.json()
    assert SchemaView._documents[(None, "en")] is stored  # not generated again


def test_each_language_has_its_own_document(client, tenant_admin):
    SchemaView._documents.clear()
    client.force_login(tenant_admin)
    client.get("/api/schema/", HTTP_ACCEPT=JSON)
    client.get("/api/schema/?lang=zh-hans", HTTP_ACCEPT=JSON)
    assert sorted(SchemaView._documents) == [(None, "en"), (None, "zh-hans")]
