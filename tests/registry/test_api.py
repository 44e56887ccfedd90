"""``/api/v1/registry/namespaces/``: the permission matrix, validation naming the field, the
audit trail of writes, a list's query count."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEvent
from apps.projects.models import Project
from apps.registry.models import RegistryNamespace
from tests.matrix import APIMatrix

pytestmark = pytest.mark.django_db

URL = "/api/v1/registry/namespaces/"
_names = itertools.count()


class TestRegistryNamespaceMatrix(APIMatrix):
    list_url = URL
    reader = "member"
    writer = "tenant_admin"
    non_writer = "read_only_user"
    no_permission = "viewer"

    def make_object(self, tenant):
        return RegistryNamespace.objects.create(tenant=tenant, name=f"ns{next(_names)}")

    def lookup(self, obj):
        return obj.name

    def lookup_from_json(self, row):
        return row["name"]

    def create_data(self, tenant):
        return {"name": "fresh", "visibility": "public", "description": "made by the matrix"}

    def update_data(self, obj):
        return {"description": "changed"}


def test_create_shows_the_repository_prefix_and_is_audited(api, member, settings):
    settings.REGISTRY_HOST = "registry.example.test"
    response = api(member).post(
        URL, {"name": "team", "visibility": "private", "storage_quota_bytes": 1024}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["tenant"] == "acme"
    assert body["repository_prefix"] == "registry.example.test/acme/team/"
    assert body["storage_quota_bytes"] == 1024 and body["repository_count"] == 0
    event = AuditEvent.objects.get(action="createRegistryNamespace")
    assert event.user == member and event.resource == "registrynamespace:team"
    assert event.status_code == 201


def test_validation_errors_name_the_field(api, member, other_tenant):
    client = api(member)
    bad = client.post(URL, {"name": "Not/Valid"})
    assert bad.status_code == 400
    assert "name" in bad.json()["fields"]
    assert client.post(URL, {"name": "team"}).status_code == 201
    taken = client.post(URL, {"name": "team"})
    assert taken.status_code == 400 and "already exists" in taken.json()["fields"]["name"][0]
    Project.objects.create(tenant=other_tenant, name="prj-theirs", display_name="Theirs")
    theirs = client.post(URL, {"name": "other", "project": "prj-theirs"})
    assert theirs.status_code == 400 and "project" in theirs.json()["fields"]
    negative = client.post(URL, {"name": "neg", "storage_quota_bytes": -1})
    assert negative.status_code == 400 and "storage_quota_bytes" in negative.json()["fields"]
    renamed = client.patch(f"{URL}team/", {"name": "other"})
    assert renamed.status_code == 400 and "name" in renamed.json()["fields"]
    update = client.patch(f"{URL}team/", {"visibility": "public"})
    assert update.status_code == 200 and update.json()["visibility"] == "public"


def test_same_name_in_two_tenants(api, member, other_user):
    assert api(member).post(URL, {"name": "team"}).status_code == 201
    assert api(other_user).post(URL, {"name": "team"}).status_code == 201
    assert RegistryNamespace.objects.filter(name="team").count() == 2


def test_list_query_count_is_constant(api, member, tenant):
    client = api(member)
    client.get(URL)  # warm the policy index

    def queries(n):
        RegistryNamespace.objects.all().delete()
        for i in range(n):
            RegistryNamespace.objects.create(tenant=tenant, name=f"q{i}")
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(URL, {"limit": 50})
        assert response.status_code == 200 and response.json()["count"] == n
        return len(ctx.captured_queries)

    assert queries(2) == queries(12)
