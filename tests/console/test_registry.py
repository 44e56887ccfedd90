"""The registry console: image namespaces (list, create, edit, delete), a namespace's
repositories and a repository's tags with their ``docker pull`` commands — authorized like the
REST API (other tenants' namespaces 404, actions 403 without their right), audited, and the
list pages at a constant number of queries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEvent
from apps.projects.models import Project
from apps.registry.models import RegistryNamespace, Repository, Tag
from tests.console.matrix import ConsoleMatrix

pytestmark = pytest.mark.django_db

NOT_PAGES = {
    "console:registry-namespace-delete": (
        "tests.console.test_registry.test_delete_needs_deleteRegistryNamespace"
    ),
}
GIB = 1024**3


@pytest.fixture(autouse=True)
def registry_host(settings):
    settings.REGISTRY_HOST = "registry.example.test"


def team(tenant, name="team", **fields):
    return RegistryNamespace.objects.create(tenant=tenant, name=name, **fields)


def image(namespace, name="web/api", tags=("1.0",), size=5 * 1024 * 1024):
    repository = Repository.objects.create(
        namespace=namespace, name=name, pull_count=7, push_count=3, size=size
    )
    for tag in tags:
        Tag.objects.create(
            repository=repository,
            name=tag,
            digest="sha256:" + "ab12" * 16,
            media_type="application/vnd.oci.image.index.v1+json",
            size=size,
            architectures=["amd64", "arm64"],
            pushed_at=datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
        )
    return repository


# -- matrices ------------------------------------------------------------------------------------
class TestNamespacesMatrix(ConsoleMatrix):
    url = "/registry/namespaces/"
    expect = 'id="registry-namespaces"'
    reader = "read_only_user"

    def make_object(self, tenant):
        return team(tenant, display_name="Team images")

    def expect_of_tenant(self, tenant) -> str:
        return "Team images"


class TestNamespaceMatrix(ConsoleMatrix):
    url_name = "console:registry-namespace"
    expect = "Team images"
    reader = "read_only_user"
    object_page = True

    def url_for(self, tenant) -> str:
        return "/registry/namespaces/team/"

    def make_object(self, tenant):
        return team(tenant, display_name="Team images")


class TestRepositoryMatrix(ConsoleMatrix):
    url_name = "console:registry-repository"
    expect = "docker pull registry.example.test/acme/team/web/api:1.0"
    reader = "read_only_user"
    object_page = True

    def url_for(self, tenant) -> str:
        return "/registry/namespaces/team/repositories/web/api"

    def make_object(self, tenant):
        return image(team(tenant))


class TestNamespaceCreateMatrix(ConsoleMatrix):
    url = "/registry/namespaces/new/"
    expect = 'id="namespace-form"'
    reader = "member"
    no_permission = "read_only_user"

    def expect_of_tenant(self, tenant) -> str:
        return "never on a create page"


class TestNamespaceEditMatrix(ConsoleMatrix):
    url_name = "console:registry-namespace-edit"
    expect = 'id="namespace-form"'
    reader = "member"
    no_permission = "read_only_user"
    object_page = True

    def url_for(self, tenant) -> str:
        return "/registry/namespaces/team/edit/"

    def make_object(self, tenant):
        return team(tenant)


# -- pages ---------------------------------------------------------------------------------------
def test_list_shows_visibility_project_count_and_quota_bar(client, tenant, member):
    project = Project.objects.create(tenant=tenant, name="prj-web", display_name="Web")
    ns = team(tenant, visibility="public", project=project, storage_quota_bytes=GIB)
    image(ns, "web/api", size=256 * 1024 * 1024)
    image(ns, "web/db", size=256 * 1024 * 1024)
    team(tenant, "bare")
    client.force_login(member)
    page = client.get("/registry/namespaces/").content.decode()
    row = page.split('data-namespace="team"')[1].split("</tr>")[0]
    assert "Public" in row and "prj-web" in row
    assert "<td>2</td>" in row  # repositories
    assert 'aria-valuenow="50"' in row and "512.0\xa0MB of 1.0\xa0GB" in row
    bare = page.split('data-namespace="bare"')[1].split("</tr>")[0]
    assert "Private" in bare and "no quota" in bare and "progressbar" not in bare
    # platform-user may create, edit and delete
    assert 'id="namespace-new"' in page and "namespace-delete" in page
    # the menu has the Registry section
    assert 'href="/registry/namespaces/"' in page


def test_a_reader_sees_no_create_edit_or_delete(client, tenant, read_only_user):
    team(tenant)
    client.force_login(read_only_user)
    page = client.get("/registry/namespaces/").content.decode()
    assert 'data-namespace="team"' in page
    assert 'id="namespace-new"' not in page and "namespace-delete" not in page
    assert "/registry/namespaces/team/edit/" not in page
    page = client.get("/registry/namespaces/team/").content.decode()
    assert "namespace-delete" not in page and "/edit/" not in page


def test_empty_list_says_how_to_start(client, tenant, member):
    client.force_login(member)
    page = client.get("/registry/namespaces/").content.decode()
    assert 'id="namespaces-empty"' in page
    assert "registry.example.test/&lt;tenant&gt;/&lt;namespace&gt;" in page


def test_create_namespace_through_the_form_is_audited(client, tenant, member):
    Project.objects.create(tenant=tenant, name="prj-web")
    client.force_login(member)
    form = client.get("/registry/namespaces/new/").content.decode()
    assert '<option value="prj-web">' in form
    response = client.post(
        "/registry/namespaces/new/",
        {
            "name": "team",
            "visibility": "public",
            "project": "prj-web",
            "quota": "512",
            "quota_unit": "MiB",
            "description": "Team images",
        },
    )
    assert response.status_code == 303
    assert response["Location"] == "/registry/namespaces/team/"
    ns = RegistryNamespace.objects.get(tenant=tenant, name="team")
    assert ns.visibility == "public" and ns.project.name == "prj-web"
    assert ns.storage_quota_bytes == 512 * 1024 * 1024 and ns.created_by == member
    event = AuditEvent.objects.filter(action="createRegistryNamespace").get()
    assert event.resource == "registrynamespace:team" and event.tenant == tenant
    # the new namespace's page: how to push the first image there
    page = client.get("/registry/namespaces/team/").content.decode()
    assert 'id="repositories-empty"' in page
    assert "docker push registry.example.test/acme/team/my-image:latest" in page
    assert "docker login registry.example.test -u acme/bob" in page
    assert 'href="/access/api-keys/"' in page


def test_create_errors_are_shown_next_to_the_field(client, tenant, member):
    team(tenant)
    client.force_login(member)
    response = client.post(
        "/registry/namespaces/new/", {"name": "Bad Name", "visibility": "private", "quota": "-1"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="id_name_error"' in page and "lowercase letters" in page
    assert 'id="id_quota_error"' in page
    # a duplicate name is the service's error, shown on the name field
    response = client.post("/registry/namespaces/new/", {"name": "team", "visibility": "private"})
    assert response.status_code == 400
    name_error = response.content.decode().split('id="id_name_error"')[1].split("</div>")[0]
    assert "already exists" in name_error
    assert RegistryNamespace.objects.filter(tenant=tenant).count() == 1
    assert AuditEvent.objects.filter(outcome="failure").count() == 2


def test_edit_changes_visibility_and_quota_never_the_name(client, tenant, member):
    ns = team(tenant, storage_quota_bytes=2 * GIB)
    client.force_login(member)
    form = client.get("/registry/namespaces/team/edit/").content.decode()
    assert 'name="name"' not in form
    assert 'value="2"' in form and '<option value="GiB" selected>' in form
    response = client.post(
        "/registry/namespaces/team/edit/",
        {"name": "renamed", "visibility": "public", "quota": "", "quota_unit": "GiB"},
    )
    assert response.status_code == 303
    ns.refresh_from_db()
    assert ns.name == "team" and ns.visibility == "public" and ns.storage_quota_bytes is None
    assert AuditEvent.objects.filter(action="updateRegistryNamespace").count() == 1


def test_delete_needs_deleteRegistryNamespace(client, tenant, member, read_only_user, other_user):
    team(tenant)
    client.force_login(read_only_user)
    response = client.post("/registry/namespaces/team/delete/")
    assert response.status_code == 403
    assert RegistryNamespace.objects.filter(name="team").exists()
    client.force_login(other_user)  # another tenant's administrator: not even there
    assert client.post("/registry/namespaces/team/delete/").status_code == 404
    assert client.post("/registry/namespaces/team/edit/", {"visibility": "public"}).status_code == (
        404
    )
    assert RegistryNamespace.objects.get(name="team").visibility == "private"
    client.force_login(member)
    response = client.post("/registry/namespaces/team/delete/")
    assert response.status_code == 303
    assert not RegistryNamespace.objects.filter(name="team").exists()
    outcomes = set(
        AuditEvent.objects.filter(action="deleteRegistryNamespace").values_list(
            "outcome", flat=True
        )
    )
    assert outcomes == {"denied", "success"}


def test_a_reader_cannot_create(client, tenant, read_only_user):
    client.force_login(read_only_user)
    response = client.post("/registry/namespaces/new/", {"name": "team", "visibility": "public"})
    assert response.status_code == 403
    assert not RegistryNamespace.objects.exists()


def test_namespace_page_lists_repositories_with_search(client, tenant, read_only_user):
    ns = team(tenant, display_name="Team images")
    image(ns, "web/api", tags=("1.0", "1.1"))
    image(ns, "tools/builder", tags=())
    client.force_login(read_only_user)
    page = client.get("/registry/namespaces/team/").content.decode()
    table = page.split('id="repositories-table"')[1].split("</table>")[0]
    row = table.split('data-repository="web/api"')[1].split("</tr>")[0]
    assert "<td>2</td><td>7</td><td>3</td>" in row and "5.0\xa0MB" in row
    assert 'href="/registry/namespaces/team/repositories/web/api"' in row
    assert 'data-repository="tools/builder"' in table
    page = client.get("/registry/namespaces/team/?q=build").content.decode()
    assert 'data-repository="tools/builder"' in page and 'data-repository="web/api"' not in page
    page = client.get("/registry/namespaces/team/?q=nothing").content.decode()
    assert 'id="repositories-none"' in page and "nothing" in page


def test_repository_page_has_tags_with_pull_commands(client, tenant, read_only_user):
    image(team(tenant), "web/api", tags=("1.0", "latest"))
    client.force_login(read_only_user)
    page = client.get("/registry/namespaces/team/repositories/web/api").content.decode()
    table = page.split('id="tags-table"')[1].split("</table>")[0]
    row = table.split('data-tag="latest"')[1].split("</tr>")[0]
    assert "ab12ab12ab12" in row and ("sha256:" + "ab12" * 16) in row  # short, and the copy
    assert "amd64" in row and "arm64" in row and "5.0\xa0MB" in row
    assert 'value="docker pull registry.example.test/acme/team/web/api:latest"' in row
    assert 'data-copy-target="#pull-' in row
    assert "docker login registry.example.test -u acme/rhea" in page
    assert client.get("/registry/namespaces/team/repositories/web/nope").status_code == 404


def test_other_tenants_namespace_is_404_even_with_the_same_name(
    client, tenant, other_tenant, other_user
):
    image(team(tenant), "secret/app")
    team(other_tenant)  # globex has its own "team"
    client.force_login(other_user)
    page = client.get("/registry/namespaces/team/").content.decode()
    assert "secret/app" not in page
    response = client.get("/registry/namespaces/team/repositories/secret/app")
    assert response.status_code == 404


def test_list_queries_do_not_grow_with_namespaces(client, tenant, member):
    image(team(tenant, "ns0", storage_quota_bytes=GIB))
    client.force_login(member)
    client.get("/registry/namespaces/")
    with CaptureQueriesContext(connection) as few:
        client.get("/registry/namespaces/")
    for i in range(1, 8):
        image(team(tenant, f"ns{i}", storage_quota_bytes=GIB, project=None))
    with CaptureQueriesContext(connection) as many:
        page = client.get("/registry/namespaces/").content.decode()
    assert page.count("data-namespace=") == 8
    assert len(many.captured_queries) <= len(few.captured_queries)


def test_namespace_and_repository_queries_do_not_grow(client, tenant, member):
    ns = team(tenant)
    image(ns, "r0", tags=("t0",))
    client.force_login(member)
    client.get("/registry/namespaces/team/")
    with CaptureQueriesContext(connection) as few_repos:
        client.get("/registry/namespaces/team/")
    with CaptureQueriesContext(connection) as few_tags:
        client.get("/registry/namespaces/team/repositories/r0")
    for i in range(1, 8):
        image(ns, f"r{i}")
    repository = Repository.objects.get(name="r0")
    for i in range(1, 8):
        Tag.objects.create(
            repository=repository,
            name=f"t{i}",
            digest="sha256:" + "cd" * 32,
            media_type="m",
            pushed_at=datetime(2026, 11, 30, tzinfo=UTC),
            pushed_by=member,
        )
    with CaptureQueriesContext(connection) as many_repos:
        page = client.get("/registry/namespaces/team/").content.decode()
    assert page.count("data-repository=") == 8
    with CaptureQueriesContext(connection) as many_tags:
        page = client.get("/registry/namespaces/team/repositories/r0").content.decode()
    assert page.count("data-tag=") == 8
    assert len(many_repos.captured_queries) <= len(few_repos.captured_queries)
    assert len(many_tags.captured_queries) <= len(few_tags.captured_queries)


# -- deleting tags and repositories --------------------------------------------------------------
def test_a_reader_sees_no_delete_buttons_and_is_refused(client, tenant, read_only_user):
    image(team(tenant), "web/api", tags=("1.0",))
    client.force_login(read_only_user)
    url = "/registry/namespaces/team/repositories/web/api"
    page = client.get(url).content.decode()
    assert "tag-delete" not in page and 'id="repository-delete"' not in page
    assert client.post(url, {"operation": "delete-tag", "tag": "1.0"}).status_code == 403
    assert client.post(url, {"operation": "delete-repository"}).status_code == 403
    assert Tag.objects.filter(name="1.0").exists()
    events = AuditEvent.objects.filter(outcome="denied")
    assert set(events.values_list("action", flat=True)) == {"deleteTag", "deleteRepository"}


def test_another_tenant_cannot_delete(client, tenant, other_user):
    image(team(tenant), "web/api", tags=("1.0",))
    client.force_login(other_user)
    url = "/registry/namespaces/team/repositories/web/api"
    assert client.post(url, {"operation": "delete-repository"}).status_code == 404
    assert Repository.objects.filter(name="web/api").exists()


def test_an_unreachable_registry_is_said_and_keeps_the_rows(client, tenant, member, settings):
    settings.REGISTRY_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    image(team(tenant), "web/api", tags=("1.0",))
    client.force_login(member)
    url = "/registry/namespaces/team/repositories/web/api"
    assert "tag-delete" in client.get(url).content.decode()
    response = client.post(url, {"operation": "delete-tag", "tag": "1.0"})
    assert response.status_code == 503
    assert "registry unreachable" in response.content.decode().split('id="registry-error"')[1]
    assert Tag.objects.filter(name="1.0").exists()
    event = AuditEvent.objects.get(action="deleteTag")
    assert event.outcome == "failure"


def test_a_shared_digest_asks_before_deleting_every_tag(client, tenant, member, settings):
    settings.REGISTRY_URL = "http://127.0.0.1:9"
    image(team(tenant), "web/api", tags=("1.0", "latest"))  # both the same digest
    client.force_login(member)
    url = "/registry/namespaces/team/repositories/web/api"
    response = client.post(url, {"operation": "delete-tag", "tag": "1.0"})
    assert response.status_code == 409
    error = response.content.decode().split('id="registry-error"')[1]
    assert "latest" in error and 'id="force-delete"' in error and 'name="force"' in error
    assert Tag.objects.count() == 2


def test_a_repository_without_tags_is_deleted(client, tenant, member):
    image(team(tenant), "empty", tags=())
    client.force_login(member)
    url = "/registry/namespaces/team/repositories/empty"
    assert 'id="repository-delete"' in client.get(url).content.decode()
    response = client.post(url, {"operation": "delete-repository"})
    assert response.status_code == 303 and response["Location"] == "/registry/namespaces/team/"
    assert not Repository.objects.filter(name="empty").exists()
    assert AuditEvent.objects.get(action="deleteRepository").outcome == "success"
