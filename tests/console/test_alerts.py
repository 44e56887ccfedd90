"""The console's alarm pages (policies, records, silences): permission matrices (anonymous →
sign-in, login-only → 403, another tenant sees none of it, a reader sees the rows), filters,
and a project member seeing only what its namespace's policies hold."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.monitoring.alerts.models import AlarmRecord, AlarmSilence
from tests.console.matrix import ConsoleMatrix
from tests.factories import UserFactory, bind
from tests.monitoring.alerting import monitored_cluster, pod_policy

pytestmark = pytest.mark.django_db


def policy_of(tenant, name="acme-pod-cpu"):
    """A pod policy of a new cluster, written by an administrator of the tenant (who may send
    to its receivers)."""
    actor = UserFactory(tenant=tenant)
    bind(actor, "administrator")
    return pod_policy(actor, monitored_cluster(tenant, display_name=f"{name}-c"), name=name)


def record_of(policy, key="web/acme-pod", state="firing"):
    return AlarmRecord.objects.create(
        tenant=policy.tenant,
        cluster=policy.cluster,
        policy=policy,
        metric=policy.metrics.get(),
        metric_name="k8s_pod_cpu_core_used",
        object_key=key,
        state=state,
        value=0.93,
        threshold=0.5,
        evaluator="gt",
    )


class TestAlarmPolicyPageMatrix(ConsoleMatrix):
    url = "/alarms/policies/"
    expect = "acme-pod-cpu"

    def make_object(self, tenant):
        return policy_of(tenant)

    def expect_of_tenant(self, tenant) -> str:
        return "acme-pod-cpu"


class TestAlarmRecordPageMatrix(ConsoleMatrix):
    url = "/alarms/records/"
    expect = "web/acme-pod"

    def make_object(self, tenant):
        return record_of(policy_of(tenant))

    def expect_of_tenant(self, tenant) -> str:
        return "web/acme-pod"


class TestAlarmSilencePageMatrix(ConsoleMatrix):
    url = "/alarms/silences/"
    expect = "acme-maintenance"

    def make_object(self, tenant):
        return AlarmSilence.objects.create(
            tenant=tenant,
            policy=policy_of(tenant),
            ends_at=timezone.now() + timedelta(hours=1),
            comment="acme-maintenance",
        )

    def expect_of_tenant(self, tenant) -> str:
        return "acme-maintenance"


def test_records_filter_by_state_and_policy(client, member, tenant):
    policy = policy_of(tenant)
    record_of(policy, key="web/hot", state="firing")
    record_of(policy, key="web/cooled", state="resolved")
    client.force_login(member)
    firing = client.get("/alarms/records/", {"state": "firing"}).content.decode()
    assert "web/hot" in firing and "web/cooled" not in firing
    by_policy = client.get("/alarms/records/", {"policy": "nope"}).content.decode()
    assert 'id="alarm-records-empty"' in by_policy
    policies = client.get("/alarms/policies/").content.decode()
    assert "k8s_pod_cpu_core_used" in policies and "?policy=acme-pod-cpu" in policies


def test_records_filter_by_cluster_source_metric_object_and_window(client, member, tenant):
    """Each filter narrows the rows; the time window keeps the records open at some moment in
    it; an invalid value is named beside its field and the other filters still apply."""
    hot = record_of(policy_of(tenant), key="web/hot")
    other = record_of(policy_of(tenant, name="batch-cpu"), key="batch/job-1", state="resolved")
    now = timezone.now()
    AlarmRecord.objects.filter(pk=hot.pk).update(started_at=now - timedelta(hours=1))
    AlarmRecord.objects.filter(pk=other.pk).update(
        started_at=now - timedelta(days=2),
        resolved_at=now - timedelta(days=1),
        source="alertmanager",
        metric_name="KubeJobFailed",
    )
    client.force_login(member)

    def shown(**params) -> tuple[bool, bool]:
        page = client.get("/alarms/records/", params).content.decode()
        return "web/hot" in page, "batch/job-1" in page

    assert shown() == (True, True)
    assert shown(cluster=other.cluster.name) == (False, True)
    assert shown(source="alertmanager") == (False, True)
    assert shown(metric="jobfail") == (False, True)
    assert shown(object="HOT") == (True, False)
    local = timezone.localtime
    assert shown(since=local(now - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")) == (
        True,
        False,
    )  # the other closed a day ago
    window = {
        "since": local(now - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
        "until": local(now - timedelta(days=1, hours=12)).strftime("%Y-%m-%dT%H:%M"),
    }
    assert shown(**window) == (False, True)  # the hot one opened after the window
    page = client.get("/alarms/records/", {"since": "yesterday", "object": "hot"})
    text = page.content.decode()
    assert 'id="record-since_error"' in text and "web/hot" in text and "batch/job-1" not in text
    backwards = client.get("/alarms/records/", {**window, "until": window["since"][:10] + "T00:00",
                                                "since": window["until"]})  # fmt: skip
    assert "The end of the window is before its start." in backwards.content.decode()
    # the cluster choices are the clusters of the records the person may see
    assert f'value="{other.cluster.name}"' in page.content.decode()
