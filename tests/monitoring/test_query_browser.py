"""The "Monitoring" panel in a real browser: the cluster page draws uPlot charts from
/api/v1/metrics/ (session auth), switches its range, shows an empty state for a cluster without
data, and axe-core finds no serious violation. The panel's rendering per page is checked
server-side too (who sees it, what it asks for)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.browser import *  # noqa: F403
from tests.console.test_console_browser import serious_violations
from tests.factories import make_cluster
from tests.monitoring.seed import seed


def sign_in(page, base: str, next_url: str) -> None:
    page.goto(f"{base}/login/?next={next_url}")
    page.fill("#id_tenant", "acme")
    page.fill("#id_username", "bob")
    page.fill("#id_password", "Correct-horse-9")
    page.click("#sign-in button[type=submit]")
    page.wait_for_url(f"{base}{next_url}")


def painted(page, selector: str) -> int:
    """Pixels of a canvas that are not blank (uPlot drew lines or axes there)."""
    return page.eval_on_selector(
        selector,
        """canvas => {
            const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let n = 0;
            for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) n++; }
            return n;
        }""",
    )


@pytest.mark.django_db(transaction=True)
def test_cluster_page_draws_charts_switches_range_and_shows_empty_state(
    http_portal, page, tenant, member
):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    cluster = seed(tenant, minutes=20, start=now - timedelta(minutes=25))
    quiet = make_cluster(tenant, display_name="quiet")
    sign_in(page, http_portal.url, f"/clusters/{cluster.name}/")

    page.wait_for_selector("#monitoring[data-state=ready]")
    captions = page.locator("#monitoring-charts figcaption").all_inner_texts()
    assert captions == ["CPU", "Memory", "Pods", "Restarts"]  # no network from this source
    assert int(page.get_attribute("#monitoring", "data-points")) >= 20
    canvas = "#monitoring-chart-cpu canvas"
    assert page.locator(canvas).count() == 1
    assert painted(page, canvas) > 500
    # the legend names the series; the range buttons switch and refetch
    assert "used" in page.inner_text("#monitoring-chart-cpu")
    page.click("#monitoring-ranges [data-range='604800']")
    page.wait_for_selector("#monitoring[data-state=ready]")
    assert page.get_attribute("#monitoring-ranges [data-range='604800']", "aria-pressed") == "true"
    assert page.get_attribute("#monitoring-ranges [data-range='3600']", "aria-pressed") == "false"
    axe = f"{http_portal.url}/static/vendor/axe-core/axe.min.js"
    assert serious_violations(page, axe) == []

    page.goto(f"{http_portal.url}/clusters/{quiet.name}/")
    page.wait_for_selector("#monitoring[data-state=empty]")
    assert "No data yet" in page.inner_text("#monitoring-empty")
    assert page.locator("#monitoring-charts canvas").count() == 0


@pytest.mark.django_db
def test_panel_renders_for_readers_only(client, tenant, member, project_member):
    cluster = make_cluster(tenant, display_name="prod")
    client.force_login(member)
    body = client.get(f"/clusters/{cluster.name}/").content.decode()
    assert 'id="monitoring"' in body
    assert f'data-cluster="{cluster.name}"' in body and 'data-level="cluster"' in body
    start = body.index('<script id="monitoring-config" type="application/json">')
    config = json.loads(body[body.index(">", start) + 1 : body.index("</script>", start)])
    cpu = config["charts"][0]
    assert cpu["title"] == "CPU"
    assert [s["metric"] for s in cpu["series"]] == [
        "cpu_core_used",
        "cpu_core_request",
        "cpu_allocatable",
    ]
    assert "vendor/uplot/uPlot.iife.min.js" in body
    # Cluster metrics are the platform's: a project member's view of the cluster has no panel.
    client.force_login(project_member)
    response = client.get(f"/clusters/{cluster.name}/")
    assert 'id="monitoring"' not in response.content.decode()
