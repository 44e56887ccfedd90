"""A cluster's workloads list and one workload's page (pods, revisions, scale, restart,
rollback), authorized like the REST API."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.clusters import resources, services
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from tests.conftest import PROJECT
from tests.console.matrix import ConsoleMatrix
from tests.console.test_forms import fetch, import_cluster

pytestmark = pytest.mark.django_db

NOT_PAGES = {
    "console:workload-scale": "tests.console.test_workloads.test_scale_changes_the_replicas",
    "console:workload-restart": "tests.console.test_workloads.test_restart_bumps_the_template",
    "console:workload-rollback": "tests.console.test_workloads.test_rollback_to_a_chosen_revision",
}


@pytest.fixture
def live(kube_sim):
    """A kubesim cluster with its controllers (deployments get ReplicaSets and pods)."""
    import uuid

    handle = kube_sim.add_cluster(f"w{uuid.uuid4().hex[:8]}", nodes=3, controller=True)
    handle.ca_data = open(handle.ca_file).read()  # noqa: SIM115
    yield handle
    kube_sim.remove_cluster(handle.name)


@pytest.fixture
def cluster(tenant, live):
    return import_cluster(tenant, live)


def deployment(name: str, image="nginx:1.25", replicas=2, labels=None) -> dict:
    labels = labels or {"app": name}
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


def cronjob(name: str) -> dict:
    return {
        "metadata": {"name": name},
        "spec": {
            "schedule": "*/5 * * * *",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "job", "image": "busybox"}],
                        }
                    }
                }
            },
        },
    }


def create(cluster, kind: str, obj: dict, namespace="default") -> dict:
    with services.client_for(cluster) as client:
        return resources.create_object(client, resources.KINDS[kind], namespace, obj)


def list_url(cluster, **query):
    url = reverse("console:workloads", kwargs={"cluster": cluster.name})
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return url


def page_url(cluster, name, kind="deployments", namespace="default", op=""):
    kwargs = {"cluster": cluster.name, "namespace": namespace, "kind": kind, "name": name}
    return reverse(f"console:workload{'-' + op if op else ''}", kwargs=kwargs)


def wait_for(predicate, timeout=8.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


# -- matrices ------------------------------------------------------------------------------------
class _LiveMatrix(ConsoleMatrix):
    reader = "member"
    no_permission = "cluster_only"  # sees the cluster, may not list or get workloads
    object_page = True

    @pytest.fixture(autouse=True)
    def _sim(self, live):
        self.sim = live

    def make_object(self, tenant):
        self.cluster = import_cluster(tenant, self.sim)
        create(self.cluster, "deployments", deployment("shop"))


class TestWorkloadsMatrix(_LiveMatrix):
    url_name = "console:workloads"
    expect = 'data-workload="deployments/default/shop"'

    def url_for(self, tenant):
        return list_url(self.cluster)


class TestWorkloadMatrix(_LiveMatrix):
    url_name = "console:workload"
    expect = 'id="workload-summary"'

    def url_for(self, tenant):
        return page_url(self.cluster, "shop")


# -- the list ------------------------------------------------------------------------------------
def test_the_list_shows_all_five_kinds_and_filters(client, tenant_admin, cluster):
    create(cluster, "deployments", deployment("web"))
    create(cluster, "deployments", deployment("api"), namespace="kube-system")
    create(cluster, "cronjobs", cronjob("nightly"))
    client.force_login(tenant_admin)
    page = client.get(list_url(cluster)).content.decode()
    assert 'data-workload="deployments/default/web"' in page
    assert 'data-workload="deployments/kube-system/api"' in page
    assert 'data-workload="cronjobs/default/nightly"' in page
    assert "*/5 * * * *" in page
    only_default = client.get(list_url(cluster, namespace="default")).content.decode()
    assert "deployments/default/web" in only_default
    assert "deployments/kube-system/api" not in only_default
    only_cron = client.get(list_url(cluster, kind="cronjobs")).content.decode()
    assert "cronjobs/default/nightly" in only_cron and "deployments/default/web" not in only_cron
    named = client.get(list_url(cluster, q="ap")).content.decode()
    assert "deployments/kube-system/api" in named and "deployments/default/web" not in named
    # the table alone for an HTMX filter
    partial = client.get(
        list_url(cluster, q="ap"), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="workloads-table"
    ).content.decode()
    assert partial.startswith('<div id="workloads-table">') and "<html" not in partial


def test_a_project_member_sees_only_the_projects_namespaces(
    client, tenant, project_member, cluster
):
    project = Project.objects.create(tenant=tenant, name=PROJECT, display_name="Shop")
    ProjectCluster.objects.create(project=project, cluster=cluster, hard={"pods": "10"})
    ProjectNamespace.objects.create(
        tenant=tenant, project=project, cluster=cluster, namespace="default"
    )
    create(cluster, "deployments", deployment("mine"))
    create(cluster, "deployments", deployment("theirs"), namespace="kube-system")
    client.force_login(project_member)
    page = client.get(list_url(cluster)).content.decode()
    assert "deployments/default/mine" in page
    assert "theirs" not in page
    assert client.get(page_url(cluster, "theirs", namespace="kube-system")).status_code == 403
    assert client.get(page_url(cluster, "mine")).status_code == 200


def test_the_list_makes_a_constant_number_of_queries(client, tenant_admin, cluster):
    client.force_login(tenant_admin)
    create(cluster, "deployments", deployment("one"))
    client.get(list_url(cluster))  # warm the policy index
    with CaptureQueriesContext(connection) as one:
        assert client.get(list_url(cluster)).status_code == 200
    for index in range(8):
        create(cluster, "deployments", deployment(f"more-{index}"))
    with CaptureQueriesContext(connection) as many:
        page = client.get(list_url(cluster)).content.decode()
    assert "deployments/default/more-7" in page
    assert len(many) == len(one), [q["sql"] for q in many.captured_queries]


def test_an_unreachable_cluster_is_said_in_the_list(client, tenant_admin, tenant):
    from tests.factories import make_cluster

    dead = make_cluster(tenant, display_name="dead")
    client.force_login(tenant_admin)
    response = client.get(list_url(dead))
    assert response.status_code == 200
    assert "unreachable" in response.content.decode().lower()


# -- one workload ----------------------------------------------------------------------------------
def test_the_page_shows_pods_and_revisions(client, tenant_admin, cluster):
    create(cluster, "deployments", deployment("web", replicas=2))
    wait_for(lambda: fetch(cluster, "deployments", "web").get("status", {}).get("readyReplicas"))
    client.force_login(tenant_admin)
    page = client.get(page_url(cluster, "web")).content.decode()
    assert page.count('data-pod="web-') == 2
    assert 'data-revision="1"' in page
    assert 'id="scale-form"' in page and 'id="restart-form"' in page
    assert "nginx:1.25" in page


def test_scale_changes_the_replicas(client, tenant_admin, read_only_user, cluster):
    create(cluster, "deployments", deployment("web", replicas=1))
    client.force_login(read_only_user)
    refused = client.post(page_url(cluster, "web", op="scale"), {"replicas": "4"})
    assert refused.status_code == 403 and 'id="why-link"' in refused.content.decode()
    assert fetch(cluster, "deployments", "web")["spec"]["replicas"] == 1
    client.force_login(tenant_admin)
    response = client.post(
        page_url(cluster, "web", op="scale"), {"replicas": "4"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "Scaled to 4 replicas." in response.content.decode()
    assert fetch(cluster, "deployments", "web")["spec"]["replicas"] == 4
    event = AuditEvent.objects.filter(action="scaleDeployment").latest("created_at")
    assert event.resource == f"cluster:{cluster.name}/namespace:default/deployment:web"
    bad = client.post(page_url(cluster, "web", op="scale"), {"replicas": "-1"})
    assert bad.status_code == 302  # back to the page, with the error as a message
    assert fetch(cluster, "deployments", "web")["spec"]["replicas"] == 4


def test_restart_bumps_the_template(client, tenant_admin, cluster):
    create(cluster, "deployments", deployment("web"))
    client.force_login(tenant_admin)
    response = client.post(page_url(cluster, "web", op="restart"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    annotations = fetch(cluster, "deployments", "web")["spec"]["template"]["metadata"].get(
        "annotations", {}
    )
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    assert AuditEvent.objects.filter(action="restartDeployment").count() == 1
    # a Job cannot be restarted
    assert client.post(page_url(cluster, "x", kind="jobs", op="restart")).status_code == 404


def set_image(cluster, name: str, image: str) -> None:
    """Change the Deployment's image as a client would: read, change, replace — again when
    the controller's status update got in between (409), as kubectl edit does."""
    from apps.clusters.k8s import ClusterConflict

    for _ in range(10):
        live = fetch(cluster, "deployments", name)
        live["spec"]["template"]["spec"]["containers"][0]["image"] = image
        try:
            with services.client_for(cluster) as kube:
                resources.replace_object(
                    kube, resources.KINDS["deployments"], "default", name, live
                )
            return
        except ClusterConflict:
            continue
    raise AssertionError(f"could not change {name}'s image: it kept changing")


def test_rollback_to_a_chosen_revision(client, tenant_admin, cluster):
    create(cluster, "deployments", deployment("web", image="nginx:1"))
    for image in ("nginx:2", "nginx:3"):
        wait_for(lambda: fetch(cluster, "deployments", "web").get("status", {}).get("replicas"))
        set_image(cluster, "web", image)
        wait_for(
            lambda i=image: any(r["images"] == [i] for r in _revisions(cluster, "web"))  # fmt: skip
        )
    client.force_login(tenant_admin)
    page = client.get(page_url(cluster, "web")).content.decode()
    assert 'data-rollback="1"' in page and 'data-rollback="2"' in page
    response = client.post(
        page_url(cluster, "web", op="rollback"), {"revision": "1"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200, response.content.decode()[:500]
    assert "Rolled back to revision 1." in response.content.decode()
    after = fetch(cluster, "deployments", "web")
    assert after["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1"
    missing = client.post(
        page_url(cluster, "web", op="rollback"), {"revision": "99"}, HTTP_HX_REQUEST="true"
    )
    assert missing.status_code == 400 and "Revision 99 not found" in missing.content.decode()


def _revisions(cluster, name):
    with services.client_for(cluster) as kube:
        return resources.revisions(kube, resources.KINDS["deployments"], "default", name)


def test_a_cronjob_page_lists_no_pods_but_its_jobs(client, tenant_admin, cluster):
    create(cluster, "cronjobs", cronjob("nightly"))
    client.force_login(tenant_admin)
    page = client.get(page_url(cluster, "nightly", kind="cronjobs")).content.decode()
    assert "*/5 * * * *" in page and 'id="scale-form"' not in page
    assert "No jobs yet." in page


def test_the_page_query_count_is_small(
    client, tenant_admin, cluster, django_assert_max_num_queries
):
    create(cluster, "deployments", deployment("web"))
    client.force_login(tenant_admin)
    client.get(page_url(cluster, "web"))
    with django_assert_max_num_queries(10):
        assert client.get(page_url(cluster, "web")).status_code == 200


def test_a_missing_workload_is_said(client, tenant_admin, cluster):
    client.force_login(tenant_admin)
    response = client.get(page_url(cluster, "nothing"))
    assert response.status_code == 404
    assert 'id="workload-error"' in response.content.decode()


def test_the_workloads_tab_is_active_on_the_list_the_page_and_the_forms(
    client, tenant_admin, cluster
):
    create(cluster, "deployments", deployment("web"))
    client.force_login(tenant_admin)
    edit = reverse(
        "console:form-edit",
        kwargs={
            "cluster": cluster.name,
            "namespace": "default",
            "kind": "deployments",
            "name": "web",
        },  # fmt: skip
    )
    for url in (list_url(cluster), page_url(cluster, "web"), edit):
        page = client.get(url).content.decode()
        tabs = page.split('id="cluster-tabs"')[1].split("</nav>")[0]
        active = tabs.split('aria-current="page"')[0].rsplit("<a", 1)[1]
        assert f'href="{list_url(cluster)}"' in active, url


def test_odd_names_never_reach_a_decision(client, tenant_admin, cluster):
    client.force_login(tenant_admin)
    base = f"/clusters/{cluster.name}"
    for url in (
        f"{base}/workloads/default/deployments/*/",
        f"{base}/workloads/*/deployments/web/",
        f"{base}/namespaces/default/deployments/*/edit/",
        f"{base}/namespaces/Default/deployments/web/edit/",
    ):
        assert client.get(url).status_code == 404, url


def test_a_long_list_pages_per_kind(client, tenant_admin, cluster, monkeypatch):
    from apps.console.views import workloads as views

    monkeypatch.setattr(views, "PAGE", 2)
    for index in range(5):
        create(cluster, "deployments", deployment(f"app-{index}"))
    client.force_login(tenant_admin)
    first = client.get(list_url(cluster, namespace="default")).content.decode()
    shown = {f"app-{i}" for i in range(5) if f'deployments/default/app-{i}"' in first}
    assert len(shown) == 2 and 'id="workloads-next"' in first
    seen = set(shown)
    url = first.split('id="workloads-next"')[1].split('href="')[1].split('"')[0]
    for _ in range(5):
        page = client.get(list_url(cluster) + url.replace("&amp;", "&")).content.decode()
        seen |= {f"app-{i}" for i in range(5) if f'deployments/default/app-{i}"' in page}
        if 'id="workloads-next"' not in page:
            break
        url = page.split('id="workloads-next"')[1].split('href="')[1].split('"')[0]
    assert seen == {f"app-{i}" for i in range(5)}


def test_a_foreign_continue_token_is_an_error_in_the_page(client, project_member, tenant, cluster):
    project = Project.objects.create(tenant=tenant, name=PROJECT, display_name="Shop")
    ProjectCluster.objects.create(project=project, cluster=cluster, hard={"pods": "10"})
    ProjectNamespace.objects.create(
        tenant=tenant, project=project, cluster=cluster, namespace="default"
    )
    client.force_login(project_member)
    response = client.get(list_url(cluster, kind="deployments", **{"continue": "bm9wZQ"}))
    assert response.status_code == 200
    assert "Not a continue token of this list." in response.content.decode()


def test_the_pods_section_refreshes_itself(client, tenant_admin, cluster):
    create(cluster, "deployments", deployment("web", replicas=1))
    client.force_login(tenant_admin)
    page = client.get(page_url(cluster, "web")).content.decode()
    section = page.split('id="workload-pods"')[1].split(">")[0]
    assert 'hx-trigger="every 5s"' in section and 'hx-select="#workload-pods"' in section
    assert f'hx-get="{page_url(cluster, "web")}"' in section
    wait_for(lambda: fetch(cluster, "deployments", "web").get("status", {}).get("readyReplicas"))
    again = client.get(page_url(cluster, "web"), HTTP_HX_REQUEST="true").content.decode()
    assert again.count('data-pod="web-') == 1
    assert "Running" in again.split('id="workload-pods"')[1]


def test_a_dead_cluster_is_said_on_the_page_and_for_an_action(client, tenant_admin, tenant):
    from tests.factories import make_cluster

    dead = make_cluster(tenant, display_name="dead")
    client.force_login(tenant_admin)
    page = client.get(page_url(dead, "web"))
    assert page.status_code == 503
    assert 'id="workload-error"' in page.content.decode()
    assert "unreachable" in page.content.decode().lower()
    scaled = client.post(
        page_url(dead, "web", op="scale"), {"replicas": "2"}, HTTP_HX_REQUEST="true"
    )
    assert scaled.status_code == 503
    assert "unreachable" in scaled.content.decode().lower()
    # the answer replaces the page body even though it is an error (forms.js lets it swap)
    assert 'id="workload-body" data-swap-errors' in scaled.content.decode()


def test_a_pages_cluster_calls_run_concurrently(client, tenant_admin, cluster, live):
    """Each list of the workloads page, and the workload page's pods and revisions, wait
    1 s in the cluster: asked one after another the pages would take 5 s and 2 s."""
    create(cluster, "deployments", deployment("web"))
    client.force_login(tenant_admin)
    client.get(list_url(cluster))  # warm the policy index and the connection pool
    rules = [
        live.faults.delay(1.0, method="GET", path=f"/{plural}$")
        for plural in ("deployments", "statefulsets", "daemonsets", "jobs", "cronjobs")
    ]
    started = time.monotonic()
    page = client.get(list_url(cluster)).content.decode()
    assert time.monotonic() - started < 3.5
    assert [rule.hits for rule in rules] == [1, 1, 1, 1, 1]
    assert "deployments/default/web" in page
    live.faults.clear()
    rules = [
        live.faults.delay(1.0, method="GET", path="/namespaces/default/pods$"),
        live.faults.delay(1.0, method="GET", path="/namespaces/default/replicasets$"),
    ]
    started = time.monotonic()
    page = client.get(page_url(cluster, "web")).content.decode()
    assert time.monotonic() - started < 1.9
    # revisions() reads the Deployment and its ReplicaSets: the pods and the sets both waited
    assert [rule.hits for rule in rules] == [1, 1]
    assert 'data-revision="1"' in page
    live.faults.clear()
