"""The Kubernetes resource API against kubesim: CRUD, operations, apply, errors, overview."""

import base64
import time
from datetime import timedelta

import pytest
import yaml
from django.utils import timezone

from apps.clusters import k8s, services
from apps.clusters.masking import MASK_B64
from apps.clusters.models import Cluster
from tests.matrix import APIMatrix

pytestmark = pytest.mark.django_db


@pytest.fixture
def live(kube_sim):
    """A seeded kubesim cluster with its controller running (deployments get pods)."""
    import uuid

    handle = kube_sim.add_cluster(f"r{uuid.uuid4().hex[:8]}", nodes=3, controller=True)
    handle.ca_data = open(handle.ca_file).read()  # noqa: SIM115
    yield handle
    kube_sim.remove_cluster(handle.name)


@pytest.fixture
def cluster(tenant, live):
    spec = k8s.Connection(server=live.url, token=live.token, ca_data=live.ca_data)
    return services.import_cluster(actor=None, tenant=tenant, display_name="live", spec=spec)


def base(cluster, namespace=None):
    root = f"/api/v1/clusters/{cluster.name}"
    return f"{root}/namespaces/{namespace}" if namespace else root


CONFIGMAP = {"metadata": {"name": "settings"}, "data": {"mode": "fast"}}


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def update_with_retry(client, url, change, attempts=5):
    """GET, change, PUT — again on 409: the controller updates status (and so the
    resourceVersion) concurrently, exactly as on a real cluster."""
    for _ in range(attempts):
        obj = client.get(url).json()
        change(obj)
        response = client.put(url, obj)
        if response.status_code != 409:
            return response
    return response


class TestResourceMatrix(APIMatrix):
    """ConfigMaps in namespace web: anonymous 401, viewer 403, other tenant 404, member 2xx."""

    view_url = "/api/v1/clusters/cls-abc/namespaces/web/configmaps/"
    non_writer = "read_only_user"
    updatable = False  # PUT replaces; covered below

    @pytest.fixture(autouse=True)
    def _cluster(self, request, tenant):
        self.cluster = request.getfixturevalue("cluster")
        self.list_url = f"{base(self.cluster, 'web')}/configmaps/"

    def make_object(self, tenant):
        # Other tenants' clusters are invisible: their objects answer 404 like unknown ones.
        from apps.clusters.models import Cluster

        if tenant != self.cluster.tenant:
            return None
        return Cluster  # the seeded "web" configmaps exist; detail uses a fixed name

    def detail_url(self, obj):
        return f"{self.list_url}frontend-config/"

    def lookup_from_json(self, row):
        return row["metadata"]["name"]

    def create_data(self, tenant):
        return CONFIGMAP

    def test_no_permission_is_403(self, api, tenant, viewer):
        """Seeing the cluster but holding nothing on configmaps: 403. Not even seeing the
        cluster (viewer): 404, like another tenant's."""
        from apps.authz.models import Binding, Policy
        from tests.factories import UserFactory

        policy = Policy.objects.create(
            tenant=tenant,
            name="cluster-only",
            statements=[{"actions": ["getCluster"], "resources": ["cluster:*"], "effect": "allow"}],
        )
        user = UserFactory(tenant=tenant, username="cleo")
        Binding.objects.create(tenant=tenant, user=user, policy=policy)
        response = api(user).get(self.list_url)
        assert response.status_code == 403
        assert "listConfigMaps" in response.json()["detail"]
        assert api(user).post(self.list_url, CONFIGMAP).status_code == 403
        assert api(viewer).get(self.list_url).status_code == 404

    def test_reader_lists_own_tenant_only(self, api, member, other_user):
        rows = api(member).get(self.list_url).json()["items"]
        assert "frontend-config" in {r["metadata"]["name"] for r in rows}
        assert api(other_user).get(self.list_url).status_code == 404

    def test_other_tenant_object_is_404(self, api, other_user):
        client = api(other_user)
        response = client.get(self.detail_url(None))
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
        assert client.delete(self.detail_url(None)).status_code == 404

    def test_writer_creates_updates_deletes(self, api, member):
        client = api(member)
        created = client.post(self.list_url, CONFIGMAP)
        assert created.status_code == 201, created.content
        got = client.get(f"{self.list_url}settings/").json()
        got["data"]["mode"] = "slow"
        replaced = client.put(f"{self.list_url}settings/", got)
        assert replaced.status_code == 200, replaced.content
        assert replaced.json()["data"] == {"mode": "slow"}
        assert client.delete(f"{self.list_url}settings/").status_code == 204
        assert client.get(f"{self.list_url}settings/").status_code == 404


def test_cluster_errors_are_mapped(api, member, cluster, live):
    client = api(member)
    url = f"{base(cluster, 'web')}/configmaps/"
    assert client.post(url, CONFIGMAP).status_code == 201
    conflict = client.post(url, CONFIGMAP)
    assert conflict.status_code == 409 and conflict.json()["code"] == "conflict"
    invalid = client.post(url, {"metadata": {"name": "Bad_Name"}})
    assert invalid.status_code == 422
    assert invalid.json()["code"] == "invalid_object"
    assert invalid.json()["fields"]
    assert client.get(f"{url}missing/").status_code == 404
    live.faults.down()
    down = client.get(url)
    assert down.status_code == 503
    assert down.json()["code"] == "cluster_unreachable"
    assert cluster.name in down.json()["detail"]


def test_label_selector_search_and_pagination(api, member, cluster):
    client = api(member)
    url = f"{base(cluster, 'web')}/configmaps/"
    for i in range(5):
        client.post(url, {"metadata": {"name": f"cm-{i}", "labels": {"batch": "x"}}})
    selected = client.get(url, {"labelSelector": "batch=x"}).json()["items"]
    assert len(selected) == 5
    assert [i["metadata"]["name"] for i in client.get(url, {"search": "cm-3"}).json()["items"]] == [
        "cm-3"
    ]
    page = client.get(url, {"labelSelector": "batch=x", "limit": 2}).json()
    assert len(page["items"]) == 2 and page["continue"]
    rest = client.get(
        url, {"labelSelector": "batch=x", "limit": 10, "continue": page["continue"]}
    ).json()
    assert len(rest["items"]) == 3


def test_secrets_are_masked_unless_revealable(api, tenant_admin, read_only_user, cluster):
    url = f"{base(cluster, 'web')}/secrets/"
    secret = {"metadata": {"name": "db"}, "stringData": {"password": "hunter2"}}
    assert api(tenant_admin).post(url, secret).status_code == 201
    listed = api(tenant_admin).get(url).json()["items"]
    assert [s["data"] for s in listed if s["metadata"]["name"] == "db"] == [{"password": MASK_B64}]
    revealed = api(tenant_admin).get(f"{url}db/").json()["data"]["password"]
    assert base64.b64decode(revealed) == b"hunter2"
    reader_view = api(read_only_user).get(f"{url}db/").json()
    assert reader_view["data"]["password"] == MASK_B64  # the same mask as through kubectl
    assert "hunter2" not in str(reader_view) and "aHVudGVyMg" not in str(reader_view)


def test_scale_restart_revisions_and_rollback(api, member, cluster):
    client = api(member)
    dep = f"{base(cluster, 'web')}/deployments/frontend"
    assert client.post(f"{dep}/scale/", {"replicas": 5}).json()["spec"]["replicas"] == 5
    bad = client.post(f"{dep}/scale/", {"replicas": -1})
    assert bad.status_code == 400 and "replicas" in bad.json()["fields"]

    def new_image(obj):
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"

    assert update_with_retry(client, f"{dep}/", new_image).status_code == 200
    revisions = wait_for(
        lambda: (r := client.get(f"{dep}/revisions/").json()["revisions"]) and len(r) >= 2 and r
    )
    assert revisions[0]["images"] == ["nginx:1.28"]
    rolled = client.post(f"{dep}/rollback/", {})
    assert rolled.status_code == 200, rolled.content
    image = rolled.json()["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "nginx:1.27"
    restarted = client.post(f"{dep}/restart/").json()
    annotations = restarted["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations


def test_pod_logs_and_events(api, member, cluster):
    client = api(member)
    pods = wait_for(
        lambda: client.get(
            f"{base(cluster, 'web')}/pods/", {"labelSelector": "app=frontend"}
        ).json()["items"]
    )
    name = pods[0]["metadata"]["name"]
    log_url = f"{base(cluster, 'web')}/pods/{name}/log/"

    def log_lines():
        response = client.get(log_url, {"tailLines": 2})
        return response.content if response.status_code == 200 and response.content else None

    log = wait_for(log_lines)
    assert 0 < len(log.decode().strip().splitlines()) <= 2
    download = client.get(log_url, {"download": 1})
    assert download.status_code == 200, download.content
    assert "attachment" in download["Content-Disposition"]
    response = client.get(f"{base(cluster, 'web')}/pods/{name}/events/")
    assert response.status_code == 200, response.content
    assert all(e["involvedObject"]["name"] == name for e in response.json()["items"])


def test_cordon_and_drain_respects_daemonsets(api, tenant_admin, cluster):
    client = api(tenant_admin)
    nodes = client.get(f"{base(cluster)}/nodes/").json()["items"]
    node = nodes[0]["metadata"]["name"]
    assert client.post(f"{base(cluster)}/nodes/{node}/cordon/").json()["spec"]["unschedulable"]
    report = client.post(f"{base(cluster)}/nodes/{node}/drain/").json()
    assert report["cordoned"] is True
    assert any("DaemonSet" in s["reason"] for s in report["skipped"])
    assert all("kube-proxy" not in p for p in report["evicted"])
    uncordoned = client.post(f"{base(cluster)}/nodes/{node}/uncordon/").json()
    assert not uncordoned["spec"].get("unschedulable")


def test_node_operations_need_permission(api, read_only_user, cluster):
    node = api(read_only_user).get(f"{base(cluster)}/nodes/").json()["items"][0]
    response = api(read_only_user).post(f"{base(cluster)}/nodes/{node['metadata']['name']}/drain/")
    assert response.status_code == 403
    assert "drainNode" in response.json()["detail"]


MANIFEST = """
apiVersion: v1
kind: ConfigMap
metadata: {name: applied}
data: {a: "1"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: applied-api}
spec:
  replicas: 1
  selector: {matchLabels: {app: applied-api}}
  template:
    metadata: {labels: {app: applied-api}}
    spec: {containers: [{name: api, image: "api:1"}]}
"""


def test_apply_dry_run_shows_diff_then_applies(api, member, cluster):
    client = api(member)
    url = f"{base(cluster)}/apply/"
    preview = client.post(f"{url}?dryRun=true", {"manifest": MANIFEST, "namespace": "web"})
    assert preview.status_code == 200, preview.content
    results = preview.json()["results"]
    assert [r["action"] for r in results] == ["created", "created"]
    assert "+  a: '1'" in results[0]["diff"]
    assert client.get(f"{base(cluster, 'web')}/configmaps/applied/").status_code == 404
    applied = client.post(url, {"manifest": MANIFEST, "namespace": "web"}).json()["results"]
    assert [r["action"] for r in applied] == ["created", "created"]
    changed = MANIFEST.replace('a: "1"', 'a: "2"')
    again = client.post(f"{url}?dryRun=true", {"manifest": changed, "namespace": "web"})
    diff = again.json()["results"][0]["diff"]
    assert "-  a: '1'" in diff and "+  a: '2'" in diff
    assert again.json()["results"][1]["action"] == "unchanged"


def test_apply_is_all_or_nothing(api, member, cluster):
    broken = (
        MANIFEST
        + """
---
apiVersion: v1
kind: ConfigMap
metadata: {name: Bad_Name}
"""
    )
    response = api(member).post(f"{base(cluster)}/apply/", {"manifest": broken, "namespace": "web"})
    assert response.status_code == 422
    assert api(member).get(f"{base(cluster, 'web')}/configmaps/applied/").status_code == 404


QUOTA = """
apiVersion: v1
kind: ResourceQuota
metadata: {name: few-configmaps}
spec: {hard: {count/configmaps: "%s"}}
"""
LATE_CONFIGMAP = """
apiVersion: v1
kind: ConfigMap
metadata: {name: refused-late}
data: {a: "1"}
"""


def test_a_real_apply_that_fails_midway_deletes_what_it_created(api, member, cluster):
    """The dry run of each document passes (the quota does not exist yet), but for real the
    quota the first document creates makes the cluster refuse the second: the quota is
    deleted again and the answer says so per document."""
    url = f"{base(cluster)}/apply/"
    manifest = QUOTA % "0" + "---" + LATE_CONFIGMAP + "---" + MANIFEST.split("---")[1]
    response = api(member).post(url, {"manifest": manifest, "namespace": "web"})
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["code"] == "apply_failed" and body["rolled_back"] is True
    assert [(r["object"], r["action"], r.get("rollback")) for r in body["results"]] == [
        ("ResourceQuota/web/few-configmaps", "created", "deleted"),
        ("ConfigMap/web/refused-late", "failed", None),
        ("Deployment/web/applied-api", "not applied", None),
    ]
    assert "exceeded quota: few-configmaps" in body["results"][1]["error"]
    assert "Document 2 of 3 (ConfigMap/web/refused-late) failed" in body["detail"]
    assert "1 object(s) applied before it were rolled back" in body["detail"]
    client = api(member)
    assert client.get(f"{base(cluster, 'web')}/resourcequotas/few-configmaps/").status_code == 404
    assert client.get(f"{base(cluster, 'web')}/configmaps/refused-late/").status_code == 404
    assert client.get(f"{base(cluster, 'web')}/deployments/applied-api/").status_code == 404


def test_a_real_apply_that_fails_midway_restores_what_it_changed(api, member, cluster):
    """An existing quota is tightened by the first document, which makes the cluster refuse
    the second for real: the quota is put back as it was (limit and field owners)."""
    client = api(member)
    quotas = f"{base(cluster, 'web')}/resourcequotas/"
    created = client.post(
        quotas,
        {"metadata": {"name": "few-configmaps"}, "spec": {"hard": {"count/configmaps": "50"}}},
    )
    assert created.status_code == 201, created.content
    before = client.get(f"{quotas}few-configmaps/").json()
    manifest = QUOTA % "0" + "---" + LATE_CONFIGMAP
    response = client.post(f"{base(cluster)}/apply/", {"manifest": manifest, "namespace": "web"})
    assert response.status_code == 403, response.content
    results = response.json()["results"]
    assert [(r["action"], r.get("rollback")) for r in results] == [
        ("configured", "restored"),
        ("failed", None),
    ]
    after = client.get(f"{quotas}few-configmaps/").json()
    assert after["spec"] == before["spec"] == {"hard": {"count/configmaps": "50"}}
    owners = {m["manager"] for m in before["metadata"]["managedFields"]}
    assert owners and {m["manager"] for m in after["metadata"]["managedFields"]} == owners
    assert not any(owner.startswith("tkeportal-") for owner in owners)
    assert client.get(f"{base(cluster, 'web')}/configmaps/refused-late/").status_code == 404


def test_apply_checks_every_document(api, cluster, tenant):
    from tests.conftest import persona

    ns_editor = persona(tenant, "nina", "read-only")
    from apps.authz.models import Binding, Policy

    policy = Policy.objects.create(
        tenant=tenant,
        name="cm-editor",
        statements=[
            {
                "actions": ["*ConfigMap"],
                "resources": ["cluster:*/namespace:web/configmap:*"],
                "effect": "allow",
            }
        ],
    )
    Binding.objects.create(tenant=tenant, user=ns_editor, policy=policy)
    response = api(ns_editor).post(
        f"{base(cluster)}/apply/", {"manifest": MANIFEST, "namespace": "web"}
    )
    assert response.status_code == 403
    assert "createDeployment" in response.json()["detail"]
    assert api(ns_editor).get(f"{base(cluster, 'web')}/configmaps/applied/").status_code == 404


def test_apply_input_errors(api, member, cluster):
    client = api(member)
    bad_yaml = client.post(f"{base(cluster)}/apply/", {"manifest": "a: [", "namespace": "web"})
    assert bad_yaml.status_code == 400 and "manifest" in bad_yaml.json()["fields"]
    no_name = client.post(
        f"{base(cluster)}/apply/",
        {"manifest": yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap"})},
    )
    assert "manifest[0].metadata.name" in no_name.json()["fields"]


def test_unknown_kind_and_invisible_cluster_are_404(api, member, cluster, other_user):
    assert api(member).get(f"{base(cluster)}/widgets/").status_code == 404
    assert api(other_user).get(f"{base(cluster)}/nodes/").status_code == 404


def _import_sim(kube_sim, tenant, name, nodes=1):
    handle = kube_sim.add_cluster(name, nodes=nodes, controller=False, own_port=True)
    cluster = services.import_cluster(
        actor=None,
        tenant=tenant,
        display_name=name,
        spec=k8s.Connection(
            server=handle.url,
            token=handle.token,
            ca_data=open(handle.ca_file).read(),  # noqa: SIM115
        ),
    )
    return handle, cluster


def test_overview_shows_a_slow_cluster_stale_with_its_last_known_inventory(
    api, member, tenant, cluster, kube_sim
):
    """Slower than the budget is stale (last known inventory, still reachable); a cluster
    that refuses connections is unreachable; neither slows the answer down."""
    suffix = cluster.name[-6:]
    slow, slow_cluster = _import_sim(kube_sim, tenant, "slow-" + suffix, nodes=2)
    down, down_cluster = _import_sim(kube_sim, tenant, "down-" + suffix)
    try:
        # given: one overview where every cluster answered (its inventory is kept)
        first = {
            r["name"]: r for r in api(member).get("/api/v1/clusters/overview/").json()["results"]
        }
        assert first[slow_cluster.name]["stale"] is False
        assert first[slow_cluster.name]["nodes"] == 2
        slow_cluster.refresh_from_db()
        assert slow_cluster.inventory["nodes"] == 2 and slow_cluster.inventory_at is not None
        # when: one cluster answers after 30 s and another refuses connections
        slow.faults.delay(30)
        down.faults.down()
        started = time.monotonic()
        body = api(member).get("/api/v1/clusters/overview/").json()
        elapsed = time.monotonic() - started
    finally:
        kube_sim.remove_cluster(slow.name)
        kube_sim.remove_cluster(down.name)
    rows = {r["name"]: r for r in body["results"]}
    # then
    live_row = rows[cluster.name]
    assert (live_row["reachable"], live_row["stale"]) == (True, False)
    assert live_row["nodes"] == 3 and live_row["ready_nodes"] == 3 and live_row["pods"] > 0
    slow_row = rows[slow_cluster.name]
    assert (slow_row["reachable"], slow_row["stale"]) == (True, True)
    assert slow_row["nodes"] == 2 and slow_row["ready_nodes"] == 2
    assert slow_row["inventory_at"] is not None and "last known" in slow_row["error"]
    down_row = rows[down_cluster.name]
    assert (down_row["reachable"], down_row["stale"]) == (False, False)
    assert "unreachable" in down_row["error"] and down_cluster.name in down_row["error"]
    # the overview budget (3 s), not the 30 s delay; loose enough for a loaded machine
    assert elapsed < 20


def test_overview_max_age_answers_from_recent_inventory_without_asking(
    api, member, tenant, cluster, kube_sim
):
    """``max_age``: a cluster whose stored inventory is younger is not asked at all (its
    request log stays empty); older than that, or without ``max_age``, it is asked."""
    handle, imported = _import_sim(kube_sim, tenant, "aged-" + cluster.name[-6:], nodes=2)
    try:
        client = api(member)
        first = client.get("/api/v1/clusters/overview/").json()["results"]
        assert {r["name"]: r["nodes"] for r in first}[imported.name] == 2
        handle.faults.delay(30)  # were it asked, it would be stale
        before = len(handle.requests())
        body = client.get("/api/v1/clusters/overview/?max_age=600").json()
        assert len(handle.requests()) == before  # answered from the stored inventory
        row = {r["name"]: r for r in body["results"]}[imported.name]
        assert (row["stale"], row["reachable"], row["nodes"]) == (False, True, 2)
        assert row["inventory_at"] is not None
        handle.faults.clear()
        # an inventory older than max_age is asked again
        Cluster.objects.filter(pk=imported.pk).update(
            inventory_at=timezone.now() - timedelta(seconds=120)
        )
        client.get("/api/v1/clusters/overview/?max_age=60")
        assert len(handle.requests()) > before
    finally:
        kube_sim.remove_cluster(handle.name)


@pytest.mark.parametrize("value", ["-1", "abc", "3601", "1.5"])
def test_overview_max_age_must_be_whole_seconds_within_an_hour(api, member, value):
    response = api(member).get(f"/api/v1/clusters/overview/?max_age={value}")
    assert response.status_code == 400
    assert "max_age" in response.json()["fields"]


def test_overview_reuses_one_pool_and_one_client_per_cluster(api, member, cluster):
    """Repeated overviews run on the process's one pool and reuse the cluster's cached
    client: no new pool threads and no new client per request."""
    import threading

    from apps.clusters import overview

    client = api(member)
    client.get("/api/v1/clusters/overview/")
    threads = {t.ident for t in threading.enumerate() if t.name.startswith("cluster-overview")}
    built = k8s.clients.built
    for _ in range(5):
        row = client.get("/api/v1/clusters/overview/").json()["results"][0]
        assert (row["reachable"], row["stale"]) == (True, False)
    after = {t.ident for t in threading.enumerate() if t.name.startswith("cluster-overview")}
    assert threads and after <= threads  # no thread outside the first pool's
    assert len(after) <= overview.OVERVIEW_WORKERS
    assert k8s.clients.built == built


def test_overview_query_count_does_not_grow_with_clusters(api, member, tenant, cluster, kube_sim):
    """Listing, storing fresh inventories and rendering take the same queries for one
    cluster as for four."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(member)
    client.get("/api/v1/clusters/overview/")  # warm: session, policies
    with CaptureQueriesContext(connection) as one:
        client.get("/api/v1/clusters/overview/")
    handles = [_import_sim(kube_sim, tenant, f"q{i}-{cluster.name[-6:]}")[0] for i in range(3)]
    try:
        client.get("/api/v1/clusters/overview/")
        with CaptureQueriesContext(connection) as four:
            body = client.get("/api/v1/clusters/overview/").json()
    finally:
        for handle in handles:
            kube_sim.remove_cluster(handle.name)
    assert body["count"] == 4
    assert sum(1 for r in body["results"] if r["stale"] is False) == 4
    assert len(four) == len(one)


OPERATIONS = [
    ("post", "namespaces/web/deployments/frontend/scale/", {"replicas": 1}),
    ("post", "namespaces/web/deployments/frontend/restart/", {}),
    ("get", "namespaces/web/deployments/frontend/revisions/", None),
    ("post", "namespaces/web/deployments/frontend/rollback/", {}),
    ("get", "namespaces/web/statefulsets/db/revisions/", None),
    ("post", "namespaces/web/statefulsets/db/rollback/", {"revision": 1}),
    ("get", "namespaces/web/daemonsets/agent/revisions/", None),
    ("post", "namespaces/web/daemonsets/agent/rollback/", {}),
    ("get", "namespaces/web/pods/nope/log/", None),
    ("get", "namespaces/web/deployments/frontend/events/", None),
    ("post", "nodes/n1/cordon/", None),
    ("post", "nodes/n1/uncordon/", None),
    ("post", "nodes/n1/drain/", None),
    ("post", "apply/", {"manifest": MANIFEST, "namespace": "web"}),
]


@pytest.mark.parametrize(("method", "suffix", "body"), OPERATIONS)
def test_operation_permission_matrix(
    api, anon_client, viewer, other_user, tenant, cluster, method, suffix, body
):
    """Anonymous 401; cannot see the cluster (viewer, other tenant) 404; sees the cluster but
    may not do the operation 403 (permitted cases: the functional tests above)."""
    from apps.authz.models import Binding, Policy
    from tests.factories import UserFactory

    url = f"{base(cluster)}/{suffix}"
    assert getattr(anon_client, method)(url, body).status_code == 401
    assert getattr(api(viewer), method)(url, body).status_code == 404
    assert getattr(api(other_user), method)(url, body).status_code == 404
    policy = Policy.objects.create(
        tenant=tenant,
        name="see-cluster",
        statements=[{"actions": ["getCluster"], "resources": ["cluster:*"], "effect": "allow"}],
    )
    seer = UserFactory(tenant=tenant, username="seer")
    Binding.objects.create(tenant=tenant, user=seer, policy=policy)
    assert getattr(api(seer), method)(url, body).status_code == 403


def test_overview_permission_matrix(api, anon_client, viewer, member, cluster, other_user):
    assert anon_client.get("/api/v1/clusters/overview/").status_code == 401
    assert api(viewer).get("/api/v1/clusters/overview/").json()["count"] == 0
    assert api(other_user).get("/api/v1/clusters/overview/").json()["count"] == 0
    assert api(member).get("/api/v1/clusters/overview/").json()["count"] == 1


WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}
                        },
                    }
                },
            }
        ],
    },
}


def test_custom_resources_of_installed_crds(api, tenant_admin, read_only_user, cluster):
    admin = api(tenant_admin)
    created = admin.post(f"{base(cluster)}/customresourcedefinitions/", WIDGET_CRD)
    assert created.status_code == 201, created.content
    widgets = f"{base(cluster, 'web')}/custom/example.com/v1/widgets/"

    def established():
        return admin.get(widgets).status_code == 200

    wait_for(established)
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1"},
        "spec": {"size": 2},
    }
    assert admin.post(widgets, widget).status_code == 201
    invalid = admin.post(widgets, {**widget, "metadata": {"name": "w2"}, "spec": {"size": "big"}})
    assert invalid.status_code == 422
    listed = api(read_only_user).get(widgets).json()["items"]
    assert [w["metadata"]["name"] for w in listed] == ["w1"]
    everywhere = admin.get(f"{base(cluster)}/custom/example.com/v1/widgets/").json()["items"]
    assert [w["metadata"]["namespace"] for w in everywhere] == ["web"]
    denied = api(read_only_user).delete(f"{widgets}w1/")
    assert denied.status_code == 403
    assert "deleteCustomResource" in denied.json()["detail"]
    assert admin.get(f"{widgets}w1/").json()["spec"] == {"size": 2}
    assert admin.delete(f"{widgets}w1/").status_code == 204
    missing = admin.get(f"{base(cluster, 'web')}/custom/example.com/v1/gadgets/")
    assert missing.status_code == 404
    assert "gadgets.example.com" in missing.json()["detail"]
    assert admin.get(f"{base(cluster, 'web')}/custom/example.com/v2/widgets/").status_code == 404


def test_drain_needs_delete_pod_on_every_namespace(api, tenant, cluster):
    """Second red-team pass: drain evicted pods of a namespace whose pods the user may not
    delete. Draining is deleting every pod on the node: a deny on any namespace refuses it."""
    from apps.authz.models import Policy
    from tests.factories import UserFactory, bind

    Policy.objects.create(
        tenant=tenant,
        name="drain-but-not-vault",
        statements=[
            {"actions": ["*"], "resources": ["cluster:*"], "effect": "allow"},
            {
                "actions": ["deletePod"],
                "resources": ["cluster:*/namespace:vault/*"],
                "effect": "deny",
            },
        ],
    )
    user = UserFactory(tenant=tenant, username="dora")
    bind(user, "drain-but-not-vault")
    node = api(user).get(f"{base(cluster)}/nodes/").json()["items"][0]["metadata"]["name"]
    response = api(user).post(f"{base(cluster)}/nodes/{node}/drain/")
    assert response.status_code == 403 and "deletePod" in response.json()["detail"]
    assert not api(user).get(f"{base(cluster)}/nodes/{node}/").json()["spec"].get("unschedulable")


def test_rest_update_refuses_to_write_the_mask_back(api, tenant_admin, read_only_user, cluster):
    url = f"{base(cluster, 'web')}/secrets/"
    secret = {"metadata": {"name": "kept"}, "stringData": {"password": "hunter2"}}
    assert api(tenant_admin).post(url, secret).status_code == 201
    masked = api(tenant_admin).get(url).json()["items"]
    body = next(s for s in masked if s["metadata"]["name"] == "kept")
    response = api(tenant_admin).put(f"{url}kept/", body, format="json")
    assert response.status_code == 400 and "data" in response.json()["fields"]
    revealed = api(tenant_admin).get(f"{url}kept/").json()["data"]["password"]
    assert base64.b64decode(revealed) == b"hunter2"


def test_object_events_honour_a_deny_on_events(api, tenant, cluster):
    """Second red-team pass: ``…/pods/<p>/events/`` was judged on the pod alone."""
    from apps.authz.models import Policy
    from tests.factories import UserFactory, bind

    Policy.objects.create(
        tenant=tenant,
        name="no-web-events",
        statements=[
            {"actions": ["*"], "resources": ["cluster:*"], "effect": "allow"},
            {"actions": ["*Events"], "resources": ["cluster:*/namespace:web/*"], "effect": "deny"},
        ],
    )
    user = UserFactory(tenant=tenant, username="evan")
    bind(user, "no-web-events")
    pod = api(user).get(f"{base(cluster, 'web')}/pods/").json()["items"][0]["metadata"]["name"]
    response = api(user).get(f"{base(cluster, 'web')}/pods/{pod}/events/")
    assert response.status_code == 403 and "listEvents" in response.json()["detail"]


def _workload(kind, name, image="nginx:1.27"):
    labels = {"app": name}
    spec = {
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": name, "image": image}]},
        },
    }
    if kind == "StatefulSet":
        spec.update(replicas=1, serviceName=name)
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


@pytest.mark.parametrize(
    "kind, plural", [("StatefulSet", "statefulsets"), ("DaemonSet", "daemonsets")]
)
def test_controller_revisions_and_rollback(api, member, read_only_user, cluster, kind, plural):
    """StatefulSets and DaemonSets: revisions are their ControllerRevisions, rollback restores
    one's template; both authorized as get<Kind>/rollback<Kind> and audited."""
    from apps.audit.models import AuditEvent

    client = api(member)
    collection = f"{base(cluster, 'web')}/{plural}/"
    created = client.post(collection, _workload(kind, "keeper"))
    assert created.status_code == 201, created.content
    url = f"{collection}keeper"

    def new_image(obj):
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"

    wait_for(lambda: client.get(f"{url}/revisions/").json()["revisions"])
    assert update_with_retry(client, f"{url}/", new_image).status_code == 200
    revisions = wait_for(
        lambda: (r := client.get(f"{url}/revisions/").json()["revisions"]) and len(r) == 2 and r
    )
    assert [(r["revision"], r["images"], r["current"]) for r in revisions] == [
        (2, ["nginx:1.28"], True),
        (1, ["nginx:1.27"], False),
    ]
    assert revisions[1]["name"].startswith("keeper-") and revisions[1]["replicas"] is None

    denied = api(read_only_user).post(f"{url}/rollback/", {"revision": 1})
    assert denied.status_code == 403 and f"rollback{kind}" in denied.json()["detail"]
    missing = client.post(f"{url}/rollback/", {"revision": 7})
    assert missing.status_code == 400 and "revision" in missing.json()["fields"]
    rolled = client.post(f"{url}/rollback/", {"revision": 1})
    assert rolled.status_code == 200, rolled.content
    assert rolled.json()["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert "$patch" not in rolled.json()["spec"]["template"]
    after = wait_for(
        lambda: (
            (r := client.get(f"{url}/revisions/").json()["revisions"])
            and r[0]["revision"] == 3
            and r
        )  # fmt: skip
    )
    assert after[0]["images"] == ["nginx:1.27"] and after[0]["current"]
    assert [r["revision"] for r in after] == [3, 2]  # revision 1 renumbered, as upstream

    events = AuditEvent.objects.filter(action=f"rollback{kind}").order_by("created_at")
    outcomes = [(e.user, e.status_code, e.resource) for e in events]
    resource = f"cluster:{cluster.name}/namespace:web/{kind.lower()}:keeper"
    assert outcomes == [
        (read_only_user, 403, resource),
        (member, 400, resource),
        (member, 200, resource),
    ]
    assert events.last().request_body == {"revision": 1}


def test_a_platform_admin_across_all_tenants_is_audited_in_the_clusters_tenant(
    api, platform_admin, member, tenant, cluster
):
    """The operator works without choosing a tenant; the write lands in the tenant whose
    cluster it changed, so that tenant's auditors see it (and the row names the operator)."""
    from apps.audit.models import AuditEvent

    response = api(platform_admin).post(f"{base(cluster, 'web')}/configmaps/", CONFIGMAP)
    assert response.status_code == 201, response.json()
    row = AuditEvent.objects.filter(method="POST", path__contains="/configmaps/").get()
    assert row.tenant_id == tenant.pk and row.user_id == platform_admin.pk
    # and the tenant's own audit listing shows it
    listed = api(member).get("/api/v1/audit-events/?method=POST").json()
    assert row.pk in {item["id"] for item in listed["results"]}


def test_a_platform_admin_changing_a_tenants_user_is_audited_in_that_tenant(
    api, platform_admin, tenant, member
):
    from apps.audit.models import AuditEvent

    response = api(platform_admin).patch(f"/api/v1/users/{member.username}/", {"email": "b@x.io"})
    assert response.status_code == 200, response.json()
    row = AuditEvent.objects.filter(method="PATCH", path__contains="/users/").get()
    assert row.tenant_id == tenant.pk and row.user_id == platform_admin.pk
