"""The alerting admin: tenant-scoped lists, conditions and notices read-only, the expire and
rotate actions through the services (a rotated token shown once)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.monitoring.alerts import services
from apps.monitoring.alerts.models import AlarmRecord, AlarmSilence, AlertmanagerWebhook
from tests.monitoring.alerting import monitored_cluster, pod_policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def mine(tenant, tenant_admin):
    return pod_policy(tenant_admin, monitored_cluster(tenant), name="mine-cpu")


@pytest.fixture
def theirs(other_tenant, other_user):
    return pod_policy(other_user, monitored_cluster(other_tenant), name="their-cpu")


def test_tenant_admin_sees_own_policies_records_and_silences(client, tenant_admin, mine, theirs):
    for policy in (mine, theirs):
        AlarmRecord.objects.create(
            tenant=policy.tenant,
            cluster=policy.cluster,
            policy=policy,
            metric=policy.metrics.get(),
            metric_name="k8s_pod_cpu_core_used",
            object_key=f"web/{policy.name}-pod",
            state="firing",
        )
    client.force_login(tenant_admin)
    page = client.get(reverse("admin:monitoring_alarmpolicy_changelist")).content.decode()
    assert "mine-cpu" in page and "their-cpu" not in page
    change = client.get(reverse("admin:monitoring_alarmpolicy_change", args=[mine.pk]))
    assert change.status_code == 200 and "k8s_pod_cpu_core_used" in change.content.decode()
    records = client.get(reverse("admin:monitoring_alarmrecord_changelist")).content.decode()
    assert "web/mine-cpu-pod" in records and "their-cpu-pod" not in records
    other = client.get(reverse("admin:monitoring_alarmpolicy_change", args=[theirs.pk]))
    assert other.status_code != 200


def test_expire_action_ends_silences(client, tenant_admin, mine):
    silence = services.create_silence(
        actor=tenant_admin, policy=mine, ends_at=timezone.now() + timedelta(hours=1)
    )
    client.force_login(tenant_admin)
    response = client.post(
        reverse("admin:monitoring_alarmsilence_changelist"),
        {"action": "expire", "_selected_action": [silence.pk]},
    )
    assert response.status_code == 302
    silence = AlarmSilence.objects.get(pk=silence.pk)
    assert not silence.active()


def test_rotate_action_shows_the_new_token_once(client, tenant_admin, mine):
    _row, old = services.rotate_webhook_token(actor=tenant_admin, cluster=mine.cluster)
    webhook = AlertmanagerWebhook.objects.get(cluster=mine.cluster)
    client.force_login(tenant_admin)
    response = client.post(
        reverse("admin:monitoring_alertmanagerwebhook_changelist"),
        {"action": "rotate", "_selected_action": [webhook.pk]},
        follow=True,
    )
    page = response.content.decode()
    webhook.refresh_from_db()
    assert webhook.token_hash != services.hash_token(old)
    shown = [m.message for m in response.context["messages"]]
    assert len(shown) == 1 and "amw_" in shown[0]
    token = shown[0].rsplit(" ", 1)[1]
    assert webhook.token_hash == services.hash_token(token)
    again = client.get(reverse("admin:monitoring_alertmanagerwebhook_change", args=[webhook.pk]))
    assert token not in again.content.decode() and token in page
