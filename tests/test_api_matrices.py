"""Permission matrices of the foundation's endpoints (see tests/matrix.py)."""

import pytest

from apps.audit.services import record_event
from tests.factories import UserFactory
from tests.matrix import APIMatrix

pytestmark = pytest.mark.django_db


class TestUserMatrix(APIMatrix):
    list_url = "/api/v1/users/"
    no_permission = None  # everyone may see their own profile: tested below

    def test_viewer_sees_only_themselves(self, api, viewer, member):
        client = api(viewer)
        rows = client.get(self.list_url).json()["results"]
        assert [row["username"] for row in rows] == ["vic"]
        assert client.get(f"{self.list_url}bob/").status_code == 404
        assert client.post(self.list_url, self.create_data(None)).status_code == 403

    def make_object(self, tenant):
        return UserFactory(tenant=tenant)

    def lookup(self, obj):
        return obj.username

    def lookup_from_json(self, row):
        return row["username"]

    def create_data(self, tenant):
        return {"username": "newcomer", "password": "A-long-password-42", "email": "n@x.test"}

    def update_data(self, obj):
        return {"display_name": "Renamed"}


class TestTenantMatrix(APIMatrix):
    """Tenants: tenant users see their own; creating and deleting are platform actions."""

    list_url = "/api/v1/tenants/"
    writer = "platform_admin"

    def make_object(self, tenant):
        return tenant

    def lookup(self, obj):
        return obj.slug

    def lookup_from_json(self, row):
        return row["slug"]

    def create_data(self, tenant):
        return {"slug": "initech", "display_name": "Initech"}

    def update_data(self, obj):
        return {"display_name": "Renamed"}

    def test_reader_lists_own_tenant_only(self, api, member, tenant, other_tenant):
        rows = api(member).get(self.list_url).json()["results"]
        assert [row["slug"] for row in rows] == ["acme"]

    def test_writer_creates_updates_deletes(self, api, platform_admin, tenant, other_tenant):
        client = api(platform_admin)
        created = client.post(self.list_url, self.create_data(tenant))
        assert created.status_code == 201, created.content
        updated = client.patch(f"{self.list_url}initech/", {"display_name": "Initech Corp"})
        assert updated.status_code == 200
        assert updated.json()["display_name"] == "Initech Corp"
        assert client.delete(f"{self.list_url}initech/").status_code == 204
        assert client.get(f"{self.list_url}initech/").status_code == 404

    def test_tenant_admin_cannot_create_tenants(self, api, tenant_admin):
        response = api(tenant_admin).post(self.list_url, {"slug": "sneaky"})
        assert response.status_code == 403

    def test_tenant_admin_edits_own_tenant(self, api, tenant_admin, tenant):
        response = api(tenant_admin).patch(f"{self.list_url}acme/", {"display_name": "ACME"})
        assert response.status_code == 200
        tenant.refresh_from_db()
        assert tenant.display_name == "ACME"


class TestAuditEventMatrix(APIMatrix):
    """Audit events: read-only; tenant admins see the tenant's trail, members their own."""

    list_url = "/api/v1/audit-events/"
    read_only = True
    reader = "tenant_admin"
    no_permission = None  # everyone sees their own trail: tested below

    def make_object(self, tenant):
        return record_event(action="createThing", tenant=tenant, status_code=201)

    def test_viewer_sees_only_own_events(self, api, viewer, tenant_admin, tenant):
        """Without audit-read, a user still sees their own trail (self-service)."""
        own = record_event(action="createThing", user=viewer, status_code=201)
        admins = record_event(action="createThing", user=tenant_admin, status_code=201)
        client = api(viewer)
        ids = {row["id"] for row in client.get(self.list_url).json()["results"]}
        assert own.pk in ids
        assert admins.pk not in ids
        assert client.get(f"{self.list_url}{admins.pk}/").status_code == 404
