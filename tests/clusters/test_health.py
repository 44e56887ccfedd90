"""Health checks and inventory sync against kubesim, including the cluster going down."""

import pytest

from apps.clusters import k8s, services, tasks
from apps.clusters.models import Cluster, Node

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster(tenant, sim_cluster):
    spec = k8s.Connection(
        server=sim_cluster.url, token=sim_cluster.token, ca_data=sim_cluster.ca_data
    )
    return services.import_cluster(actor=None, tenant=tenant, display_name="prod", spec=spec)


def test_failed_after_consecutive_failures_and_back_on_recovery(cluster, sim_cluster):
    assert tasks.check_cluster_health(cluster.pk) == "Running"
    sim_cluster.faults.down()
    phases = [tasks.check_cluster_health(cluster.pk) for _ in range(services.FAILURE_THRESHOLD)]
    assert phases == ["Running"] * (services.FAILURE_THRESHOLD - 1) + ["Failed"]
    cluster.refresh_from_db()
    condition = next(c for c in cluster.conditions if c["type"] == "HealthCheck")
    assert condition["status"] == "False"
    assert condition["reason"] == "cluster_unreachable"
    assert cluster.name in cluster.message
    sim_cluster.faults.up()
    assert tasks.check_cluster_health(cluster.pk) == "Running"
    cluster.refresh_from_db()
    assert cluster.consecutive_failures == 0


def test_health_check_api_reports_unreachable_without_500(api, tenant_admin, cluster, sim_cluster):
    sim_cluster.faults.down()
    response = api(tenant_admin).post(f"/api/v1/clusters/{cluster.name}/health-check/")
    assert response.status_code == 200
    assert response.json()["conditions"][0]["status"] == "False"


def test_sync_is_idempotent_and_removes_gone_nodes(cluster, sim_cluster):
    assert tasks.sync_cluster_nodes(cluster.pk) == "synced"
    assert tasks.sync_cluster_nodes(cluster.pk) == "synced"
    assert Node.objects.filter(cluster=cluster).count() == 3
    name = Node.objects.filter(cluster=cluster).first().name
    from kubernetes import client as k8s_client

    config = k8s_client.Configuration(host=sim_cluster.url)
    config.ssl_ca_cert = sim_cluster.ca_file
    config.api_key = {"authorization": f"Bearer {sim_cluster.token}"}
    with k8s_client.ApiClient(config) as api_client:
        k8s_client.CoreV1Api(api_client).delete_node(name)
    tasks.sync_cluster_nodes(cluster.pk)
    cluster.refresh_from_db()
    assert cluster.node_count == 2
    assert not Node.objects.filter(cluster=cluster, name=name).exists()
    assert int(cluster.capacity["cpu"]) > 0


def test_sync_of_a_dead_cluster_fails_cleanly(cluster, sim_cluster):
    sim_cluster.faults.down()
    assert tasks.sync_cluster_nodes(cluster.pk) == "failed"


def test_dispatch_enqueues_a_check_per_cluster(cluster, settings):
    assert tasks.dispatch_health_checks() == Cluster.objects.count() == 1
