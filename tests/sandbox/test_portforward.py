"""pods/portforward: the real kubectl 1.37 (SPDY/3.1 tunnelled in a WebSocket) and the official
Python client (``v4.channel.k8s.io``) against the cluster directly."""

from __future__ import annotations

import asyncio
import ssl
import struct
import subprocess

import aiohttp
import pytest
import yaml
from kubernetes.stream import portforward

from tests.sessions import curl, port_forward

from .conftest import KUBECTL, deployment, pod, raw, running_pod, to_yaml


def web_pod(name: str = "web") -> dict:
    body = pod(name, image="nginx:1.27")
    body["spec"]["containers"][0]["ports"] = [
        {"containerPort": 80, "name": "http"},
        {"containerPort": 9090, "name": "metrics"},
    ]
    return body


@pytest.fixture
def popen(kubectl):
    def start(*args, **kwargs):
        return subprocess.Popen([KUBECTL, *args], env=kubectl.env, **kwargs)

    return start


def test_kubectl_port_forward_to_a_pod_answers_on_each_declared_port(core, namespace, popen):
    running_pod(core, namespace, web_pod())
    with port_forward(popen, "-n", namespace, "pod/web", ":80", ":9090", expect=2) as pf:
        assert sorted(pf.forwarded) == [80, 9090]
        page = curl(pf.forwarded[80], "/index.html")
        metrics = curl(pf.forwarded[9090], "/metrics")
    assert page.returncode == 0, page.stderr
    assert page.stdout.startswith("HTTP/1.1 200 OK")
    assert f"<h1>pod {namespace}/web port 80</h1>" in page.stdout
    assert "container main (image nginx:1.27) answered GET /index.html HTTP/1.1" in page.stdout
    assert f"<h1>pod {namespace}/web port 9090</h1>" in metrics.stdout


def test_kubectl_port_forward_to_a_deployment_and_a_service(kubectl, core, namespace, popen):
    """deploy/x and svc/x resolve to a pod client-side; the service's targetPort names the
    container port."""
    app = deployment("api", replicas=1, ports=[{"containerPort": 8000, "name": "web"}])
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "api"},
        "spec": {"selector": {"app": "api"}, "ports": [{"port": 80, "targetPort": "web"}]},
    }
    kubectl("apply", "-n", namespace, "-f", "-", stdin=to_yaml(app, service))
    kubectl("rollout", "status", "-n", namespace, "deploy/api", "--timeout=20s")
    pod_name = core.list_namespaced_pod(namespace).items[0].metadata.name
    with port_forward(popen, "-n", namespace, "deploy/api", ":8000") as pf:
        via_deployment = curl(pf.forwarded[8000], "/d")
    with port_forward(popen, "-n", namespace, "svc/api", ":80") as pf:
        assert list(pf.forwarded) == [8000]
        via_service = curl(pf.forwarded[8000], "/s")
    for answer, path in ((via_deployment, "/d"), (via_service, "/s")):
        assert f"<h1>pod {namespace}/{pod_name} port 8000</h1>" in answer.stdout
        assert f"answered GET {path} HTTP/1.1" in answer.stdout


def test_kubectl_port_forward_to_an_undeclared_port_fails_like_containerd(core, namespace, popen):
    running_pod(core, namespace, web_pod())
    with port_forward(popen, "-n", namespace, "pod/web", ":5432") as pf:
        refused = curl(pf.forwarded[5432])
        pf.wait(10)
        stderr = pf.stderr.read().decode()
    assert refused.returncode == 52 and refused.stdout == ""  # empty reply
    # (kubectl logs the message as a quoted value: its own quotes come escaped)
    assert "An error occurred forwarding" in stderr and "remotePort=5432" in stderr
    assert "error forwarding port 5432 to pod " in stderr
    assert 'failed to execute portforward in network namespace \\"/var/run/netns/cni-' in stderr
    assert "failed to connect to localhost:5432 inside namespace" in stderr
    assert "error: lost connection to pod" in stderr


def test_python_client_port_forward_over_the_channel_protocol(core, namespace):
    """kubernetes.stream.portforward speaks v4.channel.k8s.io with ports=80,5432: port 80
    answers the HTTP request; 5432 reports the refusal on its error channel."""
    running_pod(core, namespace, web_pod())
    pf = portforward(core.connect_get_namespaced_pod_portforward, "web", namespace, ports="80,5432")
    sock = pf.socket(80)
    sock.settimeout(20)  # a lost answer fails the test rather than hanging the suite
    sock.sendall(b"GET /py HTTP/1.1\r\nHost: web\r\n\r\n")
    answer = b""
    # until the whole answer is in (or the stream ends): the client library closes its end
    # of the socket pair on its own schedule, which once left a read waiting for EOF forever
    while b"answered GET /py HTTP/1.1" not in answer and (chunk := sock.recv(4096)):
        answer += chunk
    pf.close()
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"answered GET /py HTTP/1.1" in answer
    assert pf.error(80) is None
    assert "connect: connection refused" in pf.error(5432)


async def _raw_port_forward(cluster, namespace, query, send=b""):
    kube = yaml.safe_load(cluster.kubeconfig.read_text())
    server = kube["clusters"][0]["cluster"]["server"]
    token = kube["users"][0]["user"]["token"]
    ctx = ssl.create_default_context(cafile=cluster.sim.ca_file)
    url = server.replace("https", "wss") + f"/api/v1/namespaces/{namespace}/pods/web/portforward"
    frames = []
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"{url}?{query}",
            protocols=("v4.channel.k8s.io",),
            headers={"Authorization": f"Bearer {token}"},
            ssl=ctx,
        ) as ws,
    ):
        assert ws.protocol == "v4.channel.k8s.io"
        await ws.send_bytes(b"\x00" + send)
        async for msg in ws:
            frames.append((msg.data[0], bytes(msg.data[1:])))
    return frames


@pytest.mark.simulator_only
def test_channel_protocol_frames(cluster, core, namespace):
    """Per port a data and an error channel (2i, 2i+1); the first message on each is the port
    as uint16 little-endian; ``ports`` may repeat."""
    running_pod(core, namespace, web_pod())
    request = b"GET / HTTP/1.0\r\n\r\n"
    frames = asyncio.run(_raw_port_forward(cluster, namespace, "ports=80&ports=9999", request))
    firsts = {}
    for channel, data in frames:
        firsts.setdefault(channel, data)
    assert firsts == {
        0: struct.pack("<H", 80),
        1: struct.pack("<H", 80),
        2: struct.pack("<H", 9999),
        3: struct.pack("<H", 9999),
    }
    page = b"".join(data for ch, data in frames[4:] if ch == 0)
    assert page.startswith(b"HTTP/1.1 200 OK") and b"port 80</h1>" in page
    refusal = b"".join(data for ch, data in frames[4:] if ch == 3).decode()
    assert refusal.startswith("error forwarding port 9999 to pod ")
    assert not [data for ch, data in frames[4:] if ch in (1, 2)]


def test_port_forward_errors(api, core, namespace):
    running_pod(core, namespace, web_pod())
    core.create_namespaced_pod(
        namespace, pod("pending", nodeName=None, nodeSelector={"no": "such-node"})
    )
    upgrade = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13"}
    upgrade["Sec-WebSocket-Key"] = "dGhlIHNhbXBsZSBub25jZQ=="
    path = f"/api/v1/namespaces/{namespace}/pods/web/portforward"
    missing = raw(api, "GET", path, headers=upgrade)
    assert missing.status == 400 and missing.json["message"] == 'query parameter "port" is required'
    bad = raw(api, "GET", path, query=[("ports", "80,http")], headers=upgrade)
    assert bad.status == 400
    assert bad.json["message"] == 'unable to parse "80,http" as a port: invalid syntax'
    pending = raw(
        api,
        "GET",
        f"/api/v1/namespaces/{namespace}/pods/pending/portforward",
        query=[("ports", "80")],
        headers=upgrade,
    )
    assert pending.status == 400
    assert pending.json["message"] == "pod pending does not have a host assigned"
    gone = raw(api, "GET", f"/api/v1/namespaces/{namespace}/pods/nope/portforward")
    assert gone.status == 404 and gone.json["reason"] == "NotFound"
