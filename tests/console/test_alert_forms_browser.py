"""The alarm forms in a real browser: a tenant administrator creates an alarm policy through
the form — the metric list follows the policy type, a second condition row is added in the
page — finds it in the list, silences it for a day from the list and expires the silence; the
form passes axe-core with no serious violations. A pod policy's objects are picked from the
cluster's pods; a dead cluster is said while the names can still be typed."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.monitoring.alerts.models import AlarmPolicy, AlarmSilence
from tests.browser import *  # noqa: F403
from tests.browser import sign_in_at
from tests.console.test_alert_forms import _notify_setup
from tests.console.test_alert_objects import create, pod
from tests.console.test_console_browser import serious_violations
from tests.console.test_forms import import_cluster
from tests.factories import make_cluster
from tests.monitoring.alerting import monitored_cluster

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_policy_with_two_rows_then_silence_and_expire(
    http_portal, page, tenant, tenant_admin
):
    cluster = monitored_cluster(tenant, display_name="prod")
    _notify_setup(tenant)
    base = http_portal.url
    axe = f"{base}/static/vendor/axe-core/axe.min.js"
    sign_in_at(page, base, "/alarms/policies/", tenant_admin.username, tenant="acme")
    page.click("#policy-new")
    page.wait_for_url(f"{base}/alarms/policies/new/")
    page.select_option("#id_cluster", cluster.name)
    page.fill("#id_name", "node-hot")
    page.select_option("#id_type", "node")
    # a node policy: no namespace to give, and only node metrics offered
    assert page.is_hidden("#id_namespace")
    shown = page.eval_on_selector_all(
        "select[name='metrics-0-metric'] optgroup:not([hidden]) option",
        "options => options.map(o => o.value)",
    )
    assert "k8s_node_cpu_usage" in shown and not any(v.startswith("k8s_pod_") for v in shown)
    page.select_option("[name='metrics-0-metric']", "k8s_node_cpu_usage")
    page.select_option("[name='metrics-0-evaluator']", "gt")
    page.fill("[name='metrics-0-threshold']", "90")
    page.click("[data-add-row='group-metrics']")
    page.wait_for_selector("[name='metrics-1-metric']")
    page.select_option("[name='metrics-1-metric']", "k8s_node_mem_usage")
    page.select_option("[name='metrics-1-evaluator']", "ge")
    page.fill("[name='metrics-1-threshold']", "80")
    page.check("input[name='receivers'][value='ops']")
    page.check("input[name='notify_ways'][value='hook:alarm']")
    assert serious_violations(page, axe) == []
    page.click("#policy-save")
    page.wait_for_url(f"{base}/alarms/policies/{cluster.name}/node-hot/")
    conditions = page.inner_text("#policy-metrics")
    assert "k8s_node_cpu_usage" in conditions and "k8s_node_mem_usage" in conditions
    policy = AlarmPolicy.objects.get(cluster=cluster, name="node-hot")
    assert sorted(policy.metrics.values_list("metric", "threshold")) == [
        ("k8s_node_cpu_usage", 90.0),
        ("k8s_node_mem_usage", 80.0),
    ]
    assert policy.notify_ways == [{"channel": "hook", "template": "alarm"}]

    page.click("nav a[href='/alarms/policies/']")
    page.wait_for_url(f"{base}/alarms/policies/")
    row = page.inner_text("tr[data-policy='node-hot']")
    assert "k8s_node_mem_usage" in row
    page.click("tr[data-policy='node-hot'] a.policy-silence")
    page.wait_for_url(f"{base}/alarms/policies/{cluster.name}/node-hot/silences/new/")
    assert page.is_hidden("#id_ends_at")  # a preset length: no end to give
    page.select_option("#id_duration", "1d")
    page.fill("#id_comment", "kernel upgrade")
    page.click("#silence-save")
    page.wait_for_url(f"{base}/alarms/policies/{cluster.name}/node-hot/")
    silence = AlarmSilence.objects.get(policy=policy)
    assert (silence.ends_at - silence.starts_at).days == 1
    row = f"tr[data-silence='{silence.pk}']"
    assert "kernel upgrade" in page.inner_text(row)
    page.click(f"{row} .silence-expire")
    page.wait_for_selector(f"{row} .badge")
    assert "expired" in page.inner_text(row)
    assert page.query_selector(f"{row} .silence-expire") is None
    silence.refresh_from_db()
    assert silence.ends_at <= timezone.now()


def test_pick_two_pods_from_the_cluster_and_save(
    http_portal, page, tenant, tenant_admin, sim_cluster
):
    """A pod policy on chosen objects: the namespace's pods are read from the (kubesim)
    cluster and offered as check boxes; ticking two adds them to the names, where a name typed
    for a pod that does not exist yet stays; the edit page ticks what the policy names."""
    cluster = import_cluster(tenant, sim_cluster, display_name="live")
    for name in ("web-1", "web-2", "web-3"):
        create(cluster, "pods", pod(name))
    create(cluster, "pods", pod("dns-1"), namespace="kube-system")
    base = http_portal.url
    sign_in_at(page, base, "/alarms/policies/new/", tenant_admin.username, tenant="acme")
    page.select_option("#id_cluster", cluster.name)
    page.fill("#id_name", "web-pods")
    page.select_option("#id_type", "pod")
    page.fill("#id_namespace", "default")
    page.select_option("#id_objects_type", "part")
    page.fill("#id_object_names", "later-1")
    page.wait_for_selector("#object-picker-list input[value='web-2']")
    offered = page.eval_on_selector_all(
        "#object-picker-list input", "boxes => boxes.map(b => b.value)"
    )
    assert {"web-1", "web-2", "web-3"} <= set(offered) and "dns-1" not in offered
    page.check("#object-picker-list input[value='web-1']")
    page.check("#object-picker-list input[value='web-3']")
    assert page.input_value("#id_object_names").split("\n") == ["later-1", "web-1", "web-3"]
    assert serious_violations(page, f"{base}/static/vendor/axe-core/axe.min.js") == []
    page.select_option("[name='metrics-0-metric']", "k8s_pod_cpu_core_used")
    page.select_option("[name='metrics-0-evaluator']", "gt")
    page.fill("[name='metrics-0-threshold']", "0.9")
    page.click("#policy-save")
    page.wait_for_url(f"{base}/alarms/policies/{cluster.name}/web-pods/")
    policy = AlarmPolicy.objects.get(cluster=cluster, name="web-pods")
    assert (policy.type, policy.namespace, policy.objects_type) == ("pod", "default", "part")
    assert policy.object_names == ["later-1", "web-1", "web-3"]

    page.goto(f"{base}/alarms/policies/{cluster.name}/web-pods/edit/")
    page.wait_for_selector("#object-picker-list input[value='web-2']")
    assert page.is_checked("#object-picker-list input[value='web-1']")
    assert page.is_checked("#object-picker-list input[value='web-3']")
    assert not page.is_checked("#object-picker-list input[value='web-2']")


def test_a_dead_cluster_is_said_and_the_names_are_typed(http_portal, page, tenant, tenant_admin):
    dead = make_cluster(tenant, display_name="dead")
    base = http_portal.url
    sign_in_at(page, base, "/alarms/policies/new/", tenant_admin.username, tenant="acme")
    page.select_option("#id_cluster", dead.name)
    page.select_option("#id_type", "node")
    page.select_option("#id_objects_type", "part")
    page.wait_for_selector("#object-picker-status:has-text('unreachable')")
    assert dead.name in page.inner_text("#object-picker-status")
    assert page.is_editable("#id_object_names")
