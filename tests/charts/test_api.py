"""``/api/v1/chart-groups/`` and the charts and versions under a group: the permission
matrices, validation naming the field, the import password never echoed, constant-query lists,
values.yaml and Chart.yaml on a version, deleting a version."""

from __future__ import annotations

import itertools

import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEvent
from apps.charts import services
from apps.charts.models import Chart, ChartGroup, ChartVersion
from apps.projects.models import Project
from tests.charts.helpers import package_chart
from tests.matrix import APIMatrix

pytestmark = pytest.mark.django_db

URL = "/api/v1/chart-groups/"
_names = itertools.count()
_archives: dict[tuple[str, str], bytes] = {}


def archive(name: str, version: str, tmp_root) -> bytes:
    key = (name, version)
    if key not in _archives:
        _archives[key] = package_chart(tmp_root / f"{name}-{version}", name, version).read_bytes()
    return _archives[key]


@pytest.fixture(autouse=True)
def _tmp(tmp_path_factory, request):
    request.cls and setattr(request.cls, "tmp_root", tmp_path_factory.getbasetemp())


class TestChartGroupMatrix(APIMatrix):
    list_url = URL
    reader = "member"
    writer = "tenant_admin"
    non_writer = "read_only_user"
    no_permission = "viewer"

    def make_object(self, tenant):
        return ChartGroup.objects.create(tenant=tenant, name=f"g{next(_names)}")

    def lookup(self, obj):
        return obj.name

    def lookup_from_json(self, row):
        return row["name"]

    def create_data(self, tenant):
        return {"name": "fresh", "visibility": "public", "description": "made by the matrix"}

    def update_data(self, obj):
        return {"description": "changed"}


def _group_with_chart(tenant, tmp_root, name="g"):
    group, _ = ChartGroup.objects.get_or_create(tenant=tenant, name=name)
    version = services.upload_chart(
        actor=None, group=group, archive=archive(f"c{next(_names)}", "0.1.0", tmp_root)
    )
    return group, version


class TestChartMatrix(APIMatrix):
    list_url = f"{URL}g/charts/"
    read_only = True
    reader = "member"
    writer = "tenant_admin"
    non_writer = "read_only_user"

    def make_object(self, tenant):
        return _group_with_chart(tenant, self.tmp_root)[1].chart

    def lookup(self, obj):
        return obj.name

    def lookup_from_json(self, row):
        return row["name"]


class TestChartVersionMatrix(APIMatrix):
    list_url = f"{URL}g/charts/demo/versions/"
    read_only = True  # no create, no update (versions come from uploads)
    reader = "member"
    writer = "tenant_admin"
    non_writer = "read_only_user"

    def make_object(self, tenant):
        group, _ = ChartGroup.objects.get_or_create(tenant=tenant, name="g")
        return services.upload_chart(
            actor=None,
            group=group,
            archive=archive("demo", f"0.{next(_names)}.0", self.tmp_root),
        )

    def lookup(self, obj):
        return obj.version

    def lookup_from_json(self, row):
        return row["version"]

    def test_writer_creates_updates_deletes(self, request, api, tenant):
        """No create or update; delete is permitted to the writer (overrides the read-only
        case of the matrix)."""
        client = api(request.getfixturevalue(self.writer))
        obj = self.make_object(tenant)
        assert client.post(self.list_url, {}).status_code == 405
        assert client.patch(self.detail_url(obj), {}).status_code == 405
        deleted = client.delete(self.detail_url(obj))
        assert deleted.status_code == 204, deleted.content
        assert client.get(self.detail_url(obj)).status_code == 404
        assert not ChartVersion.objects.filter(pk=obj.pk).exists()

    def test_non_writer_delete_is_403(self, request, api, tenant):
        obj = self.make_object(tenant)
        client = api(request.getfixturevalue(self.non_writer))
        response = client.delete(self.detail_url(obj))
        assert response.status_code == 403, response.content
        assert ChartVersion.objects.filter(pk=obj.pk).exists()


def test_create_with_import_settings_never_echoes_the_password(api, member):
    client = api(member)
    response = client.post(
        URL,
        {
            "name": "mirror",
            "visibility": "public",
            "import_url": "https://charts.example.test/stable",
            "import_username": "robot",
            "import_password": "s3cret-pass",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert "import_password" not in body and body["has_import_password"] is True
    assert body["repository_url"] == "http://testserver/chart/acme/mirror"
    assert body["owner"] is None and body["tenant"] == "acme"
    group = ChartGroup.objects.get(name="mirror")
    assert group.import_password == "s3cret-pass"
    # encrypted at rest
    with connection.cursor() as cursor:
        cursor.execute("SELECT import_password FROM charts_chartgroup WHERE id = %s", [group.pk])
        assert "s3cret-pass" not in cursor.fetchone()[0]
    # an update without the password keeps it
    patched = client.patch(f"{URL}mirror/", {"description": "d"})
    assert patched.status_code == 200 and "import_password" not in patched.json()
    assert ChartGroup.objects.get(name="mirror").import_password == "s3cret-pass"
    event = AuditEvent.objects.get(action="createChartGroup")
    assert "s3cret-pass" not in str(event.request_body)
    # a user group defaults to its creator as owner
    mine = client.post(URL, {"name": "mine"})
    assert mine.status_code == 201 and mine.json()["owner"] == "bob"


def test_validation_errors_name_the_field(api, member, other_tenant, tenant):
    client = api(member)
    bad = client.post(URL, {"name": "Not/Valid"})
    assert bad.status_code == 400 and "name" in bad.json()["fields"]
    assert client.post(URL, {"name": "team"}).status_code == 201
    taken = client.post(URL, {"name": "team"})
    assert taken.status_code == 400 and "already exists" in taken.json()["fields"]["name"][0]
    Project.objects.create(tenant=other_tenant, name="prj-theirs", display_name="Theirs")
    theirs = client.post(URL, {"name": "other", "project": "prj-theirs"})
    assert theirs.status_code == 400 and "project" in theirs.json()["fields"]
    no_project = client.post(URL, {"name": "proj", "visibility": "project"})
    assert no_project.status_code == 400
    assert "needs its project" in no_project.json()["fields"]["project"][0]
    ftp = client.post(URL, {"name": "ftp", "import_url": "ftp://example.test/charts"})
    assert ftp.status_code == 400 and "import_url" in ftp.json()["fields"]
    renamed = client.patch(f"{URL}team/", {"name": "other"})
    assert renamed.status_code == 400 and "name" in renamed.json()["fields"]
    assert not ChartGroup.objects.filter(name__in=["other", "proj", "ftp"]).exists()


def test_version_detail_has_values_and_chart_yaml(api, member, tenant, tmp_path):
    group = ChartGroup.objects.create(tenant=tenant, name="g")
    data = package_chart(tmp_path, "demo", "1.0.0", values={"replicas": 3, "image": "nginx"})
    services.upload_chart(actor=member, group=group, archive=data.read_bytes())
    client = api(member)
    charts = client.get(f"{URL}g/charts/").json()["results"]
    assert [c["name"] for c in charts] == ["demo"]
    assert charts[0]["latest_version"] == "1.0.0" and charts[0]["version_count"] == 1
    listed = client.get(f"{URL}g/charts/demo/versions/").json()["results"]
    assert "values" not in listed[0]
    detail = client.get(f"{URL}g/charts/demo/versions/1.0.0/")
    assert detail.status_code == 200
    body = detail.json()
    assert yaml.safe_load(body["values"]) == {"replicas": 3, "image": "nginx"}
    assert body["metadata"]["name"] == "demo" and body["metadata"]["appVersion"] == "1.0.0"
    assert body["pushed_by"] == "bob"
    assert body["download_url"] == "http://testserver/chart/acme/g/charts/demo-1.0.0.tgz"


def test_nested_routes_of_another_tenants_group_are_404(api, other_user, tenant, tmp_path):
    group = ChartGroup.objects.create(tenant=tenant, name="g")
    data = package_chart(tmp_path, "demo", "1.0.0").read_bytes()
    services.upload_chart(actor=None, group=group, archive=data)
    client = api(other_user)
    for url in (
        f"{URL}g/charts/",
        f"{URL}g/charts/demo/",
        f"{URL}g/charts/demo/versions/",
        f"{URL}g/charts/demo/versions/1.0.0/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.delete(f"{URL}g/charts/demo/versions/1.0.0/").status_code == 404
    assert ChartVersion.objects.filter(chart__group=group).count() == 1


def test_deleting_the_group_takes_its_charts(api, tenant_admin, tenant, tmp_path):
    group = ChartGroup.objects.create(tenant=tenant, name="g")
    services.upload_chart(actor=None, group=group, archive=package_chart(tmp_path).read_bytes())
    assert api(tenant_admin).delete(f"{URL}g/").status_code == 204
    assert not Chart.objects.exists() and not ChartVersion.objects.exists()


def test_list_query_counts_are_constant(api, member, tenant, tmp_path):
    client = api(member)
    client.get(URL)  # warm the policy index

    def group_queries(n):
        ChartGroup.objects.all().delete()
        for i in range(n):
            ChartGroup.objects.create(tenant=tenant, name=f"q{i}")
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(URL, {"limit": 50})
        assert response.status_code == 200 and response.json()["count"] == n
        return len(ctx.captured_queries)

    assert group_queries(2) == group_queries(12)

    def nested_queries(n, what):
        ChartGroup.objects.all().delete()
        group = ChartGroup.objects.create(tenant=tenant, name="g")
        for i in range(n):
            name = f"c{i}" if what == "charts" else "demo"
            version = "0.1.0" if what == "charts" else f"0.{i}.0"
            services.upload_chart(
                actor=member, group=group, archive=archive(name, version, tmp_path)
            )
        url = f"{URL}g/charts/" if what == "charts" else f"{URL}g/charts/demo/versions/"
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url, {"limit": 50})
        assert response.status_code == 200 and response.json()["count"] == n
        return len(ctx.captured_queries)

    assert nested_queries(2, "charts") == nested_queries(8, "charts")
    assert nested_queries(2, "versions") == nested_queries(8, "versions")
