"""The node shell (apps/terminal/nodeshell.py) against kubesim: only ``execNode`` holders get
one (refusals before any request reaches the cluster); the platform administrator's shell runs
on the node through a privileged debug pod, which exists while the session does and is deleted
however it ends; orphaned pods are cleaned up; the session is audited and recorded."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone
from kubernetes import client as kclient

from apps.audit.models import AuditEvent
from apps.terminal import nodeshell
from apps.terminal.models import TerminalSession
from apps.terminal.recording import decompress
from apps.terminal.tasks import clean_node_shells
from tests.factories import make_api_key

from .conftest import open_term, session_cookie

login = sync_to_async(session_cookie)

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

NODE = "node-1"


def shell_path(cluster, node=NODE) -> str:
    return f"/ws/clusters/{cluster.name}/nodes/{node}/shell?cols=100&rows=30"


def core_of(sim) -> kclient.CoreV1Api:
    config = kclient.Configuration(host=sim.url)
    config.ssl_ca_cert = sim.ca_file
    config.api_key = {"authorization": f"Bearer {sim.token}"}
    return kclient.CoreV1Api(kclient.ApiClient(config))


def shell_pods(sim) -> list:
    pods = core_of(sim).list_namespaced_pod("kube-system", label_selector=f"{nodeshell.LABEL}=true")
    return pods.items


def rows(model, **filters):
    return sync_to_async(lambda: list(model.objects.filter(**filters).order_by("pk")))()


async def refused(term, code: int) -> dict:
    assert await term.until_closed() == 4000 + code
    error = term.control("error")
    assert error["code"] == code
    return error


@pytest.fixture
def fast_start(settings):
    settings.TERMINAL_NODE_SHELL_START_TIMEOUT = 1


@pytest.fixture
def node_name(sim):
    names = [n.metadata.name for n in core_of(sim).list_node().items]
    assert names == [NODE]
    return NODE


# -- who may open a node shell -----------------------------------------------------------------
@pytest.mark.parametrize("who", ["tenant_admin", "member", "project_owner"])
async def test_tenant_personas_are_refused_before_any_cluster_request(
    cluster, sim, node_name, who, request
):
    user = await sync_to_async(request.getfixturevalue)(who)
    before = len(sim.requests())
    connected, term = await open_term(shell_path(cluster), await login(user))
    assert connected
    error = await refused(term, 403)
    assert f"may not execNode on cluster:{cluster.name}/node:{NODE}" in error["message"]
    assert sim.requests()[before:] == []
    denied = await rows(AuditEvent, action="execNode", outcome="denied")
    assert [(e.resource, e.status_code) for e in denied] == [
        (f"cluster:{cluster.name}/node:{NODE}", 403)
    ]
    assert shell_pods(sim) == []


async def test_tenant_admins_wildcard_gives_no_node_shell_even_with_an_api_key(
    cluster, sim, tenant_admin
):
    _, token = await sync_to_async(make_api_key)(tenant_admin)
    before = len(sim.requests())
    connected, term = await open_term(
        shell_path(cluster), headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    error = await refused(term, 403)
    assert "granted only by a policy that names it" in error["message"]
    assert sim.requests()[before:] == []


async def test_no_session_is_refused(cluster, sim):
    before = len(sim.requests())
    connected, term = await open_term(shell_path(cluster))
    error = await refused(term, 401)
    assert "sign in" in error["message"]
    assert sim.requests()[before:] == []


async def test_other_tenants_admin_is_told_the_cluster_does_not_exist(cluster, sim, other_user):
    before = len(sim.requests())
    connected, term = await open_term(shell_path(cluster), await login(other_user))
    error = await refused(term, 404)
    assert error["message"] == f"cluster {cluster.name} not found"
    assert sim.requests()[before:] == []


async def test_bad_origin_is_refused_at_the_handshake(cluster, sim, platform_admin):
    cookie = await login(platform_admin)
    before = len(sim.requests())
    connected, _term = await open_term(shell_path(cluster), cookie, origin="https://evil.example")
    assert not connected
    assert sim.requests()[before:] == []
    assert shell_pods(sim) == []


async def test_a_user_the_platform_admin_bound_to_exec_node_gets_a_shell(
    cluster, sim, node_name, tenant, platform_admin
):
    from apps.authz import services as authz
    from tests.factories import UserFactory

    def operator():
        user = UserFactory(tenant=tenant, username="nora")
        policy = authz.create_policy(
            actor=platform_admin,
            tenant=tenant,
            name="node-shell",
            statements=[
                {"actions": ["getCluster"], "resources": ["cluster:*"]},
                {"actions": ["execNode"], "resources": [f"cluster:{cluster.name}/node:*"]},
            ],
        )
        authz.create_binding(actor=platform_admin, tenant=tenant, user=user, policy=policy)
        return user

    user = await sync_to_async(operator)()
    connected, term = await open_term(shell_path(cluster), await login(user))
    await term.until_output(b"# ")
    pod = shell_pods(sim)[0]
    assert pod.metadata.labels[nodeshell.OWNER_LABEL] == "acme_nora"
    assert pod.metadata.annotations[nodeshell.OWNER_ANNOTATION] == "acme/nora"
    await term.type("exit\n")
    assert await term.until_closed() == 1000
    assert term.control("exit")["code"] == 0
    assert shell_pods(sim) == []


# -- the platform administrator's shell --------------------------------------------------------
async def test_platform_admin_gets_a_shell_on_the_node_and_the_pod_goes_at_exit(
    cluster, sim, node_name, platform_admin
):
    connected, term = await open_term(shell_path(cluster), await login(platform_admin))
    assert connected
    await term.until_output(b"# ")
    starting = term.control("starting")
    assert starting["node"] == NODE
    pod_name = starting["pod"].split("/", 1)[1]
    # the debug pod, while the session runs
    pods = shell_pods(sim)
    assert [p.metadata.name for p in pods] == [pod_name]
    pod = pods[0]
    assert pod.spec.node_name == NODE
    assert (pod.spec.host_pid, pod.spec.host_network, pod.spec.host_ipc) == (True, True, True)
    assert pod.spec.containers[0].security_context.privileged is True
    assert pod.spec.containers[0].image == "busybox:1.37"
    assert any(t.operator == "Exists" and t.key is None for t in pod.spec.tolerations)
    assert pod.metadata.labels[nodeshell.OWNER_LABEL] == "operator"
    assert pod.metadata.annotations[nodeshell.OWNER_ANNOTATION] == "operator"
    # a shell in the node's namespaces: the node's hostname
    await term.type("hostname\n")
    await term.until_output(f"{NODE}\r\n".encode())
    await term.type("exit 3\n")
    assert await term.until_closed() == 1000
    assert term.control("exit")["code"] == 3
    assert shell_pods(sim) == []

    [session] = await rows(TerminalSession)
    assert (session.node, session.namespace, session.pod) == (NODE, "kube-system", pod_name)
    assert session.command == nodeshell.COMMAND
    assert session.exit_code == 3
    assert session.resource == f"cluster:{cluster.name}/node:{NODE}"
    cast = decompress(bytes(session.recording))
    header, events = cast[0], cast[1:]
    assert (header["width"], header["height"], header["title"]) == (100, 30, f"node {NODE}")
    assert "hostname\n" in [data for _t, kind, data in events if kind == "i"]
    assert f"{NODE}\r\n" in "".join(data for _t, kind, data in events if kind == "o")
    audited = await rows(AuditEvent, action="execNode")
    messages = [e.message for e in audited]
    assert any(f"pod kube-system/{pod_name} created on node {NODE}" in m for m in messages)
    assert any(m.startswith(f"terminal session {session.pk} opened in node") for m in messages)
    assert any(
        f"terminal session {session.pk} closed" in m and "exit code 3" in m for m in messages
    )
    assert any(f"pod kube-system/{pod_name} deleted" in m for m in messages)
    assert {e.resource for e in audited} == {f"cluster:{cluster.name}/node:{NODE}"}


async def test_the_pod_goes_when_the_browser_disconnects(cluster, sim, node_name, platform_admin):
    connected, term = await open_term(shell_path(cluster), await login(platform_admin))
    await term.until_output(b"# ")
    assert len(shell_pods(sim)) == 1
    await term.ws.send_input({"type": "websocket.disconnect", "code": 1001})
    await term.ws.wait(10)
    assert shell_pods(sim) == []
    [session] = await rows(TerminalSession)
    assert session.close_reason == "closed by the browser"


async def test_the_pod_goes_when_the_cluster_cuts_the_shell(
    cluster, sim, node_name, platform_admin
):
    sim.faults.drop_exec(after_frames=1, times=1)  # the prompt, then the stream is cut
    connected, term = await open_term(shell_path(cluster), await login(platform_admin))
    await term.until_output(b"# ")
    await term.type("echo cut\n")
    assert await term.until_closed() == 1000
    assert term.control("exit")["reason"] in (
        "the cluster closed the connection",
        "the command ended",
        "connection lost",
    )
    assert shell_pods(sim) == []
    [session] = await rows(TerminalSession)
    assert session.ended_at is not None and session.exit_code is None
    [deleted] = [e for e in await rows(AuditEvent, action="execNode") if "deleted" in e.message]
    assert f"kube-system/{session.pod} deleted" in deleted.message


async def test_the_pod_goes_when_the_browser_leaves_while_it_starts(
    cluster, sim, node_name, platform_admin, settings
):
    settings.TERMINAL_NODE_SHELL_IMAGE = "busybox:doesnotexist"  # never runs
    connected, term = await open_term(shell_path(cluster), await login(platform_admin))
    while not term.controls:
        await term.next()
    assert term.controls[0]["type"] == "starting"
    assert len(shell_pods(sim)) == 1
    await term.ws.send_input({"type": "websocket.disconnect", "code": 1001})
    await term.ws.wait(10)
    assert shell_pods(sim) == []
    assert await rows(TerminalSession) == []


async def test_a_pod_that_does_not_start_is_reported_and_deleted(
    cluster, sim, node_name, platform_admin, settings, fast_start
):
    settings.TERMINAL_NODE_SHELL_IMAGE = "busybox:doesnotexist"
    connected, term = await open_term(shell_path(cluster), await login(platform_admin))
    error = await refused(term, 504)
    assert f"did not start on node {NODE} within 1s: ErrImagePull" in error["message"]
    assert shell_pods(sim) == []
    assert not [p for m, p in sim.requests() if p.endswith("/exec")]


async def test_a_not_ready_node_is_refused_without_a_pod(cluster, sim, node_name, platform_admin):
    sim.set_node_ready(NODE, False)
    before = len(sim.requests())
    connected, term = await open_term(shell_path(cluster), await login(platform_admin))
    error = await refused(term, 409)
    assert f"node {NODE} of cluster {cluster.name} is NotReady" in error["message"]
    assert sim.requests()[before:] == [("GET", f"/api/v1/nodes/{NODE}")]


async def test_a_node_that_goes_not_ready_leaves_the_pod_pending_and_is_reported(
    cluster, sim, node_name, platform_admin, fast_start, monkeypatch
):
    """The node was Ready when looked at and is NotReady by the time the pod is bound: kubesim
    keeps the pod Pending (no kubelet), the portal says why and deletes it."""
    real_create = nodeshell.create_pod

    def create_then_fail(grant, node):
        name = real_create(grant, node)
        sim.set_node_ready(node, False)
        return name

    monkeypatch.setattr(nodeshell, "create_pod", create_then_fail)
    connected, term = await open_term(shell_path(cluster), await login(platform_admin))
    error = await refused(term, 504)
    assert f"node {NODE} is NotReady" in error["message"]
    assert shell_pods(sim) == []


async def test_an_unknown_node_is_404(cluster, sim, platform_admin):
    connected, term = await open_term(shell_path(cluster, "ghost"), await login(platform_admin))
    error = await refused(term, 404)
    assert error["message"] == f"node ghost not found in cluster {cluster.name}"
    assert shell_pods(sim) == []


# -- orphans -----------------------------------------------------------------------------------
async def clean() -> int:
    """The beat entry, run as the in-process beat runs it (apps/core/periodic.py)."""
    return await sync_to_async(lambda: clean_node_shells.apply(throw=True).get())()


def _orphan(sim, name: str) -> None:
    body = nodeshell.pod_manifest(name, NODE, "acme/gone")
    core_of(sim).create_namespaced_pod("kube-system", body)


async def test_orphaned_pods_are_cleaned_up_and_held_ones_kept(
    cluster, sim, node_name, settings, platform_admin
):
    await sync_to_async(_orphan)(sim, "node-shell-old")
    await sync_to_async(_orphan)(sim, "node-shell-held")
    core_of(sim).create_namespaced_pod(
        "kube-system",
        {"metadata": {"name": "unlabelled"}, "spec": {"containers": [{"name": "c", "image": "x"}]}},
    )
    await sync_to_async(TerminalSession.objects.create)(
        tenant=cluster.tenant,
        user=platform_admin,
        username="operator",
        cluster=cluster,
        cluster_name=cluster.name,
        namespace="kube-system",
        pod="node-shell-held",
        node=NODE,
    )
    # young pods are left alone
    settings.TERMINAL_NODE_SHELL_ORPHAN_AGE = 600
    assert await clean() == 0
    assert len(shell_pods(sim)) == 2
    # old enough: the one no open session holds goes, audited
    settings.TERMINAL_NODE_SHELL_ORPHAN_AGE = 0
    time.sleep(1.1)
    assert await clean() == 1
    assert [p.metadata.name for p in shell_pods(sim)] == ["node-shell-held"]
    names = [p.metadata.name for p in core_of(sim).list_namespaced_pod("kube-system").items]
    assert "unlabelled" in names
    [event] = await rows(AuditEvent, action="execNode", channel="task")
    assert "orphaned node shell pod kube-system/node-shell-old of acme/gone deleted" in (
        event.message
    )
    # a session open past the absolute session timeout holds nothing
    await sync_to_async(TerminalSession.objects.filter(pod="node-shell-held").update)(
        started_at=timezone.now() - timedelta(seconds=settings.PORTAL_SESSION_ABSOLUTE_TIMEOUT + 5)
    )
    assert await clean() == 1
    assert shell_pods(sim) == []


async def test_the_beat_entry_runs_the_cleanup(cluster, sim, node_name, settings):
    from apps.core.periodic import Periodic

    await sync_to_async(_orphan)(sim, "node-shell-left")
    settings.TERMINAL_NODE_SHELL_ORPHAN_AGE = 0
    time.sleep(1.1)
    assert await sync_to_async(lambda: Periodic().run("node-shell-cleanup"))() is True
    assert shell_pods(sim) == []


async def test_an_unreachable_cluster_is_reported(cluster, sim, platform_admin):
    sim.faults.down()
    try:
        connected, term = await open_term(shell_path(cluster), await login(platform_admin))
        error = await refused(term, 502)
        assert f"Cluster {cluster.name} is unreachable" in error["message"]
    finally:
        sim.faults.up()
    [failed] = await rows(AuditEvent, action="execNode", outcome="failure")
    assert "unreachable" in failed.message


async def test_cleanup_of_an_unreachable_cluster_is_logged_not_raised(cluster, sim, caplog):
    sim.faults.down()
    try:
        assert await clean() == 0
    finally:
        sim.faults.up()
    assert f"node shell cleanup of cluster {cluster.name}" in caplog.text


async def test_label_values_are_valid():
    assert nodeshell.label_value("acme/alice@example.com") == "acme_alice_example.com"
    assert len(nodeshell.label_value("x" * 100)) == 63
