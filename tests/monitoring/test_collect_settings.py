"""A cluster's monitoring settings: the API (read with getCluster, write with updateCluster,
404 across tenants, the token write-only, the Prometheus URL under the address policy),
audit rows, the admin, the beat entries and the embedded periodic runner."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.core.periodic import Periodic
from apps.monitoring import tasks
from apps.monitoring.models import ClusterMonitor
from tests.factories import make_cluster

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster(tenant):
    return make_cluster(tenant, display_name="watched")


def url(cluster) -> str:
    return f"/api/v1/clusters/{cluster.name}/monitoring/"


def test_reading_makes_the_default_settings(api, read_only_user, cluster):
    response = api(read_only_user).get(url(cluster))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["cluster"] == cluster.name
    assert body["enabled"] is True and body["source"] == "api"
    assert body["has_prometheus_token"] is False and "prometheus_token" not in body
    assert body["last_error"] == "" and body["consecutive_failures"] == 0
    assert ClusterMonitor.objects.filter(cluster=cluster).count() == 1


def test_switching_to_prometheus_keeps_the_token_secret(api, tenant_admin, cluster):
    response = api(tenant_admin).put(
        url(cluster),
        {
            "enabled": True,
            "source": "prometheus",
            "prometheus_url": "http://127.0.0.1:9090/",
            "prometheus_token": "prom-secret-token",
            "prometheus_verify_tls": False,
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["source"] == "prometheus" and body["prometheus_url"] == "http://127.0.0.1:9090"
    assert body["has_prometheus_token"] is True
    assert "prom-secret-token" not in response.content.decode()
    monitor = ClusterMonitor.objects.get(cluster=cluster)
    assert monitor.prometheus_token == "prom-secret-token"
    assert monitor.prometheus_verify_tls is False
    event = AuditEvent.objects.filter(action="updateCluster").latest("pk")
    assert event.resource == f"cluster:{cluster.name}"
    assert "prom-secret-token" not in str(event.__dict__)
    # Moving the URL without a token forgets the old token.
    response = api(tenant_admin).patch(
        url(cluster), {"prometheus_url": "http://127.0.0.2:9090"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["has_prometheus_token"] is False
    monitor.refresh_from_db()
    assert monitor.prometheus_token == ""


@pytest.mark.parametrize(
    "address",
    ["http://169.254.169.254/", "http://metadata.google.internal/", "ftp://10.0.0.1/"],
)
def test_the_prometheus_url_is_held_to_the_address_policy(api, tenant_admin, cluster, address):
    response = api(tenant_admin).patch(
        url(cluster), {"source": "prometheus", "prometheus_url": address}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "prometheus_url" in response.json()["fields"]
    assert ClusterMonitor.objects.get(cluster=cluster).source == "api"


def test_prometheus_source_needs_a_url(api, tenant_admin, cluster):
    response = api(tenant_admin).patch(url(cluster), {"source": "prometheus"}, format="json")
    assert response.status_code == 400
    assert "prometheus_url" in response.json()["fields"]


def test_a_reader_cannot_change_the_settings(api, read_only_user, cluster):
    response = api(read_only_user).patch(url(cluster), {"enabled": False}, format="json")
    assert response.status_code == 403, response.content
    assert "updateCluster" in response.json()["detail"]


def test_permission_matrix(api, anon_client, other_user, read_only_user, tenant_admin, cluster):
    """Anonymous 401, another tenant 404 (read and write), a reader 200 on read and 403 on
    write, a writer 200."""
    assert anon_client.get(url(cluster)).status_code == 401
    assert anon_client.patch(url(cluster), {"enabled": False}).status_code == 401
    assert api(other_user).get(url(cluster)).status_code == 404
    assert api(other_user).patch(url(cluster), {"enabled": False}).status_code == 404
    assert api(read_only_user).get(url(cluster)).status_code == 200
    assert api(read_only_user).patch(url(cluster), {"enabled": False}).status_code == 403
    assert ClusterMonitor.objects.filter(cluster=cluster, enabled=False).count() == 0
    response = api(tenant_admin).patch(url(cluster), {"enabled": False}, format="json")
    assert response.status_code == 200 and response.json()["enabled"] is False
    assert ClusterMonitor.objects.filter(cluster=cluster, enabled=False).count() == 1


def test_route_name():
    assert reverse("api:cluster-monitoring", kwargs={"cluster": "cls-x"}) == (
        "/api/v1/clusters/cls-x/monitoring/"
    )


def test_admin_never_shows_the_token(client, platform_admin, cluster):
    monitor = ClusterMonitor.objects.create(
        tenant=cluster.tenant, cluster=cluster, prometheus_token="admin-hidden-token"
    )
    client.force_login(platform_admin)
    page = client.get(f"/admin/monitoring/clustermonitor/{monitor.pk}/change/")
    assert page.status_code == 200
    assert b"admin-hidden-token" not in page.content
    listing = client.get("/admin/monitoring/clustermonitor/")
    assert cluster.name.encode() in listing.content


def test_admin_change_validates_the_url_and_keeps_an_unchanged_token(
    client, platform_admin, cluster
):
    monitor = ClusterMonitor.objects.create(
        tenant=cluster.tenant, cluster=cluster, prometheus_token="kept-token"
    )
    client.force_login(platform_admin)
    page = f"/admin/monitoring/clustermonitor/{monitor.pk}/change/"
    form = {"enabled": "on", "source": "prometheus", "prometheus_token": ""}
    refused = client.post(page, {**form, "prometheus_url": "http://169.254.169.254/"})
    assert refused.status_code == 200  # the form again, with the error
    assert b"link-local" in refused.content or b"never connects" in refused.content
    monitor.refresh_from_db()
    assert monitor.source == "api"
    saved = client.post(page, {**form, "prometheus_url": "http://10.0.0.9:9090"})
    assert saved.status_code == 302
    monitor.refresh_from_db()
    assert (monitor.source, monitor.prometheus_url) == ("prometheus", "http://10.0.0.9:9090")
    # The URL moved without a new token: the old one is forgotten (never sent elsewhere).
    assert monitor.prometheus_token == ""
    saved = client.post(
        page, {**form, "prometheus_url": "http://10.0.0.9:9090", "prometheus_token": "new-one"}
    )
    assert saved.status_code == 302
    monitor.refresh_from_db()
    assert monitor.prometheus_token == "new-one"


def test_beat_entries_and_the_periodic_runner(cluster, tenant):
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["metrics-collect"]["task"] == "apps.monitoring.tasks.dispatch_collections"
    assert schedule["metrics-collect"]["schedule"] == 60.0
    assert schedule["metrics-prune"]["task"] == "apps.monitoring.tasks.prune_metrics"
    assert settings.CELERY_TASK_ROUTES["apps.monitoring.tasks.*"] == {"queue": "metrics"}
    # The embedded runner (make run without a broker) runs them in-process: the cluster gets
    # a monitor, its collection runs and, the cluster being unreachable, is recorded.
    periodic = Periodic({k: schedule[k] for k in ("metrics-collect", "metrics-prune")})
    assert periodic.run_due() == {"metrics-collect": True, "metrics-prune": True}
    monitor = ClusterMonitor.objects.get(cluster=cluster)
    assert monitor.consecutive_failures == 1
    assert monitor.last_error.startswith(f"cluster {cluster.name} unreachable: ")


def test_dispatch_skips_disabled_clusters(cluster, tenant):
    other = make_cluster(tenant, display_name="quiet")
    ClusterMonitor.objects.create(tenant=tenant, cluster=other, enabled=False)
    assert tasks.dispatch_collections.apply().get() == 1
    assert ClusterMonitor.objects.get(cluster=other).consecutive_failures == 0
