"""``/api/v1/registry/namespaces/<ns>/repositories/`` and ``…/<repo>/tags/``: the permission
matrix (other tenants' rows 404), nested repository names, the payload, a registry that cannot
be reached (503, no row lost), list query counts; ``/api/v1/registry/garbage-collections/`` is
the platform administrator's. Deletions against the real registry: test_delete_gc.py."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.registry.models import GarbageCollection, RegistryNamespace, Repository, Tag
from tests.matrix import APIMatrix

pytestmark = pytest.mark.django_db

BASE = "/api/v1/registry/namespaces/team/repositories/"
_n = itertools.count()


def _namespace(tenant):
    return RegistryNamespace.objects.get_or_create(tenant=tenant, name="team")[0]


def _repository(tenant, name=None):
    return Repository.objects.create(namespace=_namespace(tenant), name=name or f"r{next(_n)}/x")


def _tag(repository, name=None, digest=None, size=100):
    return Tag.objects.create(
        repository=repository,
        name=name or f"t{next(_n)}",
        digest=digest or "sha256:" + f"{next(_n):064x}",
        media_type="application/vnd.oci.image.manifest.v1+json",
        size=size,
        architectures=["amd64"],
        pushed_at=timezone.now(),
    )


class _ListRetrieveDelete(APIMatrix):
    """List, retrieve and delete; no create or update (rows come from pushes)."""

    read_only = True
    reader = "member"
    writer = "tenant_admin"
    non_writer = "read_only_user"
    no_permission = "viewer"

    def lookup(self, obj):
        return obj.name

    def lookup_from_json(self, row):
        return row["name"]

    def test_non_writer_delete_is_403(self, request, api, tenant):
        obj = self.make_object(tenant)
        client = api(request.getfixturevalue(self.non_writer))
        response = client.delete(self.detail_url(obj))
        assert response.status_code == 403, response.content
        assert type(obj).objects.filter(pk=obj.pk).exists()

    def test_writer_creates_updates_deletes(self, request, api, tenant):
        client = api(request.getfixturevalue(self.writer))
        obj = self.make_object(tenant)
        assert client.post(self.list_url, {}).status_code == 405
        assert client.patch(self.detail_url(obj), {}).status_code == 405


class TestRepositoryMatrix(_ListRetrieveDelete):
    list_url = BASE

    def make_object(self, tenant):
        return _repository(tenant)


class TestTagMatrix(_ListRetrieveDelete):
    list_url = f"{BASE}tools/builder/tags/"

    def make_object(self, tenant):
        repository = Repository.objects.get_or_create(
            namespace=_namespace(tenant), name="tools/builder"
        )[0]
        return _tag(repository)


def test_nested_repository_names_and_the_tag_payload(api, member, tenant, settings):
    settings.REGISTRY_HOST = "registry.example.test"
    builder = _repository(tenant, "tools/builder")
    _repository(tenant, "tools")
    tag = _tag(builder, "v1", size=1234)
    tag.pushed_by = member
    tag.save()
    client = api(member)
    one = client.get(f"{BASE}tools/builder/")
    assert one.status_code == 200, one.content
    assert one.json()["name"] == "tools/builder" and one.json()["tag_count"] == 1
    assert one.json()["image"] == "registry.example.test/acme/team/tools/builder"
    assert client.get(f"{BASE}tools/").json()["name"] == "tools"
    listed = client.get(f"{BASE}tools/builder/tags/").json()["results"]
    assert [row["name"] for row in listed] == ["v1"]
    body = client.get(f"{BASE}tools/builder/tags/v1/").json()
    assert body["pull_command"] == "docker pull registry.example.test/acme/team/tools/builder:v1"
    assert body["digest_reference"] == f"registry.example.test/acme/team/tools/builder@{tag.digest}"
    assert body["pushed_by"] == "acme/bob" and body["size"] == 1234
    assert body["architectures"] == ["amd64"] and body["digest"] == tag.digest
    # unknown namespace, repository, tag: 404 with the name
    assert client.get("/api/v1/registry/namespaces/nope/repositories/").status_code == 404
    assert client.get(f"{BASE}tools/nope/tags/").status_code == 404
    assert client.get(f"{BASE}tools/builder/tags/v9/").status_code == 404


def test_other_tenants_repositories_and_tags_are_404(api, other_user, tenant):
    builder = _repository(tenant, "tools/builder")
    _tag(builder, "v1")
    client = api(other_user)
    for url in (
        f"{BASE}tools/builder/",
        f"{BASE}tools/builder/tags/",
        f"{BASE}tools/builder/tags/v1/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.delete(f"{BASE}tools/builder/tags/v1/").status_code == 404
    assert client.delete(f"{BASE}tools/builder/").status_code == 404
    # their own namespace of the same name lists nothing of acme's
    _namespace(other_user.tenant)
    assert client.get(BASE).json()["results"] == []
    assert (
        Tag.objects.filter(name="v1").exists() and Repository.objects.filter(pk=builder.pk).exists()
    )


def test_an_unreachable_registry_is_503_and_keeps_the_rows(api, tenant_admin, tenant, settings):
    settings.REGISTRY_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    builder = _repository(tenant, "tools/builder")
    _tag(builder, "v1")
    client = api(tenant_admin)
    for url in (f"{BASE}tools/builder/tags/v1/", f"{BASE}tools/builder/"):
        response = client.delete(url)
        assert response.status_code == 503, response.content
        assert response.json()["code"] == "registry_unreachable"
        assert "registry unreachable" in response.json()["detail"]
    assert Tag.objects.filter(repository=builder, name="v1").exists()
    assert Repository.objects.filter(pk=builder.pk).exists()
    audited = AuditEvent.objects.filter(action="deleteTag").latest("id")
    assert audited.status_code == 503 and audited.user == tenant_admin


def test_a_shared_digest_is_refused_without_force(api, tenant_admin, tenant, settings):
    settings.REGISTRY_URL = "http://127.0.0.1:9"
    builder = _repository(tenant, "tools/builder")
    first = _tag(builder, "v1")
    _tag(builder, "latest", digest=first.digest)
    response = api(tenant_admin).delete(f"{BASE}tools/builder/tags/v1/")
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "tag_shared" and "latest" in body["detail"] and "force" in body["fields"]
    assert Tag.objects.filter(repository=builder).count() == 2


def test_a_repository_without_tags_is_deleted_without_the_registry(api, tenant_admin, tenant):
    empty = _repository(tenant, "empty")
    response = api(tenant_admin).delete(f"{BASE}empty/")
    assert response.status_code == 204, response.content
    assert not Repository.objects.filter(pk=empty.pk).exists()


@pytest.mark.parametrize("kind", ["repositories", "tags"])
def test_list_query_count_is_constant(api, member, tenant, kind):
    client = api(member)
    url = BASE if kind == "repositories" else f"{BASE}tools/builder/tags/"
    builder = Repository.objects.create(namespace=_namespace(tenant), name="tools/builder")

    def queries(n):
        if kind == "repositories":
            Repository.objects.exclude(pk=builder.pk).delete()
            for _ in range(n - 1):
                _tag(_repository(tenant))
        else:
            Tag.objects.all().delete()
            for _ in range(n):
                _tag(builder).pushed_by = member
            Tag.objects.update(pushed_by=member)
        client.get(url)  # warm the policy index
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url, {"limit": 50})
        assert response.status_code == 200 and response.json()["count"] == n
        return len(ctx.captured_queries)

    assert queries(2) == queries(12)


GC_URL = "/api/v1/registry/garbage-collections/"


def test_garbage_collection_is_the_platform_administrators(
    api, tenant_admin, member, platform_admin, settings, django_capture_on_commit_callbacks
):
    settings.REGISTRY_CONFIG_PATH = ""
    for user in (tenant_admin, member):
        client = api(user)
        assert client.get(GC_URL).status_code == 403
        assert client.post(GC_URL, {}).status_code == 403
    assert not GarbageCollection.objects.exists()
    # without REGISTRY_CONFIG_PATH the run fails and says why (the task runs eagerly in tests)
    admin = api(platform_admin)
    with django_capture_on_commit_callbacks(execute=True):
        started = admin.post(GC_URL, {})
    assert started.status_code == 202, started.content
    run = GarbageCollection.objects.get()
    assert run.status == "failed" and "REGISTRY_CONFIG_PATH is not set" in run.error
    assert run.triggered_by == platform_admin
    listed = admin.get(GC_URL).json()["results"]
    assert [row["id"] for row in listed] == [run.pk] and listed[0]["status"] == "failed"
    assert AuditEvent.objects.filter(action="garbageCollectRegistry", status_code=202).exists()


class TestGarbageCollectionMatrix(APIMatrix):
    """Garbage collections are not a tenant's: every tenant user, administrators included, is
    refused (403, the action is judged at platform level); the platform administrator lists
    and reads every run. Starting one: test_garbage_collection_is_the_platform_administrators."""

    list_url = GC_URL
    read_only = True
    reader = "platform_admin"
    no_permission = "tenant_admin"

    def make_object(self, tenant):
        return GarbageCollection.objects.create()

    def test_reader_lists_own_tenant_only(self, api, platform_admin, tenant, other_tenant):
        runs = [self.make_object(tenant), self.make_object(other_tenant)]
        response = api(platform_admin).get(self.list_url)
        assert response.status_code == 200, response.content
        assert {row["id"] for row in response.json()["results"]} == {r.pk for r in runs}

    def test_other_tenant_object_is_404(self, api, other_user, tenant):
        run = self.make_object(tenant)
        client = api(other_user)
        assert client.get(self.detail_url(run)).status_code == 403
        assert client.delete(self.detail_url(run)).status_code in (403, 405)
        assert GarbageCollection.objects.filter(pk=run.pk).exists()

    def test_non_writer_create_is_403(self, api, member, tenant):
        assert api(member).post(self.list_url, {}).status_code == 403
        assert not GarbageCollection.objects.exists()

    def test_non_writer_delete_is_403(self, api, platform_admin, tenant):
        run = self.make_object(tenant)
        assert api(platform_admin).delete(self.detail_url(run)).status_code == 405

    def test_writer_creates_updates_deletes(self, api, platform_admin, tenant):
        run = self.make_object(tenant)
        client = api(platform_admin)
        assert client.patch(self.detail_url(run), {}).status_code == 405
        assert client.delete(self.detail_url(run)).status_code == 405
