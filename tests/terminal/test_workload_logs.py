"""Live logs of many streams (apps/terminal/logs.py) against kubesim: every pod of a workload
interleaved with ``[pod/container]`` prefixes, every container of one pod (``container=*``),
who may follow (refused before the cluster is asked; a pod the user may not read left out),
pods that appear while following, the stream cap, the bound on what a browser that does not
read costs, and reading logs counting as activity on the console session."""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from kubernetes import client as kclient

from apps.audit.models import AuditEvent
from apps.authz.models import Binding, Policy
from apps.terminal.logs import WorkloadLogsConsumer
from tests.factories import make_api_key

from .conftest import DUO, _api, open_term, running_pods, scale, session_cookie
from .test_logs import SlowBrowser, log_requests

login = sync_to_async(session_cookie)

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.usefixtures("close_upstreams"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def quiet(deployment, sim):
    """The controller stops: only the test's lines are written from now on."""
    sim.set_controller(False)
    return deployment


def workload_path(cluster, query="tailLines=0", namespace="team-a", kind="deployments", name="api"):
    return (
        f"/ws/clusters/{cluster.name}/namespaces/{namespace}/workloads/{kind}/{name}/logs?{query}"
    )


def all_lines(term) -> list[str]:
    return [line for c in term.controls if c.get("type") == "log" for line in c["lines"]]


def notices(term) -> list[str]:
    return [c["message"] for c in term.controls if c.get("type") == "notice"]


def following(term) -> bool:
    """The first streams are open (the server says so once they are)."""
    return any(n.startswith("following ") for n in notices(term))


async def until(term, predicate, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, term.controls
        try:
            await term.next(max(deadline - time.monotonic(), 0.01))
        except TimeoutError:
            pass


# -- who may follow ----------------------------------------------------------------------------
async def test_refused_before_the_cluster_is_asked(cluster, sim, project_member, other_user):
    before = len(await sync_to_async(sim.requests)())
    _, term = await open_term(workload_path(cluster))
    assert await term.until_closed() == 4401
    # another project's namespace: get Deployment is judged before anything is read
    _, term = await open_term(
        workload_path(cluster, namespace="team-b"), await login(project_member)
    )
    assert await term.until_closed() == 4403
    message = term.control("error")["message"]
    assert f"may not getDeployment on cluster:{cluster.name}/namespace:team-b/deployment:api" in (
        message
    )
    _, term = await open_term(workload_path(cluster), await login(other_user))
    assert await term.until_closed() == 4404
    assert term.control("error")["message"] == f"cluster {cluster.name} not found"
    assert (await sync_to_async(sim.requests)())[before:] == []
    denied = await sync_to_async(list)(
        AuditEvent.objects.filter(action="getPodLog").order_by("username")
    )
    assert [(e.username, e.status_code, e.outcome) for e in denied] == [
        ("acme/pete", 403, "denied"),
        ("globex/mallory", 404, "denied"),
    ]


async def test_no_pod_log_permission_is_refused_before_the_cluster(cluster, sim, tenant):
    from tests.factories import UserFactory

    def reader_without_logs():
        policy = Policy.objects.create(
            tenant=tenant,
            name="no-logs",
            statements=[
                {"actions": ["get*", "list*", "watch*"], "resources": ["*"], "effect": "allow"},
                {"actions": ["getPodLog"], "resources": ["*"], "effect": "deny"},
            ],
        )
        user = UserFactory(tenant=tenant, username="nolog")
        Binding.objects.create(tenant=tenant, user=user, policy=policy)
        return user

    user = await sync_to_async(reader_without_logs)()
    before = len(await sync_to_async(sim.requests)())
    _, term = await open_term(workload_path(cluster), await login(user))
    assert await term.until_closed() == 4403
    assert "may not getPodLog on" in term.control("error")["message"]
    assert (await sync_to_async(sim.requests)())[before:] == []


async def test_unknown_workload_and_unreachable_cluster_are_refused_with_the_reason(
    cluster, sim, member
):
    cookie = await login(member)
    _, term = await open_term(workload_path(cluster, name="nope"), cookie)
    assert await term.until_closed() == 4404
    assert term.control("error")["message"] == (
        f"cluster {cluster.name} refused the Deployment team-a/nope "
        '(404: deployments.apps "nope" not found)'
    )
    sim.faults.down()
    try:
        _, term = await open_term(workload_path(cluster), cookie)
        assert await term.until_closed() == 4502
        assert f"Cluster {cluster.name} is unreachable" in term.control("error")["message"]
    finally:
        sim.faults.up()
    failed = await sync_to_async(list)(
        AuditEvent.objects.filter(action="getPodLog").order_by("status_code")
    )
    assert [(e.status_code, e.outcome) for e in failed] == [(404, "denied"), (502, "failure")]


async def test_a_pod_the_user_may_not_read_is_left_out(quiet, cluster, sim, member, tenant):
    first, second = quiet

    def deny_first():
        policy = Policy.objects.create(
            tenant=tenant,
            name="not-first",
            statements=[
                {
                    "actions": ["getPodLog"],
                    "resources": [f"cluster:*/namespace:team-a/pod:{first}"],
                    "effect": "deny",
                }
            ],
        )
        Binding.objects.create(tenant=tenant, user=member, policy=policy)

    await sync_to_async(deny_first)()
    _, term = await open_term(workload_path(cluster), await login(member))
    await until(term, lambda: following(term))
    assert f"[{first}] left out: you may not getPodLog on this pod" in notices(term)
    await sync_to_async(sim.append_log)("team-a", first, "app", "secret-line")
    await sync_to_async(sim.append_log)("team-a", second, "app", "open-line")
    await until(term, lambda: f"[{second}/app] open-line" in all_lines(term))
    assert all("secret-line" not in line for line in all_lines(term))
    assert [p for p in log_requests(sim) if "/pods/" in p] == [
        f"/api/v1/namespaces/team-a/pods/{second}/log"
    ]
    await term.ws.disconnect()


# -- following ---------------------------------------------------------------------------------
async def test_lines_of_every_pod_arrive_interleaved_with_prefixes(quiet, cluster, sim, member):
    first, second = quiet
    _, term = await open_term(workload_path(cluster), await login(member))
    await until(term, lambda: following(term))
    assert notices(term)[0] == "following the pods of Deployment api (app=api): 2 log streams"
    for i in range(3):
        await sync_to_async(sim.append_log)("team-a", first, "app", f"one-{i}")
        await sync_to_async(sim.append_log)("team-a", second, "app", f"two-{i}")
    await until(term, lambda: len(all_lines(term)) >= 6)
    got = all_lines(term)
    assert [line for line in got if line.startswith(f"[{first}/app] ")] == [
        f"[{first}/app] one-{i}" for i in range(3)
    ]
    assert [line for line in got if line.startswith(f"[{second}/app] ")] == [
        f"[{second}/app] two-{i}" for i in range(3)
    ]
    assert len(got) == 6
    await term.ws.disconnect()
    (opened,) = await sync_to_async(list)(AuditEvent.objects.filter(action="getPodLog"))
    assert opened.resource == f"cluster:{cluster.name}/namespace:team-a/deployment:api"
    assert opened.message == (
        f"live log stream of Deployment team-a/api opened: pods matching app=api "
        f"({first}, {second})"
    )


async def test_a_pod_that_appears_is_followed_and_one_that_goes_ends(
    deployment, cluster, sim, member
):
    _, term = await open_term(workload_path(cluster, query=""), await login(member))
    for pod in deployment:
        await until(term, lambda pod=pod: any(f"[{pod}/app] " in x for x in all_lines(term)))
    await sync_to_async(scale)(sim, 3)
    (new,) = set(await sync_to_async(running_pods)(sim, count=3)) - set(deployment)
    # the start-up lines of the new pod's container, seen by the watch and followed
    await until(term, lambda: f"[{new}/app] INFO busybox: listening on :8080" in all_lines(term))
    await sync_to_async(scale)(sim, 2)
    remaining = set(await sync_to_async(running_pods)(sim, count=2))
    (gone,) = {*deployment, new} - remaining
    await until(
        term, lambda: any(n.startswith(f"[{gone}/app] the log stream ended") for n in notices(term))
    )
    await term.ws.disconnect()


async def test_a_statefulset_pod_recreated_under_its_name_is_followed_again(cluster, sim, member):
    body = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "replicas": 1,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "pg", "image": "busybox:1.37"}]},
            },
        },
    }

    def create():
        with _api(sim) as api:
            kclient.AppsV1Api(api).create_namespaced_stateful_set("team-a", body)

    def delete_pod():
        with _api(sim) as api:
            kclient.CoreV1Api(api).delete_namespaced_pod("db-0", "team-a")

    await sync_to_async(create)()
    await sync_to_async(running_pods)(sim, selector="app=db", count=1)
    path = workload_path(cluster, query="", kind="statefulsets", name="db")
    _, term = await open_term(path, await login(member))
    await until(term, lambda: "[db-0/pg] INFO busybox: listening on :8080" in all_lines(term))
    await sync_to_async(delete_pod)()
    await until(
        term, lambda: any(n.startswith("[db-0/pg] the log stream ended") for n in notices(term))
    )
    # the controller makes db-0 again: its start-up lines come a second time
    await until(
        term,
        lambda: all_lines(term).count("[db-0/pg] INFO busybox: listening on :8080") == 2,
        timeout=20,
    )
    await term.ws.disconnect()


async def test_every_container_of_a_pod_with_container_prefixes(cluster, sim, member):
    with _api(sim) as api:
        await sync_to_async(kclient.CoreV1Api(api).create_namespaced_pod)("team-a", DUO)
    await sync_to_async(running_pods)(sim, selector="", count=2)  # web and duo
    sim.set_controller(False)
    path = f"/ws/clusters/{cluster.name}/namespaces/team-a/pods/duo/logs?container=*&tailLines=0"
    _, term = await open_term(path, await login(member))
    await until(term, lambda: following(term))
    await sync_to_async(sim.append_log)("team-a", "duo", "main", "from-main")
    await sync_to_async(sim.append_log)("team-a", "duo", "side", "from-side")
    await until(term, lambda: len(all_lines(term)) >= 2)
    assert sorted(all_lines(term)) == ["[main] from-main", "[side] from-side"]
    assert sorted(log_requests(sim)) == ["/api/v1/namespaces/team-a/pods/duo/log"] * 2
    await sync_to_async(sim.call)(lambda c: c.logs.stop(("team-a", "duo", "main")))
    await sync_to_async(sim.call)(lambda c: c.logs.stop(("team-a", "duo", "side")))
    assert await term.until_closed() == 1000
    assert term.control("end")["reason"] == "every container's log stream ended"
    assert sorted(notices(term)) == [
        "[main] the log stream ended (the container stopped or the pod went)",
        "[side] the log stream ended (the container stopped or the pod went)",
        "following every container of duo: main, side",
    ]


async def test_streams_past_the_cap_wait_with_a_notice(quiet, cluster, sim, member, settings):
    settings.TERMINAL_LOG_MAX_STREAMS = 1
    first, second = quiet
    _, term = await open_term(workload_path(cluster), await login(member))
    await until(term, lambda: any("not followed yet" in n for n in notices(term)))
    (waiting,) = [n for n in notices(term) if "not followed yet" in n]
    assert waiting == (
        f"[{second}/app] not followed yet: one socket follows at most 1 log streams "
        "(TERMINAL_LOG_MAX_STREAMS); it starts when another ends"
    )
    await sync_to_async(sim.append_log)("team-a", first, "app", "first-line")
    await until(term, lambda: f"[{first}/app] first-line" in all_lines(term))
    assert [p for p in log_requests(sim) if "/pods/" in p] == [
        f"/api/v1/namespaces/team-a/pods/{first}/log"
    ]
    # the first stream ends: the waiting one takes its slot
    await sync_to_async(sim.call)(lambda c: c.logs.stop(("team-a", first, "app")))
    await asyncio.sleep(0.5)
    await sync_to_async(sim.append_log)("team-a", second, "app", "second-line")
    await until(term, lambda: f"[{second}/app] second-line" in all_lines(term))
    await term.ws.disconnect()


async def test_a_browser_that_does_not_read_costs_at_most_the_queue(
    quiet, cluster, sim, member, settings
):
    settings.TERMINAL_LOG_QUEUE = 50
    first, second = quiet
    _, token = await sync_to_async(make_api_key)(member)
    scope = {
        "type": "websocket",
        "path": workload_path(cluster).split("?")[0],
        "query_string": b"tailLines=0",
        "headers": [
            (b"origin", b"http://localhost"),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        "subprotocols": [],
        "client": ("127.0.0.1", 5000),
        "url_route": {
            "kwargs": {
                "cluster": cluster.name,
                "namespace": "team-a",
                "kind": "deployments",
                "name": "api",
            }
        },
    }
    browser = SlowBrowser()
    await browser.inbox.put({"type": "websocket.connect"})
    app = asyncio.ensure_future(WorkloadLogsConsumer()(scope, browser.receive, browser.send))
    await browser.until(lambda: any(c["type"] == "notice" for c in browser.controls()))
    await asyncio.sleep(0.5)  # both pods' streams are open

    browser.reading.clear()  # the browser stops reading
    await sync_to_async(sim.append_log)("team-a", first, "app", "blocker")
    await asyncio.sleep(0.3)  # the server took "blocker" and is stuck sending it

    def flood(c):
        for i in range(250):
            c.logs.append(("team-a", first, "app"), f"n-{i}")
            c.logs.append(("team-a", second, "app"), f"n-{i}")

    await sync_to_async(sim.call)(flood)
    await asyncio.sleep(1.0)  # the server read all 500 from the cluster meanwhile
    browser.reading.set()
    await sync_to_async(sim.append_log)("team-a", second, "app", "after")
    await browser.until(lambda: f"[{second}/app] after" in browser.lines())

    kept = [line for line in browser.lines() if "] n-" in line]
    assert len(kept) == 50  # exactly the queue's worth
    for pod in (first, second):  # each pod's lines in their order
        mine = [int(x.rsplit("-", 1)[1]) for x in kept if x.startswith(f"[{pod}/")]
        assert mine == sorted(mine)
    markers = [c for c in browser.controls() if c["type"] == "dropped"]
    assert markers == [{"type": "dropped", "count": 450}]
    assert browser.lines()[0] == f"[{first}/app] blocker"
    assert browser.lines()[-1] == f"[{second}/app] after"
    await browser.inbox.put({"type": "websocket.disconnect", "code": 1000})
    await asyncio.wait_for(app, 5)


# -- the console session -----------------------------------------------------------------------
async def test_reading_logs_keeps_the_console_session_alive(quiet, cluster, sim, member, settings):
    from apps.accounts.session_store import SessionStore
    from apps.accounts.sessions import LAST_SEEN

    settings.TERMINAL_SESSION_RECHECK = 0.2
    cookie = await login(member)
    first, _second = quiet

    def last_seen_back(seconds):
        store = SessionStore(session_key=cookie)
        store[LAST_SEEN] = store[LAST_SEEN] - seconds
        store.save()
        return store[LAST_SEEN]

    def last_seen():
        return SessionStore(session_key=cookie)[LAST_SEEN]

    _, term = await open_term(workload_path(cluster), cookie)
    await until(term, lambda: following(term))
    stale = await sync_to_async(last_seen_back)(120)
    await asyncio.sleep(0.6)  # checks pass without anything shown: the session stays idle
    assert await sync_to_async(last_seen)() == stale
    await sync_to_async(sim.append_log)("team-a", first, "app", "reading")
    await until(term, lambda: f"[{first}/app] reading" in all_lines(term))
    deadline = time.monotonic() + 5
    while await sync_to_async(last_seen)() == stale:
        assert time.monotonic() < deadline, "last_seen never moved"
        await asyncio.sleep(0.1)
    assert await sync_to_async(last_seen)() >= int(time.time()) - 2
    await term.ws.disconnect()
