"""The live kubectl-proxy harness shared by every test that goes through a real server.

The portal's real ASGI application (Django + Channels + the proxy) under uvicorn over HTTPS,
a kubesim cluster with its controller on, the real kubectl 1.37 with its own HOME, and helpers
to read the proxy's audit rows. Test modules import the fixtures they use:

    from tests.live import *  # noqa: F403  (fixtures: portal, live_cluster, cluster, …)
    pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_state")]
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import ssl
import subprocess
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
import yaml

from apps.audit.models import AuditEvent
from apps.clusters import k8s, services
from tests.factories import make_api_key

KUBECTL = str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "kubectl")

__all__ = [
    "KUBECTL",
    "Kubectl",
    "assert_no_secret_in_audit",
    "bob",
    "cluster",
    "deployment_manifest",
    "fetch_kubeconfig",
    "kubectl_as",
    "live_cluster",
    "live_state",
    "namespace",
    "pod_manifest",
    "portal",
    "proxy_events",
    "raw_request",
    "Recorder",
    "recorder",
    "running_pod",
    "send_raw",
    "wait_for",
]


def wait_for(predicate, what: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the portal under uvicorn -------------------------------------------------------------------
@pytest.fixture(scope="module")
def portal():
    """The portal's real ASGI application (Django + Channels + the proxy) under uvicorn, over
    HTTPS (kubectl sends bearer tokens over TLS only), with kubesim's throwaway CA."""
    import uvicorn

    from apps.sandbox.kubesim.tls import serving_cert
    from tkeportal.asgi import application

    cert = serving_cert()
    port = _free_port()
    config = uvicorn.Config(
        application,
        host="127.0.0.1",
        port=port,
        ssl_certfile=str(cert.dir / "tls.crt"),
        ssl_keyfile=str(cert.dir / "tls.key"),
        log_level="warning",
        lifespan="on",
        ws="wsproto",  # accepts kubectl port-forward's subprotocol (see requirements.txt)
        access_log=False,
        # An idle keep-alive TLS connection otherwise holds shutdown for the TLS close timeout
        # (>10 s), past the join below, and the test database is torn down under live threads.
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="portal-uvicorn", daemon=True)
    thread.start()
    wait_for(lambda: server.started, "uvicorn to start")
    yield SimpleNamespace(
        url=f"https://127.0.0.1:{port}",
        ca_file=str(cert.ca_file),
        ca_pem=cert.ca_pem,
        proxy=application.proxy,
    )
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def live_cluster(kube_sim):
    """A kubesim cluster with its controller on (pods become Running), for this module."""
    handle = kube_sim.add_cluster(f"px{uuid.uuid4().hex[:6]}", nodes=2, seed=False)
    handle.ca_data = open(handle.ca_file).read()  # noqa: SIM115
    yield handle
    kube_sim.remove_cluster(handle.name)


@pytest.fixture
def live_state(transactional_db, live_cluster, settings, portal):
    """Faults cleared; and before the database is flushed, every proxied request finished
    (audit row written) — a late audit insert would race the flush."""
    settings.PORTAL_KUBECONFIG_CA_DATA = base64.b64encode(portal.ca_pem).decode()
    live_cluster.faults.clear()
    yield
    live_cluster.faults.clear()
    wait_for(lambda: portal.proxy.active == 0, "proxied requests to finish")


@pytest.fixture
def cluster(tenant, member, live_cluster):
    spec = k8s.Connection(
        server=live_cluster.url, token=live_cluster.token, ca_data=live_cluster.ca_data
    )
    return services.import_cluster(actor=member, tenant=tenant, display_name="prod", spec=spec)


def fetch_kubeconfig(portal, user, cluster, expires_in="1h") -> tuple[str, str]:
    """The kubeconfig of ``user`` fetched (POST) through the real server, and its token, which
    works only for ``cluster``. The calling key outlives it: a key never mints a longer one."""
    _, plaintext = make_api_key(user, expires_in=timedelta(days=1))
    response = requests.post(
        f"{portal.url}/api/v1/clusters/{cluster.name}/kubeconfig",
        json={"expires_in": expires_in},
        headers={"Authorization": f"Bearer {plaintext}", "Accept": "application/yaml"},
        verify=portal.ca_file,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/yaml")
    text = response.text
    config = yaml.safe_load(text)
    assert config["clusters"][0]["cluster"]["server"] == (
        f"{portal.url}/k8s/clusters/{cluster.name}"
    )
    return text, config["users"][0]["user"]["token"]


class Kubectl:
    """The real kubectl with its own HOME, discovery cache and kubeconfig."""

    def __init__(self, kubeconfig: str, home: Path, token: str):
        home.mkdir(parents=True, exist_ok=True)
        path = home / "kubeconfig"
        path.write_text(kubeconfig)
        self.token = token
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "KUBECONFIG": str(path),
            "KUBECACHEDIR": str(home / "cache"),
        }

    def __call__(self, *args, stdin=None, check=True, timeout=30):
        proc = subprocess.run(
            [KUBECTL, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            command = " ".join(args)
            raise AssertionError(
                f"kubectl {command} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def popen(self, *args, **kwargs):
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen([KUBECTL, *args], env=self.env, **kwargs)


@pytest.fixture
def kubectl_as(portal, cluster, tmp_path):
    def make(user, expires_in="1h"):
        text, token = fetch_kubeconfig(portal, user, cluster, expires_in)
        return Kubectl(text, tmp_path / user.username, token)

    return make


@pytest.fixture
def bob(kubectl_as, member):
    """The platform user: may read and write cluster resources, exec into pods."""
    return kubectl_as(member)


@pytest.fixture
def namespace(bob):
    name = f"t-{uuid.uuid4().hex[:8]}"
    # (apply from a manifest; "create namespace", sent by kubectl as protobuf, is tested in
    # tests/sandbox/test_protobuf_clients.py)
    manifest = yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    bob("apply", "-f", "-", stdin=manifest)
    return name


def pod_manifest(name: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"containers": [{"name": "main", "image": "busybox:1.37"}]},
        }
    )


@pytest.fixture
def running_pod(bob, namespace):
    bob("apply", "-n", namespace, "-f", "-", stdin=pod_manifest("box"))
    bob("wait", "-n", namespace, "--for=condition=Ready", "pod/box", "--timeout=20s")
    return "box"


def deployment_manifest(name: str, replicas: int = 1) -> str:
    labels = {"app": name}
    return yaml.safe_dump(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": name, "image": "nginx:1.27"}]},
                },
            },
        }
    )


def proxy_events(**filters):
    """Audit rows of proxied requests, once the proxy has written what it queued."""
    from tkeportal.asgi import application

    wait_for(lambda: application.proxy.active == 0, "audit rows to be written")
    return AuditEvent.objects.filter(channel="proxy", **filters)


def assert_no_secret_in_audit(*secrets: str) -> None:
    rows = list(AuditEvent.objects.values())
    dumped = json.dumps(rows, default=str)
    for secret in secrets:
        assert secret not in dumped


class Recorder:
    """Every request kubesim's cluster receives: raw target and its own reading of it."""

    def __init__(self, kube_sim, cluster_handle):
        self.api = kube_sim._apis[cluster_handle.name]
        self.prefix = f"/clusters/{cluster_handle.name}"
        self.original = self.api.handle
        self.seen: list[dict] = []
        self.lock = threading.Lock()

    async def _recording(self, http_request, path):
        with self.lock:
            self.seen.append(
                {
                    "raw": http_request.raw_path,
                    "method": http_request.method,
                    "path": path,
                    "query": {k: http_request.query.getall(k) for k in http_request.query},
                    "request_id": http_request.headers.get("X-Request-ID", ""),
                }
            )
        return await self.original(http_request, path)

    def __enter__(self):
        self.api.handle = self._recording
        return self

    def __exit__(self, *exc):
        self.api.handle = self.original

    def take(self) -> list[dict]:
        with self.lock:
            seen, self.seen = self.seen, []
        return seen


def raw_request(
    portal, method: str, target: str, token: str, request_id: str, read=True, headers=None
):
    """Send ``method target`` exactly as written; (status, parsed JSON body or None, the
    answer's X-Request-ID). ``read=False`` leaves the body (a watch never ends)."""
    context = ssl.create_default_context(cafile=portal.ca_file)
    host, port = portal.url.removeprefix("https://").split(":")
    conn = http.client.HTTPSConnection(host, int(port), context=context, timeout=15)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("X-Request-ID", request_id)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", "0")
        conn.endheaders()
        response = conn.getresponse()
        if not read:
            return response.status, None, response.getheader("X-Request-ID")
        body = response.read()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        return response.status, parsed, response.getheader("X-Request-ID")
    finally:
        conn.close()


@pytest.fixture
def recorder(kube_sim, live_cluster):
    """What the live cluster receives, while the test runs."""
    with Recorder(kube_sim, live_cluster) as rec:
        yield rec


def send_raw(portal, method: str, target: str, token: str, body: bytes = b"", headers=()):
    """Send ``method target`` with ``body`` and ``headers`` exactly as given (a list of
    (name, value): a header may repeat); (status, Content-Type, raw answer body)."""
    context = ssl.create_default_context(cafile=portal.ca_file)
    host, port = portal.url.removeprefix("https://").split(":")
    conn = http.client.HTTPSConnection(host, int(port), context=context, timeout=120)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        conn.putheader("Authorization", f"Bearer {token}")
        for name, value in headers:
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        if body:
            conn.send(body)
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        conn.close()
