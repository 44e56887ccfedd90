"""The workload forms and page in a real browser: create a Deployment through the form (a
row added without a reload), edit it and check in the cluster that no field was lost, scale
it, roll it back, switch to YAML and see the dry-run diff; axe-core finds no serious
violation on the form or the workload page."""

from __future__ import annotations

import time
import uuid

import pytest

from apps.clusters import resources, services
from tests.browser import *  # noqa: F403
from tests.console.test_console_browser import serious_violations
from tests.console.test_forms import import_cluster

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def live_cluster(kube_sim, tenant):
    handle = kube_sim.add_cluster(f"b{uuid.uuid4().hex[:8]}", nodes=3, controller=True)
    handle.ca_data = open(handle.ca_file).read()  # noqa: SIM115
    yield import_cluster(tenant, handle)
    kube_sim.remove_cluster(handle.name)


def accessibility(page, axe) -> list:
    """axe-core's serious findings once the page has settled; loading the 650 kB script is
    tried twice (on the shared machine its first load has failed once in a while)."""
    from playwright.sync_api import Error

    page.wait_for_load_state("networkidle")
    try:
        return serious_violations(page, axe)
    except Error:
        page.wait_for_timeout(500)
        return serious_violations(page, axe)


def fetch(cluster, name="web"):
    with services.client_for(cluster) as client:
        return resources.get_object(client, resources.KINDS["deployments"], "default", name)


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def test_create_edit_scale_rollback_and_yaml(http_portal, page, tenant_admin, live_cluster):
    base, cluster = http_portal.url, live_cluster
    axe = f"{base}/static/vendor/axe-core/axe.min.js"
    page.goto(f"{base}/login/")
    page.fill("#id_tenant", "acme")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "Correct-horse-9")
    page.click("#sign-in button[type=submit]")
    page.wait_for_url(f"{base}/")

    # create through the form, adding an environment variable row without a reload
    page.goto(f"{base}/clusters/{cluster.name}/new/deployments/")
    assert accessibility(page, axe) == []
    page.fill("#id_namespace", "default")
    page.fill("#id_name", "web")
    page.fill("#id_replicas", "1")
    page.fill("#id_containers-0-image", "nginx:1.25")
    page.click("#group-containers-0-env > [data-add-row]")
    page.fill("#id_containers-0-env-0-name", "MODE")
    page.fill("#id_containers-0-env-0-value", "fast")
    page.click("#form-save")
    page.wait_for_url(f"{base}/clusters/{cluster.name}/workloads/default/deployments/web/")
    created = fetch(cluster)
    app = created["spec"]["template"]["spec"]["containers"][0]
    assert app["image"] == "nginx:1.25" and app["env"] == [{"name": "MODE", "value": "fast"}]

    # someone adds fields the form does not show; an edit through the form keeps them
    created["metadata"].setdefault("annotations", {})["example.com/owner"] = "shop"
    created["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {"runAsUser": 7}
    created["spec"]["template"]["spec"]["affinity"] = {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 10,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": {"app": "web"}},
                    },
                }
            ]
        }
    }
    with services.client_for(cluster) as client:
        resources.replace_object(client, resources.KINDS["deployments"], "default", "web", created)
    before = fetch(cluster)
    page.click("#workload-edit")
    page.wait_for_selector("#object-form")
    page.fill("#id_containers-0-image", "nginx:1.26")
    page.click("#form-save")
    page.wait_for_url(f"{base}/clusters/{cluster.name}/workloads/default/deployments/web/")
    after = fetch(cluster)
    assert after["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    for obj in (before, after):
        obj.pop("status", None)
        for key in ("resourceVersion", "generation", "managedFields"):
            obj["metadata"].pop(key, None)
        obj["metadata"].get("annotations", {}).pop("deployment.kubernetes.io/revision", None)
    before["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    assert after == before

    # the workload page: scale, then roll back to revision 1
    page.wait_for_selector('[data-rollback="1"]')
    assert accessibility(page, axe) == []
    page.fill("#scale-replicas", "3")
    page.click("#scale-submit")
    page.wait_for_selector("#workload-outcome")
    assert "Scaled to 3 replicas." in page.inner_text("#workload-outcome")
    assert fetch(cluster)["spec"]["replicas"] == 3
    page.click('[data-rollback="1"]')
    page.locator("#workload-outcome", has_text="Rolled back to revision 1.").wait_for()
    assert fetch(cluster)["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"

    # switch to YAML from the form (its unsaved value comes along) and preview the diff
    page.click("#workload-edit")
    page.wait_for_selector("#object-form")
    page.fill("#id_containers-0-image", "nginx:9.9")
    page.click("#mode-yaml")
    page.wait_for_selector("#yaml-manifest")
    text = page.input_value("#yaml-manifest")
    assert "image: nginx:9.9" in text and "example.com/owner: shop" in text
    assert accessibility(page, axe) == []
    page.click("#yaml-preview")
    page.wait_for_selector("#yaml-diff")
    diff = page.inner_text("#yaml-diff")
    assert "+        image: nginx:9.9" in diff and "-        image: nginx:1.25" in diff
    assert fetch(cluster)["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"

    # the workloads list: the new Deployment, filtered without a reload; accessible
    page.goto(f"{base}/clusters/{cluster.name}/workloads/")
    page.wait_for_selector('[data-workload="deployments/default/web"]')
    assert accessibility(page, axe) == []
    page.fill("#workloads-q", "no-such-name")
    page.wait_for_selector("#workloads-empty")
    assert "q=no-such-name" in page.url

    # refused after the page was drawn: the console's refusal (with "Why can't I?") appears
    # at the top of the page (every refused HTMX action, apps/console/views/pages.denied)
    from apps.authz.services import create_policy
    from tests.factories import bind

    page.goto(f"{base}/clusters/{cluster.name}/workloads/default/deployments/web/")
    page.wait_for_selector("#scale-submit")
    create_policy(
        actor=None,
        tenant=tenant_admin.tenant,
        name="no-scaling",
        statements=[{"actions": ["scaleDeployment"], "resources": ["*"], "effect": "deny"}],
    )
    bind(tenant_admin, "no-scaling")
    page.fill("#scale-replicas", "5")
    page.click("#scale-submit")
    page.wait_for_selector("#refusal #why-link")
    assert "scaleDeployment" in page.inner_text("#refusal")
    assert fetch(cluster)["spec"]["replicas"] == 3
