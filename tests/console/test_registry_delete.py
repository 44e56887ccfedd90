"""Deleting through the registry console against the real docker-registry: a tag deleted on
the repository page is gone from the registry (a pull fails) and its row too; the other
image still pulls."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.registry.models import Tag
from tests.live import portal  # noqa: F401  (fixture)
from tests.registry import test_delete_gc

pytestmark = pytest.mark.django_db(transaction=True)

pushed = test_delete_gc.pushed  # app:v1 and tools/builder:v1 in acme/team, pushed for real


def test_delete_a_tag_from_the_console(registry, pushed, client, tenant_admin, tmp_path):
    creds = pushed
    client.force_login(tenant_admin)
    url = "/registry/namespaces/team/repositories/app"
    page = client.get(url).content.decode()
    digest = Tag.objects.get(repository__name="app").digest
    assert digest in page and "tag-delete" in page
    response = client.post(url, {"operation": "delete-tag", "tag": "v1"})
    assert response.status_code == 303, response.content[:3000]
    assert not Tag.objects.filter(repository__name="app").exists()
    gone = registry.pull(registry.ref("acme/team/app"), tmp_path / "gone", "v1", creds)
    assert gone.returncode != 0
    kept = registry.pull(registry.ref("acme/team/tools/builder"), tmp_path / "kept", "v1", creds)
    assert kept.returncode == 0, kept.stderr
    event = AuditEvent.objects.get(action="deleteTag")
    assert event.outcome == "success" and event.resource.endswith("/repository:app/tag:v1")
