"""Sessions through the portal with the real kubectl 1.37: port-forward (SPDY/3.1 tunnelled in a
WebSocket, relayed frame by frame and audited), the error old clients get, and ``kubectl cp``."""

from __future__ import annotations

import pytest
import yaml

from tests.live import *  # noqa: F403
from tests.live import proxy_events, wait_for
from tests.sessions import curl, port_forward

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_state")]


def web_manifests(name: str = "web") -> str:
    labels = {"app": name}
    return yaml.safe_dump_all(
        [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx:1.27",
                            "ports": [{"containerPort": 80, "name": "http"}],
                        }
                    ]
                },
            },
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name},
                "spec": {"selector": labels, "ports": [{"port": 8080, "targetPort": "http"}]},
            },
        ]
    )


@pytest.fixture
def web_pod(bob, namespace):
    bob("apply", "-n", namespace, "-f", "-", stdin=web_manifests())
    bob("wait", "-n", namespace, "--for=condition=Ready", "pod/web", "--timeout=20s")
    return "web"


def test_port_forward_through_the_portal_answers_and_is_audited(bob, namespace, web_pod, cluster):
    """kubectl port-forward pod/web :80 through the portal: curl gets the page the pod's port
    serves (twice: one WebSocket, two SPDY stream pairs); the session is audited as
    portforwardPod when it opens and closes."""
    with port_forward(bob.popen, "-n", namespace, "pod/web", ":80") as pf:
        local = pf.forwarded[80]
        first, second = curl(local, "/one"), curl(local, "/two")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("HTTP/1.1 200 OK")
    assert f"<h1>pod {namespace}/web port 80</h1>" in first.stdout
    assert "answered GET /one HTTP/1.1" in first.stdout
    assert "answered GET /two HTTP/1.1" in second.stdout

    resource = f"cluster:{cluster.name}/namespace:{namespace}/pod:web"
    opened = wait_for(
        lambda: proxy_events(action="portforwardPod", message__contains="opened").first(), "open"
    )
    assert opened.resource == resource and opened.status_code == 101
    assert "portforward session opened (SPDY/3.1+portforward.k8s.io)" in opened.message
    closed = wait_for(
        lambda: proxy_events(action="portforwardPod", message__contains="closed").first(),
        "close",
    )
    assert closed.user.username == "bob" and "exit code" not in closed.message


def test_port_forward_to_a_service_resolves_to_its_pod(bob, namespace, web_pod):
    """svc/web 8080 → targetPort "http" → the pod's port 80, resolved by kubectl."""
    with port_forward(bob.popen, "-n", namespace, "svc/web", ":8080") as pf:
        # kubectl names the pod's port it resolved to
        assert list(pf.forwarded) == [80]
        page = curl(pf.forwarded[80], "/via-service")
    assert f"<h1>pod {namespace}/web port 80</h1>" in page.stdout
    assert "answered GET /via-service" in page.stdout


def test_port_forward_to_an_undeclared_port_reports_the_runtime_error(bob, namespace, web_pod):
    """A port no container declares: curl's connection is closed empty and kubectl reports the
    container runtime's refusal (relayed unchanged through the portal), then gives up."""
    with port_forward(bob.popen, "-n", namespace, "pod/web", ":9999") as pf:
        refused = curl(pf.forwarded[9999])
        pf.wait(10)
        stderr = pf.stderr.read().decode()
    assert refused.returncode == 52  # curl: empty reply from server
    assert "error forwarding port 9999 to pod" in stderr
    assert "dial tcp4 127.0.0.1:9999: connect: connection refused" in stderr
    assert "lost connection to pod" in stderr


def test_spdy_only_clients_get_a_true_error(bob, namespace, web_pod):
    """kubectl with WebSockets switched off falls back to a bare SPDY upgrade, which the
    portal does not relay: kubectl prints the portal's reason (and how to fix it)."""
    bob.env["KUBECTL_PORT_FORWARD_WEBSOCKETS"] = "false"
    proc = bob("port-forward", "-n", namespace, "pod/web", ":80", check=False)
    assert proc.returncode != 0
    assert "relays portforward over WebSocket only, not SPDY" in proc.stderr
    assert "kubectl 1.31 or newer, without KUBECTL_PORT_FORWARD_WEBSOCKETS=false" in proc.stderr
    bob.env["KUBECTL_REMOTE_COMMAND_WEBSOCKETS"] = "false"
    proc = bob("exec", "-n", namespace, "web", "--", "echo", "hi", check=False)
    assert proc.returncode != 0 and proc.stdout == ""
    assert "relays exec over WebSocket only, not SPDY" in proc.stderr
    assert "KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false" in proc.stderr
    refused = proxy_events(action="portforwardPod", status_code=400).first()
    assert refused is not None and "not SPDY" in refused.message


def test_kubectl_cp_through_the_portal_both_ways(bob, namespace, running_pod, tmp_path, cluster):
    """kubectl cp runs tar through the portal's exec relay: a binary file goes in and comes
    back byte-identical; both copies are audited as exec sessions that ran tar."""
    blob = bytes(range(256)) * 64
    (tmp_path / "in.bin").write_bytes(blob)
    bob("cp", str(tmp_path / "in.bin"), f"{namespace}/{running_pod}:/tmp/in.bin")
    assert bob("exec", "-n", namespace, running_pod, "--", "wc", "-c", "/tmp/in.bin").stdout == (
        f"{len(blob):>7}\n"
    )
    bob("cp", f"{namespace}/{running_pod}:/tmp/in.bin", str(tmp_path / "out.bin"))
    assert (tmp_path / "out.bin").read_bytes() == blob

    def closed_tar_sessions():
        rows = list(
            proxy_events(action="execPod", path__contains="=tar", message__contains="closed")
        )
        return rows if len(rows) == 2 else None

    tars = wait_for(closed_tar_sessions, "both tar sessions audited")
    assert {"command=-xmf", "command=cf"} <= {part for row in tars for part in row.path.split("&")}
    assert all("exit code 0" in row.message for row in tars)
