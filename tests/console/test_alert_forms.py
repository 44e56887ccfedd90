"""The alarm console's writes: permission matrices of every new page (creating needs
``createAlarmPolicy``, editing ``updateAlarmPolicy``, deleting ``deleteAlarmPolicy``, silences
``createAlarmSilence`` / ``deleteAlarmSilence``; other tenants' objects 404), and policies and
silences created, edited, copied, expired and deleted through the console with the rows and the
audit events they leave; the service's validation errors beside their fields with nothing
written; a read-only user sees no button and is refused on POST; a project member writes pod
policies in its project's namespace only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.monitoring.alerts.models import AlarmMetric, AlarmPolicy, AlarmSilence
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from tests.conftest import PROJECT
from tests.console.matrix import ConsoleMatrix
from tests.console.test_alerts import policy_of, record_of
from tests.monitoring.alerting import monitored_cluster
from tests.notify.conftest import receiver, template, webhook_channel

pytestmark = pytest.mark.django_db

NOT_PAGES = {
    "console:alarm-silence-expire": (
        "tests.console.test_alert_forms.test_silence_create_expire_delete_audited"
    ),
}


def _page(response) -> str:
    return response.content.decode()


def _error(page: str, field_id: str) -> str:
    """The text of the error shown beside the field ``field_id``."""
    assert f'id="{field_id}_error"' in page, page[:4000]
    return page.split(f'id="{field_id}_error"')[1].split("</")[0]


# -- permission matrices -----------------------------------------------------------------------
class _Writer(ConsoleMatrix):
    reader = "tenant_admin"
    no_permission = "read_only_user"


class _PolicyPage(_Writer):
    object_page = True
    suffix = ""

    def make_object(self, tenant):
        self.policy = policy_of(tenant)
        return self.policy

    def url_for(self, tenant):
        return f"/alarms/policies/{self.policy.cluster.name}/acme-pod-cpu/{self.suffix}"


class TestPolicyNewMatrix(_Writer):
    url = "/alarms/policies/new/"
    expect = 'id="policy-form"'

    def make_object(self, tenant):
        monitored_cluster(tenant, display_name="acme-prod")

    def expect_of_tenant(self, tenant) -> str:
        return "acme-prod"


class TestPolicyPageMatrix(_PolicyPage):
    url_name = "console:alarm-policy"
    expect = 'id="policy-metrics"'
    reader = "read_only_user"
    no_permission = "viewer"


class TestPolicyEditMatrix(_PolicyPage):
    url_name = "console:alarm-policy-edit"
    expect = 'id="policy-form"'
    suffix = "edit/"


class TestPolicyCopyMatrix(_PolicyPage):
    url_name = "console:alarm-policy-copy"
    expect = 'value="acme-pod-cpu-copy"'
    suffix = "copy/"


class TestPolicyDeleteMatrix(_PolicyPage):
    url_name = "console:alarm-policy-delete"
    expect = 'id="confirm-delete"'
    suffix = "delete/"


class TestPolicyBatchDeleteMatrix(_PolicyPage):
    url_name = "console:alarm-policies-delete"
    expect = 'id="delete-list"'

    def url_for(self, tenant):
        return f"/alarms/policies/delete/?policy={self.policy.cluster.name}/acme-pod-cpu"


class TestSilenceNewMatrix(_PolicyPage):
    url_name = "console:alarm-policy-silence"
    expect = 'id="silence-form"'
    suffix = "silences/new/"


class TestSilenceDeleteMatrix(_Writer):
    url_name = "console:alarm-silence-delete"
    expect = 'id="confirm-delete"'
    object_page = True

    def make_object(self, tenant):
        self.silence = AlarmSilence.objects.create(
            tenant=tenant, policy=policy_of(tenant), ends_at=timezone.now() + timedelta(hours=1)
        )

    def url_for(self, tenant):
        return f"/alarms/silences/{self.silence.pk}/delete/"


# -- policies ----------------------------------------------------------------------------------
def _notify_setup(tenant):
    receiver(tenant, name="ops", email="ops@example.com")
    template(webhook_channel(tenant, "http://127.0.0.1:9/hook", name="hook"), name="alarm")


def _form(cluster, **overrides) -> dict:
    data = {
        "cluster": cluster.name,
        "name": "node-hot",
        "type": "node",
        "namespace": "",
        "workload_kind": "",
        "objects_type": "part",
        "object_names": "node-a\nnode-b",
        "statistics_period": "120",
        "metrics-0-origin": "",
        "metrics-0-metric": "k8s_node_cpu_usage",
        "metrics-0-evaluator": "gt",
        "metrics-0-threshold": "90",
        "metrics-0-continue_periods": "2",
        # rows are numbered by the browser: a gap is a removed row
        "metrics-3-origin": "",
        "metrics-3-metric": "k8s_node_mem_usage",
        "metrics-3-evaluator": "ge",
        "metrics-3-threshold": "80.5",
        "metrics-3-continue_periods": "1",
        "receivers": ["ops"],
        "notify_ways": ["hook:alarm"],
        "repeat_interval": "1800",
        "enabled": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_create_a_policy_with_two_conditions_audited(client, tenant, tenant_admin):
    cluster = monitored_cluster(tenant, display_name="prod")
    _notify_setup(tenant)
    client.force_login(tenant_admin)
    form = _page(client.get("/alarms/policies/new/"))
    assert f'value="{cluster.name}"' in form and 'value="hook:alarm"' in form
    assert 'value="ops"' in form and "k8s_node_cpu_usage" in form and "percent" in form
    response = client.post("/alarms/policies/new/", _form(cluster))
    assert response.status_code == 303, _page(response)[:3000]
    assert response["Location"] == f"/alarms/policies/{cluster.name}/node-hot/"
    policy = AlarmPolicy.objects.get(cluster=cluster, name="node-hot")
    assert (policy.type, policy.objects_type, policy.object_names) == (
        "node",
        "part",
        ["node-a", "node-b"],
    )
    assert policy.statistics_period == 120 and policy.repeat_interval == 1800 and policy.enabled
    assert policy.receivers == ["ops"] and policy.receiver_groups == []
    assert policy.notify_ways == [{"channel": "hook", "template": "alarm"}]
    rows = list(policy.metrics.values_list("metric", "evaluator", "threshold", "continue_periods"))
    assert rows == [("k8s_node_cpu_usage", "gt", 90.0, 2), ("k8s_node_mem_usage", "ge", 80.5, 1)]
    assert set(policy.metrics.values_list("unit", flat=True)) == {"percent"}
    event = AuditEvent.objects.get(action="createAlarmPolicy")
    assert event.resource == f"cluster:{cluster.name}/alarmpolicy:node-hot"
    assert event.outcome == "success" and event.user_id == tenant_admin.pk
    page = _page(client.get(response["Location"]))
    assert "node-a, node-b" in page and "k8s_node_mem_usage" in page and "hook:alarm" in page


def test_service_errors_beside_their_fields_nothing_written(client, tenant, tenant_admin):
    cluster = monitored_cluster(tenant, display_name="prod")
    _notify_setup(tenant)
    client.force_login(tenant_admin)
    # a pod policy without its namespace, with a node metric, watching no named object
    data = _form(cluster, name="pod-hot", type="pod", object_names="")
    data = {k: v for k, v in data.items() if not k.startswith("metrics-3-")}
    response = client.post("/alarms/policies/new/", data)
    assert response.status_code == 400
    page = _page(response)
    assert "names its namespace" in _error(page, "id_namespace")
    assert "a pod policy takes k8s_pod_" in _error(page, "id_metrics-0-metric")
    assert "at least one object" in _error(page, "id_object_names")
    # what was typed is kept
    assert 'value="pod-hot"' in page and 'value="90"' in page
    assert not AlarmPolicy.objects.exists() and not AlarmMetric.objects.exists()
    event = AuditEvent.objects.get(action="createAlarmPolicy")
    assert event.outcome == "failure" and "namespace" in event.message
    # a threshold that is no number is the form's own error, on its row
    response = client.post(
        "/alarms/policies/new/", _form(cluster, **{"metrics-3-threshold": "lots"})
    )
    assert response.status_code == 400
    assert "number" in _error(_page(response), "id_metrics-3-threshold")
    # every row removed
    data = {k: v for k, v in _form(cluster).items() if not k.startswith("metrics-")}
    response = client.post("/alarms/policies/new/", data)
    assert "at least one metric" in _error(_page(response), "id_metrics")
    assert 'name="metrics-0-metric"' in _page(response)  # a row to fill comes back
    # a name the cluster has
    policy_of_cluster = client.post("/alarms/policies/new/", _form(cluster))
    assert policy_of_cluster.status_code == 303
    again = client.post("/alarms/policies/new/", _form(cluster))
    assert "already has an alarm policy named node-hot" in _error(_page(again), "id_name")
    assert AlarmPolicy.objects.count() == 1


def test_edit_replaces_conditions_and_keeps_what_stays(client, tenant, tenant_admin):
    policy = policy_of(tenant)
    kept = policy.metrics.get()
    client.force_login(tenant_admin)
    form = _page(client.get(f"/alarms/policies/{policy.cluster.name}/acme-pod-cpu/edit/"))
    assert 'value="web"' in form and f'value="{kept.pk}"' in form
    data = {
        "type": "pod",
        "namespace": "web",
        "workload_kind": "Deployment",
        "objects_type": "all",
        "object_names": "",
        "statistics_period": "60",
        "metrics-0-origin": str(kept.pk),
        "metrics-0-metric": "k8s_pod_cpu_core_used",
        "metrics-0-evaluator": "gt",
        "metrics-0-threshold": "0.5",
        "metrics-0-continue_periods": "3",
        "metrics-1-origin": "",
        "metrics-1-metric": "k8s_pod_restart_total",
        "metrics-1-evaluator": "ge",
        "metrics-1-threshold": "5",
        "metrics-1-continue_periods": "1",
        "receivers": ["ops"],
        "notify_ways": ["mail:alarm"],
        "repeat_interval": "3600",
    }
    response = client.post(f"/alarms/policies/{policy.cluster.name}/acme-pod-cpu/edit/", data)
    assert response.status_code == 303, _page(response)[:3000]
    policy.refresh_from_db()
    assert policy.workload_kind == "Deployment" and policy.enabled is False
    assert policy.notify_ways == [{"channel": "mail", "template": "alarm"}]
    metrics = {m.metric: m for m in policy.metrics.all()}
    assert set(metrics) == {"k8s_pod_cpu_core_used", "k8s_pod_restart_total"}
    assert metrics["k8s_pod_cpu_core_used"].pk == kept.pk
    assert metrics["k8s_pod_cpu_core_used"].continue_periods == 3
    event = AuditEvent.objects.get(action="updateAlarmPolicy")
    assert event.resource == f"cluster:{policy.cluster.name}/namespace:web/alarmpolicy:acme-pod-cpu"
    assert event.outcome == "success"


def test_copy_and_delete_one_and_several(client, tenant, tenant_admin):
    policy = policy_of(tenant)
    cluster = policy.cluster
    client.force_login(tenant_admin)
    base = f"/alarms/policies/{cluster.name}/acme-pod-cpu/"
    taken = client.post(f"{base}copy/", {"name": "acme-pod-cpu"})
    assert taken.status_code == 400
    assert "already has an alarm policy" in _error(_page(taken), "id_name")
    response = client.post(f"{base}copy/", {"name": "acme-pod-cpu-2"})
    assert response.status_code == 303
    copied = AlarmPolicy.objects.get(cluster=cluster, name="acme-pod-cpu-2")
    assert copied.namespace == "web" and copied.receivers == ["ops"]
    assert list(copied.metrics.values_list("metric", "threshold")) == [
        ("k8s_pod_cpu_core_used", 0.5)
    ]
    event = AuditEvent.objects.filter(action="createAlarmPolicy", outcome="success").get()
    assert event.resource == f"cluster:{cluster.name}/namespace:web/alarmpolicy:acme-pod-cpu-2"
    client.post(f"{base}copy/", {"name": "acme-pod-cpu-3"})
    # one, from its page
    confirm = _page(client.get(f"/alarms/policies/{cluster.name}/acme-pod-cpu-3/delete/"))
    assert "acme-pod-cpu-3" in confirm and 'id="confirm-delete"' in confirm
    response = client.post(f"/alarms/policies/{cluster.name}/acme-pod-cpu-3/delete/")
    assert response.status_code == 303 and response["Location"] == "/alarms/policies/"
    assert not AlarmPolicy.objects.filter(name="acme-pod-cpu-3").exists()
    # several, ticked in the list
    listed = _page(client.get("/alarms/policies/"))
    assert f'value="{cluster.name}/acme-pod-cpu-2"' in listed and 'id="policies-delete"' in listed
    chosen = [f"{cluster.name}/acme-pod-cpu", f"{cluster.name}/acme-pod-cpu-2"]
    confirm = _page(client.get("/alarms/policies/delete/", {"policy": chosen}))
    assert "acme-pod-cpu-2" in confirm.split('id="delete-list"')[1]
    response = client.post("/alarms/policies/delete/", {"policy": chosen})
    assert response.status_code == 303
    assert not AlarmPolicy.objects.filter(cluster=cluster).exists()
    deleted = AuditEvent.objects.filter(action="deleteAlarmPolicy", outcome="success")
    assert deleted.count() == 2
    assert {e.resource for e in deleted} == {
        f"cluster:{cluster.name}/namespace:web/alarmpolicy:acme-pod-cpu-3",
        ",".join(
            f"cluster:{cluster.name}/namespace:web/alarmpolicy:{n}"
            for n in ("acme-pod-cpu", "acme-pod-cpu-2")
        ),
    }


def test_read_only_user_sees_no_button_and_is_refused(client, tenant, read_only_user):
    policy = policy_of(tenant)
    silence = AlarmSilence.objects.create(
        tenant=tenant, policy=policy, ends_at=timezone.now() + timedelta(hours=1)
    )
    base = f"/alarms/policies/{policy.cluster.name}/acme-pod-cpu/"
    client.force_login(read_only_user)
    listed = _page(client.get("/alarms/policies/"))
    assert "acme-pod-cpu" in listed
    for marker in ("policy-new", "policy-edit", "policy-copy", "policy-delete", "policies-delete"):
        assert marker not in listed
    page = _page(client.get(base))
    assert 'id="policy-settings"' in page
    for marker in ('id="policy-edit"', 'id="policy-copy"', 'id="policy-silence"', "silence-"):
        assert marker not in page
    silences = _page(client.get("/alarms/silences/"))
    assert f'data-silence="{silence.pk}"' in silences and "silence-expire" not in silences
    refused = [
        client.post(f"{base}edit/", {"type": "pod", "namespace": "web"}),
        client.post(f"{base}copy/", {"name": "stolen"}),
        client.post(f"{base}delete/"),
        client.post(f"{base}silences/new/", {"duration": "1h"}),
        client.post(f"/alarms/silences/{silence.pk}/expire/"),
        client.post(f"/alarms/silences/{silence.pk}/delete/"),
        client.post("/alarms/policies/new/", _form(policy.cluster)),
    ]
    for response in refused:
        assert response.status_code == 403
        assert 'id="forbidden"' in _page(response)
    assert list(AlarmPolicy.objects.values_list("name", flat=True)) == ["acme-pod-cpu"]
    silence.refresh_from_db()
    assert silence.ends_at > timezone.now() and AlarmSilence.objects.count() == 1
    assert AuditEvent.objects.filter(outcome="denied").count() == len(refused)


def test_project_member_writes_pod_policies_in_its_namespace_only(client, tenant, project_member):
    cluster = monitored_cluster(tenant, display_name="shared")
    project = Project.objects.create(tenant=tenant, name=PROJECT, display_name="Test")
    ProjectCluster.objects.create(project=project, cluster=cluster, hard={})
    ProjectNamespace.objects.create(
        tenant=tenant, project=project, cluster=cluster, namespace="web"
    )
    client.force_login(project_member)
    form = _page(client.get("/alarms/policies/new/"))
    assert f'value="{cluster.name}"' in form
    assert '<option value="web">' in form.split('id="policy-namespaces"')[1].split("</datalist>")[0]
    mine = _form(
        cluster,
        name="web-cpu",
        type="pod",
        namespace="web",
        objects_type="all",
        receivers=[],
        notify_ways=[],
        **{
            "metrics-0-metric": "k8s_pod_cpu_core_used",
            "metrics-3-metric": "k8s_pod_restart_total",
        },
    )
    assert client.post("/alarms/policies/new/", mine).status_code == 303
    elsewhere = client.post("/alarms/policies/new/", {**mine, "name": "x", "namespace": "other"})
    assert elsewhere.status_code == 403
    assert "createAlarmPolicy" in _page(elsewhere)
    node_wide = client.post("/alarms/policies/new/", _form(cluster, name="y", notify_ways=[]))
    assert node_wide.status_code == 403
    assert list(AlarmPolicy.objects.values_list("name", flat=True)) == ["web-cpu"]
    # moving it out of the namespace is judged in the new namespace
    edit = {k: v for k, v in mine.items() if k not in ("cluster", "name")}
    moved = client.post(
        f"/alarms/policies/{cluster.name}/web-cpu/edit/", {**edit, "namespace": "other"}
    )
    assert moved.status_code == 403
    assert AlarmPolicy.objects.get(name="web-cpu").namespace == "web"


def test_other_tenant_policy_is_404_on_every_write(client, tenant, other_user):
    policy = policy_of(tenant)
    silence = AlarmSilence.objects.create(
        tenant=tenant, policy=policy, ends_at=timezone.now() + timedelta(hours=1)
    )
    base = f"/alarms/policies/{policy.cluster.name}/acme-pod-cpu/"
    client.force_login(other_user)
    for response in (
        client.post(f"{base}edit/", {"type": "pod", "namespace": "web"}),
        client.post(f"{base}copy/", {"name": "mine"}),
        client.post(f"{base}delete/"),
        client.post(f"{base}silences/new/", {"duration": "1h"}),
        client.post("/alarms/policies/delete/", {"policy": f"{policy.cluster.name}/acme-pod-cpu"}),
        client.post(f"/alarms/silences/{silence.pk}/expire/"),
        client.post(f"/alarms/silences/{silence.pk}/delete/"),
    ):
        assert response.status_code == 404
        assert 'id="not-found"' in _page(response)
    assert AlarmPolicy.objects.filter(pk=policy.pk).exists()
    silence.refresh_from_db()
    assert silence.ends_at > timezone.now()


# -- silences ----------------------------------------------------------------------------------
def test_silence_create_expire_delete_audited(client, tenant, tenant_admin):
    policy = policy_of(tenant)
    record_of(policy, key="web/acme-pod")
    base = f"/alarms/policies/{policy.cluster.name}/acme-pod-cpu/"
    client.force_login(tenant_admin)
    form = _page(client.get(f"{base}silences/new/?object=web/acme-pod"))
    assert 'value="web/acme-pod"' in form and '<option value="web/acme-pod">' in form
    # the custom end is needed when no preset is chosen; an end before the start is refused
    missing = client.post(f"{base}silences/new/", {"duration": "custom"})
    assert "Give the end" in _error(_page(missing), "id_ends_at")
    backwards = client.post(
        f"{base}silences/new/",
        {"duration": "custom", "starts_at": "2030-01-02T10:00", "ends_at": "2030-01-01T10:00"},
    )
    assert backwards.status_code == 400
    assert "ends after it starts" in _error(_page(backwards), "id_ends_at")
    assert not AlarmSilence.objects.exists()
    response = client.post(
        f"{base}silences/new/",
        {
            "object_key": "web/acme-pod",
            "metric": "k8s_pod_cpu_core_used",
            "duration": "4h",
            "comment": "node maintenance",
        },
    )
    assert response.status_code == 303 and response["Location"] == base
    silence = AlarmSilence.objects.get()
    assert silence.ends_at - silence.starts_at == timedelta(hours=4)
    assert silence.starts_at <= timezone.now() < silence.ends_at
    assert (silence.object_key, silence.metric, silence.comment) == (
        "web/acme-pod",
        "k8s_pod_cpu_core_used",
        "node maintenance",
    )
    assert silence.created_by == tenant_admin
    created = AuditEvent.objects.get(action="createAlarmSilence", outcome="success")
    assert created.resource == f"{policy.authz_resource}/alarmsilence:{silence.pk}"
    page = _page(client.get(base))
    assert f'data-silence="{silence.pk}"' in page and "node maintenance" in page
    assert f"/alarms/silences/{silence.pk}/expire/" in page
    response = client.post(f"/alarms/silences/{silence.pk}/expire/", {"next": base})
    assert response.status_code == 303 and response["Location"] == base
    silence.refresh_from_db()
    assert silence.ends_at <= timezone.now()
    expired = AuditEvent.objects.get(action="updateAlarmSilence")
    assert expired.resource == silence.authz_resource and expired.outcome == "success"
    assert f"/alarms/silences/{silence.pk}/expire/" not in _page(client.get("/alarms/silences/"))
    # another site's next is not followed
    response = client.post(
        f"/alarms/silences/{silence.pk}/delete/", {"next": "https://evil.example/"}
    )
    assert response.status_code == 303 and response["Location"] == "/alarms/silences/"
    assert not AlarmSilence.objects.exists()
    deleted = AuditEvent.objects.get(action="deleteAlarmSilence")
    assert deleted.resource == f"{policy.authz_resource}/alarmsilence:{silence.pk}"
