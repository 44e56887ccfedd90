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
