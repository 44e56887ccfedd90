"""The overview page: clusters with requests against allocatable, the pods and nodes that need
a look (linked to their pages), projects with quota use, recent operations and audit events;
stale and unreachable clusters shown as such; constant queries with many clusters and
projects. Permission-matrix tests for the page are in test_pages.py (TestOverviewMatrix).

The module doubles as a URL configuration (``pytest.mark.urls``) with stand-ins for the pages
other areas add (cluster, pods, pod, node, project, audit event) for the link tests: the real
routes come first, so once they exist they are the ones linked.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta

import pytest
from django.contrib import admin
from django.db import connection
from django.http import HttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from django.utils import timezone
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.audit.models import AuditEvent
from apps.clusters import k8s, services
from apps.clusters.models import Cluster, ClusterOperation
from apps.console import urls as console_urls
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from tests.factories import make_cluster

pytestmark = pytest.mark.django_db


def _stand_in(request, **kwargs):
    return HttpResponse("stand-in")


STAND_INS = [
    path("clusters/<str:cluster>/", _stand_in, name="cluster"),
    path("clusters/<str:cluster>/pods/", _stand_in, name="pods"),
    path(
        "clusters/<str:cluster>/namespaces/<str:namespace>/pods/<str:name>/",
        _stand_in,
        name="pod",
    ),
    path("clusters/<str:cluster>/nodes/<str:name>/", _stand_in, name="node"),
    path("projects/", _stand_in, name="projects"),
    path("projects/<str:project>/", _stand_in, name="project"),
    path("audit/<int:pk>/", _stand_in, name="audit-event"),
]
urlpatterns = [
    path("", include("apps.accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include(([*console_urls.urlpatterns, *STAND_INS], "console"))),
    path("admin/", admin.site.urls),
    path("api/v1/", include("tkeportal.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
]
with_links = pytest.mark.urls(__name__)

GIB = 2**30


def stored(cluster: Cluster, age=timedelta(0), **inventory) -> Cluster:
    """Give ``cluster`` a stored inventory (as the overview keeps it) of age ``age``."""
    cluster.phase = "Running"
    cluster.version = "v1.37.0"
    cluster.inventory = {
        "nodes": 3,
        "ready_nodes": 2,
        "pods": 40,
        "capacity": {"cpu": "24", "memory": str(96 * GIB)},
        "allocatable": {"cpu": "20", "memory": str(80 * GIB)},
        "requests": {"cpu": "15", "memory": str(20 * GIB)},
        "node_requests": {"node-1": {"cpu": "15", "memory": str(20 * GIB)}},
        "abnormal_pods": [
            {
                "namespace": "web",
                "name": "shop-7c9",
                "node": "node-1",
                "phase": "Running",
                "reason": "CrashLoopBackOff",
                "restarts": 12,
            },
            {
                "namespace": "kube-system",
                "name": "dns-x1",
                "node": "",
                "phase": "Pending",
                "reason": "Pending",
                "restarts": 0,
            },
        ],
        "abnormal_pod_count": 2,
        "abnormal_nodes": [{"name": "node-3", "ready": False, "unschedulable": True}],
        "abnormal_node_count": 1,
        **inventory,
    }
    cluster.inventory_at = timezone.now() - age
    cluster.save()
    return cluster


def section(page: str, element_id: str) -> str:
    """The HTML of the element with ``element_id`` (up to its closing tag of the same name)."""
    found = re.search(rf'<(\w+)[^>]*id="{element_id}".*?</\1>', page, re.S)
    assert found, f"#{element_id} is not on the page"
    return found.group(0)


@with_links
def test_clusters_show_requests_abnormal_pods_and_troubled_nodes_with_links(
    client, tenant, tenant_admin
):
    cluster = stored(make_cluster(tenant, display_name="acme-prod"))
    client.force_login(tenant_admin)
    page = client.get("/").content.decode()
    row = section(page, "overview-clusters")
    assert f'href="/clusters/{cluster.name}/"' in row  # console:cluster
    assert "15 / 20" in row and "(75%)" in row  # CPU requests against allocatable
    assert "20 / 80" in row and "(25%)" in row  # memory in GiB
    assert 'aria-valuenow="75"' in row and "bg-warning" in row
    assert f'href="/clusters/{cluster.name}/pods/">40<' in row
    assert "Unreachable" not in page  # fresh stored inventory: the cluster was not asked
    pods = section(page, "overview-abnormal-pods")
    assert f'href="/clusters/{cluster.name}/namespaces/web/pods/shop-7c9/"' in pods
    assert "CrashLoopBackOff" in pods and ">12<" in pods and "dns-x1" in pods
    nodes = section(page, "overview-abnormal-nodes")
    assert f'href="/clusters/{cluster.name}/nodes/node-3/"' in nodes
    assert "Not ready" in nodes and "Cordoned" in nodes
    summary = section(page, "overview-summary")
    assert 'data-total="abnormal-pods">2<' in summary
    assert 'data-total="nodes">2 / 3<' in summary


def test_without_the_other_pages_the_overview_shows_names_unlinked(
    client, tenant, tenant_admin, settings
):
    """A console whose pod, cluster and node pages are not routed (an area left out): names
    are plain text, never a broken link or an error."""
    from types import ModuleType

    from apps.console.views.pages import link

    kept = {"overview", "why", "tenant-switch"}
    only_overview = [p for p in console_urls.urlpatterns if getattr(p, "name", "") in kept]
    no_pages = ModuleType("no_pages")
    no_pages.urlpatterns = [
        path("", include(([*only_overview], "console"))),
        *(p for p in urlpatterns if getattr(p, "namespace", None) != "console"),
    ]
    settings.ROOT_URLCONF = no_pages
    stored(make_cluster(tenant, display_name="acme-prod"))
    client.force_login(tenant_admin)
    response = client.get("/")
    assert response.status_code == 200
    pods = section(response.content.decode(), "overview-abnormal-pods")
    assert "shop-7c9" in pods
    assert link("console:pod", cluster="c", namespace="n", name="p") is None
    assert "<a " not in pods


def test_a_project_member_sees_its_namespaces_pods_but_no_cluster_totals(
    client, tenant, project_member
):
    cluster = stored(make_cluster(tenant, display_name="acme-prod"))
    project = Project.objects.create(tenant=tenant, name="prj-test", display_name="Test")
    ProjectCluster.objects.create(project=project, cluster=cluster, hard={"requests.cpu": "4"})
    ProjectNamespace.objects.create(
        tenant=tenant, project=project, cluster=cluster, namespace="web", hard={}, used={}
    )
    client.force_login(project_member)
    page = client.get("/").content.decode()
    pods = section(page, "overview-abnormal-pods")
    assert "shop-7c9" in pods and "dns-x1" not in pods  # kube-system is not the project's
    assert "overview-abnormal-nodes" not in page  # nodes are the platform's
    row = section(page, "overview-clusters")
    assert "15 / 20" not in row and "(75%)" not in row  # no cluster-wide requests
    assert 'data-total="abnormal-pods">1<' in page
    assert 'data-total="nodes">—<' in page and 'data-total="pods">—<' in page  # not 0


@with_links
def test_projects_show_quota_use_bars(client, tenant, tenant_admin, project_member):
    cluster = make_cluster(tenant, display_name="acme-prod")
    other = make_cluster(tenant, display_name="acme-dev")
    shop = Project.objects.create(tenant=tenant, name="prj-test", display_name="Web shop")
    hard = {"requests.cpu": "8", "requests.memory": "16Gi", "pods": "100"}
    ProjectCluster.objects.create(project=shop, cluster=cluster, hard=hard)
    ProjectCluster.objects.create(project=shop, cluster=other, hard={"requests.cpu": "8"})
    ProjectNamespace.objects.create(
        tenant=tenant,
        project=shop,
        cluster=cluster,
        namespace="web",
        hard={"requests.cpu": "6", "requests.memory": "8Gi", "pods": "50"},
        used={"requests.cpu": "4", "requests.memory": "2Gi", "pods": "10"},
    )
    Project.objects.create(tenant=tenant, name="prj-other", display_name="Other team")
    client.force_login(tenant_admin)
    page = client.get("/").content.decode()
    item = section(page, "overview-projects")
    assert 'href="/projects/prj-test/"' in item
    cpu = item.split('data-resource="requests.cpu"')[1].split("data-resource=")[0]
    assert "4 used of 16" in cpu and 'aria-valuenow="25"' in cpu  # 4 of 8 + 8 cores
    assert "6 given to namespaces" in cpu
    memory = item.split('data-resource="requests.memory"')[1].split("data-resource=")[0]
    assert "2Gi used of 16Gi" in memory and 'aria-valuenow="12"' in memory
    assert "Other team" in item and "No quota on any cluster" in item
    # a project member sees only the project they belong to
    client.force_login(project_member)
    page = client.get("/").content.decode()
    item = section(page, "overview-projects")
    assert "Web shop" in item and "Other team" not in item


def test_stale_and_unreachable_clusters_are_shown_as_such(client, tenant, tenant_admin, kube_sim):
    """A fresh stored inventory is shown as is; an old one of a dead cluster says unreachable;
    a cluster slower than the page's budget shows its last known inventory marked stale — and
    none of them holds the page up or hides the rest."""
    handle = kube_sim.add_cluster(f"ov{uuid.uuid4().hex[:8]}", nodes=2, own_port=True)
    slow = services.import_cluster(
        actor=None,
        tenant=tenant,
        display_name="acme-slow",
        spec=k8s.Connection(
            server=handle.url,
            token=handle.token,
            ca_data=open(handle.ca_file).read(),  # noqa: SIM115
        ),
    )
    stored(slow, age=timedelta(hours=1), nodes=7)
    dead = stored(make_cluster(tenant, display_name="acme-dead"), age=timedelta(hours=1))
    fresh = stored(make_cluster(tenant, display_name="acme-fresh"))  # dead too, but recent
    Project.objects.create(tenant=tenant, name="prj-shop", display_name="Web shop")
    handle.faults.delay(30)
    client.force_login(tenant_admin)
    try:
        started = time.monotonic()
        page = client.get("/").content.decode()
        elapsed = time.monotonic() - started
    finally:
        kube_sim.remove_cluster(handle.name)
    table = section(page, "overview-clusters")
    rows = {
        name: table.split(f'data-cluster="{name}"')[1].split("</tr>")[0]
        for name in (slow.name, dead.name, fresh.name)
    }
    assert "Stale" in rows[slow.name] and "last known inventory" in rows[slow.name]
    assert "2 / 7" in rows[slow.name]  # the stored figures, not a live answer
    assert "Unreachable" in rows[dead.name] and dead.name in rows[dead.name]
    assert "Unreachable" not in rows[fresh.name] and "Stale" not in rows[fresh.name]
    assert "Web shop" in page  # the rest of the page is there
    assert 'hx-trigger="every 5s"' in page  # and the clusters part asks again soon
    # the page kept its budget (1.5 s) rather than waiting out the cluster's 30 s; the bound is
    # loose so that a loaded machine cannot fail it, and still far below the delay
    assert elapsed < 20


def test_the_clusters_part_refreshes_itself_through_htmx(client, tenant, tenant_admin):
    cluster = stored(make_cluster(tenant, display_name="acme-prod"))
    Project.objects.create(tenant=tenant, name="prj-shop", display_name="Web shop")
    client.force_login(tenant_admin)
    page = client.get("/").content.decode()
    assert 'hx-get="/?fragment=clusters"' in page and 'hx-trigger="every 30s"' in page
    pods_link = f'href="/clusters/{cluster.name}/pods/">'
    assert f"{pods_link}40<" in page
    # when: the cluster's inventory changes
    stored(cluster, pods=41, abnormal_pods=[], abnormal_pod_count=0)
    response = client.get("/", {"fragment": "clusters"}, HTTP_HX_REQUEST="true")
    # then: the clusters part alone, with what changed
    part = response.content.decode()
    assert response.status_code == 200
    assert part.lstrip().startswith('<div id="overview-live"') and "<html" not in part
    assert f"{pods_link}41<" in part and "shop-7c9" not in part
    assert "Web shop" not in part  # projects are not part of it
    # without htmx the same address is the whole page
    assert "Web shop" in client.get("/", {"fragment": "clusters"}).content.decode()


def test_operations_and_audit_events_of_the_tenant_only(
    client, tenant, other_tenant, tenant_admin, viewer
):
    cluster = stored(make_cluster(tenant, display_name="acme-prod"))
    theirs = make_cluster(other_tenant, display_name="globex-prod")
    ClusterOperation.objects.create(
        tenant=tenant, cluster=cluster, kind="rotate-credential", phase="Succeeded"
    )
    ClusterOperation.objects.create(tenant=other_tenant, cluster=theirs, kind="sync")
    AuditEvent.objects.create(
        tenant=tenant, action="deleteProject", resource="project:prj-ours", outcome="success"
    )
    AuditEvent.objects.create(
        tenant=other_tenant,
        action="deleteProject",
        resource="project:prj-theirs",
        outcome="success",
    )
    client.force_login(tenant_admin)
    page = client.get("/").content.decode()
    operations = section(page, "overview-operations")
    assert "Credential rotation" in operations and "globex-prod" not in operations
    events = section(page, "overview-events")
    assert "project:prj-ours" in events and "prj-theirs" not in events
    client.force_login(viewer)  # may list neither
    page = client.get("/").content.decode()
    assert "overview-events" not in page and "overview-operations" not in page


def _populate(tenant, start: int, stop: int) -> None:
    for i in range(start, stop):
        cluster = stored(make_cluster(tenant, display_name=f"bulk-{i}"))
        project = Project.objects.create(tenant=tenant, name=f"prj-bulk-{i}", display_name=f"B{i}")
        ProjectCluster.objects.create(project=project, cluster=cluster, hard={"pods": "10"})
        ProjectNamespace.objects.create(
            tenant=tenant,
            project=project,
            cluster=cluster,
            namespace=f"ns{i}",
            hard={"pods": "5"},
            used={"pods": "1"},
        )
        ClusterOperation.objects.create(tenant=tenant, cluster=cluster, kind="sync")


@with_links
def test_queries_do_not_grow_with_clusters_and_projects(client, tenant, tenant_admin):
    """One cluster and project, then twenty of each: the same number of queries (stored
    inventories, quota of every project at once)."""
    client.force_login(tenant_admin)
    _populate(tenant, 0, 1)
    client.get("/")  # warm: session, policies
    with CaptureQueriesContext(connection) as one:
        page = client.get("/").content.decode()
    assert page.count('data-cluster="') == 1 and page.count('data-project="') == 1
    _populate(tenant, 1, 20)
    client.get("/")
    with CaptureQueriesContext(connection) as twenty:
        page = client.get("/").content.decode()
    assert page.count('data-cluster="') == 20 and page.count('data-project="') == 20
    assert page.count('data-resource="pods"') == 20  # every project's quota bar
    assert len(twenty) == len(one), [q["sql"][:120] for q in twenty.captured_queries]
