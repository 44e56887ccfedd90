"""The chart console: chart groups (list, create, edit with a write-only password, delete, Sync
now), a group's charts with ``helm repo add`` and the upload form, a chart's versions with
their values.yaml, the install form (preview, install — against kubesim), and releases
(list, revisions, upgrade, roll back, uninstall) — read and write rules as the ChartMuseum and
releases APIs judge them; other tenants' groups 404."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEvent
from apps.charts.models import Chart, ChartGroup, ChartVersion, Release
from apps.projects.models import Project
from tests.charts import test_releases as releases_tests
from tests.charts.test_releases import NAMESPACE, VALUES_YAML, deployment
from tests.console.matrix import ConsoleMatrix

pytestmark = pytest.mark.django_db

# The release tests' fixtures: a packaged chart, a kubesim cluster with the project's namespace.
archive = releases_tests.archive
sim = releases_tests.sim
cluster = releases_tests.cluster
project = releases_tests.project
chart_version = releases_tests.chart_version

NOT_PAGES = {
    "console:chart-group-delete": "tests.console.test_charts.test_delete_group_needs_its_right",
    "console:chart-group-sync": "tests.console.test_charts.test_sync_now_records_what_it_did",
}


def group(tenant, name="apps", **fields):
    fields.setdefault("visibility", "public")
    return ChartGroup.objects.create(tenant=tenant, name=name, **fields)


class NotFoundForStrangers:
    """A chart group nobody gave the persona is 404 (the ChartMuseum API's answer), not 403."""

    no_permission = "viewer"

    def test_no_permission_is_the_console_403(self, request, client, tenant):
        self.make_object(tenant)
        client.force_login(request.getfixturevalue(self.no_permission))
        response = client.get(self.url_for(tenant))
        assert response.status_code == 404
        assert self.expect not in response.content.decode()


# -- matrices ------------------------------------------------------------------------------------
class TestGroupsMatrix(ConsoleMatrix):
    url = "/charts/"
    expect = "Team charts"
    reader = "read_only_user"
    no_permission = None  # every signed-in user sees the public groups

    def make_object(self, tenant):
        return group(tenant, display_name="Team charts", visibility="user")

    def every_signed_in_user_may_open_it(self, request, client, tenant):
        group(tenant, "private", visibility="user", display_name="Hidden group")
        client.force_login(request.getfixturevalue("viewer"))
        page = client.get(self.url_for(tenant)).content.decode()
        assert "Hidden group" not in page and 'id="groups-empty"' in page

    def expect_of_tenant(self, tenant) -> str:
        return "Team charts"


class TestGroupMatrix(NotFoundForStrangers, ConsoleMatrix):
    url_name = "console:chart-group"
    expect = "helm repo add acme-apps http://testserver/chart/acme/apps"
    reader = "read_only_user"
    object_page = True

    def url_for(self, tenant) -> str:
        return "/charts/apps/"

    def make_object(self, tenant):
        return group(tenant, visibility="user")


class TestChartMatrix(NotFoundForStrangers, ConsoleMatrix):
    url_name = "console:chart"
    expect = 'id="versions-table"'
    reader = "read_only_user"
    object_page = True

    def url_for(self, tenant) -> str:
        return "/charts/apps/charts/web/"

    def make_object(self, tenant):
        g = group(tenant, visibility="user")
        chart = Chart.objects.create(group=g, name="web", latest_version="1.0.0")
        ChartVersion.objects.create(chart=chart, version="1.0.0", values="replicas: 1\n")


class TestInstallMatrix(NotFoundForStrangers, ConsoleMatrix):
    url_name = "console:chart-install"
    expect = 'id="install-form"'
    reader = "member"
    object_page = True

    def url_for(self, tenant) -> str:
        return "/charts/apps/charts/web/1.0.0/install/"

    def make_object(self, tenant):
        TestChartMatrix.make_object(self, tenant)


class TestGroupCreateMatrix(ConsoleMatrix):
    url = "/charts/new/"
    expect = 'id="group-form"'
    reader = "member"
    no_permission = "read_only_user"

    def expect_of_tenant(self, tenant) -> str:
        return "never on a create page"


class TestGroupEditMatrix(ConsoleMatrix):
    url_name = "console:chart-group-edit"
    expect = 'id="group-form"'
    reader = "member"
    no_permission = "read_only_user"
    object_page = True

    def url_for(self, tenant) -> str:
        return "/charts/apps/edit/"

    def make_object(self, tenant):
        return group(tenant)


class TestReleasesMatrix(ConsoleMatrix):
    url = "/releases/"
    expect = 'id="releases"'
    reader = "read_only_user"
    no_permission = None

    def expect_of_tenant(self, tenant) -> str:
        return "never listed: no release"


class TestReleaseMatrix(NotFoundForStrangers, ConsoleMatrix):
    url_name = "console:release"
    expect = 'id="revisions-table"'
    reader = "read_only_user"
    object_page = True

    def url_for(self, tenant) -> str:
        return "/releases/c-one/default/demo/"

    def make_object(self, tenant):
        from tests.factories import make_cluster

        c = make_cluster(tenant)
        c.name = "c-one"
        c.save()
        Release.objects.create(
            tenant=tenant,
            cluster=c,
            namespace="default",
            name="demo",
            chart_name="web",
            chart_version_name="1.0.0",
            status="deployed",
            revision=1,
        )


# -- groups --------------------------------------------------------------------------------------
def test_create_group_with_import_credentials_password_is_write_only(client, tenant, member):
    Project.objects.create(tenant=tenant, name="prj-web")
    client.force_login(member)
    response = client.post(
        "/charts/new/",
        {
            "name": "mirror",
            "visibility": "project",
            "project": "prj-web",
            "import_url": "https://charts.example.test/stable",
            "import_username": "robot",
            "import_password": "s3cret-pass",
        },
    )
    assert response.status_code == 303, response.content[:2000]
    g = ChartGroup.objects.get(name="mirror")
    assert g.project.name == "prj-web" and g.import_password == "s3cret-pass"
    event = AuditEvent.objects.get(action="createChartGroup")
    assert event.resource == "chartgroup:mirror" and "s3cret-pass" not in str(event.__dict__)
    form = client.get("/charts/mirror/edit/").content.decode()
    assert "s3cret-pass" not in form and 'value="robot"' in form
    # saving without a password keeps the stored one
    response = client.post(
        "/charts/mirror/edit/",
        {
            "visibility": "project",
            "project": "prj-web",
            "import_url": "https://charts.example.test/stable",
            "import_username": "robot",
            "import_password": "",
            "description": "Mirror",
        },
    )
    assert response.status_code == 303
    g.refresh_from_db()
    assert g.import_password == "s3cret-pass" and g.description == "Mirror"


def test_group_errors_are_shown_next_to_the_field(client, tenant, member):
    client.force_login(member)
    response = client.post("/charts/new/", {"name": "apps", "visibility": "project"})
    assert response.status_code == 400
    error = response.content.decode().split('id="id_project_error"')[1].split("</div>")[0]
    assert "needs its project" in error
    response = client.post("/charts/new/", {"name": "Bad!", "visibility": "user"})
    assert 'id="id_name_error"' in response.content.decode()
    assert not ChartGroup.objects.exists()


def test_delete_group_needs_its_right(client, tenant, member, read_only_user, other_user):
    group(tenant)
    client.force_login(read_only_user)
    page = client.get("/charts/").content.decode()
    assert 'data-group="apps"' in page and "group-delete" not in page
    assert client.post("/charts/apps/delete/").status_code == 403
    client.force_login(other_user)
    assert client.post("/charts/apps/delete/").status_code == 404
    assert ChartGroup.objects.filter(name="apps").exists()
    client.force_login(member)
    assert "group-delete" in client.get("/charts/").content.decode()
    assert client.post("/charts/apps/delete/").status_code == 303
    assert not ChartGroup.objects.exists()


def test_sync_now_records_what_it_did(client, tenant, member, read_only_user):
    group(tenant, import_url="http://127.0.0.1:9/charts")
    client.force_login(read_only_user)
    assert 'id="sync-now"' not in client.get("/charts/apps/").content.decode()
    assert client.post("/charts/apps/sync/").status_code == 403
    client.force_login(member)
    assert client.post("/charts/apps/sync/").status_code == 303
    page = client.get("/charts/apps/").content.decode()
    sync = page.split('id="group-sync"')[1].split("</div>\n  </div>")[0]
    assert "Last synced" in sync and "resync failed" in page


def test_other_tenants_group_is_404(client, tenant, other_user):
    group(tenant, "secret", visibility="public")
    client.force_login(other_user)
    assert client.get("/charts/secret/").status_code == 404
    assert "secret" not in client.get("/charts/").content.decode()


# -- upload, versions ----------------------------------------------------------------------------
def test_upload_a_chart_then_see_its_version_and_values(client, tenant, member, archive):
    group(tenant, visibility="user")
    client.force_login(member)
    page = client.get("/charts/apps/").content.decode()
    assert 'id="charts-empty"' in page and 'id="upload-form"' in page
    response = client.post("/charts/apps/", {"chart": SimpleUploadedFile("web-1.0.0.tgz", archive)})
    assert response.status_code == 303, response.content[:3000]
    assert response["Location"] == "/charts/apps/charts/web/#version-1.0.0"
    version = ChartVersion.objects.get(chart__name="web")
    assert version.pushed_by == member
    assert AuditEvent.objects.get(action="pushChart").resource == (
        "chartgroup:apps/chart:web/version:1.0.0"
    )
    page = client.get("/charts/apps/charts/web/").content.decode()
    row = page.split('data-version="1.0.0"')[1].split("</tr>")[0]
    assert "bob" in row and version.digest[:12] in row
    assert "replicas: 1" in page.split('class="small bg-body-tertiary')[1]  # values.yaml
    assert "/charts/apps/charts/web/1.0.0/install/" in page
    # the same version again: the service's refusal, next to the file field
    response = client.post("/charts/apps/", {"chart": SimpleUploadedFile("web-1.0.0.tgz", archive)})
    assert response.status_code == 400
    assert "already exists" in response.content.decode().split('id="id_chart_error"')[1]
    # not an archive at all
    response = client.post("/charts/apps/", {"chart": SimpleUploadedFile("x.tgz", b"nope")})
    assert response.status_code == 400 and 'id="id_chart_error"' in response.content.decode()


def test_a_reader_may_not_upload(client, tenant, read_only_user, archive):
    group(tenant)
    client.force_login(read_only_user)
    assert 'id="upload-form"' not in client.get("/charts/apps/").content.decode()
    response = client.post("/charts/apps/", {"chart": SimpleUploadedFile("w.tgz", archive)})
    assert response.status_code == 403
    assert not ChartVersion.objects.exists()


def test_group_list_queries_do_not_grow(client, tenant, member):
    group(tenant, "g0")
    client.force_login(member)
    client.get("/charts/")
    with CaptureQueriesContext(connection) as few:
        client.get("/charts/")
    for i in range(1, 8):
        g = group(tenant, f"g{i}", visibility="user")
        Chart.objects.create(group=g, name="web")
    with CaptureQueriesContext(connection) as many:
        page = client.get("/charts/").content.decode()
    assert page.count("data-group=") == 8
    assert len(many.captured_queries) <= len(few.captured_queries)


# -- install and releases (kubesim) --------------------------------------------------------------
def test_install_preview_then_install_upgrade_rollback_uninstall(
    client, tenant, project_member, cluster, chart_version, sim
):
    ChartVersion.objects.filter(pk=chart_version.pk).update(values=VALUES_YAML)
    client.force_login(project_member)
    url = "/charts/apps/charts/web/1.0.0/install/"
    page = client.get(url).content.decode()
    assert f"<code>{NAMESPACE}</code>" in page  # the project's namespace is offered
    assert "replicas:" in page.split('id="id_values"')[1]  # prefilled with values.yaml
    form = {"cluster": cluster.name, "namespace": NAMESPACE, "name": "demo", "values": ""}
    page = client.post(url, {**form, "preview": "1"}).content.decode()
    preview = page.split('id="preview-table"')[1].split("</table>")[0]
    assert "Deployment" in preview and "demo-web" in preview
    assert not Release.objects.exists()
    # a values mapping the chart's schema refuses: next to the values field
    response = client.post(url, {**form, "values": "replicas: many", "install": "1"})
    assert response.status_code == 400
    assert 'id="id_values_error"' in response.content.decode()
    response = client.post(
        url, {**form, "values": "replicas: 2\npassword: hunter2-secret", "install": "1"}
    )
    assert response.status_code == 303, response.content[:3000]
    assert response["Location"] == f"/releases/{cluster.name}/{NAMESPACE}/demo/"
    assert deployment(cluster)["spec"]["replicas"] == 2
    release_url = response["Location"]
    page = client.get(release_url).content.decode()
    assert 'data-revision="1"' in page and "Deployed" in page
    listed = client.get(f"/releases/?cluster={cluster.name}").content.decode()
    assert f'data-release="{cluster.name}/{NAMESPACE}/demo"' in listed

    # the upgrade's preview: a dry run, each object's diff, nothing changed
    page = client.post(
        release_url, {"operation": "preview", "version": "1.0.0", "values": "replicas: 3"}
    ).content.decode()
    plan = page.split('id="plan-table"')[1].split("</table>")[0]
    assert "demo-web" in plan and "replicas: 3" in plan
    assert deployment(cluster)["spec"]["replicas"] == 2
    assert Release.objects.get().revision == 1
    response = client.post(
        release_url, {"operation": "upgrade", "version": "1.0.0", "values": "replicas: 3"}
    )
    assert response.status_code == 303, response.content[:3000]
    assert deployment(cluster)["spec"]["replicas"] == 3
    response = client.post(release_url, {"operation": "rollback", "revision": "1"})
    assert response.status_code == 303
    assert deployment(cluster)["spec"]["replicas"] == 2
    page = client.get(release_url).content.decode()
    assert 'data-revision="3"' in page
    response = client.post(release_url, {"operation": "uninstall"})
    assert response.status_code == 303
    assert deployment(cluster) is None
    assert Release.objects.get().status == "uninstalled"
    actions = list(
        AuditEvent.objects.filter(outcome="success")
        .exclude(action="createRelease", message__startswith="preview")
        .values_list("action", flat=True)
    )
    for action in ("createRelease", "updateRelease", "rollbackRelease", "deleteRelease"):
        assert action in actions
    # the values (a password among them) are not in the audit trail
    for event in AuditEvent.objects.all():
        assert "hunter2-secret" not in str(event.__dict__)


def test_an_unreachable_cluster_is_said_so(client, tenant, project_member, cluster,
                                           chart_version, sim):  # fmt: skip
    client.force_login(project_member)
    form = {"cluster": cluster.name, "namespace": NAMESPACE, "name": "demo", "install": "1"}
    sim.faults.down()
    try:
        response = client.post("/charts/apps/charts/web/1.0.0/install/", form)
    finally:
        sim.faults.up()
    assert response.status_code == 400
    errors = response.content.decode().split('id="form-errors"')[1].split("</div>\n")[0]
    assert f"Cluster {cluster.name} is unreachable" in errors
    assert not Release.objects.exists()


def test_a_viewer_of_the_project_may_read_a_release_but_not_change_it(
    client, tenant, project_member, project_viewer, cluster, chart_version
):
    from apps.charts import releases

    release = releases.install(
        actor=project_member,
        cluster=cluster,
        namespace=NAMESPACE,
        name="demo",
        chart_version=chart_version,
    )
    client.force_login(project_viewer)
    url = f"/releases/{cluster.name}/{NAMESPACE}/demo/"
    page = client.get(url).content.decode()
    assert 'data-revision="1"' in page
    assert 'id="upgrade-form"' not in page and 'id="uninstall-form"' not in page
    assert client.post(url, {"operation": "uninstall"}).status_code == 403
    release.refresh_from_db()
    assert release.status == "deployed"


def test_releases_list_filters_and_keeps_its_queries(client, tenant, tenant_admin):
    from tests.factories import make_cluster

    c = make_cluster(tenant)
    shop = Project.objects.create(tenant=tenant, name="prj-shop")

    def add(i, project=None):
        Release.objects.create(
            tenant=tenant,
            cluster=c,
            namespace="default",
            name=f"r{i}",
            project=project,
            chart_name="web",
            chart_version_name="1.0.0",
            status="deployed",
            revision=1,
        )

    add(0, shop)
    client.force_login(tenant_admin)
    client.get("/releases/")
    with CaptureQueriesContext(connection) as few:
        client.get("/releases/")
    for i in range(1, 8):
        add(i)
    with CaptureQueriesContext(connection) as many:
        page = client.get("/releases/").content.decode()
    assert page.count("data-release=") == 8
    assert len(many.captured_queries) <= len(few.captured_queries)
    page = client.get("/releases/?project=prj-shop").content.decode()
    assert page.count("data-release=") == 1 and f'data-release="{c.name}/default/r0"' in page


def test_delete_a_version_needs_deleteChartVersion(client, tenant, member, read_only_user):
    g = group(tenant, visibility="user")
    chart = Chart.objects.create(group=g, name="web", latest_version="1.1.0")
    for number in ("1.0.0", "1.1.0"):
        ChartVersion.objects.create(chart=chart, version=number, digest="0" * 64)
    url = "/charts/apps/charts/web/"
    client.force_login(read_only_user)
    assert "version-delete" not in client.get(url).content.decode()
    assert client.post(url, {"version": "1.1.0"}).status_code == 403
    client.force_login(member)
    assert "version-delete" in client.get(url).content.decode()
    response = client.post(url, {"version": "1.1.0"})
    assert response.status_code == 303 and response["Location"] == url
    assert list(ChartVersion.objects.values_list("version", flat=True)) == ["1.0.0"]
    assert Chart.objects.get().latest_version == "1.0.0"
    # the last version takes the chart with it: back to the group
    response = client.post(url, {"version": "1.0.0"})
    assert response["Location"] == "/charts/apps/" and not Chart.objects.exists()
    outcomes = list(
        AuditEvent.objects.filter(action="deleteChartVersion").values_list("outcome", flat=True)
    )
    assert sorted(outcomes) == ["denied", "success", "success"]


def test_group_and_chart_pages_keep_their_queries(client, tenant, member):
    g = group(tenant, visibility="user")
    first = Chart.objects.create(group=g, name="c0", latest_version="0.0.0")
    ChartVersion.objects.create(chart=first, version="0.0.0", pushed_by=member)
    client.force_login(member)
    client.get("/charts/apps/")
    with CaptureQueriesContext(connection) as few_charts:
        client.get("/charts/apps/")
    with CaptureQueriesContext(connection) as few_versions:
        client.get("/charts/apps/charts/c0/")
    for i in range(1, 8):
        Chart.objects.create(group=g, name=f"c{i}")
        ChartVersion.objects.create(chart=first, version=f"0.0.{i}", pushed_by=member)
    with CaptureQueriesContext(connection) as many_charts:
        page = client.get("/charts/apps/").content.decode()
    assert page.count("data-chart=") == 8
    with CaptureQueriesContext(connection) as many_versions:
        page = client.get("/charts/apps/charts/c0/").content.decode()
    assert page.count("data-version=") == 8 and 'id="upload-form"' in page
    assert len(many_charts.captured_queries) <= len(few_charts.captured_queries)
    assert len(many_versions.captured_queries) <= len(few_versions.captured_queries)
