"""How the portal connects to clusters: one credential dataclass that never prints its
secrets, cached clients (one per cluster and credential, no files on disk), counting
without listing, and no cluster call inside a database transaction."""

import datetime
import http.server
import json
import logging
import ssl
import tempfile
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.db import transaction

from apps.clusters import k8s, services
from apps.clusters.api.serializers import CredentialInputSerializer
from apps.clusters.models import Cluster

pytestmark = pytest.mark.django_db

TOKEN = "s3cret-token-0123456789"
KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC\n-----END"
CERT = "-----BEGIN CERTIFICATE-----\nMIIDazCCAlOgAwIBAgIUQ2xpZW50LWNlcnQtdmFsdWU\n-----END"


@pytest.fixture
def cluster(tenant, sim_cluster):
    spec = k8s.Connection(
        server=sim_cluster.url, token=sim_cluster.token, ca_data=sim_cluster.ca_data
    )
    return services.import_cluster(actor=None, tenant=tenant, display_name="prod", spec=spec)


# -- the credential dataclass -------------------------------------------------------------------
def test_connection_repr_and_str_never_show_secrets(caplog):
    conn = k8s.Connection(
        name="cls-a1", server="https://10.0.0.1:6443", token=TOKEN, client_cert=CERT, client_key=KEY
    )
    with caplog.at_level(logging.INFO, logger="tests"):
        logging.getLogger("tests").info("connecting with %s / %r", conn, conn)
    shown = [repr(conn), str(conn), f"{conn}", f"{conn!r}", repr([conn]), caplog.text]
    for text in shown:
        assert "cls-a1" in text and "https://10.0.0.1:6443" in text
        for secret in (TOKEN, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC", "Q2xpZW50"):
            assert secret not in text


def test_what_a_user_gives_is_the_same_dataclass_as_what_is_stored(cluster, sim_cluster):
    """Import input (fields or kubeconfig) and the stored credential are one type."""
    body = CredentialInputSerializer(
        data={"server": sim_cluster.url, "token": TOKEN, "ca_data": sim_cluster.ca_data}
    )
    assert body.is_valid(), body.errors
    given = body.to_spec()
    stored = services.connection_for(cluster)
    assert type(given) is type(stored) is k8s.Connection
    assert (given.server, given.token, given.name) == (sim_cluster.url, TOKEN, "")
    assert TOKEN not in repr(given)
    assert stored.name == cluster.name and stored.token == sim_cluster.token


# -- cached clients ------------------------------------------------------------------------------
def test_calls_to_a_cluster_share_one_client_and_one_connection(cluster):
    k8s.clients.forget(cluster.pk)
    built = k8s.clients.built
    apis = set()
    for _ in range(5):
        with services.client_for(cluster) as client:
            assert client.version()["gitVersion"].startswith("v1.")
            apis.add(id(client.api))
    assert len(apis) == 1
    assert k8s.clients.built == built + 1
    with services.client_for(cluster) as client:
        manager = client.api.rest_client.pool_manager
        pools = [manager.pools[key] for key in manager.pools.keys()]
    # five requests, one keep-alive connection (a new client per call opened one each)
    assert len(pools) == 1 and pools[0].num_connections == 1 and pools[0].num_requests == 5


def test_a_rotated_credential_gets_a_new_client_and_delete_forgets_it(
    cluster, sim_cluster, django_capture_on_commit_callbacks
):
    with services.client_for(cluster) as client:
        before = client.api
    assert k8s.clients.transport(cluster.pk, services.connection_for(cluster)).api is before
    # a credential changed by another process: the fingerprint differs, a new client is built
    moved = services.connection_for(cluster)
    moved.token = "another-token"
    assert k8s.clients.transport(cluster.pk, moved).api is not before
    with django_capture_on_commit_callbacks(execute=True):
        services.rotate_credential(
            actor=None,
            cluster=cluster,
            spec=k8s.Connection(
                server=sim_cluster.url, token=sim_cluster.token, ca_data=sim_cluster.ca_data
            ),
        )
    assert cluster.pk not in k8s.clients._entries
    with services.client_for(Cluster.objects.get(pk=cluster.pk)) as client:
        assert client.api is not before and client.version()
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_cluster(actor=None, cluster=cluster)
    assert cluster.pk not in k8s.clients._entries


def test_the_client_cache_is_bounded_and_thread_safe():
    cache = k8s.ClientCache(size=2)
    conns = [k8s.Connection(server=f"http://127.0.0.1:{9000 + i}", token=TOKEN) for i in range(3)]
    first = cache.transport(0, conns[0])
    cache.transport(1, conns[1])
    cache.transport(0, conns[0])  # 0 is now the most recently used
    cache.transport(2, conns[2])
    assert len(cache) == 2 and set(cache._entries) == {0, 2}
    assert cache.transport(0, conns[0]) is first

    shared = k8s.ClientCache(size=8)
    got, barrier = [], threading.Barrier(16)

    def take():
        barrier.wait()
        got.append(shared.transport("c", conns[0]))

    threads = [threading.Thread(target=take) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 16 and len({id(t) for t in got}) == 1
    assert shared.built == 1 and len(shared) == 1


def _client_ca_and_cert():
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "portal")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return ca.public_bytes(pem).decode(), cert.public_bytes(pem).decode(), key_pem


def test_a_client_certificate_is_presented_without_a_file_on_disk(kube_sim, settings):
    """A TLS server that requires a client certificate signed by its CA accepts the
    portal's, and no certificate or key file appears in the temporary directory."""
    from apps.sandbox.kubesim.tls import serving_cert

    settings.PORTAL_ALLOW_LOOPBACK_CLUSTERS = True
    client_ca, client_cert, client_key = _client_ca_and_cert()
    server_cert = serving_cert()
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append(self.connection.getpeercert()["subject"])
            body = json.dumps({"gitVersion": "v1.37.0"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = server_cert.server_context()
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=client_ca)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    before = set(Path(tempfile.gettempdir()).glob("tkeportal-*"))
    try:
        conn = k8s.Connection(
            name="cls-cert",
            server=f"https://127.0.0.1:{httpd.server_address[1]}",
            ca_data=server_cert.ca_pem.decode(),
            client_cert=client_cert,
            client_key=client_key,
        )
        with k8s.client("cert-test", conn) as client:
            assert set(Path(tempfile.gettempdir()).glob("tkeportal-*")) == before
            assert client.version() == {"gitVersion": "v1.37.0"}
    finally:
        k8s.clients.forget("cert-test")
        httpd.shutdown()
    assert seen == [((("commonName", "portal"),),)]


def test_a_client_key_that_is_not_pem_is_a_400_naming_client_cert(tenant, sim_cluster):
    from apps.clusters.services import ClusterProbeFailed

    spec = k8s.Connection(
        server=sim_cluster.url, ca_data=sim_cluster.ca_data, client_cert=CERT, client_key=KEY
    )
    with pytest.raises(ClusterProbeFailed) as caught:
        services.import_cluster(actor=None, tenant=tenant, display_name="cert", spec=spec)
    assert caught.value.status_code == 400
    assert "client_cert" in caught.value.fields
    assert not Cluster.objects.filter(display_name="cert").exists()


# -- counting -------------------------------------------------------------------------------------
def test_counting_pods_asks_for_one_item_and_matches_the_full_list(cluster, sim_cluster):
    with services.client_for(cluster) as client:
        for i in range(7):
            client.request(
                "POST",
                "/api/v1/namespaces/default/pods",
                body={
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": f"p{i}"},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            )
        everything = client.get("/api/v1/pods")["items"]
        page = client.get("/api/v1/pods", query={"limit": 1})
        assert client.count_pods() == len(everything) >= 7
    assert len(page["items"]) == 1
    assert page["metadata"]["remainingItemCount"] == len(everything) - 1


def test_kubesim_reports_remaining_items_like_the_api_server(cluster):
    """remainingItemCount: what follows the page; absent on the last page and when a label
    selector filters (the API server cannot know it then)."""
    with services.client_for(cluster) as client:
        for i in range(5):
            client.request(
                "POST",
                "/api/v1/namespaces/default/configmaps",
                body={"metadata": {"name": f"cm{i}", "labels": {"n": str(i)}}},
            )
        total = len(client.get("/api/v1/namespaces/default/configmaps")["items"])
        first = client.get("/api/v1/namespaces/default/configmaps", query={"limit": 2})
        second = client.get(
            "/api/v1/namespaces/default/configmaps",
            query={"limit": 2, "continue": first["metadata"]["continue"]},
        )
        last = client.get(
            "/api/v1/namespaces/default/configmaps",
            query={"limit": total, "continue": None},
        )
        filtered = client.get(
            "/api/v1/namespaces/default/configmaps", query={"limit": 1, "labelSelector": "n"}
        )
    assert first["metadata"]["remainingItemCount"] == total - 2
    assert second["metadata"]["remainingItemCount"] == total - 4
    assert "remainingItemCount" not in last["metadata"] and "continue" not in last["metadata"]
    assert "continue" in filtered["metadata"]
    assert "remainingItemCount" not in filtered["metadata"]


# -- no network I/O inside a transaction --------------------------------------------------------
def test_a_cluster_call_inside_a_transaction_is_refused(cluster):
    with services.client_for(cluster) as client:
        assert client.version()  # outside: fine
        with transaction.atomic(), pytest.raises(k8s.TransactionalClusterCall) as caught:
            client.version()
    assert cluster.name in str(caught.value)


def test_services_call_the_cluster_outside_their_transactions(cluster, sim_cluster):
    """Every service that talks to a cluster does so before or after its atomic block (the
    guard above would raise otherwise): rotate, health check, node sync, import."""
    spec = k8s.Connection(
        server=sim_cluster.url, token=sim_cluster.token, ca_data=sim_cluster.ca_data
    )
    assert services.rotate_credential(actor=None, cluster=cluster, spec=spec).phase == "Running"
    assert services.check_health(cluster).phase == "Running"
    assert services.sync_nodes(cluster).node_count == 3
    again = services.import_cluster(actor=None, tenant=cluster.tenant, display_name="b", spec=spec)
    assert again.version.startswith("v1.")
