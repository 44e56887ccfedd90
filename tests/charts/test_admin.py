"""The chart admin: groups tenant-scoped (another tenant's invisible), the import password
never rendered, charts and versions read-only with no archive shown, deleting a version
through the service (audited)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.charts import services
from apps.charts.models import Chart, ChartGroup, ChartVersion
from tests.charts.helpers import package_chart

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(tenant, other_tenant, tmp_path):
    mine = ChartGroup.objects.create(
        tenant=tenant, name="team", import_username="robot", import_password="pw-never-shown"
    )
    theirs = ChartGroup.objects.create(tenant=other_tenant, name="secret-team")
    version = services.upload_chart(
        actor=None, group=mine, archive=package_chart(tmp_path, "demo", "0.1.0").read_bytes()
    )
    services.upload_chart(
        actor=None,
        group=theirs,
        archive=package_chart(tmp_path / "t", "zzsecret", "0.1.0").read_bytes(),
    )
    return mine, theirs, version


def test_tenant_admin_sees_own_groups_charts_and_versions(client, tenant_admin, seeded):
    mine, theirs, version = seeded
    client.force_login(tenant_admin)
    page = client.get(reverse("admin:charts_chartgroup_changelist")).content.decode()
    assert ">team<" in page and "secret-team" not in page
    change = client.get(reverse("admin:charts_chartgroup_change", args=[mine.pk]))
    body = change.content.decode()
    assert change.status_code == 200 and "demo" in body
    assert "pw-never-shown" not in body
    other = client.get(reverse("admin:charts_chartgroup_change", args=[theirs.pk]))
    assert other.status_code != 200
    charts = client.get(reverse("admin:charts_chart_changelist")).content.decode()
    assert "demo" in charts and "zzsecret" not in charts
    versions = client.get(reverse("admin:charts_chartversion_changelist")).content.decode()
    assert "0.1.0" in versions and "zzsecret" not in versions
    detail = client.get(reverse("admin:charts_chartversion_change", args=[version.pk]))
    text = detail.content.decode()
    assert detail.status_code == 200 and version.digest in text and "greeting" in text
    hidden = ChartVersion.objects.get(chart__name="zzsecret")
    assert (
        client.get(reverse("admin:charts_chartversion_change", args=[hidden.pk])).status_code != 200
    )


def test_group_change_keeps_the_password_and_is_audited(client, tenant_admin, seeded):
    mine, _, _ = seeded
    client.force_login(tenant_admin)
    url = reverse("admin:charts_chartgroup_change", args=[mine.pk])
    response = client.post(
        url,
        {
            "display_name": "Team",
            "description": "",
            "visibility": "public",
            "owner": "",
            "project": "",
            "import_url": "",
            "import_username": "robot",
            "import_password": "",
            "charts-TOTAL_FORMS": "1",
            "charts-INITIAL_FORMS": "1",
            "charts-MIN_NUM_FORMS": "0",
            "charts-MAX_NUM_FORMS": "0",
            "charts-0-id": str(Chart.objects.get(group=mine).pk),
            "charts-0-group": str(mine.pk),
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    mine.refresh_from_db()
    assert mine.visibility == "public" and mine.import_password == "pw-never-shown"
    event = AuditEvent.objects.filter(path=url).latest("id")
    assert event.action == "updateChartGroup" and event.user == tenant_admin
    assert "pw-never-shown" not in str(event.request_body)


def test_version_delete_goes_through_the_service(client, tenant_admin, seeded):
    _, _, version = seeded
    client.force_login(tenant_admin)
    url = reverse("admin:charts_chartversion_delete", args=[version.pk])
    response = client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not ChartVersion.objects.filter(pk=version.pk).exists()
    # the chart went with its last version (the service's rule)
    assert not Chart.objects.filter(name="demo").exists()


def test_releases_are_read_only_in_the_admin_without_values_or_manifest(
    client, tenant, other_tenant, tenant_admin
):
    """A tenant's releases and their revisions, another tenant's invisible; nothing to add,
    change or delete (those touch a cluster); the encrypted values and manifest never shown."""
    from apps.charts.models import Release, ReleaseRevision
    from tests.factories import make_cluster

    def release(owner, name):
        cluster = make_cluster(owner)
        row = Release.objects.create(
            tenant=owner,
            cluster=cluster,
            namespace="web",
            name=name,
            chart_name="hello",
            chart_version_name="0.1.0",
            status="deployed",
            revision=1,
        )
        ReleaseRevision.objects.create(
            release=row,
            revision=1,
            chart_name="hello",
            chart_version_name="0.1.0",
            values='{"password": "values-never-shown"}',
            manifest="kind: Secret  # manifest-never-shown",
            status="deployed",
            description="Install complete",
        )
        return row

    mine = release(tenant, "shop")
    theirs = release(other_tenant, "zzhidden")
    client.force_login(tenant_admin)
    listing = client.get(reverse("admin:charts_release_changelist")).content.decode()
    assert ">shop<" in listing and "zzhidden" not in listing
    page = client.get(reverse("admin:charts_release_change", args=[mine.pk]))
    body = page.content.decode()
    assert page.status_code == 200 and "Install complete" in body
    assert "values-never-shown" not in body and "manifest-never-shown" not in body
    assert 'name="_save"' not in body  # read-only
    assert client.get(reverse("admin:charts_release_change", args=[theirs.pk])).status_code != 200
    assert client.get(reverse("admin:charts_release_add")).status_code == 403
    assert client.post(reverse("admin:charts_release_delete", args=[mine.pk])).status_code == 403
    assert Release.objects.filter(pk=mine.pk).exists()
