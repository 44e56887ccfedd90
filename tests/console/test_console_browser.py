"""The console in a real browser: sign in, the overview, the language switch, and an
automated accessibility check (axe-core from npm) with no serious violations."""

from __future__ import annotations

import pytest

from tests.browser import *  # noqa: F403
from tests.factories import make_cluster

pytestmark = pytest.mark.django_db(transaction=True)


def serious_violations(page, url: str) -> list:
    """axe-core's serious and critical findings on the page (loaded from the portal itself:
    the Content-Security-Policy allows only its own scripts). Colours are judged at rest: with
    reduced motion Bootstrap has no transitions, so a button just clicked is not measured
    half-way between its two colours (a contrast "violation" no one sees)."""
    page.emulate_media(reduced_motion="reduce")
    page.add_script_tag(url=url)
    result = page.evaluate("async () => await axe.run(document)")
    return [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_sign_in_overview_language_and_accessibility(http_portal, page, tenant, tenant_admin):
    make_cluster(tenant, display_name="acme-prod")
    axe = f"{http_portal.url}/static/vendor/axe-core/axe.min.js"
    page.goto(f"{http_portal.url}/")
    page.wait_for_url(f"{http_portal.url}/login/?next=/")
    assert serious_violations(page, axe) == []
    page.fill("#id_tenant", "acme")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "Correct-horse-9")
    page.click("#sign-in button[type=submit]")
    page.wait_for_url(f"{http_portal.url}/")
    assert "acme-prod" in page.inner_text("#overview-clusters")
    assert serious_violations(page, axe) == []
    # keyboard: the skip link is the first stop and moves focus to the content
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className").startswith("visually-hidden")

    page.select_option("#language-select", "zh-hans")
    page.click("#language-switch button")
    page.wait_for_url(f"{http_portal.url}/")
    assert page.inner_text("main h1") == "概览"
    assert page.get_attribute("html", "lang") == "zh-hans"
    assert serious_violations(page, axe) == []
