"""The ChartMuseum-compatible API under /chart/ (apps.charts.views), through Django's test
client: uploads (multipart and raw), the index, downloads, deletes, provenance, who may do
what (404 for what one may not read, 401 to the anonymous), the audit trail."""

from __future__ import annotations

import base64
import hashlib

import helm_python
import pytest
import yaml
from django.test import Client

from apps.audit.models import AuditEvent
from apps.charts.choices import ChartVisibility
from apps.charts.models import Chart, ChartArchive, ChartGroup, ChartVersion
from apps.projects.models import Project
from tests.charts.helpers import chart_yaml, package_chart, provenance, tgz
from tests.conftest import PROJECT
from tests.factories import make_api_key

pytestmark = pytest.mark.django_db

API = "/chart/api/acme/private/charts"


def basic(user, key=None) -> dict:
    if key is None:
        _, key = make_api_key(user)
    login = f"{user.tenant.slug}/{user.username}" if user.tenant_id else user.username
    token = base64.b64encode(f"{login}:{key}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


def upload(client, url, data: bytes, auth: dict, prov: bytes | None = None, **params):
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = {"chart": SimpleUploadedFile("chart.tgz", data)}
    if prov is not None:
        files["prov"] = SimpleUploadedFile("chart.tgz.prov", prov)
    query = "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""
    return client.post(url + query, files, **auth)


@pytest.fixture
def client():
    return Client()


def test_upload_multipart_then_index_and_download(client, groups, member, demo_chart):
    auth = basic(member)
    data = demo_chart.read_bytes()
    response = upload(client, API, data, auth)
    assert response.status_code == 201, response.content
    assert response.json() == {"saved": True}
    version = ChartVersion.objects.get(chart__group=groups.private, chart__name="demo")
    assert version.version == "0.1.0" and version.pushed_by == member
    assert version.digest == hashlib.sha256(data).hexdigest() and version.size == len(data)
    assert yaml.safe_load(version.values) == {"greeting": "hello"}
    assert version.metadata["description"] == "A demo chart"
    assert bytes(ChartArchive.objects.get(version=version).data) == data

    index = client.get("/chart/acme/private/index.yaml", **auth)
    assert index.status_code == 200
    body = yaml.safe_load(index.content)
    assert body["apiVersion"] == "v1" and "generated" in body
    (entry,) = body["entries"]["demo"]
    assert entry["urls"] == ["charts/demo-0.1.0.tgz"]
    assert entry["digest"] == version.digest
    assert entry["appVersion"] == "1.0.0" and entry["description"] == "A demo chart"
    assert entry["apiVersion"] == "v2" and entry["created"].endswith("Z")

    download = client.get("/chart/acme/private/charts/demo-0.1.0.tgz", **auth)
    assert download.status_code == 200 and download.content == data
    assert Chart.objects.get(group=groups.private, name="demo").pull_count == 1
    pushed = AuditEvent.objects.get(action="pushChart")
    assert pushed.user == member and pushed.status_code == 201
    assert pushed.resource == "chartgroup:private/chart:demo/version:0.1.0"
    pulled = AuditEvent.objects.get(action="pullChart")
    assert pulled.user == member and pulled.resource == pushed.resource
    assert pulled.tenant == groups.private.tenant


def test_upload_raw_body_like_curl_data_binary(client, groups, member, tmp_path):
    data = package_chart(tmp_path, "raw-chart", "2.0.0-beta.1").read_bytes()
    response = client.post(API, data, content_type="application/octet-stream", **basic(member))
    assert response.status_code == 201, response.content
    assert ChartVersion.objects.filter(chart__name="raw-chart", version="2.0.0-beta.1").exists()


def test_version_exists_is_409_unless_forced(client, groups, member, tmp_path):
    auth = basic(member)
    first = package_chart(tmp_path / "a", "demo", "0.1.0", description="first").read_bytes()
    second = package_chart(tmp_path / "b", "demo", "0.1.0", description="second").read_bytes()
    assert upload(client, API, first, auth).status_code == 201
    again = upload(client, API, second, auth)
    assert again.status_code == 409
    assert again.json() == {"error": "demo-0.1.0.tgz already exists in private"}
    assert ChartVersion.objects.get(chart__name="demo").description == "first"
    forced = upload(client, API, second, auth, force="true")
    assert forced.status_code == 201
    version = ChartVersion.objects.get(chart__name="demo")
    assert version.description == "second"
    assert version.digest == hashlib.sha256(second).hexdigest()


def test_versions_listed_newest_first_and_latest_tracked(client, groups, member, tmp_path):
    auth = basic(member)
    for i, version in enumerate(["0.9.0", "1.0.0", "1.0.0-rc.1", "0.10.0"]):
        data = package_chart(tmp_path / str(i), "demo", version).read_bytes()
        assert upload(client, API, data, auth).status_code == 201
    listed = client.get(f"{API}/demo", **auth).json()
    assert [v["version"] for v in listed] == ["1.0.0", "1.0.0-rc.1", "0.10.0", "0.9.0"]
    assert Chart.objects.get(name="demo").latest_version == "1.0.0"
    everything = client.get(API, **auth).json()
    assert list(everything) == ["demo"] and len(everything["demo"]) == 4
    one = client.get(f"{API}/demo/0.10.0", **auth)
    assert one.status_code == 200 and one.json()["urls"] == ["charts/demo-0.10.0.tgz"]
    assert client.get(f"{API}/demo/3.0.0", **auth).status_code == 404
    assert client.get(f"{API}/nothing", **auth).status_code == 404


def test_delete_version(client, groups, member, read_only_user, tmp_path):
    auth = basic(member)
    for version in ("0.1.0", "0.2.0"):
        data = package_chart(tmp_path / version, "demo", version).read_bytes()
        upload(client, API, data, auth)
    # may not delete: reads nothing here (read-only holds no pullChart) → 404, row kept
    refused = client.delete(f"{API}/demo/0.2.0", **basic(read_only_user))
    assert refused.status_code == 404
    assert ChartVersion.objects.filter(version="0.2.0").exists()
    deleted = client.delete(f"{API}/demo/0.2.0", **auth)
    assert deleted.status_code == 200 and deleted.json() == {"deleted": True}
    assert not ChartVersion.objects.filter(version="0.2.0").exists()
    assert Chart.objects.get(name="demo").latest_version == "0.1.0"
    event = AuditEvent.objects.filter(action="deleteChartVersion").latest("id")
    assert event.user == member and event.status_code == 200
    assert event.resource == "chartgroup:private/chart:demo/version:0.2.0"
    assert client.delete(f"{API}/demo/0.2.0", **auth).status_code == 404
    # the last version takes the chart with it
    assert client.delete(f"{API}/demo/0.1.0", **auth).status_code == 200
    assert not Chart.objects.filter(name="demo").exists()
    index = yaml.safe_load(client.get("/chart/acme/private/index.yaml", **auth).content)
    assert index["entries"] == {}


def test_a_path_traversal_archive_is_refused_and_nothing_stored(client, groups, member):
    data = tgz([("demo/Chart.yaml", chart_yaml()), ("demo/../../etc/passwd", b"root:x:0:0")])
    response = upload(client, API, data, basic(member))
    assert response.status_code == 400
    assert response.json() == {
        "error": "chart: archive: member demo/../../etc/passwd escapes the chart directory"
    }
    assert not Chart.objects.exists() and not ChartArchive.objects.exists()
    event = AuditEvent.objects.get(action="pushChart")
    assert event.status_code == 400 and event.user == member


def test_oversized_and_bad_chart_yaml_are_refused(client, groups, member, settings, demo_chart):
    auth = basic(member)
    data = demo_chart.read_bytes()
    settings.CHART_MAX_ARCHIVE_BYTES = 100
    big = upload(client, API, data, auth)
    assert big.status_code == 400
    assert f"archive: {len(data)} bytes, more than the 100 bytes allowed" in big.json()["error"]
    settings.CHART_MAX_ARCHIVE_BYTES = 2 * 1024 * 1024
    bad = tgz([("demo/Chart.yaml", chart_yaml(version="one"))])
    answer = upload(client, API, bad, auth)
    assert answer.status_code == 400
    assert answer.json()["error"] == "chart: Chart.yaml: version 'one' is not a SemVer 2 version"
    assert not ChartVersion.objects.exists()
    empty = client.post(API, {}, **auth)
    assert empty.status_code == 400 and "no chart archive" in empty.json()["error"]


def test_provenance_with_the_chart_and_alone(client, groups, member, tmp_path, keyring):
    auth = basic(member)
    path = package_chart(tmp_path, "demo", "0.1.0")
    data = path.read_bytes()
    signed = open(helm_python.sign(path, key=keyring.key, keyring=keyring.secret), "rb").read()
    # another archive's provenance is refused, the chart with it
    wrong = upload(client, API, data, auth, prov=provenance("demo", "0.1.0", b"x"))
    assert wrong.status_code == 400 and wrong.json()["error"].startswith("prov: the digest")
    assert not ChartVersion.objects.exists()
    assert upload(client, API, data, auth, prov=signed).status_code == 201
    version = ChartVersion.objects.get()
    assert version.has_provenance
    got = client.get("/chart/acme/private/charts/demo-0.1.0.tgz.prov", **auth)
    assert got.status_code == 200 and got.content == signed
    # the downloaded pair verifies with the signer's public key (Helm's own check)
    (tmp_path / "dl").mkdir()
    (tmp_path / "dl" / "demo-0.1.0.tgz").write_bytes(
        client.get("/chart/acme/private/charts/demo-0.1.0.tgz", **auth).content
    )
    (tmp_path / "dl" / "demo-0.1.0.tgz.prov").write_bytes(got.content)
    verified = helm_python.verify(tmp_path / "dl" / "demo-0.1.0.tgz", keyring.public)
    assert verified["signed_by"] == ["Chart Signer <signer@example.test>"]

    # POST …/prov on its own (ChartMuseum): for a version uploaded without one
    other = package_chart(tmp_path / "o", "other", "1.0.0")
    assert upload(client, API, other.read_bytes(), auth).status_code == 201
    assert client.get("/chart/acme/private/charts/other-1.0.0.tgz.prov", **auth).status_code == 404
    prov = provenance("other", "1.0.0", other.read_bytes())
    from django.core.files.uploadedfile import SimpleUploadedFile

    saved = client.post(
        "/chart/api/acme/private/prov", {"prov": SimpleUploadedFile("p.prov", prov)}, **auth
    )
    assert saved.status_code == 201, saved.content
    assert ChartVersion.objects.get(chart__name="other").has_provenance
    unknown = client.post(
        "/chart/api/acme/private/prov",
        provenance("ghost", "1.0.0", b"x"),
        content_type="application/octet-stream",
        **auth,
    )
    assert (
        unknown.status_code == 400
        and "ghost 1.0.0, which is not in private" in unknown.json()["error"]
    )


def _seed(group, tmp_path, name="demo"):
    from apps.charts import services

    data = package_chart(tmp_path / group.name, name, "0.1.0").read_bytes()
    services.upload_chart(actor=None, group=group, archive=data)
    return data


def test_anonymous_reads_public_groups_only(client, groups, tmp_path):
    data = _seed(groups.public, tmp_path)
    _seed(groups.private, tmp_path)
    assert client.get("/chart/acme/pub/index.yaml").status_code == 200
    got = client.get("/chart/acme/pub/charts/demo-0.1.0.tgz")
    assert got.status_code == 200 and got.content == data
    assert AuditEvent.objects.get(action="pullChart").username == ""
    for url in (
        "/chart/acme/private/index.yaml",
        "/chart/acme/private/charts/demo-0.1.0.tgz",
        "/chart/api/acme/private/charts",
        "/chart/acme/nonexistent/index.yaml",  # the same answer: names do not leak
        "/chart/nobody/pub/index.yaml",
    ):
        answer = client.get(url)
        assert answer.status_code == 401, url
        assert answer["WWW-Authenticate"].startswith("Basic")
        assert answer.json() == {"error": "authentication required"}
    # nobody uploads anonymously, not even to a public group
    refused = upload(client, "/chart/api/acme/pub/charts", data, {})
    assert refused.status_code == 401
    assert ChartVersion.objects.filter(chart__group=groups.public).count() == 1


def test_other_tenant_and_unreadable_groups_are_404(
    client, groups, member, other_user, viewer, tmp_path
):
    data = _seed(groups.private, tmp_path)
    theirs = basic(other_user)
    for url in (
        "/chart/acme/private/index.yaml",
        "/chart/acme/private/charts/demo-0.1.0.tgz",
        "/chart/api/acme/private/charts",
        "/chart/api/acme/private/charts/demo",
    ):
        answer = client.get(url, **theirs)
        assert answer.status_code == 404, url
        assert answer.json() == {"error": "chart group acme/private not found"}
    assert upload(client, API, data, theirs, force="true").status_code == 404
    assert client.delete(f"{API}/demo/0.1.0", **theirs).status_code == 404
    assert ChartVersion.objects.filter(chart__group=groups.private).count() == 1
    # a user of the same tenant with no permission: 404 too, on a group they cannot read
    assert client.get("/chart/acme/private/index.yaml", **basic(viewer)).status_code == 404
    # and the other tenant's own group is theirs (same name in both tenants is fine)
    assert client.get("/chart/globex/team/index.yaml", **theirs).status_code == 200
    assert client.get("/chart/globex/team/index.yaml", **basic(member)).status_code == 404


def test_public_group_readers_need_push_to_upload(client, groups, viewer, tmp_path):
    data = package_chart(tmp_path, "demo", "0.1.0").read_bytes()
    answer = upload(client, "/chart/api/acme/pub/charts", data, basic(viewer))
    assert answer.status_code == 403
    assert "may not push" in answer.json()["error"]
    assert not ChartVersion.objects.exists()


def test_owner_reads_a_user_group_without_a_policy(client, tenant, viewer, tmp_path):
    mine = ChartGroup.objects.create(tenant=tenant, name="vics", owner=viewer)
    _seed(mine, tmp_path)
    assert client.get("/chart/acme/vics/index.yaml", **basic(viewer)).status_code == 200
    got = client.get("/chart/acme/vics/charts/demo-0.1.0.tgz", **basic(viewer))
    assert got.status_code == 200
    # reading is not writing
    data = package_chart(tmp_path / "n", "demo", "0.2.0").read_bytes()
    assert upload(client, "/chart/api/acme/vics/charts", data, basic(viewer)).status_code == 403


def test_project_group_is_read_by_the_projects_members(
    client, tenant, project_member, viewer, tmp_path
):
    project = Project.objects.create(tenant=tenant, name=PROJECT, display_name="Test")
    group = ChartGroup.objects.create(
        tenant=tenant, name="team", visibility=ChartVisibility.PROJECT, project=project
    )
    _seed(group, tmp_path)
    index = client.get("/chart/acme/team/index.yaml", **basic(project_member))
    assert index.status_code == 200
    assert "demo" in yaml.safe_load(index.content)["entries"]
    assert client.get("/chart/acme/team/index.yaml", **basic(viewer)).status_code == 404
    # the project's roles (project-member holds pushChart in the project's domain) apply
    data = package_chart(tmp_path / "n", "demo", "0.2.0").read_bytes()
    pushed = upload(client, "/chart/api/acme/team/charts", data, basic(project_member))
    assert pushed.status_code == 201


def test_bad_credentials_are_401_and_audited(client, groups, member):
    row, key = make_api_key(member)
    answer = client.get("/chart/acme/pub/index.yaml", **basic(member, key + "x"))
    assert answer.status_code == 401 and answer.json() == {"error": "Invalid API key."}
    event = AuditEvent.objects.get(action="authenticateChartRepository")
    assert event.username == "acme/bob" and event.status_code == 401
    # a key of bob's presented as another user's
    token = base64.b64encode(f"acme/alice:{key}".encode()).decode()
    other = client.get("/chart/acme/pub/index.yaml", HTTP_AUTHORIZATION=f"Basic {token}")
    assert other.status_code == 401
    bearer = client.get("/chart/acme/pub/index.yaml", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert bearer.status_code == 401 and "Only HTTP Basic" in bearer.json()["error"]


def test_console_session_reads(client, groups, member, tmp_path):
    _seed(groups.private, tmp_path)
    client.force_login(member)
    assert client.get("/chart/acme/private/index.yaml").status_code == 200
    # a session alone never writes (no CSRF on this API: writes need Basic credentials)
    data = package_chart(tmp_path / "n", "demo", "0.2.0").read_bytes()
    assert upload(client, API, data, {}).status_code == 401


def test_index_query_count_is_constant(client, groups, member, tmp_path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.charts import services

    auth = basic(member)
    client.get("/chart/acme/private/index.yaml", **auth)  # warm the policy index
    source = package_chart(tmp_path, "demo", "0.1.0")

    def queries(n):
        ChartVersion.objects.all().delete()
        for i in range(n):
            data = package_chart(tmp_path / f"q{n}-{i}", f"c{i % 3}", f"0.{n}.{i}").read_bytes()
            services.upload_chart(actor=None, group=groups.private, archive=data)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/chart/acme/private/index.yaml", **auth)
        assert response.status_code == 200
        assert sum(len(v) for v in yaml.safe_load(response.content)["entries"].values()) == n
        return len(ctx.captured_queries)

    assert source.exists()
    assert queries(2) == queries(9)
