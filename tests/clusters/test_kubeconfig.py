"""``POST /api/v1/clusters/<name>/kubeconfig``: who may have one, what is in it, how long its
key lives and what it reaches, and that it is audited once, without the key."""

from datetime import timedelta

import pytest
import yaml
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.authentication import authenticate_api_key
from apps.accounts.models import APIKey
from apps.audit.models import AuditEvent
from apps.authz.services import create_policy
from tests.factories import UserFactory, bind, make_api_key, make_cluster

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
    assert anon_client.post(url(cluster)).status_code == 401

    denied = api(console_only_user).post(url(cluster))
    assert denied.status_code == 403, denied.content
    assert denied.json()["code"] == "permission_denied"
    assert "getClusterKubeconfig" in denied.json()["detail"]

    for user in (viewer, other_user):
        hidden = api(user).post(url(cluster))
        assert hidden.status_code == 404, (user, hidden.content)
        assert hidden.json()["code"] == "not_found"

    for user in (read_only_user, member):
        assert api(user).post(url(cluster)).status_code == 200
    assert not APIKey.objects.filter(user__in=[console_only_user, viewer, other_user]).exclude(
        description="test"
    )


def test_kubeconfig_points_at_the_proxy_with_a_fresh_key(member, cluster, settings):
    settings.PORTAL_KUBECONFIG_CA_DATA = "Q0EtREFUQQ=="
    settings.ALLOWED_HOSTS = ["portal.example.test"]
    _, plaintext = make_api_key(member, expires_in=timedelta(days=1))  # outlives the default
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    before = timezone.now()
    response = client.post(url(cluster), HTTP_HOST="portal.example.test")
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
    assert key.cluster == cluster  # limited to this cluster (tests/security/test_escalation.py)
    lifetime = key.expires_at - before
    assert timedelta(hours=8) - timedelta(minutes=1) < lifetime <= timedelta(hours=8, seconds=5)
    assert body["expires_at"] == key.expires_at.isoformat()


def test_kubeconfig_as_yaml(api, member, cluster):
    client = api(member)
    for response in (
        client.post(url(cluster), HTTP_ACCEPT="application/yaml"),
        client.post(url(cluster, format="yaml")),
    ):
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("application/yaml")
        assert response["Content-Disposition"] == (
            f'attachment; filename="kubeconfig-{cluster.name}.yaml"'
        )
        config = yaml.safe_load(response.content)
        assert config["kind"] == "Config" and config["users"][0]["user"]["token"]


def test_expiry_is_chosen_within_the_limit(member, cluster, settings):
    # Signed in with a password: no calling key caps the lifetime (see the next test).
    client = APIClient()
    client.force_login(member)
    short = client.post(url(cluster), {"expires_in": "30m"})
    assert short.status_code == 200, short.content
    key = authenticate_api_key(
        yaml.safe_load(short.json()["kubeconfig"])["users"][0]["user"]["token"]
    )
    assert timedelta(minutes=29) < key.expires_at - timezone.now() <= timedelta(minutes=30)
    in_query = client.post(url(cluster, expires_in="2h"))
    assert in_query.status_code == 200, in_query.content
    assert _lifetime_of(in_query) > timedelta(minutes=119)

    too_long = client.post(url(cluster), {"expires_in": "8d"})
    assert too_long.status_code == 400
    assert too_long.json()["code"] == "validation_error"
    assert "At most 7d" in too_long.json()["fields"]["expires_in"][0]
    assert client.post(url(cluster), {"expires_in": "soon"}).status_code == 400
    assert client.post(url(cluster), {"expires_in": "10s"}).status_code == 400

    settings.PORTAL_KUBECONFIG_MAX_LIFETIME = "30d"
    assert client.post(url(cluster), {"expires_in": "8d"}).status_code == 200
    settings.PORTAL_KUBECONFIG_MAX_LIFETIME = timedelta(hours=1)
    assert client.post(url(cluster), {"expires_in": "2h"}).status_code == 400


def _lifetime_of(response) -> timedelta:
    token = yaml.safe_load(response.json()["kubeconfig"])["users"][0]["user"]["token"]
    return authenticate_api_key(token).expires_at - timezone.now()


def test_a_key_made_with_a_key_never_outlives_it(member, cluster):
    """A 7-day kubeconfig key must not mint a longer-lived one (issue 8, low): the default
    lifetime shrinks to the calling key's, a longer explicit one is refused naming the field,
    and nothing is minted for the refusal."""
    parent, plaintext = make_api_key(member, expires_in=timedelta(hours=2))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    capped = client.post(url(cluster), {"expires_in": ""})
    assert capped.status_code == 200, capped.content
    child = authenticate_api_key(
        yaml.safe_load(capped.json()["kubeconfig"])["users"][0]["user"]["token"]
    )
    assert child.expires_at <= parent.expires_at  # the 8h default, cut to the parent's 2h
    assert child.expires_at > parent.expires_at - timedelta(minutes=1)

    before = set(APIKey.objects.values_list("pk", flat=True))
    longer = client.post(url(cluster), {"expires_in": "7d"})
    assert longer.status_code == 400, longer.content
    assert "cannot outlive it" in longer.json()["fields"]["expires_in"][0]
    assert set(APIKey.objects.values_list("pk", flat=True)) == before


def test_a_get_mints_nothing_and_is_405(api, member, cluster):
    """No credential is minted by a GET (a link, an <img>, a prefetch could trigger it)."""
    client = api(member)
    before = APIKey.objects.count()
    response = client.get(url(cluster))
    assert response.status_code == 405, response.content
    assert response.json()["code"] == "method_not_allowed"
    assert set(response.json()) == {"code", "detail", "fields"}
    assert APIKey.objects.count() == before


def test_issuing_a_kubeconfig_is_audited_once_without_the_key(member, cluster):
    calling_key, plaintext = make_api_key(member)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    response = client.post(url(cluster), {"expires_in": "1m"})
    assert response.status_code == 200, response.content
    token = yaml.safe_load(response.json()["kubeconfig"])["users"][0]["user"]["token"]
    events = list(AuditEvent.objects.filter(path__startswith=url(cluster)))
    assert len(events) == 1, events
    event = events[0]
    assert event.action == "getClusterKubeconfig" and event.method == "POST"
    assert event.user == member and event.resource == f"cluster:{cluster.name}"
    assert event.status_code == 200 and event.channel == "api"
    assert event.tenant == cluster.tenant
    assert event.api_key_id == calling_key.pk
    assert event.request_body == {"expires_in": "1m"}
    assert token not in str(AuditEvent.objects.values())
    # the key's secret part (after tkp_<12 hex>_; it may itself contain "_")
    secret = token[len("tkp_") :].partition("_")[2]
    assert len(secret) >= 40 and secret not in str(AuditEvent.objects.values())


def test_a_refusal_is_json_even_when_yaml_was_asked_for(api, member, cluster):
    """The error shape is JSON whatever the format: a YAML error saved as a kubeconfig would
    only confuse kubectl (found by the schemathesis run)."""
    response = api(member).post(url(cluster, format="yaml"), {"expires_in": "soon"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["fields"]["expires_in"]
