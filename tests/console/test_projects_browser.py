"""The project console in a real browser against kubesim: a business user (a member of one
project, its owner) signs in, sees only the project's namespaces — not the cluster's others,
nor another project's — creates a namespace with a quota without a page reload, and the
pages pass axe-core with no serious violations."""

from __future__ import annotations

import pytest
from kubernetes import client as kclient

from apps.clusters import k8s, services
from apps.projects.models import Project, ProjectCluster
from tests.browser import *  # noqa: F403
from tests.conftest import PROJECT
from tests.console.test_console_browser import serious_violations
from tests.factories import PASSWORD
from tests.projects.namespace_fixtures import HARD, add_row

pytestmark = pytest.mark.django_db(transaction=True)


def test_business_user_sees_only_their_namespaces_and_creates_one(
    http_portal, page, tenant, project_owner, sim_cluster
):
    spec = k8s.Connection(
        server=sim_cluster.url, token=sim_cluster.token, ca_data=sim_cluster.ca_data
    )
    cluster = services.import_cluster(actor=None, tenant=tenant, display_name="sim", spec=spec)
    mine = Project.objects.create(tenant=tenant, name=PROJECT, display_name="Web shop")
    ProjectCluster.objects.create(project=mine, cluster=cluster, hard=dict(HARD))
    theirs = Project.objects.create(tenant=tenant, name="prj-payroll", display_name="Payroll")
    ProjectCluster.objects.create(project=theirs, cluster=cluster, hard=dict(HARD))
    add_row(theirs, cluster, "salaries", {"pods": "1"})
    axe = f"{http_portal.url}/static/vendor/axe-core/axe.min.js"

    page.goto(f"{http_portal.url}/login/")
    page.fill("#id_tenant", "acme")
    page.fill("#id_username", project_owner.username)
    page.fill("#id_password", PASSWORD)
    page.click("#sign-in button[type=submit]")
    page.wait_for_url(f"{http_portal.url}/")
    overview = page.inner_text("main")
    assert "Payroll" not in overview and "salaries" not in overview

    # the sidebar's project link leads to the project page
    page.click(f"#nav-projects a[href='/projects/{PROJECT}/']")
    page.wait_for_url(f"{http_portal.url}/projects/{PROJECT}/")
    assert serious_violations(page, axe) == []
    table = page.inner_text("#namespaces-table")
    # the cluster's own namespaces (default, kube-system …) and another project's are not shown
    for hidden in ("default", "kube-system", "salaries"):
        assert hidden not in table
    assert "no namespaces yet" in table

    page.select_option("#ns-cluster", cluster.name)
    page.fill("#ns-name", "shop")
    page.fill("#ns-cpu", "2")
    page.fill("#ns-memory", "2Gi")
    page.fill("#ns-pods", "10")
    page.evaluate("window.notReloaded = true")
    page.click("#namespace-form button[type=submit]")
    page.wait_for_selector("#namespaces-table tr[data-namespace='shop']")
    assert page.evaluate("window.notReloaded") is True  # HTMX swapped the section in place
    assert "requests.cpu" in page.inner_text("tr[data-namespace='shop']")
    assert "2 allocated" in page.inner_text("#project-quotas")  # the bars followed
    assert serious_violations(page, axe) == []

    config = kclient.Configuration(host=sim_cluster.url)
    config.ssl_ca_cert = sim_cluster.ca_file
    config.api_key = {"authorization": f"Bearer {sim_cluster.token}"}
    config.retries = 0
    with kclient.ApiClient(config) as api_client:
        quota = kclient.CoreV1Api(api_client).read_namespaced_resource_quota(
            "tkeportal-quota", "shop"
        )
    assert quota.spec.hard == {"requests.cpu": "2", "requests.memory": "2Gi", "pods": "10"}

    page.goto(f"{http_portal.url}/projects/")
    listed = page.inner_text("#projects-table")
    assert "Web shop" in listed and "Payroll" not in listed
    assert serious_violations(page, axe) == []
    page.goto(f"{http_portal.url}/projects/prj-payroll/")
    assert page.locator("#not-found").count() == 1


def test_an_owner_changes_a_members_roles_with_the_keyboard(
    http_portal, page, tenant, project_owner
):
    """The roles are checkboxes: tick one with Space, Tab to "Save roles", Enter — the section
    is swapped in place (no reload) and the member holds both roles; axe finds nothing."""
    from apps.authz.models import Binding
    from tests.conftest import persona

    Project.objects.create(tenant=tenant, name=PROJECT, display_name="Web shop")
    persona(tenant, "dev", "project-viewer", PROJECT)
    axe = f"{http_portal.url}/static/vendor/axe-core/axe.min.js"
    page.goto(f"{http_portal.url}/login/")
    page.fill("#id_tenant", "acme")
    page.fill("#id_username", project_owner.username)
    page.fill("#id_password", PASSWORD)
    page.click("#sign-in button[type=submit]")
    page.wait_for_url(f"{http_portal.url}/")
    page.goto(f"{http_portal.url}/projects/{PROJECT}/")
    assert serious_violations(page, axe) == []
    page.evaluate("window.notReloaded = true")
    row = page.locator('tr[data-member="dev"]')
    row.locator('input[value="project-member"]').focus()
    page.keyboard.press("Space")
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.type") == "submit":
            break
    assert page.evaluate("document.activeElement.textContent.trim()") == "Save roles"
    page.keyboard.press("Enter")
    page.wait_for_selector("#project-members .alert-success")
    assert page.evaluate("window.notReloaded") is True
    assert sorted(
        Binding.objects.filter(domain=PROJECT, user__username="dev").values_list(
            "policy__name", flat=True
        )
    ) == ["project-member", "project-viewer"]
    badges = page.locator('tr[data-member="dev"] .badge').all_inner_texts()
    assert sorted(badges) == ["project-member", "project-viewer"]
    assert serious_violations(page, axe) == []
