"""The overview in a real browser (Debian's Chromium), in English and Chinese: every part
shown (clusters with request bars, pods needing a look, troubled nodes, projects with quota
bars, audit events), axe-core finds no serious violation, and the keyboard reaches the main
menu and the language switch with a visible focus indicator."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from tests.browser import *  # noqa: F403
from tests.console.test_console_browser import serious_violations
from tests.console.test_overview import stored
from tests.factories import make_cluster

pytestmark = pytest.mark.django_db(transaction=True)

# What the focused element looks like: the indicator must be visible (an outline or a ring).
FOCUS = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return {
    id: el.id, tag: el.tagName, text: (el.textContent || "").trim().slice(0, 40),
    inMenu: !!el.closest("nav.portal-nav"),
    outlineStyle: style.outlineStyle, outlineWidth: style.outlineWidth,
    boxShadow: style.boxShadow,
  };
}"""


def visible_focus(found: dict) -> bool:
    outline = found["outlineStyle"] != "none" and found["outlineWidth"] not in ("0px", "")
    return outline or found["boxShadow"] not in ("none", "")


def tab_until(page, wanted, limit: int = 40) -> dict:
    """Press Tab until ``wanted(focused)`` holds; the focused element's description."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        found = page.evaluate(FOCUS)
        seen.append((found["tag"], found["id"], found["text"]))
        if wanted(found):
            return found
    raise AssertionError(f"never reached by keyboard; focus went through {seen}")


@pytest.fixture
def busy_tenant(tenant, tenant_admin):
    cluster = stored(make_cluster(tenant, display_name="acme-prod"))
    project = Project.objects.create(tenant=tenant, name="prj-shop", display_name="Web shop")
    ProjectCluster.objects.create(
        project=project, cluster=cluster, hard={"requests.cpu": "8", "pods": "100"}
    )
    ProjectNamespace.objects.create(
        tenant=tenant,
        project=project,
        cluster=cluster,
        namespace="web",
        hard={"requests.cpu": "4", "pods": "50"},
        used={"requests.cpu": "2", "pods": "12"},
    )
    AuditEvent.objects.create(
        tenant=tenant, action="createProject", resource="project:prj-shop", outcome="success"
    )
    return cluster


def test_overview_in_both_languages_accessible_and_keyboard_reachable(
    http_portal, page, tenant, tenant_admin, busy_tenant
):
    axe = f"{http_portal.url}/static/vendor/axe-core/axe.min.js"
    page.goto(f"{http_portal.url}/login/?next=/")
    page.fill("#id_tenant", "acme")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "Correct-horse-9")
    page.click("#sign-in button[type=submit]")
    page.wait_for_url(f"{http_portal.url}/")
    # English: every part is there
    assert "acme-prod" in page.inner_text("#overview-clusters")
    assert page.locator("#overview-clusters [role=progressbar]").count() == 2
    assert "shop-7c9" in page.inner_text("#overview-abnormal-pods")
    assert "node-3" in page.inner_text("#overview-abnormal-nodes")
    assert "2 used of 8" in page.inner_text("#overview-projects")
    assert "createProject" in page.inner_text("#overview-events")
    assert serious_violations(page, axe) == []
    # keyboard: the language switch, then the main menu, each with a visible focus
    language = tab_until(page, lambda f: f["id"] == "language-select")
    assert visible_focus(language), language
    menu = tab_until(page, lambda f: f["inMenu"] and f["tag"] == "A")
    assert menu["text"] == "Overview" and visible_focus(menu), menu

    # Chinese, through the switch
    page.select_option("#language-select", "zh-hans")
    page.click("#language-switch button")
    page.wait_for_url(f"{http_portal.url}/")
    assert page.get_attribute("html", "lang") == "zh-hans"
    assert page.inner_text("main h1") == "概览"
    assert page.inner_text("#abnormal-pods-heading") == "需要关注的 Pod"
    assert "已用 2 / 共 8" in page.inner_text("#overview-projects")
    assert serious_violations(page, axe) == []
    page.locator("body").focus()
    language = tab_until(page, lambda f: f["id"] == "language-select")
    assert visible_focus(language), language
    menu = tab_until(page, lambda f: f["inMenu"] and f["tag"] == "A")
    assert menu["text"] == "概览" and visible_focus(menu), menu


def test_the_clusters_part_updates_without_a_reload(
    http_portal, page, tenant, tenant_admin, kube_sim
):
    """A cluster that does not answer in time is shown stale, and the clusters part asks
    again every few seconds: what is learnt meanwhile appears without reloading the page."""
    import uuid
    from datetime import timedelta

    from apps.clusters import k8s, services

    handle = kube_sim.add_cluster(f"lv{uuid.uuid4().hex[:8]}", nodes=1, own_port=True)
    try:
        with open(handle.ca_file) as ca:
            spec = k8s.Connection(server=handle.url, token=handle.token, ca_data=ca.read())
        cluster = services.import_cluster(
            actor=None, tenant=tenant, display_name="acme-slow", spec=spec
        )
        stored(cluster, age=timedelta(hours=1), pods=40)
        handle.faults.delay(60)
        page.goto(f"{http_portal.url}/login/?next=/")
        page.fill("#id_tenant", "acme")
        page.fill("#id_username", "alice")
        page.fill("#id_password", "Correct-horse-9")
        page.click("#sign-in button[type=submit]")
        page.wait_for_url(f"{http_portal.url}/")
        row = page.locator(f'#overview-clusters tr[data-cluster="{cluster.name}"]')
        assert "Stale" in row.inner_text() and "40" in row.inner_text()
        assert page.get_attribute("#overview-live", "data-refresh") == "5"
        page.evaluate("window.__same_page = true")  # gone if the page were reloaded
        # when: the portal learns more about the cluster (another process stored it)
        stored(cluster, age=timedelta(hours=1), pods=57)
        # then: the page shows it by itself
        page.wait_for_function(
            f"""() => (document.querySelector('tr[data-cluster="{cluster.name}"]')
                       || {{}}).innerText?.includes("57")""",
            timeout=15000,
        )
        assert page.evaluate("window.__same_page") is True
    finally:
        kube_sim.remove_cluster(handle.name)
