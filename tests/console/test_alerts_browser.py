"""The alarm pages in a real browser: a platform user opens the alarm policies from the menu,
follows a policy to its records, filters them by state; the pages pass axe-core with no
serious violations."""

from __future__ import annotations

import pytest

from tests.browser import *  # noqa: F403
from tests.browser import sign_in_at
from tests.console.test_alerts import policy_of, record_of
from tests.console.test_console_browser import serious_violations

pytestmark = pytest.mark.django_db(transaction=True)


def test_policies_to_records_filtered_by_state(http_portal, page, tenant, member):
    policy = policy_of(tenant)
    record_of(policy, key="web/hot", state="firing")
    record_of(policy, key="web/cooled", state="resolved")
    base = http_portal.url
    axe = f"{base}/static/vendor/axe-core/axe.min.js"
    sign_in_at(page, base, "/", member.username, tenant="acme")
    page.click("nav a[href='/alarms/policies/']")
    page.wait_for_url(f"{base}/alarms/policies/")
    row = page.inner_text("tr[data-policy='acme-pod-cpu']")
    assert "k8s_pod_cpu_core_used" in row and "1" in row  # one firing record
    assert serious_violations(page, axe) == []
    page.click("tr[data-policy='acme-pod-cpu'] a.records-link")
    page.wait_for_url(f"{base}/alarms/records/?policy=acme-pod-cpu")
    table = page.inner_text("#alarm-records-table")
    assert "web/hot" in table and "web/cooled" in table
    page.select_option("#record-state", "resolved")
    page.click("#record-filter")
    page.wait_for_url("**state=resolved**")
    table = page.inner_text("#alarm-records-table")
    assert "web/cooled" in table and "web/hot" not in table
    assert serious_violations(page, axe) == []
