"""The alerting API: permission matrices of alarm policies, records and silences (anonymous
401, login-only 403, other tenant 404, reader / writer), validation errors naming the field,
copy and batch delete, project members on their own namespace's policies, audit of writes,
list query counts, and the Alertmanager webhook settings (token shown once)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.monitoring.alerts.models import AlarmPolicy, AlarmRecord, AlarmSilence
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from tests.conftest import PROJECT
from tests.matrix import APIMatrix
from tests.monitoring.alerting import monitored_cluster, pod_policy, recipients

pytestmark = pytest.mark.django_db

POLICY = {
    "name": "node-cpu",
    "type": "node",
    "statistics_period": 120,
    "metrics": [
        {"metric": "k8s_node_cpu_usage", "evaluator": "gt", "threshold": 90, "continue_periods": 2}
    ],
    "receivers": ["ops"],
    "receiver_groups": ["oncall"],
    "notify_ways": [{"channel": "mail", "template": "alarm"}],
    "repeat_interval": 1800,
}


def policies_url(cluster) -> str:
    return f"/api/v1/clusters/{cluster.name}/alarm-policies/"


class _OnCluster(APIMatrix):
    reader = "read_only_user"
    non_writer = "read_only_user"
    writer = "tenant_admin"
    no_permission = "viewer"

    @pytest.fixture(autouse=True)
    def _cluster(self, tenant, tenant_admin):
        self.cluster = monitored_cluster(tenant, display_name="prod")
        recipients(tenant)
        self.actor = tenant_admin
        self.list_url = self.url(self.cluster)

    def cluster_of(self, tenant):
        if tenant == self.cluster.tenant:
            return self.cluster
        return monitored_cluster(tenant, display_name="theirs")

    def policy_in(self, tenant, name=None):
        cluster = self.cluster_of(tenant)
        name = name or f"p{AlarmPolicy.objects.count()}"
        # another tenant's policy is written by the system (the actor may not send there)
        actor = self.actor if tenant == self.cluster.tenant else None
        return pod_policy(actor, cluster, name=name)


class TestAlarmPolicyMatrix(_OnCluster):
    view_url = "/api/v1/clusters/cls-abc/alarm-policies/"

    @staticmethod
    def url(cluster):
        return policies_url(cluster)

    def make_object(self, tenant):
        return self.policy_in(tenant)

    def lookup(self, obj):
        return obj.name

    def lookup_from_json(self, row):
        return row["name"]

    def create_data(self, tenant):
        return POLICY

    def update_data(self, obj):
        return {"enabled": False, "repeat_interval": 600}


class TestAlarmRecordMatrix(_OnCluster):
    view_url = "/api/v1/clusters/cls-abc/alarm-records/"
    read_only = True

    @staticmethod
    def url(cluster):
        return f"/api/v1/clusters/{cluster.name}/alarm-records/"

    def make_object(self, tenant):
        policy = self.policy_in(tenant)
        return AlarmRecord.objects.create(
            tenant=tenant,
            cluster=policy.cluster,
            policy=policy,
            metric=policy.metrics.get(),
            metric_name="k8s_pod_cpu_core_used",
            object_key="web/api-1",
            state="firing",
            value=0.9,
        )


class TestAlarmSilenceMatrix(_OnCluster):
    view_url = "/api/v1/clusters/cls-abc/alarm-silences/"

    @staticmethod
    def url(cluster):
        return f"/api/v1/clusters/{cluster.name}/alarm-silences/"

    def make_object(self, tenant):
        policy = self.policy_in(tenant)
        return AlarmSilence.objects.create(
            tenant=tenant, policy=policy, ends_at=timezone.now() + timedelta(hours=1)
        )

    def create_data(self, tenant):
        if not AlarmPolicy.objects.filter(cluster=self.cluster, name="silenced").exists():
            self.policy_in(self.cluster.tenant, name="silenced")
        return {
            "policy": "silenced",
            "ends_at": (timezone.now() + timedelta(hours=2)).isoformat(),
            "comment": "maintenance",
        }

    def update_data(self, obj):
        return {"comment": "longer maintenance"}


# -- policies ---------------------------------------------------------------------------------
@pytest.fixture
def cluster(tenant):
    recipients(tenant)
    return monitored_cluster(tenant, display_name="prod")


def test_create_returns_the_policy_and_audits(api, tenant_admin, cluster):
    response = api(tenant_admin).post(policies_url(cluster), POLICY)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["cluster"] == cluster.name and body["type"] == "node"
    assert body["metrics"][0]["unit"] == "percent"  # from the catalogue
    assert body["notify_ways"] == [{"channel": "mail", "template": "alarm"}]
    assert body["objects_type"] == "all" and body["objects"] == []
    event = AuditEvent.objects.filter(action="createAlarmPolicy").latest("id")
    assert event.resource == f"cluster:{cluster.name}/alarmpolicy:node-cpu"
    assert event.status_code == 201


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (
            {"metrics": [{"metric": "k8s_pod_cpu_core_used", "evaluator": "gt", "threshold": 1}]},
            "metrics.0.metric",
            "not a node metric",
        ),
        (
            {"metrics": [{"metric": "k8s_node_nope", "evaluator": "gt", "threshold": 1}]},
            "metrics.0.metric",
            "no metric",
        ),
        (
            {
                "metrics": [
                    {
                        "metric": "k8s_node_cpu_usage",
                        "evaluator": "gt",
                        "threshold": 1,
                        "unit": "bytes",
                    }
                ]
            },
            "metrics.0.unit",
            "percent",
        ),
        (
            {
                "metrics": [
                    {
                        "metric": "k8s_node_cpu_usage",
                        "evaluator": "gt",
                        "threshold": 1,
                        "continue_periods": 0,
                    }
                ]
            },
            "metrics.0.continue_periods",
            "",
        ),
        ({"metrics": []}, "metrics", "at least one"),
        ({"statistics_period": 30}, "statistics_period", "60"),
        ({"statistics_period": 600}, "statistics_period", "300"),
        ({"type": "pod"}, "namespace", "names its namespace"),
        (
            {
                "type": "workload",
                "namespace": "web",
                "metrics": [
                    {"metric": "k8s_workload_cpu_core_used", "evaluator": "gt", "threshold": 1}
                ],
            },
            "workload_kind",
            "workload kind",
        ),
        ({"namespace": "web"}, "namespace", "Only workload and pod"),
        ({"objects_type": "part"}, "objects", "at least one"),
        ({"name": "x" * 61}, "name", "60"),
        ({"notify_ways": [{"channel": "mail"}]}, "notify_ways.0.template", ""),
    ],
)
def test_validation_errors_name_the_field(api, tenant_admin, cluster, change, field, words):
    response = api(tenant_admin).post(policies_url(cluster), {**POLICY, **change})
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in body["fields"], body
    assert words in " ".join(body["fields"][field])
    assert not AlarmPolicy.objects.exists()


def test_duplicate_name_names_the_field(api, tenant_admin, cluster):
    client = api(tenant_admin)
    assert client.post(policies_url(cluster), POLICY).status_code == 201
    response = client.post(policies_url(cluster), POLICY)
    assert response.status_code == 400
    assert "already has an alarm policy" in response.json()["fields"]["name"][0]


def test_update_replaces_conditions_keeping_unchanged_ones(api, tenant_admin, cluster):
    client = api(tenant_admin)
    client.post(policies_url(cluster), POLICY)
    kept = AlarmPolicy.objects.get().metrics.get()
    response = client.patch(
        f"{policies_url(cluster)}node-cpu/",
        {
            "metrics": [
                {**POLICY["metrics"][0], "continue_periods": 3},
                {"metric": "k8s_node_mem_usage", "evaluator": "ge", "threshold": 95},
            ]
        },
    )
    assert response.status_code == 200, response.content
    assert [m["metric"] for m in response.json()["metrics"]] == [
        "k8s_node_cpu_usage",
        "k8s_node_mem_usage",
    ]
    kept.refresh_from_db()
    assert kept.continue_periods == 3  # the same row: its open records stay


def test_copy_and_batch_delete(api, tenant_admin, cluster):
    client = api(tenant_admin)
    client.post(policies_url(cluster), POLICY)
    copied = client.post(f"{policies_url(cluster)}node-cpu/copy/", {"name": "node-cpu-2"})
    assert copied.status_code == 201, copied.content
    assert copied.json()["metrics"][0]["threshold"] == 90
    assert copied.json()["receivers"] == ["ops"]
    clash = client.post(f"{policies_url(cluster)}node-cpu/copy/", {"name": "node-cpu-2"})
    assert clash.status_code == 400 and "name" in clash.json()["fields"]
    missing = client.post(f"{policies_url(cluster)}batch-delete/", {"names": ["node-cpu", "x"]})
    assert missing.status_code == 404
    assert AlarmPolicy.objects.count() == 2  # all or none
    deleted = client.post(
        f"{policies_url(cluster)}batch-delete/", {"names": ["node-cpu", "node-cpu-2"]}
    )
    assert deleted.status_code == 200 and deleted.json()["names"] == ["node-cpu", "node-cpu-2"]
    assert not AlarmPolicy.objects.exists()


def test_read_only_user_cannot_batch_delete(api, tenant_admin, read_only_user, cluster):
    pod_policy(tenant_admin, cluster, name="keep")
    response = api(read_only_user).post(
        f"{policies_url(cluster)}batch-delete/", {"names": ["keep"]}
    )
    assert response.status_code == 403
    assert AlarmPolicy.objects.filter(name="keep").exists()


def test_project_member_manages_policies_of_its_own_namespace_only(
    api, tenant, tenant_admin, project_member, cluster
):
    project = Project.objects.create(tenant=tenant, name=PROJECT, display_name="Test")
    ProjectCluster.objects.create(project=project, cluster=cluster, hard={})
    ProjectNamespace.objects.create(
        tenant=tenant, project=project, cluster=cluster, namespace="web"
    )
    pod_policy(tenant_admin, cluster, name="theirs", namespace="other")
    pod_policy(
        tenant_admin,
        cluster,
        name="node-wide",
        type="node",
        namespace="",
        metrics=[{"metric": "k8s_node_cpu_usage", "evaluator": "gt", "threshold": 90}],
    )
    client = api(project_member)
    mine = {
        "name": "web-cpu",
        "type": "pod",
        "namespace": "web",
        "metrics": [{"metric": "k8s_pod_cpu_core_used", "evaluator": "gt", "threshold": 1}],
    }
    assert client.post(policies_url(cluster), mine).status_code == 201
    elsewhere = client.post(policies_url(cluster), {**mine, "name": "x", "namespace": "other"})
    assert elsewhere.status_code == 403
    listed = client.get(policies_url(cluster)).json()["results"]
    assert [p["name"] for p in listed] == ["web-cpu"]
    assert client.get(f"{policies_url(cluster)}theirs/").status_code == 404
    assert client.get(f"{policies_url(cluster)}node-wide/").status_code == 404
    moved = client.patch(f"{policies_url(cluster)}web-cpu/", {"namespace": "other"})
    assert moved.status_code == 403
    # records and silences follow their policy's namespace
    for policy in AlarmPolicy.objects.filter(name__in=["web-cpu", "theirs"]):
        AlarmRecord.objects.create(
            tenant=tenant,
            cluster=cluster,
            policy=policy,
            metric=policy.metrics.first(),
            object_key=f"{policy.namespace}/pod",
            state="firing",
        )
        AlarmSilence.objects.create(
            tenant=tenant, policy=policy, ends_at=timezone.now() + timedelta(hours=1)
        )
    records = client.get(f"/api/v1/clusters/{cluster.name}/alarm-records/").json()["results"]
    assert [r["object_key"] for r in records] == ["web/pod"]
    silences = client.get(f"/api/v1/clusters/{cluster.name}/alarm-silences/").json()["results"]
    assert [s["policy"] for s in silences] == ["web-cpu"]
    made = client.post(
        f"/api/v1/clusters/{cluster.name}/alarm-silences/",
        {"policy": "web-cpu", "ends_at": (timezone.now() + timedelta(hours=1)).isoformat()},
    )
    assert made.status_code == 201, made.content


def test_policy_list_query_count_is_constant(api, tenant_admin, cluster):
    client = api(tenant_admin)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(policies_url(cluster)).status_code == 200
        return len(queries)

    pod_policy(tenant_admin, cluster, name="a")
    count()  # (the first request compiles the tenant's rules)
    one = count()
    for i in range(8):
        pod_policy(tenant_admin, cluster, name=f"b{i}")
    assert count() == one


def test_record_list_filters_and_query_count(api, tenant_admin, cluster):
    policy = pod_policy(tenant_admin, cluster)
    condition = policy.metrics.get()
    base = {"tenant": cluster.tenant, "cluster": cluster, "policy": policy, "metric": condition}
    now = timezone.now()
    AlarmRecord.objects.create(state="firing", object_key="web/a", started_at=now, **base)
    AlarmRecord.objects.create(
        state="resolved", object_key="web/b", started_at=now - timedelta(days=2), **base
    )
    client = api(tenant_admin)
    url = f"/api/v1/clusters/{cluster.name}/alarm-records/"
    rows = client.get(url, {"state": "firing"}).json()["results"]
    assert [r["object_key"] for r in rows] == ["web/a"]
    assert rows[0]["policy"] == "pod-cpu"
    since = (now - timedelta(days=1)).isoformat()
    assert [r["object_key"] for r in client.get(url, {"since": since}).json()["results"]] == [
        "web/a"
    ]
    assert len(client.get(url, {"policy": "pod-cpu"}).json()["results"]) == 2
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(6):
        AlarmRecord.objects.create(state="resolved", object_key=f"web/c{i}", **base)
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(few) == len(many)


def test_silence_expire_and_validation(api, tenant_admin, cluster):
    pod_policy(tenant_admin, cluster)
    client = api(tenant_admin)
    url = f"/api/v1/clusters/{cluster.name}/alarm-silences/"
    bad = client.post(
        url,
        {
            "policy": "pod-cpu",
            "metric": "k8s_pod_nope",
            "ends_at": timezone.now() + timedelta(hours=1),
        },
    )
    assert bad.status_code == 400 and "metric" in bad.json()["fields"]
    unknown = client.post(url, {"policy": "nope", "ends_at": timezone.now() + timedelta(hours=1)})
    assert unknown.status_code == 400 and "policy" in unknown.json()["fields"]
    made = client.post(
        url,
        {
            "policy": "pod-cpu",
            "object_key": "web/api-1",
            "ends_at": (timezone.now() + timedelta(hours=1)).isoformat(),
        },
    )
    assert made.status_code == 201, made.content
    assert made.json()["active"] is True and made.json()["created_by"] == "alice"
    extended = client.patch(
        f"{url}{made.json()['id']}/",
        {"ends_at": (timezone.now() + timedelta(hours=2)).isoformat(), "comment": "longer"},
        format="json",
    )
    assert extended.status_code == 200 and extended.json()["comment"] == "longer"
    expired = client.post(f"{url}{made.json()['id']}/expire/")
    assert expired.status_code == 200 and expired.json()["active"] is False
    assert client.get(url, {"active": "true"}).json()["results"] == []
    # an ended silence is history: not reopened nor changed
    reopened = client.patch(
        f"{url}{made.json()['id']}/",
        {"ends_at": (timezone.now() + timedelta(hours=1)).isoformat(), "comment": "again"},
        format="json",
    )
    assert reopened.status_code == 400
    assert reopened.json()["fields"] == {
        "ends_at": ["The silence has ended; an ended silence is not changed."]
    }
    row = AlarmSilence.objects.get(pk=made.json()["id"])
    assert row.comment == "longer" and not row.active()


# -- the Alertmanager webhook settings -----------------------------------------------------------
def test_webhook_settings_matrix(
    api, anon_client, tenant_admin, read_only_user, viewer, other_user, cluster
):
    url = f"/api/v1/clusters/{cluster.name}/alertmanager-webhook/"
    assert anon_client.post(f"{url}rotate/").status_code == 401
    assert api(viewer).post(f"{url}rotate/").status_code == 404  # cannot see the cluster
    assert api(other_user).post(f"{url}rotate/").status_code == 404
    assert api(read_only_user).post(f"{url}rotate/").status_code == 403
    assert api(tenant_admin).get(url).status_code == 404  # none yet
    rotated = api(tenant_admin).post(f"{url}rotate/")
    assert rotated.status_code == 200, rotated.content
    token = rotated.json()["token"]
    assert token.startswith("amw_")
    shown = api(read_only_user).get(url)
    assert shown.status_code == 200
    assert "token" not in shown.json() and token not in shown.content.decode()
    assert shown.json()["token_prefix"] == token[:8]
    assert shown.json()["url"] == f"/api/v1/monitor/alertmanager/{cluster.name}/"
    assert api(read_only_user).patch(url, {"receivers": ["ops"]}).status_code == 403
    patched = api(tenant_admin).patch(
        url, {"receivers": ["ops"], "notify_ways": [{"channel": "mail", "template": "alarm"}]}
    )
    assert patched.status_code == 200 and patched.json()["receivers"] == ["ops"]
    assert AuditEvent.objects.filter(action="updateCluster").exists()
    assert token not in str(list(AuditEvent.objects.values_list("request_body", flat=True)))
