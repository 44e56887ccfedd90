"""The Alertmanager webhook: the JSON a real Alertmanager (0.2x, webhook version 4) posts,
authenticated by the cluster's hashed bearer token; alerts become records deduplicated by
fingerprint, with notices routed through the named policy, TKEStack's annotations or the
cluster's defaults."""

from __future__ import annotations

import copy
import json

import pytest

from apps.monitoring.alerts import services
from apps.monitoring.alerts.models import AlarmNotice, AlarmRecord, AlertmanagerWebhook
from apps.monitoring.alerts.notices import routing, variables
from tests.monitoring.alerting import monitored_cluster, pod_policy, recipients

pytestmark = pytest.mark.django_db

# As Alertmanager's webhook notifier marshals it (notify/webhook: Message{*template.Data,
# Version, GroupKey, TruncatedAlerts}); TKEStack's rule labels and annotations.
FIRING = {
    "receiver": "portal",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alarmPolicyName": "pod-cpu",
                "alertname": "k8s_pod_cpu_core_used",
                "namespace": "web",
                "pod": "api-7d9f-x2",
                "version": "v1",
                "workload_kind": "Deployment",
                "workload_name": "api",
            },
            "annotations": {
                "alarmPolicyType": "pod",
                "evaluateType": "gt",
                "evaluateValue": "0.5",
                "metricDisplayName": "CPU used",
                "unit": "core",
                "value": "0.93",
            },
            "startsAt": "2026-12-01T10:03:00.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus-k8s-0:9090/graph?g0.expr=k8s_pod_cpu_core_used"
            "%7Bnamespace%3D%22web%22%7D+%3E+0.5&g0.tab=1",
            "fingerprint": "5c4e1c0e5a2b7f3d",
        }
    ],
    "groupLabels": {"alarmPolicyName": "pod-cpu", "alertname": "k8s_pod_cpu_core_used"},
    "commonLabels": {"alarmPolicyName": "pod-cpu", "alertname": "k8s_pod_cpu_core_used"},
    "commonAnnotations": {"unit": "core"},
    "externalURL": "http://alertmanager-main-0:9093",
    "version": "4",
    "groupKey": '{}:{alarmPolicyName="pod-cpu", alertname="k8s_pod_cpu_core_used"}',
    "truncatedAlerts": 0,
}


def resolved_of(body: dict) -> dict:
    out = copy.deepcopy(body)
    out["status"] = "resolved"
    for alert in out["alerts"]:
        alert["status"] = "resolved"
        alert["endsAt"] = "2026-12-01T10:09:00Z"
    return out


@pytest.fixture
def cluster(tenant):
    return monitored_cluster(tenant)


@pytest.fixture
def token(cluster, tenant_admin):
    _webhook, token = services.rotate_webhook_token(actor=tenant_admin, cluster=cluster)
    return token


def post(client, cluster, body, token):
    return client.post(
        f"/api/v1/monitor/alertmanager/{cluster.name}/",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_token_is_stored_hashed_and_shown_once(cluster, token):
    webhook = AlertmanagerWebhook.objects.get(cluster=cluster)
    assert token.startswith("amw_") and len(token) > 40
    assert token not in webhook.token_hash and webhook.token_hash == services.hash_token(token)
    assert webhook.token_prefix == token[:8]


def test_unknown_or_other_clusters_token_is_401(client, cluster, token, tenant, tenant_admin):
    other = monitored_cluster(tenant, display_name="other")
    _w, other_token = services.rotate_webhook_token(actor=tenant_admin, cluster=other)
    for bad in ("amw_nope", other_token):
        response = post(client, cluster, FIRING, bad)
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
    no_header = client.post(
        f"/api/v1/monitor/alertmanager/{cluster.name}/",
        data=json.dumps(FIRING),
        content_type="application/json",
    )
    assert no_header.status_code == 401
    assert not AlarmRecord.objects.exists()


def test_rotating_stops_the_old_token(client, cluster, token, tenant_admin):
    _w, new = services.rotate_webhook_token(actor=tenant_admin, cluster=cluster)
    assert post(client, cluster, FIRING, token).status_code == 401
    assert post(client, cluster, FIRING, new).status_code == 200


def test_firing_then_repeat_then_resolved_through_the_named_policy(
    client, cluster, token, tenant_admin
):
    policy = pod_policy(tenant_admin, cluster, name="pod-cpu", repeat_interval=3600)
    response = post(client, cluster, FIRING, token)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "received": 1,
        "fired": 1,
        "updated": 0,
        "resolved": 0,
        "ignored": 0,
        "notices": 1,
    }
    record = AlarmRecord.objects.get()
    assert record.policy == policy and record.source == "alertmanager"
    assert record.state == "firing"
    assert record.object_key == "web/api-7d9f-x2"
    assert record.metric_name == "k8s_pod_cpu_core_used"
    assert (record.value, record.evaluator, record.threshold) == (0.93, "gt", 0.5)
    assert record.started_at.isoformat().startswith("2026-12-01T10:03:00.123456")
    # Alertmanager resends the group (group_interval / repeat_interval): one record, no
    # second notice before the policy's repeat interval
    assert post(client, cluster, FIRING, token).json()["updated"] == 1
    assert AlarmRecord.objects.count() == 1
    assert [n.kind for n in AlarmNotice.objects.filter(record=record)] == ["firing"]
    # routed as the policy says
    assert routing(record)[:3] == (
        ["ops"],
        [],
        [{"channel": "mail", "template": "alarm"}],
    )
    response = post(client, cluster, resolved_of(FIRING), token)
    assert response.json()["resolved"] == 1
    record.refresh_from_db()
    assert record.state == "resolved"
    assert record.resolved_at.isoformat() == "2026-12-01T10:09:00+00:00"
    assert [n.kind for n in AlarmNotice.objects.filter(record=record)] == ["firing", "resolved"]
    # a resolved alert for nothing open is ignored
    assert post(client, cluster, resolved_of(FIRING), token).json()["ignored"] == 1


def test_variables_carry_tkestacks_names_and_a_summary(client, cluster, token, tenant_admin):
    pod_policy(tenant_admin, cluster, name="pod-cpu")
    post(client, cluster, FIRING, token)
    v = variables(AlarmRecord.objects.get(), "firing")
    assert v["alarmPolicyName"] == "pod-cpu" and v["alarmPolicyType"] == "pod"
    assert v["clusterID"] == cluster.name and v["clusterDisplayName"] == cluster.display_name
    assert (v["namespace"], v["podName"], v["workloadKind"], v["workloadName"]) == (
        "web",
        "api-7d9f-x2",
        "Deployment",
        "api",
    )
    assert (v["metricDisplayName"], v["value"], v["evaluateType"], v["evaluateValue"]) == (
        "CPU used",
        "0.93",
        "gt",
        "0.5",
    )
    assert v["status"] == "firing"
    assert v["url"].endswith(f"/alarm-records/{AlarmRecord.objects.get().pk}/")
    assert "[Firing] CPU used on web/api-7d9f-x2" in v["summary"]
    assert "0.93 CPU cores (threshold > 0.5 CPU cores)" in v["summary"]


def test_without_a_policy_the_webhooks_receivers_then_annotations_when_honoured(
    client, cluster, token, tenant_admin
):
    """An alert naming no policy goes to the webhook's receivers; its annotations choose
    (TKEStack's ``receivers``, ``receiverGroups``, ``notifyWay``) only once a tenant
    administrator turned ``annotation_routing`` on."""
    webhook = AlertmanagerWebhook.objects.get(cluster=cluster)
    recipients(cluster.tenant)
    services.update_webhook(
        actor=tenant_admin,
        webhook=webhook,
        receivers=["ops"],
        notify_ways=[{"channel": "mail", "template": "alarm"}],
    )
    defaults = (["ops"], [], [{"channel": "mail", "template": "alarm"}])
    body = copy.deepcopy(FIRING)
    body["alerts"][0]["labels"]["alarmPolicyName"] = "unknown-policy"
    body["alerts"][0]["annotations"].update(
        {"receivers": "alice,bob", "receiverGroups": "oncall", "notifyWay": "wechat:short"}
    )
    post(client, cluster, body, token)
    record = AlarmRecord.objects.get()
    assert record.policy is None
    assert routing(record)[:3] == defaults  # the annotations are not honoured by default
    services.update_webhook(actor=tenant_admin, webhook=webhook, annotation_routing=True)
    assert routing(record)[:3] == (
        ["alice", "bob"],
        ["oncall"],
        [{"channel": "wechat", "template": "short"}],
    )
    plain = copy.deepcopy(FIRING)
    plain["alerts"][0]["labels"] = {"alertname": "NodeDown", "node": "n1"}
    plain["alerts"][0]["fingerprint"] = "aaaabbbbccccdddd"
    post(client, cluster, plain, token)
    node_record = AlarmRecord.objects.get(fingerprint="aaaabbbbccccdddd")
    assert node_record.object_key == "n1"
    assert routing(node_record)[:3] == defaults  # no annotation names anyone


def test_a_silence_on_the_named_policy_mutes_the_notice(client, cluster, token, tenant_admin):
    from django.utils import timezone

    policy = pod_policy(tenant_admin, cluster, name="pod-cpu")
    services.create_silence(
        actor=tenant_admin,
        policy=policy,
        metric="k8s_pod_cpu_core_used",
        ends_at=timezone.now() + timezone.timedelta(hours=1),
    )
    assert post(client, cluster, FIRING, token).json()["notices"] == 0
    assert [(n.kind, n.silenced) for n in AlarmNotice.objects.all()] == [("firing", True)]


def test_malformed_bodies_are_400(client, cluster, token):
    for body, code in (
        ("not json", "malformed_request"),
        (json.dumps({"alerts": "x"}), "validation_error"),
        (json.dumps({"alerts": [{"status": "weird"}]}), "validation_error"),
    ):
        response = client.post(
            f"/api/v1/monitor/alertmanager/{cluster.name}/",
            data=body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert response.status_code == 400
        assert response.json()["code"] == code
