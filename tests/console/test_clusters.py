"""The console's cluster pages against kubesim: the permission matrix of every page, the
import form, health check and credential rotation, nodes (cordon, uncordon, drain, labels
and taints), namespaces, pods (filters, pages, the live fragment), the generic kind and
object pages (secrets masked without revealSecret), a project member's view, a dead
cluster, and constant query counts."""

from __future__ import annotations

import pytest
from django.urls import reverse
from kubernetes import client as kclient

from apps.authz.models import Binding, Policy
from apps.clusters import k8s, services
from apps.clusters.masking import MASK_B64
from apps.clusters.models import Cluster, ClusterOperation
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from tests.conftest import PROJECT
from tests.console.matrix import ConsoleMatrix
from tests.factories import UserFactory, make_cluster

pytestmark = pytest.mark.django_db

# POST-only routes and the tests covering their authorization.
NOT_PAGES = {
    "console:cluster-health": "tests.console.test_clusters.test_health_check_needs_update_cluster",
    "console:cluster-rotate": "tests.console.test_clusters.test_rotation_needs_update_cluster",
    "console:node-op": "tests.console.test_clusters.test_node_operations_need_their_actions",
}


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture
def cluster(tenant, sim_cluster):
    spec = k8s.Connection(
        server=sim_cluster.url, token=sim_cluster.token, ca_data=sim_cluster.ca_data
    )
    return services.import_cluster(actor=None, tenant=tenant, display_name="sim", spec=spec)


@pytest.fixture
def project(tenant, cluster):
    """prj-test spans the cluster and owns its namespace ``web``."""
    project = Project.objects.create(tenant=tenant, name=PROJECT, display_name="Test")
    ProjectCluster.objects.create(project=project, cluster=cluster, hard={})
    ProjectNamespace.objects.create(
        tenant=tenant, project=project, cluster=cluster, namespace="web", hard={}, phase="Available"
    )
    return project


@pytest.fixture
def kube(sim_cluster):
    """CoreV1Api on the simulated cluster directly (behind the portal's back)."""
    config = kclient.Configuration(host=sim_cluster.url)
    config.ssl_ca_cert = sim_cluster.ca_file
    config.api_key = {"authorization": f"Bearer {sim_cluster.token}"}
    config.retries = 0
    with kclient.ApiClient(config) as api_client:
        yield kclient.CoreV1Api(api_client)


def make_pod(kube, namespace, name, labels=None, node="node-1"):
    body = {
        "metadata": {"name": name, "labels": labels or {"app": "demo"}},
        "spec": {
            "nodeName": node,
            "containers": [
                {
                    "name": "main",
                    "image": "nginx:1.27",
                    "resources": {
                        "requests": {"cpu": "10m", "memory": "16Mi"},
                        "limits": {"cpu": "10m", "memory": "16Mi"},
                    },
                }
            ],
        },
    }
    return kube.create_namespaced_pod(namespace, body)


def set_phase(kube, namespace, name, phase):
    kube.patch_namespaced_pod_status(name, namespace, {"status": {"phase": phase}})


# -- the permission matrix of every page ----------------------------------------------------------
class ClusterPageMatrix(ConsoleMatrix):
    """A page of one cluster: readable to the member (platform-user), refused (console 403)
    to one who sees the cluster but holds nothing in it, 404 for another tenant."""

    object_page = True
    no_permission = "cluster_only"
    kwargs: dict = {}

    @pytest.fixture(autouse=True)
    def _cluster(self, request):
        self.cluster = request.getfixturevalue("cluster")

    def url_for(self, tenant) -> str:
        return reverse(self.url_name, kwargs={"cluster": self.cluster.name, **self.kwargs})


class TestClustersMatrix(ConsoleMatrix):
    url = "/clusters/"
    expect = 'id="clusters-table"'

    def make_object(self, tenant):
        return make_cluster(tenant, display_name="acme-prod")

    def expect_of_tenant(self, tenant) -> str:
        return "acme-prod"


class TestClusterMatrix(ClusterPageMatrix):
    url_name = "console:cluster"
    expect = 'id="cluster-info"'

    def test_no_permission_is_the_console_403(self, request, client, tenant):
        """Not seeing the cluster at all is 404, as in the API (never 403)."""
        client.force_login(request.getfixturevalue("viewer"))
        response = client.get(self.url_for(tenant))
        assert response.status_code == 404
        assert 'id="not-found"' in response.content.decode()


class TestNodesMatrix(ClusterPageMatrix):
    url_name = "console:nodes"
    expect = 'id="node-node-1"'


class TestNodeMatrix(ClusterPageMatrix):
    url_name = "console:node"
    kwargs = {"name": "node-1"}
    expect = 'id="node-info"'


class TestNamespacesMatrix(ClusterPageMatrix):
    url_name = "console:namespaces"
    expect = 'data-namespace="kube-system"'


class TestPodsMatrix(ClusterPageMatrix):
    url_name = "console:pods"
    expect = 'id="pods-table"'


class TestPodMatrix(ClusterPageMatrix):
    url_name = "console:pod"
    kwargs = {"namespace": "web", "name": "probe"}
    expect = 'id="pod-containers"'

    def make_object(self, tenant):
        if tenant == self.cluster.tenant:
            make_pod(self._kube, "web", "probe")

    @pytest.fixture(autouse=True)
    def _pod(self, request):
        self._kube = request.getfixturevalue("kube")


class TestServicesMatrix(ClusterPageMatrix):
    url_name = "console:services"
    expect = 'data-object="kube-system/kube-dns"'


class TestIngressesMatrix(ClusterPageMatrix):
    url_name = "console:ingresses"
    expect = 'data-kind="ingresses"'


class TestConfigMapsMatrix(ClusterPageMatrix):
    url_name = "console:configmaps"
    expect = 'data-object="web/frontend-config"'


class TestSecretsMatrix(ClusterPageMatrix):
    url_name = "console:secrets"
    expect = 'data-kind="secrets"'


class TestStorageMatrix(ClusterPageMatrix):
    url_name = "console:storage"
    expect = 'id="storage-kinds"'


class TestHPAMatrix(ClusterPageMatrix):
    url_name = "console:hpas"
    expect = 'data-kind="horizontalpodautoscalers"'


class TestEventsMatrix(ClusterPageMatrix):
    url_name = "console:events"
    expect = 'data-kind="events"'


class TestCRDsMatrix(ClusterPageMatrix):
    url_name = "console:crds"
    expect = 'id="crds-table"'


class TestKindListMatrix(ClusterPageMatrix):
    url_name = "console:kind-list"
    kwargs = {"kind": "storageclasses"}
    expect = 'data-kind="storageclasses"'


class TestObjectMatrix(ClusterPageMatrix):
    url_name = "console:object"
    kwargs = {"namespace": "web", "kind": "configmaps", "name": "frontend-config"}
    expect = 'id="object-yaml"'


# -- clusters list and import ---------------------------------------------------------------------
def test_list_shows_phase_version_nodes_architectures_and_probe(client, tenant, member, cluster):
    services.sync_nodes(cluster)
    services.check_health(cluster)
    make_cluster(tenant, display_name="dead-one")
    client.force_login(member)
    page = client.get(reverse("console:clusters")).content.decode()
    row = page.split(f'data-cluster="{cluster.name}"', 1)[1].split("</tr>", 1)[0]
    assert "Running" in row and cluster.version in row
    assert "<td>3</td>" in row  # nodes
    assert "amd64" in row and "arm64" in row
    assert "<time datetime=" in row  # last probe
    assert "dead-one" in page


def test_import_through_the_form_with_server_and_token(client, tenant, tenant_admin, sim_cluster):
    client.force_login(tenant_admin)
    response = client.post(
        reverse("console:clusters"),
        {
            "display_name": "imported",
            "server": sim_cluster.url,
            "token": sim_cluster.token,
            "ca_data": sim_cluster.ca_data,
        },
    )
    cluster = Cluster.objects.get(display_name="imported")
    assert response.status_code == 302
    assert response["Location"] == reverse("console:cluster", kwargs={"cluster": cluster.name})
    assert cluster.credential.token == sim_cluster.token
    assert ClusterOperation.objects.filter(cluster=cluster, kind="import").exists()
    from apps.audit.models import AuditEvent

    event = AuditEvent.objects.get(action="createCluster")
    assert event.resource == cluster.authz_resource and event.channel == "console"
    assert sim_cluster.token not in str(event.request_body)


def test_import_through_the_form_with_a_kubeconfig_over_htmx(
    client, tenant, tenant_admin, sim_cluster
):
    import yaml

    client.force_login(tenant_admin)
    text = yaml.safe_dump(sim_cluster.kubeconfig())
    response = client.post(
        reverse("console:clusters"),
        {"display_name": "from-kubeconfig", "kubeconfig": text},
        HTTP_HX_REQUEST="true",
    )
    cluster = Cluster.objects.get(display_name="from-kubeconfig")
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("console:cluster", kwargs={"cluster": cluster.name})


def test_import_errors_are_next_to_their_fields(client, tenant, tenant_admin, sim_cluster):
    client.force_login(tenant_admin)
    response = client.post(
        reverse("console:clusters"),
        {
            "display_name": "bad-token",
            "server": sim_cluster.url,
            "token": "wrong",
            "ca_data": sim_cluster.ca_data,
        },
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert 'id="import-token-error"' in page and "rejected this credential" in page
    assert 'value="bad-token"' in page  # nothing typed is lost (secrets aside)
    unnamed = client.post(reverse("console:clusters"), {"display_name": "", "server": "x"})
    assert 'id="import-display-name-error"' in unnamed.content.decode()
    nowhere = client.post(reverse("console:clusters"), {"display_name": "n", "server": ""})
    assert 'id="import-server-error"' in nowhere.content.decode()
    assert not Cluster.objects.filter(tenant=tenant).exists()


def test_import_of_an_unreachable_cluster_says_so(client, tenant, tenant_admin, sim_cluster):
    sim_cluster.faults.down()
    try:
        client.force_login(tenant_admin)
        response = client.post(
            reverse("console:clusters"),
            {
                "display_name": "down",
                "server": sim_cluster.url,
                "token": sim_cluster.token,
                "ca_data": sim_cluster.ca_data,
            },
        )
    finally:
        sim_cluster.faults.clear()
    page = response.content.decode()
    assert 'id="import-unreachable"' in page
    assert "Cluster unreachable" in page and "is unreachable" in page
    assert 'id="import-server-error"' in page


def test_only_who_may_create_clusters_gets_the_form(client, tenant, read_only_user):
    client.force_login(read_only_user)
    assert 'id="import-form"' not in client.get(reverse("console:clusters")).content.decode()
    response = client.post(reverse("console:clusters"), {"display_name": "x", "server": "x"})
    assert response.status_code == 403 and 'id="why-link"' in response.content.decode()
    assert not Cluster.objects.filter(display_name="x").exists()


def test_clusters_list_queries_do_not_grow(
    client, tenant, tenant_admin, django_assert_max_num_queries
):
    make_cluster(tenant)
    client.force_login(tenant_admin)
    client.get(reverse("console:clusters"))
    with django_assert_max_num_queries(60) as few:
        client.get(reverse("console:clusters"))
    for _ in range(6):
        make_cluster(tenant)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(reverse("console:clusters")).content.decode()
    assert page.count("data-cluster=") == 7


# -- the cluster page -----------------------------------------------------------------------------
def test_cluster_page_shows_info_conditions_and_tabs(client, member, cluster):
    client.force_login(member)
    page = client.get(reverse("console:cluster", kwargs={"cluster": cluster.name})).content.decode()
    assert cluster.server in page and cluster.version in page
    assert 'id="conditions"' in page and "HealthCheck" in page
    assert 'id="cluster-tabs"' in page
    for tab in ("Nodes", "Namespaces", "Pods", "Services", "Secrets", "Custom resources"):
        assert f">{tab}</a>" in page
    assert 'aria-current="page"' in page.split('id="cluster-tabs"', 1)[1].split("</nav>")[0]


def test_tabs_show_only_what_the_user_may_open(client, cluster, cluster_only):
    client.force_login(cluster_only)
    page = client.get(reverse("console:cluster", kwargs={"cluster": cluster.name})).content.decode()
    tabs = page.split('id="cluster-tabs"', 1)[1].split("</nav>")[0]
    assert ">Overview</a>" in tabs
    assert ">Nodes</a>" not in tabs and ">Pods</a>" not in tabs


def test_health_check_over_htmx(client, member, cluster, sim_cluster):
    client.force_login(member)
    url = reverse("console:cluster-health", kwargs={"cluster": cluster.name})
    response = client.post(url, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert response.status_code == 200 and 'id="health-result"' in page
    assert "The cluster answered." in page
    sim_cluster.faults.down()
    try:
        page = client.post(url, HTTP_HX_REQUEST="true").content.decode()
    finally:
        sim_cluster.faults.clear()
    assert f"Cluster {cluster.name} unreachable" in page
    cluster.refresh_from_db()
    assert cluster.consecutive_failures == 1


def test_health_check_needs_update_cluster(client, read_only_user, cluster, other_user):
    url = reverse("console:cluster-health", kwargs={"cluster": cluster.name})
    client.force_login(read_only_user)
    response = client.post(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 403 and "updateCluster" in response.content.decode()
    assert client.get(url).status_code == 405
    client.force_login(other_user)
    assert client.post(url).status_code == 404
    cluster.refresh_from_db()
    assert cluster.last_probe_at is None


def test_rotation_replaces_the_credential_or_says_why_not(client, member, cluster, sim_cluster):
    client.force_login(member)
    url = reverse("console:cluster-rotate", kwargs={"cluster": cluster.name})
    token = sim_cluster.add_user("rotated", verbs=["*"])
    bad = client.post(url, {"token": "nope"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="rotate-token-error"' in bad
    cluster.credential.refresh_from_db()
    assert cluster.credential.token == sim_cluster.token
    good = client.post(url, {"token": token}, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="rotate-done"' in good
    cluster.credential.refresh_from_db()
    assert cluster.credential.token == token


def test_rotation_needs_update_cluster(client, read_only_user, cluster, other_user):
    url = reverse("console:cluster-rotate", kwargs={"cluster": cluster.name})
    client.force_login(read_only_user)
    assert client.post(url, {"token": "x"}).status_code == 403
    client.force_login(other_user)
    assert client.post(url, {"token": "x"}).status_code == 404
    cluster.credential.refresh_from_db()
    assert cluster.credential.token != "x"


# -- nodes --------------------------------------------------------------------------------------
def test_nodes_show_status_roles_arch_gpus_and_units(client, member, cluster):
    client.force_login(member)
    page = client.get(reverse("console:nodes", kwargs={"cluster": cluster.name})).content.decode()
    rows = page.count('data-node="')
    assert rows == 3
    assert "worker" in page and "arm64" in page
    assert "32.0 GiB" in page  # memory capacity with its unit
    gpu_row = page.split('data-node="node-3"', 1)[1].split("</tr>", 1)[0]
    assert "<td>4</td>" in gpu_row  # its GPUs
    assert "16 cores / 15.91 cores" in gpu_row and "64.0 GiB / 63.2 GiB" in gpu_row
    assert "Ready" in page


def test_cordon_uncordon_and_drain_with_its_report(client, member, cluster, kube):
    make_pod(kube, "web", "victim", node="node-2")
    client.force_login(member)

    def op(name):
        url = reverse(
            "console:node-op", kwargs={"cluster": cluster.name, "name": "node-2", "op": name}
        )
        return client.post(url, HTTP_HX_REQUEST="true").content.decode()

    assert "SchedulingDisabled" in op("cordon")
    assert kube.read_node("node-2").spec.unschedulable is True
    assert "SchedulingDisabled" not in op("uncordon")
    assert not kube.read_node("node-2").spec.unschedulable
    report = op("drain")
    assert "Drained node-2" in report and "web/victim" in report
    assert kube.read_node("node-2").spec.unschedulable is True
    names = {p.metadata.name for p in kube.list_namespaced_pod("web").items}
    assert "victim" not in names


def test_node_operations_need_their_actions(client, read_only_user, cluster, other_user, kube):
    url = reverse(
        "console:node-op", kwargs={"cluster": cluster.name, "name": "node-1", "op": "cordon"}
    )
    client.force_login(read_only_user)
    response = client.post(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 403 and "cordonNode" in response.content.decode()
    assert not kube.read_node("node-1").spec.unschedulable
    client.force_login(other_user)
    assert client.post(url).status_code == 404
    assert not kube.read_node("node-1").spec.unschedulable


def test_node_labels_and_taints_edit(client, member, cluster, kube):
    client.force_login(member)
    url = reverse("console:node", kwargs={"cluster": cluster.name, "name": "node-1"})
    page = client.get(url).content.decode()
    assert "kubernetes.io/arch=" in page
    node = kube.read_node("node-1")
    labels = dict(node.metadata.labels)
    labels.pop("topology.kubernetes.io/zone")
    labels["team"] = "infra"
    text = "\n".join(f"{k}={v}" for k, v in labels.items())
    response = client.post(url, {"labels": text, "taints": "dedicated=gpu:NoSchedule"})
    assert response.status_code == 200 and 'id="node-saved"' in response.content.decode()
    node = kube.read_node("node-1")
    assert node.metadata.labels["team"] == "infra"
    assert "topology.kubernetes.io/zone" not in node.metadata.labels
    assert [(t.key, t.value, t.effect) for t in node.spec.taints] == [
        ("dedicated", "gpu", "NoSchedule")
    ]
    bad = client.post(url, {"labels": text, "taints": "dedicated=gpu:Sometimes"})
    assert bad.status_code == 400 and 'id="node-taints-error"' in bad.content.decode()


# -- namespaces, pods ----------------------------------------------------------------------------
def test_a_project_member_sees_only_the_projects_namespaces(
    client, project, project_member, cluster, kube
):
    make_pod(kube, "web", "mine")
    make_pod(kube, "data", "theirs")
    client.force_login(project_member)
    page = client.get(reverse("console:namespaces", kwargs={"cluster": cluster.name}))
    page = page.content.decode()
    assert 'data-namespace="web"' in page and 'data-namespace="data"' not in page
    pods = client.get(reverse("console:pods", kwargs={"cluster": cluster.name})).content.decode()
    assert 'data-pod="web/mine"' in pods and "theirs" not in pods
    assert '<option value="data"' not in pods and '<option value="web"' in pods
    refused = client.get(
        reverse("console:pods", kwargs={"cluster": cluster.name}), {"namespace": "data"}
    )
    assert refused.status_code == 403
    services_page = client.get(reverse("console:services", kwargs={"cluster": cluster.name}))
    assert "kube-dns" not in services_page.content.decode()
    configmaps = client.get(reverse("console:configmaps", kwargs={"cluster": cluster.name}))
    assert 'data-object="web/frontend-config"' in configmaps.content.decode()
    other = reverse(
        "console:object",
        kwargs={
            "cluster": cluster.name,
            "namespace": "kube-system",
            "kind": "services",
            "name": "kube-dns",
        },
    )
    assert client.get(other).status_code == 403


def test_pods_filter_by_namespace_label_status_and_name(client, member, cluster, kube):
    make_pod(kube, "web", "api-1", {"app": "api"})
    make_pod(kube, "web", "api-2", {"app": "api"})
    make_pod(kube, "data", "db-1", {"app": "db"})
    set_phase(kube, "web", "api-2", "Running")
    client.force_login(member)
    url = reverse("console:pods", kwargs={"cluster": cluster.name})

    def names(**params):
        page = client.get(url, params).content.decode()
        return {chunk.split('"', 1)[0] for chunk in page.split('data-pod="')[1:]}

    assert names() >= {"web/api-1", "web/api-2", "data/db-1"}
    assert names(namespace="data") == {"data/db-1"}
    assert names(labelSelector="app=api") == {"web/api-1", "web/api-2"}
    assert names(phase="Running", labelSelector="app=api") == {"web/api-2"}
    assert names(search="db-") == {"data/db-1"}


def test_pods_page_through_continue_tokens(client, member, cluster, kube):
    for i in range(55):
        make_pod(kube, "ml", f"p{i:02d}")
    client.force_login(member)
    url = reverse("console:pods", kwargs={"cluster": cluster.name})
    first = client.get(url, {"namespace": "ml"}).content.decode()
    assert first.count('data-pod="') == 50
    link = first.split('id="pods-next" href="?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    from urllib.parse import parse_qsl

    second = client.get(url, dict(parse_qsl(link))).content.decode()
    assert second.count('data-pod="') == 5
    assert 'data-pod="ml/p54"' in second and 'data-pod="ml/p00"' not in second


def _link(page, anchor_id):
    """The query of the link ``anchor_id`` in ``page`` (a dict), or None when absent."""
    from urllib.parse import parse_qsl

    if f'id="{anchor_id}"' not in page:
        return None
    tag = page.split(f'id="{anchor_id}"', 1)[1].split(">", 1)[0]
    query = tag.split('href="?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    return dict(parse_qsl(query))


def test_pods_page_back_one_page_at_a_time(client, member, cluster, kube):
    """Three pages (50, 50, 5): Next, Next, then Previous twice comes back to the same pods,
    the first page with neither a Previous link nor a continue token."""
    for i in range(105):
        make_pod(kube, "ml", f"p{i:03d}")
    client.force_login(member)
    url = reverse("console:pods", kwargs={"cluster": cluster.name})

    def pods(query):
        page = client.get(url, query).content.decode()
        return page, [chunk.split('"', 1)[0] for chunk in page.split('data-pod="')[1:]]

    first, on_first = pods({"namespace": "ml"})
    assert len(on_first) == 50 and _link(first, "pods-previous") is None
    second, on_second = pods(_link(first, "pods-next"))
    assert len(on_second) == 50 and not set(on_second) & set(on_first)
    third, on_third = pods(_link(second, "pods-next"))
    assert sorted(on_third) == [f"ml/p{i:03d}" for i in range(100, 105)]
    assert _link(third, "pods-next") is None
    # the links are plain links (keyboard reachable), marked as the previous/next page
    assert 'rel="prev" id="pods-previous" href="?' in third and ">Previous page</a>" in third
    back_to_second = _link(third, "pods-previous")
    assert back_to_second["namespace"] == "ml" and back_to_second["continue"]
    again, on_again = pods(back_to_second)
    assert on_again == on_second
    # and from there the next page is the third again, Previous the first
    assert pods(_link(again, "pods-next"))[1] == on_third
    back_to_first = _link(again, "pods-previous")
    assert "continue" not in back_to_first and back_to_first == {"namespace": "ml"}
    home, on_home = pods(back_to_first)
    assert on_home == on_first and _link(home, "pods-previous") is None
    assert _link(home, "pods-first") is None  # already on the first page


def test_a_business_user_pages_back_through_their_namespaces(
    client, tenant, project, project_member, cluster, kube
):
    """The merged list of the project's namespaces (its own continue tokens) goes back too."""
    for namespace in ("ml", "data"):
        ProjectNamespace.objects.create(
            tenant=tenant, project=project, cluster=cluster, namespace=namespace, hard={}
        )
    for i in range(40):  # kubesim's web namespace holds at most 50 pods (its quota)
        make_pod(kube, "web", f"w{i:02d}")
    for i in range(40):
        make_pod(kube, "ml", f"m{i:02d}")
    for i in range(25):
        make_pod(kube, "data", f"d{i:02d}")
    make_pod(kube, "default", "not-theirs")
    client.force_login(project_member)
    url = reverse("console:pods", kwargs={"cluster": cluster.name})

    def pods(query):
        page = client.get(url, query).content.decode()
        assert 'id="page-error"' not in page
        return page, [chunk.split('"', 1)[0] for chunk in page.split('data-pod="')[1:]]

    first, on_first = pods({})
    second, on_second = pods(_link(first, "pods-next"))
    third, on_third = pods(_link(second, "pods-next"))
    assert (len(on_first), len(on_second), len(on_third)) == (50, 50, 5)
    assert len(set(on_first + on_second + on_third)) == 105
    assert not any(name.startswith("default/") for name in on_first + on_second + on_third)
    again, on_again = pods(_link(third, "pods-previous"))
    assert on_again == on_second
    assert pods(_link(again, "pods-previous"))[1] == on_first


def test_other_lists_page_back_too(client, member, cluster, kube):
    for i in range(105):
        kube.create_namespaced_config_map("ml", {"metadata": {"name": f"c{i:03d}"}})
    client.force_login(member)
    url = reverse("console:configmaps", kwargs={"cluster": cluster.name})

    def names(query):
        page = client.get(url, query).content.decode()
        found = [c.split('"', 1)[0] for c in page.split('data-object="')[1:]]
        return page, [n for n in found if n.startswith("ml/c")]

    first, on_first = names({"namespace": "ml"})
    second, on_second = names(_link(first, "list-next"))
    third, on_third = names(_link(second, "list-next"))
    assert (len(on_first), len(on_second), len(on_third)) == (50, 50, 5)
    assert _link(first, "list-previous") is None
    assert names(_link(third, "list-previous"))[1] == on_second
    assert names(_link(second, "list-previous"))[1] == on_first


def test_a_remembered_token_is_judged_when_used(client, project, project_member, cluster):
    """``back`` is the client's: the token "Previous" replays is checked like any continue
    token (one naming a namespace outside the user's reach is refused in the page), and a
    malformed ``back`` offers no Previous at all."""
    client.force_login(project_member)
    url = reverse("console:pods", kwargs={"cluster": cluster.name})
    foreign = "eyJucyI6ImRhdGEiLCJjIjpudWxsfQ"  # {"ns":"data","c":null}
    page = client.get(url, {"back": f"~.{foreign}"}).content.decode()
    previous = _link(page, "pods-previous")
    assert previous == {"continue": foreign, "back": "~"}
    refused = client.get(url, previous).content.decode()
    assert 'id="page-error"' in refused and "continue token" in refused
    assert 'data-pod="data/' not in refused
    for garbage in ("a~b", "..", "x" * 9000):
        page = client.get(url, {"back": garbage}).content.decode()
        assert 'id="pods-previous"' not in page


def test_a_stale_continue_token_is_a_message_not_a_500(client, project, project_member, cluster):
    """A token of the merged per-namespace list naming a namespace outside the user's reach
    (or garbage) is refused in the page."""
    client.force_login(project_member)
    url = reverse("console:pods", kwargs={"cluster": cluster.name})
    for token in ("not-a-token", "eyJucyI6ImRhdGEiLCJjIjpudWxsfQ"):  # {"ns":"data","c":null}
        response = client.get(url, {"continue": token})
        page = response.content.decode()
        assert response.status_code == 200
        assert 'id="page-error"' in page and "continue token" in page


def test_the_live_fragment_shows_a_phase_change(client, member, cluster, kube):
    make_pod(kube, "web", "flip")
    client.force_login(member)
    url = reverse("console:pods", kwargs={"cluster": cluster.name})
    page = client.get(url, {"namespace": "web"}).content.decode()
    assert 'hx-trigger="every 2s, refresh"' in page
    fragment_url = page.split('id="pods-live" hx-get="', 1)[1].split('"', 1)[0]
    fragment_url = fragment_url.replace("&amp;", "&")
    set_phase(kube, "web", "flip", "Failed")
    fragment = client.get(fragment_url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment
    row = fragment.split('data-pod="web/flip"', 1)[1].split("</tr>", 1)[0]
    assert 'data-phase="Failed"' in row


def test_pod_page_shows_containers_conditions_events_and_yaml(client, member, cluster, kube):
    make_pod(kube, "web", "solo")
    kube.create_namespaced_event(
        "web",
        {
            "metadata": {"name": "solo.1"},
            "involvedObject": {"kind": "Pod", "name": "solo", "namespace": "web"},
            "reason": "Pulled",
            "message": "image pulled",
            "type": "Normal",
        },
    )
    client.force_login(member)
    url = reverse(
        "console:pod", kwargs={"cluster": cluster.name, "namespace": "web", "name": "solo"}
    )
    page = client.get(url).content.decode()
    assert "nginx:1.27" in page and 'id="pod-conditions"' in page
    assert "image pulled" in page
    assert "kind: Pod" in page
    missing = reverse(
        "console:pod", kwargs={"cluster": cluster.name, "namespace": "web", "name": "nope"}
    )
    assert client.get(missing).status_code == 404


def test_a_dead_cluster_is_a_message_not_a_500(client, member, cluster, sim_cluster):
    client.force_login(member)
    sim_cluster.faults.down()
    try:
        pages = {
            name: client.get(reverse(name, kwargs={"cluster": cluster.name}))
            for name in ("console:pods", "console:nodes", "console:namespaces", "console:secrets")
        }
    finally:
        sim_cluster.faults.clear()
    for name, response in pages.items():
        page = response.content.decode()
        assert response.status_code == 200, name
        assert 'id="cluster-error"' in page, name
        assert f"Cluster {cluster.name} unreachable" in page, name


def test_pods_list_queries_do_not_grow_with_pods(
    client, member, cluster, kube, django_assert_max_num_queries
):
    make_pod(kube, "ml", "one")
    client.force_login(member)
    url = reverse("console:pods", kwargs={"cluster": cluster.name})
    client.get(url)
    with django_assert_max_num_queries(60) as few:
        client.get(url)
    for i in range(20):
        make_pod(kube, "ml", f"more-{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(url).content.decode()
    assert page.count('data-pod="ml/') == 21


# -- kinds and objects ----------------------------------------------------------------------------
def test_secret_values_are_masked_without_reveal_secret(client, tenant, member, cluster, kube):
    kube.create_namespaced_secret(
        "web", {"metadata": {"name": "db-pass"}, "data": {"password": "c2VjcmV0LXZhbHVl"}}
    )
    url = reverse(
        "console:object",
        kwargs={"cluster": cluster.name, "namespace": "web", "kind": "secrets", "name": "db-pass"},
    )
    policy = Policy.objects.create(
        tenant=tenant,
        name="no-reveal",
        statements=[{"actions": ["revealSecret"], "resources": ["*"], "effect": "deny"}],
    )
    Binding.objects.create(tenant=tenant, user=member, policy=policy)
    client.force_login(member)
    page = client.get(url).content.decode()
    assert "c2VjcmV0LXZhbHVl" not in page and MASK_B64 in page
    assert 'id="secret-masked"' in page
    listing = client.get(reverse("console:secrets", kwargs={"cluster": cluster.name}))
    assert "c2VjcmV0LXZhbHVl" not in listing.content.decode()
    Binding.objects.filter(policy=policy).delete()
    from apps.authz.enforcer import bump_version

    bump_version(tenant.pk)
    admin = UserFactory(tenant=tenant, username="root")
    from tests.factories import bind

    bind(admin, "administrator")
    client.force_login(admin)
    page = client.get(url).content.decode()
    assert "c2VjcmV0LXZhbHVl" in page and 'id="secret-masked"' not in page


def test_cluster_scoped_kinds_and_custom_resources(client, member, cluster, kube, sim_cluster):
    config = kclient.Configuration(host=sim_cluster.url)
    config.ssl_ca_cert = sim_cluster.ca_file
    config.api_key = {"authorization": f"Bearer {sim_cluster.token}"}
    with kclient.ApiClient(config) as api_client:
        kclient.StorageV1Api(api_client).create_storage_class(
            {"metadata": {"name": "fast"}, "provisioner": "example.com/fast"}
        )
    client.force_login(member)
    classes = client.get(
        reverse("console:kind-list", kwargs={"cluster": cluster.name, "kind": "storageclasses"})
    ).content.decode()
    assert 'data-object="/fast"' in classes
    names = ["fast"]
    obj = client.get(
        reverse(
            "console:object",
            kwargs={
                "cluster": cluster.name,
                "namespace": "-",
                "kind": "storageclasses",
                "name": names[0],
            },
        )
    )
    assert obj.status_code == 200 and "kind: StorageClass" in obj.content.decode()
    config = kclient.Configuration(host=sim_cluster.url)
    config.ssl_ca_cert = sim_cluster.ca_file
    config.api_key = {"authorization": f"Bearer {sim_cluster.token}"}
    with kclient.ApiClient(config) as api_client:
        kclient.ApiextensionsV1Api(api_client).create_custom_resource_definition(
            {
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
                                    "x-kubernetes-preserve-unknown-fields": True,
                                }
                            },
                        }
                    ],
                },
            }
        )
        widget = {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w1"},
            "spec": {"size": 3},
        }
        kclient.CustomObjectsApi(api_client).create_namespaced_custom_object(
            "example.com", "v1", "web", "widgets", widget
        )
    crds = client.get(reverse("console:crds", kwargs={"cluster": cluster.name})).content.decode()
    assert "widgets.example.com" in crds
    widgets = client.get(
        reverse(
            "console:kind-list", kwargs={"cluster": cluster.name, "kind": "widgets.example.com"}
        )
    ).content.decode()
    assert 'data-object="web/w1"' in widgets
    widget = client.get(
        reverse(
            "console:object",
            kwargs={
                "cluster": cluster.name,
                "namespace": "web",
                "kind": "widgets.example.com",
                "name": "w1",
            },
        )
    ).content.decode()
    assert "size: 3" in widget
    unknown = reverse(
        "console:kind-list", kwargs={"cluster": cluster.name, "kind": "gadgets.example.com"}
    )
    assert client.get(unknown).status_code == 404


def test_create_and_edit_buttons_only_when_a_form_exists(client, member, cluster):
    """Without the workloads area's forms (this branch alone) no button leads nowhere."""
    client.force_login(member)
    listing = client.get(reverse("console:configmaps", kwargs={"cluster": cluster.name}))
    obj = client.get(
        reverse(
            "console:object",
            kwargs={
                "cluster": cluster.name,
                "namespace": "web",
                "kind": "configmaps",
                "name": "frontend-config",
            },
        )
    )
    try:
        from apps.console.forms.registry import has_form
    except ImportError:
        has_form = None
    if has_form is None:
        assert 'id="kind-create"' not in listing.content.decode()
        assert 'id="object-edit"' not in obj.content.decode()
    else:
        assert ('id="kind-create"' in listing.content.decode()) == has_form("configmaps")
        assert ('id="object-edit"' in obj.content.decode()) == has_form("configmaps")


@pytest.mark.parametrize(
    "route, grow",
    [
        ("console:namespaces", "namespaces"),
        ("console:configmaps", "configmaps"),
        ("console:nodes", "nodes"),
    ],
)
def test_list_pages_queries_do_not_grow_with_objects(
    client, member, cluster, kube, route, grow, django_assert_max_num_queries
):
    url = reverse(route, kwargs={"cluster": cluster.name})
    client.force_login(member)
    client.get(url)
    with django_assert_max_num_queries(60) as few:
        before = client.get(url).content.decode()
    for i in range(8):
        name = f"extra-{i}"
        if grow == "namespaces":
            kube.create_namespace({"metadata": {"name": name}})
        elif grow == "configmaps":
            kube.create_namespaced_config_map("ml", {"metadata": {"name": name}})
        else:
            kube.create_node(
                {"metadata": {"name": name, "labels": {"kubernetes.io/arch": "amd64"}}}
            )
    with django_assert_max_num_queries(len(few.captured_queries)):
        after = client.get(url).content.decode()
    assert "extra-7" in after and "extra-7" not in before


def test_every_cluster_page_gets_its_tabs_from_the_console_context(
    rf, cluster, project_member, project
):
    """Another area's page includes _tabs.html without computing anything: the console's
    context gives the tabs of the URL's cluster, those the user may open, the current one
    marked."""
    from django.template.loader import render_to_string
    from django.urls import resolve

    url = reverse("console:pods", kwargs={"cluster": cluster.name})
    request = rf.get(url)
    request.user = project_member
    request.resolver_match = resolve(url)
    html = render_to_string("console/clusters/_tabs.html", request=request)
    assert ">Pods</a>" in html and ">ConfigMaps</a>" in html
    assert ">Nodes</a>" not in html  # nodes are the platform's, not a project's
    assert 'aria-current="page">Pods</a>' in html
    request = rf.get("/")
    request.user = project_member
    request.resolver_match = resolve("/")
    assert 'id="cluster-tabs"' not in render_to_string(
        "console/clusters/_tabs.html", request=request
    )


def test_rotation_without_htmx_shows_the_errors_on_the_cluster_page(client, member, cluster):
    client.force_login(member)
    url = reverse("console:cluster-rotate", kwargs={"cluster": cluster.name})
    response = client.post(url, {"token": "nope"})
    page = response.content.decode()
    assert response.status_code == 400
    assert 'id="cluster-info"' in page and 'id="rotate-token-error"' in page


def test_kubernetes_times_are_shown_in_the_viewers_time_zone(client, member, cluster, kube):
    import zoneinfo

    pod = make_pod(kube, "ml", "timed")
    created = pod.metadata.creation_timestamp
    shanghai = created.astimezone(zoneinfo.ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")
    client.force_login(member)
    client.cookies["portal_tz"] = "Asia/Shanghai"
    page = client.get(
        reverse("console:pods", kwargs={"cluster": cluster.name}), {"namespace": "ml"}
    ).content.decode()
    row = page.split('data-pod="ml/timed"', 1)[1].split("</tr>", 1)[0]
    assert shanghai in row


def test_wildcards_and_odd_names_never_reach_a_decision(client, member, cluster):
    """Names in the URL are Kubernetes names, as the API's routes take them: '*' (the
    policies' wildcard) is no namespace, node or object name — 404 before any decision."""
    client.force_login(member)
    base = f"/clusters/{cluster.name}"
    for path in (
        f"{base}/namespaces/*/pods/x/",
        f"{base}/namespaces/web/pods/*/",
        f"{base}/nodes/*/",
        f"{base}/nodes/node-1/reboot/",
        f"{base}/namespaces/*/configmaps/x/",
        f"{base}/namespaces/web/configmaps/*/",
        f"{base}/namespaces/web/deployments/x/",  # the workloads area's, not this one's
    ):
        response = client.get(path)
        assert response.status_code == 404, path


def test_the_platform_admin_imports_into_the_chosen_tenant_only(
    client, tenant, platform_admin, sim_cluster
):
    client.force_login(platform_admin)
    data = {
        "display_name": "by-operator",
        "server": sim_cluster.url,
        "token": sim_cluster.token,
        "ca_data": sim_cluster.ca_data,
    }
    assert 'id="import-choose-tenant"' in client.get(reverse("console:clusters")).content.decode()
    refused = client.post(reverse("console:clusters"), data)
    assert refused.status_code == 400 and "Choose a tenant first" in refused.content.decode()
    assert not Cluster.objects.filter(display_name="by-operator").exists()
    client.post(reverse("console:tenant-switch"), {"tenant": "acme", "next": "/"})
    assert client.post(reverse("console:clusters"), data).status_code == 302
    assert Cluster.objects.get(display_name="by-operator").tenant == tenant


def test_a_name_search_pages_too(client, member, cluster, kube):
    for i in range(53):
        make_pod(kube, "ml", f"hit-{i:02d}")
    for i in range(4):
        make_pod(kube, "ml", f"miss-{i}")
    client.force_login(member)
    url = reverse("console:pods", kwargs={"cluster": cluster.name})
    first = client.get(url, {"search": "hit-"}).content.decode()
    assert first.count('data-pod="') == 50 and "miss-" not in first
    link = first.split('id="pods-next" href="?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    from urllib.parse import parse_qsl

    second = client.get(url, dict(parse_qsl(link))).content.decode()
    assert second.count('data-pod="') == 3 and 'data-pod="ml/hit-52"' in second
    assert 'id="pods-next"' not in second
    # back from a searched page: the search again, from its start
    assert _link(second, "pods-previous") == {"search": "hit-"}
    assert _link(first, "pods-previous") is None


def test_a_project_member_sees_the_cluster_but_not_its_node_inventory(
    client, project, project_member, cluster
):
    services.sync_nodes(cluster)
    client.force_login(project_member)
    page = client.get(reverse("console:clusters")).content.decode()
    row = page.split(f'data-cluster="{cluster.name}"', 1)[1].split("</tr>", 1)[0]
    assert "<td>—</td>" in row and "arm64" not in row
    assert 'id="import-form"' not in page
    detail = client.get(reverse("console:cluster", kwargs={"cluster": cluster.name}))
    detail = detail.content.decode()
    assert 'id="cluster-info"' in detail and 'id="cluster-resources"' not in detail
    assert 'id="rotate-form"' not in detail and 'id="health-check"' not in detail
    assert client.get(reverse("console:nodes", kwargs={"cluster": cluster.name})).status_code == 403


def test_the_clusters_422_causes_are_next_to_the_labels(client, member, cluster, kube):
    client.force_login(member)
    url = reverse("console:node", kwargs={"cluster": cluster.name, "name": "node-1"})
    response = client.post(url, {"labels": "bad key!=x", "taints": ""}, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert response.status_code == 200  # htmx swaps it in
    feedback = page.split('id="node-labels-error"', 1)[1].split("</div>", 1)[0]
    assert "metadata.labels" in feedback
    assert "bad key!" not in kube.read_node("node-1").metadata.labels


def test_a_platform_admins_console_write_is_audited_in_the_chosen_tenant(
    client, platform_admin, tenant, cluster
):
    """The platform administrator acts in the tenant chosen in the switcher: the audit row of
    a console write belongs to that tenant (its administrators see it), not to nobody."""
    from apps.audit.models import AuditEvent

    client.force_login(platform_admin)
    client.post(reverse("console:tenant-switch"), {"tenant": tenant.slug})
    url = reverse("console:cluster-health", kwargs={"cluster": cluster.name})
    assert client.post(url, HTTP_HX_REQUEST="true").status_code == 200
    event = AuditEvent.objects.get(path=url)
    assert event.tenant_id == tenant.pk
    assert event.user_id == platform_admin.pk
