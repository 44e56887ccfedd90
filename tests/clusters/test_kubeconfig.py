"""``GET /api/v1/clusters/<name>/kubeconfig``: who may have one, what is in it, how long its
key lives, and that it is audited without the key."""

from datetime import timedelta

import pytest
import yaml
from django.utils import timezone

from apps.accounts.authentication import authenticate_api_key
from apps.accounts.models import APIKey
from apps.audit.models import AuditEvent
from apps.authz.services import create_policy
from tests.clusters.test_import import make_cluster
from tests.factories import UserFactory, bind

pytestmark = pytest.mark.django_db


def url(cluster, **query) -> str:
    suffix = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/api/v1/clusters/{cluster.name}/kubeconfig" + (f"?{suffix}" if suffix else "")


@pytest.fixture
def cluster(tenant):
    return make_cluster(tenant, "prod")


@pytest.fixture
def console_only_user(tenant):
    """Sees clusters (get*/list*) but is explicitly denied kubeconfigs."""
    policy = create_policy(
        actor=None,
        tenant=tenant,
        name="console-only",
        statements=[
            {"actions": ["get*", "list*"], "resources": ["cluster:*"], "effect": "allow"},
            {"actions": ["getClusterKubeconfig"], "resources": ["*"], "effect": "deny"},
        ],
    )
    user = UserFactory(tenant=tenant, username="cora")
    bind(user, policy.name)
    return user


def test_kubeconfig_permissions(
    anon_client, api, cluster, read_only_user, console_only_user, viewer, other_user, member
):
    """Anonymous 401; denied getClusterKubeconfig 403; a cluster the user cannot see (viewer,
    other tenant) 404; everyone who may read the cluster 200."""
    assert anon_client.get(url(cluster)).status_code == 401

    denied = api(console_only_user).get(url(cluster))
    assert denied.status_code == 403, denied.content
    assert denied.json()["code"] == "permission_denied"
    assert "getClusterKubeconfig" in denied.json()["detail"]

    for user in (viewer, other_user):
        hidden = api(user).get(url(cluster))
        assert hidden.status_code == 404, (user, hidden.content)
        assert hidden.json()["code"] == "not_found"

    for user in (read_only_user, member):
        assert api(user).get(url(cluster)).status_code == 200
    assert not APIKey.objects.filter(user__in=[console_only_user, viewer, other_user]).exclude(
        description="test"
    )


def test_kubeconfig_points_at_the_proxy_with_a_fresh_key(api, member, cluster, settings):
    settings.PORTAL_KUBECONFIG_CA_DATA = "Q0EtREFUQQ=="
    settings.ALLOWED_HOSTS = ["portal.example.test"]
    before = timezone.now()
    response = api(member).get(url(cluster), HTTP_HOST="portal.example.test")
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    config = yaml.safe_load(body["kubeconfig"])
    entry = config["clusters"][0]["cluster"]
    assert entry == {
        "server": f"http://portal.example.test/k8s/clusters/{cluster.name}",
        "certificate-authority-data": "Q0EtREFUQQ==",
    }
    assert body["server"] == entry["server"] and body["cluster"] == cluster.name
    assert config["current-context"] == config["contexts"][0]["name"]
    token = config["users"][0]["user"]["token"]
    key = authenticate_api_key(token)
    assert key.user == member and key.description == f"kubeconfig for {cluster.name}"
    lifetime = key.expires_at - before
    assert timedelta(hours=8) - timedelta(minutes=1) < lifetime <= timedelta(hours=8, seconds=5)
    assert body["expires_at"] == key.expires_at.isoformat()


def test_kubeconfig_as_yaml(api, member, cluster):
    client = api(member)
    for response in (
        client.get(url(cluster), HTTP_ACCEPT="application/yaml"),
        client.get(url(cluster, format="yaml")),
    ):
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("application/yaml")
        assert response["Content-Disposition"] == (
            f'attachment; filename="kubeconfig-{cluster.name}.yaml"'
        )
        config = yaml.safe_load(response.content)
        assert config["kind"] == "Config" and config["users"][0]["user"]["token"]


def test_expiry_is_chosen_within_the_limit(api, member, cluster, settings):
    client = api(member)
    short = client.get(url(cluster, expires_in="30m"))
    assert short.status_code == 200
    key = authenticate_api_key(
        yaml.safe_load(short.json()["kubeconfig"])["users"][0]["user"]["token"]
    )
    assert key.expires_at - timezone.now() <= timedelta(minutes=30)

    too_long = client.get(url(cluster, expires_in="8d"))
    assert too_long.status_code == 400
    assert too_long.json()["code"] == "validation_error"
    assert "At most 7d" in too_long.json()["fields"]["expires_in"][0]
    assert client.get(url(cluster, expires_in="soon")).status_code == 400
    assert client.get(url(cluster, expires_in="10s")).status_code == 400

    settings.PORTAL_KUBECONFIG_MAX_LIFETIME = "30d"
    assert client.get(url(cluster, expires_in="8d")).status_code == 200
    settings.PORTAL_KUBECONFIG_MAX_LIFETIME = timedelta(hours=1)
    assert client.get(url(cluster, expires_in="2h")).status_code == 400


def test_issuing_a_kubeconfig_is_audited_without_the_key(api, member, cluster):
    response = api(member).get(url(cluster))
    token = yaml.safe_load(response.json()["kubeconfig"])["users"][0]["user"]["token"]
    event = AuditEvent.objects.get(action="getClusterKubeconfig")
    assert event.user == member and event.resource == f"cluster:{cluster.name}"
    assert event.status_code == 200 and event.channel == "api"
    assert "issued" in event.message
    assert token not in str(AuditEvent.objects.values())
