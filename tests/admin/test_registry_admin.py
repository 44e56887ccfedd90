"""The registry namespace admin: tenant-scoped (a tenant administrator sees and changes only
their tenant's namespaces), writes audited, repositories shown read-only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.registry.models import RegistryNamespace, Repository

pytestmark = pytest.mark.django_db


def test_tenant_admin_sees_own_namespaces_only(client, tenant_admin, tenant, other_tenant):
    mine = RegistryNamespace.objects.create(tenant=tenant, name="team")
    Repository.objects.create(namespace=mine, name="web/api", pull_count=7)
    theirs = RegistryNamespace.objects.create(tenant=other_tenant, name="secret-team")
    client.force_login(tenant_admin)
    page = client.get(reverse("admin:registry_registrynamespace_changelist")).content.decode()
    assert ">team<" in page and "secret-team" not in page
    change = client.get(reverse("admin:registry_registrynamespace_change", args=[mine.pk]))
    assert change.status_code == 200 and "web/api" in change.content.decode()
    other = client.get(reverse("admin:registry_registrynamespace_change", args=[theirs.pk]))
    assert other.status_code in (302, 404)  # the admin's "does not exist" for another tenant
    assert other.status_code != 200


def test_admin_change_goes_through_the_service_and_is_audited(client, tenant_admin, tenant):
    namespace = RegistryNamespace.objects.create(tenant=tenant, name="team")
    client.force_login(tenant_admin)
    url = reverse("admin:registry_registrynamespace_change", args=[namespace.pk])
    response = client.post(
        url,
        {
            "display_name": "Team",
            "description": "",
            "visibility": "public",
            "project": "",
            "storage_quota_bytes": "",
            "repositories-TOTAL_FORMS": "0",
            "repositories-INITIAL_FORMS": "0",
            "repositories-MIN_NUM_FORMS": "0",
            "repositories-MAX_NUM_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    namespace.refresh_from_db()
    assert namespace.visibility == "public" and namespace.display_name == "Team"
    event = AuditEvent.objects.filter(path=url).latest("id")
    assert event.action == "updateRegistryNamespace" and event.user == tenant_admin
