"""The chart console in a real browser against kubesim: a project member uploads a packaged
chart through the group's form, sees its version, previews the install and installs it into
the project's namespace, landing on the release's page; axe-core finds no serious issue."""

from __future__ import annotations

import pytest

from apps.charts.models import ChartGroup, Release
from tests.browser import *  # noqa: F403
from tests.browser import sign_in_at
from tests.charts import test_releases as releases_tests
from tests.charts.test_releases import NAMESPACE, deployment
from tests.console.test_console_browser import serious_violations

pytestmark = pytest.mark.django_db(transaction=True)

sim = releases_tests.sim
cluster = releases_tests.cluster
project = releases_tests.project


def test_upload_a_chart_and_install_it(
    http_portal, page, tenant, project_member, project, cluster, tmp_path
):
    ChartGroup.objects.create(tenant=tenant, name="apps", visibility="project", project=project)
    package = tmp_path / "web-1.0.0.tgz"
    package.write_bytes(releases_tests.package_chart(tmp_path / "src"))
    base = http_portal.url
    axe = f"{base}/static/vendor/axe-core/axe.min.js"
    sign_in_at(page, base, "/charts/apps/", project_member.username, tenant="acme")
    assert page.is_visible("#charts-empty")
    page.set_input_files("#id_chart", str(package))
    page.click("#upload-form button[type=submit]")
    page.wait_for_url(f"{base}/charts/apps/charts/web/#version-1.0.0")
    assert "pete" in page.inner_text("tr[data-version='1.0.0']")
    assert serious_violations(page, axe) == []

    page.click("tr[data-version='1.0.0'] a:text('Install')")
    page.wait_for_url(f"{base}/charts/apps/charts/web/1.0.0/install/")
    assert "replicas: 1" in page.input_value("#id_values")
    page.fill("#id_namespace", NAMESPACE)
    page.fill("#id_name", "demo")
    page.click("#preview-button")
    page.wait_for_selector("#preview-table")
    assert "demo-web" in page.inner_text("#preview-table")
    assert not Release.objects.exists()
    page.click("#install-button")
    page.wait_for_url(f"{base}/releases/{cluster.name}/{NAMESPACE}/demo/")
    assert "Deployed" in page.inner_text("tr[data-revision='1']")
    assert deployment(cluster)["spec"]["replicas"] == 1
    assert serious_violations(page, axe) == []
