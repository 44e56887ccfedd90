"""kubectl through the portal: the real kubectl 1.37 against the portal's ASGI app served by
uvicorn (HTTPS, a background thread), proxying to a kubesim cluster imported into the tenant.

Two users with different permissions (platform user "bob", read-only "rhea"), another
tenant's administrator ("mallory"), impersonation attempts, the cluster going down or slow,
dead API keys, and the audit trail of it all.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

import pytest
import requests
import yaml
from django.utils import timezone

from apps.accounts.models import APIKey
from tests.factories import make_api_key
from tests.live import *  # noqa: F403
from tests.live import (
    KUBECTL,
    Kubectl,
    assert_no_secret_in_audit,
    deployment_manifest,
    pod_manifest,
    proxy_events,
    wait_for,
)
from tests.pty_session import PtySession

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_state")]


# -- a kubectl session ---------------------------------------------------------------------------
def test_kubectl_session_reads_writes_and_is_audited(
    bob, namespace, running_pod, live_cluster, cluster
):
    """get -A, apply, get -o json, logs, exec, delete through the proxy, each audited once with
    the user, the key, the action and resource, and never a token."""
    table = bob("get", "pods", "-A").stdout.splitlines()
    assert table[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert any(line.split()[:2] == [namespace, "box"] for line in table[1:])

    applied = bob("apply", "-n", namespace, "-f", "-", stdin=deployment_manifest("web"))
    assert "deployment.apps/web created" in applied.stdout
    deploy = json.loads(bob("get", "deploy", "web", "-n", namespace, "-o", "json").stdout)
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"

    live_cluster.append_log(namespace, "box", "main", "hello-from-the-log")
    assert "hello-from-the-log" in bob("logs", "-n", namespace, "box").stdout
    assert bob("exec", "-n", namespace, "box", "--", "echo", "hi").stdout == "hi\n"
    assert "deleted" in bob("delete", "deploy", "web", "-n", namespace, "--wait=false").stdout

    key = APIKey.objects.get(prefix=bob.token.split("_")[1])
    created = wait_for(
        lambda: proxy_events(action="createDeployment", status_code=201).first(), "create audit"
    )
    # judged on the name in the body, the object the cluster creates
    assert created.resource == f"cluster:{cluster.name}/namespace:{namespace}/deployment:web"
    assert created.user.username == "bob" and created.api_key_id == key.pk
    assert created.method == "POST" and created.source_ip == "127.0.0.1"
    assert created.user_agent.startswith("kubectl/")
    assert created.request_body["metadata"]["name"] == "web"
    deleted = wait_for(lambda: proxy_events(action="deleteDeployment").first(), "delete audit")
    assert deleted.status_code == 200 and deleted.outcome == "success"
    assert deleted.resource.endswith(f"/namespace:{namespace}/deployment:web")
    assert proxy_events(action="getPodLog", status_code=200).exists()
    sessions = wait_for(
        lambda: list(proxy_events(action="execPod").order_by("id")) or None, "exec audit"
    )
    closed = wait_for(
        lambda: proxy_events(action="execPod", message__contains="closed").first(), "close"
    )
    assert "opened" in sessions[0].message and "exit code 0" in closed.message
    assert proxy_events(action="listPods", resource__endswith="/namespace:*/pod:*").exists()
    assert_no_secret_in_audit(bob.token, live_cluster.token)


def test_logs_follow_streams_chunk_by_chunk(bob, namespace, running_pod, live_cluster):
    live_cluster.append_log(namespace, "box", "main", "first-line")
    proc = bob.popen("logs", "-f", "-n", namespace, "box")
    try:
        wait_for(lambda: b"first-line" in proc.stdout.readline(), "the first line")
        live_cluster.append_log(namespace, "box", "main", "streamed-line")
        wait_for(lambda: b"streamed-line" in proc.stdout.readline(), "the streamed line")
    finally:
        proc.kill()
        proc.wait()
    # The upstream stream is closed and the request audited once kubectl hangs up.
    event = wait_for(
        lambda: proxy_events(action="getPodLog", path__contains="follow=true").first(),
        "the audit row of the closed stream",
    )
    assert event.status_code == 200 and "closed by the client" in event.message


def test_watch_streams_events(bob, namespace, running_pod):
    proc = bob.popen("get", "pods", "-w", "-n", namespace)
    try:
        assert proc.stdout.readline().split()[:1] == [b"NAME"]
        assert proc.stdout.readline().split()[:1] == [b"box"]
        bob("apply", "-n", namespace, "-f", "-", stdin=pod_manifest("late"))
        wait_for(lambda: proc.stdout.readline().startswith(b"late"), "the new pod's event")
    finally:
        proc.kill()
        proc.wait()
    # (kubectl wait watched pod:box before; this is the -w watch of every pod)
    event = wait_for(
        lambda: proxy_events(action="watchPods", resource__endswith="/pod:*").first(),
        "the watch audit",
    )
    assert event.resource.endswith(f"/namespace:{namespace}/pod:*")
    assert "closed by the client" in event.message


def test_exec_interactive_through_a_pty(bob, namespace, running_pod):
    session = PtySession([KUBECTL, "exec", "-it", "-n", namespace, "box", "--", "sh"], bob.env)
    session.read_until(b"# ")
    session.type(b"echo hello-from-$HOSTNAME\r")
    session.read_until(b"hello-from-box\r\n")
    session.type(b"exit 5\r")
    code = session.finish()
    assert code == 5, session.output
    assert b"hello-from-box" in session.output
    closed = wait_for(
        lambda: proxy_events(action="execPod", message__contains="closed").first(), "close"
    )
    assert "exit code 5" in closed.message
    assert proxy_events(action="execPod", message__contains="opened").count() == 1


# -- two users, two tenants ------------------------------------------------------------------------
def test_read_only_user_reads_but_may_not_delete_or_exec(
    bob, kubectl_as, read_only_user, namespace, running_pod
):
    rhea = kubectl_as(read_only_user)
    bob("apply", "-n", namespace, "-f", "-", stdin=deployment_manifest("api"))
    assert "api" in rhea("get", "deploy", "-n", namespace).stdout
    denied = rhea("delete", "deploy", "api", "-n", namespace, check=False)
    assert denied.returncode != 0
    assert "Error from server (Forbidden)" in denied.stderr
    assert 'portal user "rhea" may not deleteDeployment on cluster:' in denied.stderr
    assert f"/namespace:{namespace}/deployment:api" in denied.stderr
    assert "api" in bob("get", "deploy", "-n", namespace).stdout  # still there
    no_exec = rhea("exec", "-n", namespace, "box", "--", "echo", "hi", check=False)
    assert no_exec.returncode != 0 and "may not execPod" in no_exec.stderr
    event = wait_for(
        lambda: proxy_events(action="deleteDeployment", user=read_only_user).first(), "audit"
    )
    assert event.status_code == 403 and event.outcome == "denied"


def test_other_tenants_user_gets_not_found(portal, cluster, other_user, tmp_path):
    _, plaintext = make_api_key(other_user)
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "c",
                "cluster": {
                    "server": f"{portal.url}/k8s/clusters/{cluster.name}",
                    "certificate-authority-data": base64.b64encode(portal.ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": "u", "user": {"token": plaintext}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
    mallory = Kubectl(yaml.safe_dump(config), tmp_path / "mallory", plaintext)
    proc = mallory("get", "--raw", "/api/v1/namespaces/default/pods", check=False)
    assert proc.returncode != 0
    assert f'clusters.portal \\"{cluster.name}\\" not found' in proc.stderr or (
        f'clusters.portal "{cluster.name}" not found' in proc.stderr
    )
    response = requests.get(
        f"{portal.url}/k8s/clusters/{cluster.name}/api/v1/pods",
        headers={"Authorization": f"Bearer {plaintext}"},
        verify=portal.ca_file,
        timeout=10,
    )
    assert response.status_code == 404
    assert response.json()["message"] == f'clusters.portal "{cluster.name}" not found'
    assert response.json()["kind"] == "Status"


def test_impersonation_headers_never_reach_the_cluster(
    kube_sim, live_cluster, bob, kubectl_as, read_only_user, namespace, running_pod
):
    seen: list[dict] = []
    api = kube_sim._apis[live_cluster.name]
    original = api.handle

    async def recording(http, path):
        seen.append({k.lower(): v for k, v in http.headers.items()})
        return await original(http, path)

    api.handle = recording
    try:
        out = bob("--as=admin", "--as-group=system:masters", "get", "pods", "-n", namespace)
        assert "box" in out.stdout
        rhea = kubectl_as(read_only_user)
        denied = rhea("--as=system:admin", "delete", "pod", "box", "-n", namespace, check=False)
    finally:
        api.handle = original
    assert seen, "the cluster saw no request"
    for headers in seen:
        assert not any(name.startswith("impersonate-") for name in headers)
        assert headers["authorization"] == f"Bearer {live_cluster.token}"
        assert "cookie" not in headers
    assert denied.returncode != 0 and "may not deletePod" in denied.stderr
    bob("get", "pod", "box", "-n", namespace)  # still there


# -- failures ------------------------------------------------------------------------------------
def test_cluster_down_mid_session_is_503_naming_the_cluster(bob, namespace, cluster, live_cluster):
    bob("get", "pods", "-n", namespace)
    live_cluster.faults.down()
    proc = bob("get", "pods", "-n", namespace, check=False, timeout=20)
    assert proc.returncode != 0
    assert f"Cluster {cluster.name} is unreachable" in proc.stderr
    assert "Internal" not in proc.stderr
    event = wait_for(lambda: proxy_events(status_code=503).first(), "503 audit")
    assert event.outcome == "failure" and cluster.name in event.message
    live_cluster.faults.up()
    bob("get", "pods", "-n", namespace)


def test_watch_dropped_by_the_cluster_is_cut_for_the_client(
    portal, bob, namespace, running_pod, cluster, live_cluster
):
    """The cluster cuts a watch mid-stream: the client's stream ends without the closing
    chunk (so it knows to re-list), never with a clean end, and the cut is audited."""
    live_cluster.faults.drop_watch(after_events=1)
    url = f"{portal.url}/k8s/clusters/{cluster.name}/api/v1/namespaces/{namespace}/pods"
    response = requests.get(
        url,
        params={"watch": "1"},
        headers={"Authorization": f"Bearer {bob.token}"},
        verify=portal.ca_file,
        stream=True,
        timeout=10,
    )
    assert response.status_code == 200
    received = b""
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        for chunk in response.iter_content(chunk_size=None):
            received += chunk
    events = [json.loads(line) for line in received.splitlines() if line.strip()]
    assert events and events[0]["type"] == "ADDED"
    event = wait_for(
        lambda: proxy_events(action="watchPods", message__contains="cut by the cluster").first(),
        "the cut watch's audit",
    )
    assert event.status_code == 200


def test_slow_cluster_is_a_timeout_not_a_500(
    portal, bob, namespace, cluster, live_cluster, settings
):
    settings.PORTAL_PROXY_READ_TIMEOUT = 0.5
    live_cluster.faults.delay(2.0, path=f"/namespaces/{namespace}/configmaps")
    started = time.monotonic()
    proc = bob("get", "configmaps", "-n", namespace, check=False, timeout=20)
    assert proc.returncode != 0
    assert f"Cluster {cluster.name} is unreachable" in proc.stderr
    assert "within 0.5s" in proc.stderr
    assert time.monotonic() - started < 10
    response = requests.get(
        f"{portal.url}/k8s/clusters/{cluster.name}/api/v1/namespaces/{namespace}/configmaps",
        headers={"Authorization": f"Bearer {bob.token}"},
        verify=portal.ca_file,
        timeout=10,
    )
    assert response.status_code == 503
    assert response.json()["reason"] == "ServiceUnavailable"


def test_dead_api_keys_are_401(portal, bob, cluster, member):
    url = f"{portal.url}/k8s/clusters/{cluster.name}/api/v1/namespaces"

    def get(token):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(url, headers=headers, verify=portal.ca_file, timeout=10)

    assert get(bob.token).status_code == 200
    key = APIKey.objects.get(prefix=bob.token.split("_")[1])
    APIKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    expired = get(bob.token)
    assert expired.status_code == 401
    assert expired.json()["kind"] == "Status" and "expired" in expired.json()["message"]
    proc = bob("get", "pods", check=False)
    assert proc.returncode != 0 and "You must be logged in to the server" in proc.stderr

    _, fresh = make_api_key(member)
    APIKey.objects.filter(prefix=fresh.split("_")[1]).update(disabled=True)
    assert "disabled" in get(fresh).json()["message"]
    assert get("not-a-key").status_code == 401
    assert get(None).status_code == 401
    assert proxy_events(status_code=401).count() >= 4
    assert_no_secret_in_audit(bob.token, fresh)


def test_spdy_upgrades_and_non_resource_paths_are_refused(portal, bob, cluster):
    base = f"{portal.url}/k8s/clusters/{cluster.name}"
    auth = {"Authorization": f"Bearer {bob.token}"}
    metrics = requests.get(f"{base}/metrics", headers=auth, verify=portal.ca_file, timeout=10)
    assert metrics.status_code == 403 and "not available" in metrics.json()["message"]
    spdy = requests.post(
        f"{base}/api/v1/namespaces/default/pods/x/exec?command=sh",
        headers={**auth, "Connection": "Upgrade", "Upgrade": "SPDY/3.1"},
        verify=portal.ca_file,
        timeout=10,
    )
    assert spdy.status_code == 400
    assert "exec over WebSocket only, not SPDY" in spdy.json()["message"]
