"""``manage.py seeddemo``: the demo tenant, its administrator and the simulated clusters
``make run`` starts (the command lives with the sandbox it seeds)."""

import pytest
from django.core.management import call_command

from apps.tenants.models import Tenant

pytestmark = pytest.mark.django_db


def test_seeddemo_is_idempotent_and_uses_the_given_password(monkeypatch, client):
    monkeypatch.setenv("PORTAL_ADMIN_PASSWORD", "demo-pass-123")
    call_command("seeddemo")
    call_command("seeddemo")
    assert Tenant.objects.filter(slug="demo").count() == 1
    assert client.login(username="demo/admin", password="demo-pass-123")


def test_seeddemo_gives_image_namespaces_and_a_chart_to_install(monkeypatch):
    """A public image namespace and a public chart group holding hello-web, whose archive
    passes the portal's own upload checks and renders with Helm; seeded once."""
    import helm_python as helm

    from apps.charts.models import ChartVersion
    from apps.registry.models import RegistryNamespace

    monkeypatch.setenv("PORTAL_ADMIN_PASSWORD", "demo-pass-123")
    call_command("seeddemo")
    call_command("seeddemo")
    library = RegistryNamespace.objects.get(tenant__slug="demo", name="library")
    assert library.visibility == "public"
    version = ChartVersion.objects.select_related("chart__group", "archive").get()
    assert (version.chart.group.name, version.chart.name, version.version) == (
        "demo-charts",
        "hello-web",
        "0.1.0",
    )
    with helm.Chart.load_archive(bytes(version.archive.data)) as chart:
        rendered = chart.render({"replicaCount": 3}, name="shop", namespace="web")
    deployment = rendered["hello-web/templates/deployment.yaml"]
    assert "name: shop" in deployment and "replicas: 3" in deployment


def test_seeddemo_keeps_an_existing_password_unless_one_is_given(monkeypatch, client, capsys):
    monkeypatch.setenv("PORTAL_ADMIN_PASSWORD", "first-pass-123")
    call_command("seeddemo")
    monkeypatch.delenv("PORTAL_ADMIN_PASSWORD")
    call_command("seeddemo")
    assert "password unchanged" in capsys.readouterr().out
    assert client.login(username="demo/admin", password="first-pass-123")


def test_seeddemo_imports_and_reconnects_kubeconfig_clusters(kube_sim, tmp_path, capsys):
    """make run's demo: every kubeconfig context becomes a cluster; a restarted simulator
    (new address, CA and token) is reconnected, not duplicated."""
    import uuid

    from apps.clusters.models import Cluster

    name = f"demo{uuid.uuid4().hex[:6]}"
    first = kube_sim.add_cluster(name, nodes=2, controller=False)
    path = tmp_path / "kubeconfig"
    first.kubeconfig(path)
    try:
        call_command("seeddemo", "--kubeconfig", str(path))
        cluster = Cluster.objects.get(tenant__slug="demo")
        assert cluster.node_count == 2 and cluster.phase == "Running"
    finally:
        kube_sim.remove_cluster(name)
    second = kube_sim.add_cluster(name, nodes=3, controller=False)
    second.kubeconfig(path)
    try:
        call_command("seeddemo", "--kubeconfig", str(path))
    finally:
        kube_sim.remove_cluster(name)
    reconnected = Cluster.objects.get(tenant__slug="demo")
    assert reconnected.pk == cluster.pk
    assert reconnected.node_count == 3
    assert reconnected.credential.token == second.token
    assert f"{reconnected.display_name} ({reconnected.name}): 3 nodes" in capsys.readouterr().out


def test_seeddemo_gives_the_demo_projects_and_business_users(
    kube_sim, tmp_path, monkeypatch, capsys, client, django_capture_on_commit_callbacks
):
    """The demo shows projects: two projects own kubesim's demo namespaces on "prod", and the
    business users see only their own project's namespaces."""
    from apps.authz import check
    from apps.projects.access import reach
    from apps.projects.models import Project, ProjectNamespace

    monkeypatch.setenv("PORTAL_ADMIN_PASSWORD", "demo-pass-123")
    prod = kube_sim.add_cluster("prod", nodes=2, controller=False)
    path = tmp_path / "kubeconfig"
    prod.kubeconfig(path)
    try:
        for _ in range(2):  # idempotent
            with django_capture_on_commit_callbacks(execute=True):
                call_command("seeddemo", "--kubeconfig", str(path))
    finally:
        kube_sim.remove_cluster("prod")
    owned = {
        (row.project.name, row.namespace, row.phase)
        for row in ProjectNamespace.objects.select_related("project")
    }
    assert owned == {
        ("prj-webshop", "web", "Available"),
        ("prj-dataml", "data", "Available"),
        ("prj-dataml", "ml", "Available"),
    }
    assert Project.objects.filter(tenant__slug="demo").count() == 2
    assert "Business users lena, dev, sam (password demo-pass-123)" in capsys.readouterr().out
    from apps.accounts.models import User

    dev = User.objects.get(username="dev", tenant__slug="demo")
    cluster = ProjectNamespace.objects.get(namespace="web").cluster
    assert reach(dev, cluster, "listPods", "pod:*").namespaces == ("web",)
    assert not check(dev, "getPod", f"cluster:{cluster.name}/namespace:ml/pod:x", tenant=dev.tenant)
    assert client.login(username="demo/dev", password="demo-pass-123")


def test_seeddemo_leaves_the_demo_clusters_collecting_metrics(kube_sim, tmp_path, capsys):
    """make run's charts have data from the start: each demo cluster has an enabled monitor
    and a first collection stored; beat (or runperiodic) goes on from there."""
    import uuid

    from apps.clusters.models import Cluster
    from apps.monitoring.models import ClusterMonitor, Series

    name = f"demo{uuid.uuid4().hex[:6]}"
    handle = kube_sim.add_cluster(name, nodes=2, controller=False)
    path = tmp_path / "kubeconfig"
    handle.kubeconfig(path)
    try:
        call_command("seeddemo", "--kubeconfig", str(path))
    finally:
        kube_sim.remove_cluster(name)
    cluster = Cluster.objects.get(tenant__slug="demo")
    monitor = ClusterMonitor.objects.get(cluster=cluster)
    assert monitor.enabled and monitor.source == "api" and monitor.last_error == ""
    assert monitor.last_collected_at is not None and monitor.last_series > 0
    nodes = set(Series.objects.filter(cluster=cluster, level="node").values_list("key", flat=True))
    assert nodes == {"node-1", "node-2"}
    assert f"metrics: {monitor.last_series} series collected" in capsys.readouterr().out
