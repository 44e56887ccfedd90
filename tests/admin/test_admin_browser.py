"""The cluster admin page in a real browser: it reads as an operator needs (resource table,
node table), passes the axe-core check with no serious violations, and its node buttons work
from the keyboard-reachable page (cordon really cordons in kubesim)."""

from __future__ import annotations

import pytest

from apps.clusters.models import Node
from tests.admin.conftest import import_synced
from tests.admin.test_clusters_admin import sim_node
from tests.browser import *  # noqa: F403
from tests.console.test_console_browser import serious_violations

pytestmark = pytest.mark.django_db(transaction=True)


def test_cluster_admin_page_reads_well_and_cordons(
    http_portal, page, tenant, tenant_admin, sim_cluster
):
    cluster = import_synced(tenant, sim_cluster, "prod")
    axe = f"{http_portal.url}/static/vendor/axe-core/axe.min.js"
    page.goto(f"{http_portal.url}/login/")
    page.fill("#id_tenant", "acme")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "Correct-horse-9")
    page.click("#sign-in button[type=submit]")
    page.wait_for_url(f"{http_portal.url}/")

    page.goto(f"{http_portal.url}/admin/clusters/cluster/{cluster.pk}/change/")
    resources = page.inner_text(".field-resources_shown table")
    assert "32 cores" in resources and "128 GiB" in resources
    assert page.locator(".field-nodes_shown tbody tr").count() == 3
    assert serious_violations(page, axe) == []
    page.screenshot(path="var/screenshots/admin-cluster.png", full_page=True)

    page.click('button[aria-label="Cordon node-2"]')
    page.wait_for_selector(".messagelist .success")
    assert f"Cordoned node-2 of {cluster.name}" in page.inner_text(".messagelist")
    assert sim_node(sim_cluster, "node-2")["spec"]["unschedulable"] is True
    assert Node.objects.get(cluster=cluster, name="node-2").unschedulable
    assert page.locator('button[aria-label="Uncordon node-2"]').count() == 1
