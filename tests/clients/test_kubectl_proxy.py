"""``kubectl proxy`` through the portal. The portal's kubeconfig names a server URL with a path
(``https://portal/k8s/clusters/<name>``); kubectl proxy drops that path unless told
``--append-server-path``, and then every request lands on the portal's own ``/api/…`` (its REST
API, which shares that prefix with Kubernetes' core group — so the portal cannot take the
need away by answering there). The real kubectl proxy and the real curl, end to end.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.live import *  # noqa: F403

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_state")]


def start_proxy(kubectl, *flags):
    """kubectl proxy on a free port; (process, base URL) once it serves."""
    proc = kubectl.popen("proxy", "--port=0", *flags, text=True)
    line = proc.stdout.readline()
    match = re.match(r"Starting to serve on (127\.0\.0\.1:\d+)", line)
    if not match:
        proc.kill()
        raise AssertionError(f"kubectl proxy did not start: {line!r} {proc.stderr.read()}")
    return proc, f"http://{match.group(1)}"


def curl(url: str) -> tuple[int, str]:
    proc = subprocess.run(
        ["curl", "-sS", "-w", "\n%{http_code}", url],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert proc.returncode == 0, proc.stderr
    body, _, status = proc.stdout.rpartition("\n")
    return int(status), body


@pytest.fixture
def proxied(bob):
    started = []

    def start(*flags):
        proc, url = start_proxy(bob, *flags)
        started.append(proc)
        return url

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(10)


def test_kubectl_proxy_with_append_server_path_lists_pods(proxied, namespace, running_pod):
    url = proxied("--append-server-path")
    status, body = curl(f"{url}/api/v1/namespaces/{namespace}/pods")
    assert status == 200, body
    pods = json.loads(body)
    assert pods["kind"] == "PodList"
    assert [p["metadata"]["name"] for p in pods["items"]] == [running_pod]
    assert pods["items"][0]["status"]["phase"] == "Running"
    # One pod by name, and the discovery kubectl and dashboards start from.
    status, body = curl(f"{url}/api/v1/namespaces/{namespace}/pods/{running_pod}")
    assert (status, json.loads(body)["metadata"]["name"]) == (200, running_pod)
    status, body = curl(f"{url}/apis/apps/v1")
    assert status == 200
    assert "deployments" in {r["name"] for r in json.loads(body)["resources"]}


def test_kubectl_proxy_is_audited_as_the_signed_in_user(proxied, namespace, running_pod, member):
    """What passes through kubectl proxy is the key holder's request (curl's own User-Agent
    relayed), authorized and audited as them."""
    url = proxied("--append-server-path")
    status, _ = curl(f"{url}/api/v1/namespaces/{namespace}/pods")
    assert status == 200
    events = proxy_events(user_agent__startswith="curl/")  # noqa: F405
    assert [(e.user_id, e.method, e.status_code) for e in events] == [(member.pk, "GET", 200)]
    assert events[0].path.endswith(f"/api/v1/namespaces/{namespace}/pods")


def test_kubectl_proxy_without_append_server_path_reaches_the_portal_not_the_cluster(
    proxied, namespace, running_pod
):
    """Without the flag the cluster's path is lost: /api/v1/… is the portal's REST API, which
    has no such route — a 404 in the portal's own error shape, never a pod list."""
    url = proxied()
    status, body = curl(f"{url}/api/v1/namespaces/{namespace}/pods")
    assert status == 404
    answer = json.loads(body)
    assert answer.get("kind") != "PodList"
    assert answer["code"] == "not_found"
