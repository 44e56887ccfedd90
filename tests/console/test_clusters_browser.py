"""The cluster pages in a real browser against kubesim: sign in, import a cluster through the
form, watch a pod's phase change on the pods page without reloading it, and axe-core finds
no serious violation on the clusters list, the cluster page and the pods page."""

from __future__ import annotations

import re

import pytest
from kubernetes import client as kclient

from apps.clusters.models import Cluster
from tests.browser import *  # noqa: F403
from tests.console.test_console_browser import serious_violations

pytestmark = pytest.mark.django_db(transaction=True)


def test_import_a_cluster_and_see_a_pod_change_live(
    http_portal, page, tenant, tenant_admin, sim_cluster
):
    axe = f"{http_portal.url}/static/vendor/axe-core/axe.min.js"
    page.goto(f"{http_portal.url}/login/?next=/clusters/")
    page.fill("#id_tenant", "acme")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "Correct-horse-9")
    page.click("#sign-in button[type=submit]")
    page.wait_for_url(f"{http_portal.url}/clusters/")
    assert "No clusters yet." in page.inner_text("#clusters-table")
    assert serious_violations(page, axe) == []

    # import through the form (HTMX posts it; the answer sends the browser to the cluster)
    page.fill("#import-display-name", "browser-sim")
    page.fill("#import-server", sim_cluster.url)
    page.fill("#import-token", sim_cluster.token)
    page.fill("#import-ca", sim_cluster.ca_data)
    page.click("#import-submit")
    page.wait_for_url(re.compile(r".*/clusters/cls-[a-z0-9]+/$"))
    cluster = Cluster.objects.get(display_name="browser-sim")
    assert page.url.endswith(f"/clusters/{cluster.name}/")
    assert cluster.name in page.inner_text("#cluster-info")
    assert "HealthCheck" in page.inner_text("#conditions")
    assert serious_violations(page, axe) == []

    # a pod, made behind the portal's back, then its phase changed there
    config = kclient.Configuration(host=sim_cluster.url)
    config.ssl_ca_cert = sim_cluster.ca_file
    config.api_key = {"authorization": f"Bearer {sim_cluster.token}"}
    config.retries = 0
    with kclient.ApiClient(config) as api_client:
        core = kclient.CoreV1Api(api_client)
        core.create_namespaced_pod(
            "ml",
            {
                "metadata": {"name": "live-one"},
                "spec": {"containers": [{"name": "main", "image": "busybox"}]},
            },
        )
        page.click("#cluster-tabs >> text=Pods")
        page.wait_for_url(re.compile(rf".*/clusters/{cluster.name}/pods/$"))
        page.select_option("#pods-namespace", "ml")
        page.click("#pods-filter button[type=submit]")
        page.wait_for_url(re.compile(r".*namespace=ml.*"))
        cell = page.locator('tr[data-pod="ml/live-one"] td[data-phase]')
        assert cell.get_attribute("data-phase") == "Pending"
        assert serious_violations(page, axe) == []
        page.evaluate("window.__sameDocument = true")
        core.patch_namespaced_pod_status("live-one", "ml", {"status": {"phase": "Running"}})
        page.wait_for_selector('tr[data-pod="ml/live-one"] td[data-phase="Running"]', timeout=3500)
    # the same document: the table changed in place, the page was not reloaded
    assert page.evaluate("window.__sameDocument") is True
    assert "Running" in page.inner_text('tr[data-pod="ml/live-one"]')


def test_pods_pages_forward_and_back_with_the_keyboard(
    http_portal, page, tenant, tenant_admin, sim_cluster
):
    """Three pages of pods: Next twice, then Previous, all by keyboard (focus, Enter); the
    paged pages pass axe-core."""
    from apps.clusters import k8s, services

    spec = k8s.Connection(
        server=sim_cluster.url, token=sim_cluster.token, ca_data=sim_cluster.ca_data
    )
    cluster = services.import_cluster(actor=None, tenant=tenant, display_name="sim", spec=spec)
    config = kclient.Configuration(host=sim_cluster.url)
    config.ssl_ca_cert = sim_cluster.ca_file
    config.api_key = {"authorization": f"Bearer {sim_cluster.token}"}
    config.retries = 0
    with kclient.ApiClient(config) as api_client:
        core = kclient.CoreV1Api(api_client)
        for i in range(105):
            core.create_namespaced_pod(
                "ml",
                {
                    "metadata": {"name": f"p{i:03d}"},
                    "spec": {"containers": [{"name": "main", "image": "busybox"}]},
                },
            )
    axe = f"{http_portal.url}/static/vendor/axe-core/axe.min.js"
    page.goto(f"{http_portal.url}/login/?next=/clusters/{cluster.name}/pods/%3Fnamespace%3Dml")
    page.fill("#id_tenant", "acme")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "Correct-horse-9")
    page.click("#sign-in button[type=submit]")
    page.wait_for_url(re.compile(r".*/pods/\?namespace=ml$"))

    def shown():
        return page.eval_on_selector_all("tr[data-pod]", "rows => rows.map(r => r.dataset.pod)")

    def press(link):
        page.focus(link)
        with page.expect_navigation():
            page.keyboard.press("Enter")

    first = shown()
    assert len(first) == 50 and page.locator("#pods-previous").count() == 0
    press("#pods-next")
    second = shown()
    assert len(second) == 50 and not set(first) & set(second)
    assert serious_violations(page, axe) == []
    press("#pods-next")
    assert shown() == [f"ml/p{i:03d}" for i in range(100, 105)]
    press("#pods-previous")
    assert shown() == second
    press("#pods-previous")
    assert shown() == first and page.locator("#pods-previous").count() == 0
