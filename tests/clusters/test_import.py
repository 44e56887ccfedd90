"""Importing clusters: probing, specific failures, encrypted credentials that never leak."""

import base64
import json

import pytest
import yaml
from django.core.management import call_command
from django.db import connection

from apps.audit.models import AuditEvent
from apps.clusters import services
from apps.clusters.models import Cluster, ClusterOperation, Node
from tests.factories import make_cluster
from tests.matrix import APIMatrix

pytestmark = pytest.mark.django_db


def import_body(sim_cluster, **overrides):
    return {
        "display_name": "prod",
        "server": sim_cluster.url,
        "token": sim_cluster.token,
        "ca_data": sim_cluster.ca_data,
        **overrides,
    }


def kubeconfig_text(sim_cluster, token=None, **cluster_extra):
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "other",
            "clusters": [
                {
                    "name": "sim",
                    "cluster": {
                        "server": sim_cluster.url,
                        "certificate-authority-data": base64.b64encode(
                            sim_cluster.ca_data.encode()
                        ).decode(),
                        **cluster_extra,
                    },
                }
            ],
            "users": [{"name": "u", "user": {"token": token or sim_cluster.token}}],
            "contexts": [
                {"name": "sim", "context": {"cluster": "sim", "user": "u"}},
                {"name": "other", "context": {"cluster": "missing", "user": "u"}},
            ],
        }
    )


class TestClusterMatrix(APIMatrix):
    """platform-user (member) may import clusters; a read-only user may not."""

    list_url = "/api/v1/clusters/"
    non_writer = "read_only_user"

    def make_object(self, tenant):
        return make_cluster(tenant)

    def lookup(self, obj):
        return obj.name

    def lookup_from_json(self, row):
        return row["name"]

    def create_data(self, tenant):
        return {"display_name": "x", "server": "https://127.0.0.1:9", "token": "t"}

    def update_data(self, obj):
        return {"display_name": "renamed"}

    @pytest.fixture(autouse=True)
    def _reachable_create(self, request, monkeypatch):
        """The matrix's create must succeed without a real cluster: point it at kubesim."""
        if "writer_creates" in request.node.name:
            sim = request.getfixturevalue("sim_cluster")
            monkeypatch.setattr(self, "create_data", lambda tenant: import_body(sim))


def test_import_probes_stores_encrypted_and_syncs(
    api, tenant_admin, sim_cluster, django_capture_on_commit_callbacks
):
    client = api(tenant_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/clusters/", import_body(sim_cluster))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"].startswith("cls-") and len(body["name"]) == 12
    assert body["version"] == "v1.37.0"
    assert body["credential"] == {
        "kind": "token",
        "insecure_skip_tls_verify": False,
        "rotated_at": body["credential"]["rotated_at"],
    }
    cluster = Cluster.objects.get(name=body["name"])
    assert cluster.phase == "Running"
    assert cluster.node_count == 3
    assert set(cluster.architectures) == {"amd64", "arm64"}
    assert cluster.gpu_summary["gpus"] > 0
    assert Node.objects.filter(cluster=cluster).count() == 3
    op = ClusterOperation.objects.get(cluster=cluster, kind="import")
    assert op.phase == "Succeeded"
    assert [s["name"] for s in op.steps] == [
        "EnsureAddress",
        "EnsureProbe",
        "EnsureCredential",
        "EnsureNodesSynced",
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT token, ca_data FROM clusters_clustercredential")
        raw_token, raw_ca = cursor.fetchone()
    assert sim_cluster.token not in raw_token and "BEGIN" not in raw_ca


def test_import_from_kubeconfig_with_context(api, tenant_admin, sim_cluster):
    response = api(tenant_admin).post(
        "/api/v1/clusters/",
        {
            "display_name": "from-kubeconfig",
            "kubeconfig": kubeconfig_text(sim_cluster),
            "context": "sim",
        },
    )
    assert response.status_code == 201, response.content
    missing = api(tenant_admin).post(
        "/api/v1/clusters/",
        {"display_name": "x", "kubeconfig": kubeconfig_text(sim_cluster), "context": "nope"},
    )
    assert missing.status_code == 400
    assert "Context 'nope' not found" in missing.json()["fields"]["context"][0]


@pytest.mark.parametrize(
    ("overrides", "status", "code", "field"),
    [
        ({"server": "ftp://example.com"}, 400, "validation_error", "server"),
        ({"server": "https://169.254.169.254/"}, 400, "validation_error", "server"),
        ({"server": "http://[fe80::1]:6443"}, 400, "validation_error", "server"),
        ({"server": "https://user:pw@127.0.0.1:6443"}, 400, "validation_error", "server"),
        ({"token": "wrong-token"}, 400, "cluster_credential_rejected", "token"),
        ({"ca_data": ""}, 400, "cluster_tls_error", "ca_data"),
        ({"server": "https://127.0.0.1:1"}, 400, "cluster_unreachable", "server"),
    ],
)
def test_import_failures_are_specific(
    api, tenant_admin, sim_cluster, overrides, status, code, field
):
    response = api(tenant_admin).post("/api/v1/clusters/", import_body(sim_cluster, **overrides))
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert field in body["fields"]
    assert not Cluster.objects.exists()


def test_import_unsupported_kubeconfig_parts(api, tenant_admin, sim_cluster):
    text = kubeconfig_text(sim_cluster).replace(
        "certificate-authority-data", "certificate-authority"
    )
    response = api(tenant_admin).post(
        "/api/v1/clusters/", {"display_name": "x", "kubeconfig": text, "context": "sim"}
    )
    assert response.status_code == 400
    assert "file" in response.json()["fields"]["kubeconfig"][0]


def test_slow_cluster_times_out_cleanly(api, tenant_admin, sim_cluster, settings, monkeypatch):
    from apps.clusters import k8s

    monkeypatch.setattr(k8s, "READ_TIMEOUT_S", 0.5)
    sim_cluster.faults.delay(2.0)
    response = api(tenant_admin).post("/api/v1/clusters/", import_body(sim_cluster))
    # An import's probe judges the address given: a 4xx naming the field, not a portal 5xx.
    assert response.status_code == 400
    assert response.json()["code"] == "cluster_unreachable"
    assert "in time" in response.json()["detail"]


def test_secrets_never_leak(
    api, tenant_admin, sim_cluster, client, django_capture_on_commit_callbacks, caplog
):
    caplog.set_level("DEBUG")
    api_client = api(tenant_admin)
    with django_capture_on_commit_callbacks(execute=True):
        created = api_client.post("/api/v1/clusters/", import_body(sim_cluster))
    name = created.json()["name"]
    pages = [
        created.content,
        api_client.get(f"/api/v1/clusters/{name}/").content,
        api_client.get("/api/v1/clusters/").content,
        api_client.get(f"/api/v1/clusters/{name}/operations/").content,
    ]
    client.force_login(tenant_admin)
    cluster = Cluster.objects.get(name=name)
    pages.append(client.get(f"/admin/clusters/cluster/{cluster.pk}/change/").content)
    pages.append(json.dumps(list(AuditEvent.objects.values()), default=str).encode())
    for page in pages:
        assert sim_cluster.token.encode() not in page
    # Failures are logged too: a rejected credential and an unreachable cluster.
    api_client.post(
        "/api/v1/clusters/", import_body(sim_cluster, display_name="x2", token="wrong-token-abc")
    )
    sim_cluster.faults.down()
    api_client.post(f"/api/v1/clusters/{name}/health-check/")
    assert "Starting new HTTPS connection" in caplog.text  # the client's own logging is in
    assert f"health check of {name} failed" in caplog.text
    for secret in (sim_cluster.token, "wrong-token-abc"):
        assert secret not in caplog.text
    assert repr(cluster.credential).count(sim_cluster.token) == 0


def test_rotate_credential(api, tenant_admin, sim_cluster, django_capture_on_commit_callbacks):
    client = api(tenant_admin)
    with django_capture_on_commit_callbacks(execute=True):
        name = client.post("/api/v1/clusters/", import_body(sim_cluster)).json()["name"]
    bad = client.post(
        f"/api/v1/clusters/{name}/rotate-credential/",
        {"token": "nope", "ca_data": sim_cluster.ca_data},
    )
    assert bad.status_code == 400
    assert Cluster.objects.get(name=name).credential.token == sim_cluster.token
    new_token = "rotated-token-123456"
    sim_cluster.add_user("portal", token=new_token)
    good = client.post(
        f"/api/v1/clusters/{name}/rotate-credential/",
        {"token": new_token, "ca_data": sim_cluster.ca_data},
    )
    assert good.status_code == 200, good.content
    assert Cluster.objects.get(name=name).credential.token == new_token


def test_importcluster_command(tenant, sim_cluster, tmp_path, capsys):
    path = tmp_path / "kubeconfig"
    path.write_text(kubeconfig_text(sim_cluster))
    call_command(
        "importcluster",
        "--tenant",
        "acme",
        "--kubeconfig",
        str(path),
        "--context",
        "sim",
        "--name",
        "staging",
    )
    cluster = Cluster.objects.get(display_name="staging")
    assert cluster.tenant == tenant
    assert cluster.name in capsys.readouterr().out
    assert services.connection_for(cluster).token == sim_cluster.token


@pytest.mark.django_db
def test_a_token_http_cannot_carry_is_a_field_error():
    """A token with characters a header cannot carry is refused by field, never a 500."""
    from apps.clusters.api.serializers import CredentialInputSerializer
    from apps.clusters.services import spec_from_kubeconfig

    form = CredentialInputSerializer(data={"server": "https://127.0.0.1:6443", "token": "tök"})
    assert not form.is_valid()
    assert "visible ASCII" in str(form.errors["token"][0])
    kubeconfig = (
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443'}}]\n"
        "users: [{name: u, user: {token: 'tök'}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        spec_from_kubeconfig(kubeconfig, None)
    assert "kubeconfig" in refused.value.message_dict
