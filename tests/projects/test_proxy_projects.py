"""Project-scoped access through the kubectl proxy, with the real kubectl 1.37 and the portal
under uvicorn: a member of project A acts in A's namespaces only; ``get ns``, ``get pods -A``
(JSON, Table, chunked) and ``get pods -A -w`` answer from exactly A's namespaces; a merged watch
goes on when one namespace's stream breaks; Secrets stay masked in the merged list."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid

import pytest
from kubernetes import client, config

from apps.clusters.masking import MASK_B64
from apps.projects.access import reach
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from tests.conftest import PROJECT
from tests.live import *  # noqa: F403
from tests.live import proxy_events, raw_request, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_state")]

# Pods per namespace of project A (10 in all: three pages of --chunk-size=3 and a bit).
A_PODS = {"a1": 4, "a2": 1, "a3": 5}


@pytest.fixture
def sim(live_cluster):
    """The cluster itself, read and written directly (not through the portal)."""
    configuration = client.Configuration()
    config.load_kube_config_from_dict(live_cluster.kubeconfig(), client_configuration=configuration)
    with client.ApiClient(configuration) as api:
        yield client.CoreV1Api(api)


def _pod(name: str) -> dict:
    return {
        "metadata": {"name": name, "labels": {"app": name.rsplit("-", 1)[0]}},
        "spec": {"containers": [{"name": "main", "image": "busybox:1.37"}]},
    }


@pytest.fixture
def layout(tenant, cluster, sim):
    """Project A owns a1, a2, a3; project B owns b1; ``free`` belongs to no project. Every
    namespace has pods; the names are unique to the test (the cluster outlives it)."""
    tag = uuid.uuid4().hex[:5]
    ns = {key: f"{key}-{tag}" for key in ("a1", "a2", "a3", "b1", "free")}
    a = Project.objects.create(tenant=tenant, name=PROJECT, display_name="A")
    b = Project.objects.create(tenant=tenant, name="prj-other", display_name="B")
    for project in (a, b):
        ProjectCluster.objects.create(project=project, cluster=cluster, hard={"pods": "50"})
    owners = {"a1": a, "a2": a, "a3": a, "b1": b}
    pods: dict[str, list[str]] = {}
    for key, name in ns.items():
        sim.create_namespace({"metadata": {"name": name}})
        count = A_PODS.get(key, 2)
        pods[name] = [f"{key}pod-{i}" for i in range(count)]
        for pod in pods[name]:
            sim.create_namespaced_pod(name, _pod(pod))
        if key in owners:
            ProjectNamespace.objects.create(
                tenant=tenant, project=owners[key], cluster=cluster, namespace=name
            )
    mine = {(n, p) for key in A_PODS for n in [ns[key]] for p in pods[n]}
    return {"ns": ns, "pods": pods, "mine": mine}


@pytest.fixture
def pete(kubectl_as, project_member, layout):
    """A project member (project-member in A), through a kubeconfig of their own."""
    return kubectl_as(project_member)


def _pairs(doc: dict) -> list[tuple[str, str]]:
    return [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in doc["items"]]


def test_member_acts_in_its_projects_namespaces_only(pete, layout, sim):
    ns = layout["ns"]
    got = json.loads(pete("get", "pods", "-n", ns["a1"], "-o", "json").stdout)
    assert {i["metadata"]["name"] for i in got["items"]} == set(layout["pods"][ns["a1"]])
    pete("delete", "pod", "-n", ns["a1"], "a1pod-0", "--wait=false")
    pete("create", "configmap", "made-by-pete", "-n", ns["a2"], "--from-literal=k=v")
    assert sim.read_namespaced_config_map("made-by-pete", ns["a2"]).data == {"k": "v"}
    for other in (ns["b1"], ns["free"]):
        denied = pete("get", "pods", "-n", other, check=False)
        assert denied.returncode != 0
        assert "Forbidden" in denied.stderr and "may not listPods" in denied.stderr
        denied = pete("delete", "pod", "-n", other, f"{other[:2]}pod-0", check=False)
        assert "Forbidden" in denied.stderr
    for kind in ("nodes", "persistentvolumes", "clusterroles"):
        denied = pete("get", kind, check=False)
        assert denied.returncode != 0 and "Forbidden" in denied.stderr, (kind, denied.stderr)


def test_get_pods_all_namespaces_shows_exactly_the_projects_pods(
    pete, bob, layout, cluster, project_member
):
    """JSON and the Table kubectl prints: A's pods, none of B's or the free namespace's."""
    got = json.loads(pete("get", "pods", "-A", "-o", "json").stdout)
    assert got["kind"] == "List" or got["kind"] == "PodList"
    assert set(_pairs(got)) == layout["mine"] and len(got["items"]) == len(layout["mine"])
    table = pete("get", "pods", "-A").stdout.splitlines()
    assert table[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert {tuple(line.split()[:2]) for line in table[1:]} == layout["mine"]
    assert len(table) - 1 == len(layout["mine"])
    wide = pete("get", "pods", "-A", "-o", "wide").stdout.splitlines()
    assert "NODE" in wide[0].split() and len(wide) - 1 == len(layout["mine"])
    # The same request by a platform user is forwarded as before: every namespace's pods.
    everything = set(_pairs(json.loads(bob("get", "pods", "-A", "-o", "json").stdout)))
    ns = layout["ns"]
    assert layout["mine"] < everything
    assert {(ns["b1"], "b1pod-0"), (ns["free"], "freepod-0")} <= everything
    # Selectors reach every namespace's list.
    selected = json.loads(pete("get", "pods", "-A", "-l", "app=a3pod", "-o", "json").stdout)
    assert {p for _, p in _pairs(selected)} == {f"a3pod-{i}" for i in range(5)}
    one = json.loads(
        pete("get", "pods", "-A", "--field-selector=metadata.name=a2pod-0", "-o", "json").stdout
    )
    assert _pairs(one) == [(ns["a2"], "a2pod-0")]


def test_get_ns_lists_exactly_the_reachable_namespaces(pete, bob, layout, cluster, project_member):
    expected = reach(project_member, cluster, "listNamespaces", "").namespaces
    assert set(expected) == {layout["ns"][k] for k in A_PODS}
    names = pete("get", "ns", "-o", "name").stdout.split()
    assert names == [f"namespace/{n}" for n in expected]
    table = pete("get", "ns").stdout.splitlines()
    assert [line.split()[0] for line in table[1:]] == list(expected)
    one = pete("get", "ns", layout["ns"]["a1"], "-o", "name").stdout.strip()
    assert one == f"namespace/{layout['ns']['a1']}"
    assert "Forbidden" in pete("get", "ns", layout["ns"]["b1"], check=False).stderr
    everything = bob("get", "ns", "-o", "name").stdout.split()
    assert {f"namespace/{n}" for n in layout["ns"].values()} | {"namespace/default"} <= set(
        everything
    )


def test_chunked_list_across_namespaces_is_complete_and_duplicate_free(
    pete, layout, cluster, recorder, project_member
):
    """kubectl --chunk-size=3 follows the proxy's continue tokens page by page; each page is
    one audited request; every namespace after the first is listed at the first's
    resourceVersion (Exact)."""
    got = json.loads(pete("get", "pods", "-A", "--chunk-size=3", "-o", "json").stdout)
    pairs = _pairs(got)
    assert len(pairs) == len(set(pairs)) == len(layout["mine"])
    assert set(pairs) == layout["mine"]
    assert pairs == sorted(pairs)  # namespace order, then name order
    seen = [r for r in recorder.take() if r["path"].endswith("/pods") and r["method"] == "GET"]
    listed_ns = {r["path"].split("/")[4] for r in seen}
    assert listed_ns == {layout["ns"][k] for k in A_PODS}  # never B's, never the free one
    exact = [r for r in seen if r["query"].get("resourceVersionMatch") == ["Exact"]]
    assert exact and len({r["query"]["resourceVersion"][0] for r in exact}) == 1
    rows = list(proxy_events(path__contains="/api/v1/pods", user=project_member))
    assert len(rows) == 4  # 10 pods in pages of 3
    assert {(r.action, r.resource, r.status_code) for r in rows} == {
        ("listPods", f"cluster:{cluster.name}/namespace:*/pod:*", 200)
    }
    assert not proxy_events(path__contains="/namespaces/").filter(user=project_member).exists()


def test_python_client_follows_the_proxys_continue_tokens(portal, cluster, pete, layout):
    configuration = client.Configuration()
    configuration.host = f"{portal.url}/k8s/clusters/{cluster.name}"
    configuration.ssl_ca_cert = portal.ca_file
    configuration.api_key = {"authorization": f"Bearer {pete.token}"}
    configuration.retries = 0
    with client.ApiClient(configuration) as api:
        core = client.CoreV1Api(api)
        pairs, token, versions, pages = [], None, set(), 0
        while True:
            page = core.list_pod_for_all_namespaces(limit=4, _continue=token)
            pages += 1
            pairs += [(p.metadata.namespace, p.metadata.name) for p in page.items]
            versions.add(page.metadata.resource_version)
            token = page.metadata._continue
            if not token:
                break
        assert pages >= 3 and len(versions) == 1
        assert len(pairs) == len(set(pairs)) and set(pairs) == layout["mine"]
        with pytest.raises(client.ApiException) as err:
            core.list_pod_for_all_namespaces(limit=4, _continue=token or "x" + "A" * 40)
        assert err.value.status == 400 and "continue key is not valid" in err.value.body


def test_tampered_and_expired_continue_tokens(portal, cluster, pete, layout, live_cluster, sim):
    base = f"/k8s/clusters/{cluster.name}/api/v1/pods?limit=3"
    status, page, _ = raw_request(portal, "GET", base, pete.token, "chunk-1")
    assert status == 200
    token = page["metadata"]["continue"]
    payload, _, signature = token.rpartition(":")
    tampered = payload + ":" + ("A" if signature[0] != "A" else "B") + signature[1:]
    for bad in (tampered, "garbage", base64.urlsafe_b64encode(b'{"rv":"1"}').decode()):
        status, answer, _ = raw_request(portal, "GET", f"{base}&continue={bad}", pete.token, "x")
        assert status == 400, (bad, answer)
        assert answer["message"].startswith("continue key is not valid")
    sim.create_namespaced_config_map(layout["ns"]["a1"], {"metadata": {"name": "later"}})
    live_cluster.call(lambda c: c.store.compact())  # the snapshot the token names is gone
    status, answer, _ = raw_request(portal, "GET", f"{base}&continue={token}", pete.token, "y")
    assert status == 410, answer
    assert answer["reason"] == "Expired"


def test_secrets_are_masked_in_the_merged_list(pete, kubectl_as, project_viewer, layout, sim):
    """A project viewer (no revealSecret) reads A's Secrets masked; the member, who may reveal
    Secrets in the project, reads them as they are. Neither sees B's."""
    ns = layout["ns"]
    for key in ("a1", "a3", "b1"):
        sim.create_namespaced_secret(
            ns[key],
            {"metadata": {"name": "creds"}, "stringData": {"password": f"hunter2-{key}"}},
        )
    quinn = kubectl_as(project_viewer)
    got = json.loads(quinn("get", "secrets", "-A", "-o", "json").stdout)
    creds = [s for s in got["items"] if s["metadata"]["name"] == "creds"]
    assert {s["metadata"]["namespace"] for s in creds} == {ns["a1"], ns["a3"]}
    assert [s["data"] for s in creds] == [{"password": MASK_B64}] * 2
    assert "hunter2" not in json.dumps(got)
    table = quinn("get", "secrets", "-A").stdout
    assert "creds" in table and "hunter2" not in table
    assert "hunter2" not in quinn("get", "secrets", "-A", "-o", "yaml").stdout
    shown = json.loads(pete("get", "secrets", "-A", "-o", "json").stdout)
    values = {
        s["metadata"]["namespace"]: base64.b64decode(s["data"]["password"]).decode()
        for s in shown["items"]
        if s["metadata"]["name"] == "creds"
    }
    assert values == {ns["a1"]: "hunter2-a1", ns["a3"]: "hunter2-a3"}


def test_merged_watch_goes_on_when_one_namespace_stream_breaks(pete, layout, sim, live_cluster):
    """kubectl get pods -A -w: pods made in A's namespaces show up; the a2 stream is cut
    and re-opened from where it was, the others keep delivering; B's pods never show."""
    ns = layout["ns"]
    watcher = pete.popen(
        "get", "pods", "-A", "-w", "--no-headers", "-o",
        "custom-columns=NS:.metadata.namespace,NAME:.metadata.name", text=True,
    )  # fmt: skip
    lines: list[tuple[str, str]] = []

    def read() -> None:
        for line in watcher.stdout:
            parts = tuple(line.split())
            if len(parts) == 2:
                lines.append(parts)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_for(lambda: set(lines) >= layout["mine"], "the initial list", timeout=20)
        wait_for(
            lambda: live_cluster.faults.cut_watches(rf"/namespaces/{ns['a2']}/pods") == 1,
            "a2's watch to be open (and cut)",
        )
        sim.create_namespaced_pod(ns["a1"], _pod("after-cut-1"))
        wait_for(lambda: (ns["a1"], "after-cut-1") in lines, "a1 to keep delivering", 20)
        sim.create_namespaced_pod(ns["a2"], _pod("after-cut-2"))
        wait_for(lambda: (ns["a2"], "after-cut-2") in lines, "a2 to resume", 20)
        sim.create_namespaced_pod(ns["b1"], _pod("not-mine"))
        sim.create_namespaced_pod(ns["a3"], _pod("last"))
        wait_for(lambda: (ns["a3"], "last") in lines, "a3 to deliver", 20)
        time.sleep(0.3)
        assert not [line for line in lines if line[0] in (ns["b1"], ns["free"])]
        assert watcher.poll() is None  # still watching
    finally:
        watcher.terminate()
        watcher.wait(10)
    row = wait_for(
        lambda: proxy_events(path__contains="watch=true", action="watchPods").first(),
        "the watch's audit row",
    )
    assert row.resource.endswith("/namespace:*/pod:*")
    assert row.message.startswith("watched 3 namespaces") and "1 re-opened" in row.message


def _watch_lines(portal, path: str, token: str, accept: str = "application/json") -> list[dict]:
    """A raw watch through the portal, read to its end (the request sets timeoutSeconds)."""
    import requests

    response = requests.get(
        f"{portal.url}{path}",
        headers={"Authorization": f"Bearer {token}", "Accept": accept},
        verify=portal.ca_file,
        stream=True,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return [json.loads(line) for line in response.iter_lines() if line.strip()]


def test_raw_merged_watch_with_version_bookmarks_and_timeout(
    portal, cluster, pete, layout, sim, live_cluster
):
    """``?watch=1&resourceVersion=R&allowWatchBookmarks=true&timeoutSeconds=2`` (protobuf
    asked, JSON given): the changes after R in A's namespaces only, merged bookmarks, a clean
    end at the timeout."""
    before = live_cluster.call(lambda c: c.bookmark_interval)
    live_cluster.call(lambda c: setattr(c, "bookmark_interval", 0.3))
    try:
        base = f"/k8s/clusters/{cluster.name}/api/v1/pods"
        status, listed, _ = raw_request(portal, "GET", base, pete.token, "list-then-watch")
        assert status == 200
        rv = listed["metadata"]["resourceVersion"]
        ns = layout["ns"]
        for key in ("a1", "b1", "a3"):
            sim.create_namespaced_pod(ns[key], _pod(f"new-{key}"))
        started = time.monotonic()
        events = _watch_lines(
            portal,
            f"{base}?watch=1&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=2",
            pete.token,
            accept="application/vnd.kubernetes.protobuf;stream=watch,application/json",
        )
        assert 1.5 < time.monotonic() - started < 6
    finally:
        live_cluster.call(lambda c: setattr(c, "bookmark_interval", before))
    added = [
        (e["object"]["metadata"]["namespace"], e["object"]["metadata"]["name"])
        for e in events
        if e["type"] == "ADDED"
    ]
    assert sorted(added) == [(ns["a1"], "new-a1"), (ns["a3"], "new-a3")]
    changes = [e for e in events if e["type"] != "BOOKMARK"]
    assert {e["type"] for e in changes} <= {"ADDED", "MODIFIED"}  # (the controller runs them)
    assert {e["object"]["metadata"]["namespace"] for e in changes} == {ns["a1"], ns["a3"]}
    bookmarks = [
        int(e["object"]["metadata"]["resourceVersion"]) for e in events if e["type"] == "BOOKMARK"
    ]
    assert bookmarks == sorted(set(bookmarks))  # a merged bookmark only moves forward
    assert bookmarks and min(bookmarks) > int(rv)


def test_watch_from_a_compacted_version_ends_with_410(
    portal, cluster, pete, layout, sim, live_cluster
):
    base = f"/k8s/clusters/{cluster.name}/api/v1/pods"
    _, listed, _ = raw_request(portal, "GET", base, pete.token, "old-list")
    sim.create_namespaced_pod(layout["ns"]["a1"], _pod("newer"))
    live_cluster.call(lambda c: c.store.compact())
    events = _watch_lines(
        portal,
        f"{base}?watch=1&resourceVersion={listed['metadata']['resourceVersion']}",
        pete.token,
    )
    assert [e["type"] for e in events] == ["ERROR"]
    assert (events[0]["object"]["code"], events[0]["object"]["reason"]) == (410, "Expired")


def test_namespace_watch_shows_the_reachable_namespaces_only(portal, cluster, pete, layout):
    events = _watch_lines(
        portal,
        f"/k8s/clusters/{cluster.name}/api/v1/namespaces?watch=1&timeoutSeconds=1",
        pete.token,
    )
    names = [e["object"]["metadata"]["name"] for e in events if e["type"] == "ADDED"]
    assert sorted(names) == sorted(layout["ns"][k] for k in A_PODS)


def test_no_reachable_namespace_is_the_usual_403(kubectl_as, tenant, cluster, layout):
    """A member of project B, which spans the cluster but owns no namespace on it here: the
    cluster is visible, a list across namespaces is refused as before."""
    from tests.factories import UserFactory, bind

    ProjectNamespace.objects.filter(project__name="prj-other").delete()
    rita = UserFactory(tenant=tenant, username="rita")
    bind(rita, "project-member", "prj-other")
    kubectl = kubectl_as(rita)
    denied = kubectl("get", "pods", "-A", check=False)
    assert denied.returncode != 0
    assert 'pods is forbidden: portal user "rita" may not listPods' in denied.stderr
    assert kubectl("get", "ns", check=False).returncode != 0
