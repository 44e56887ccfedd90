"""The cluster and node admin: human-readable change pages and the operations (health check,
sync, credential rotation, cordon / uncordon / drain) going through the services and the
permission layer, each audited once, refused with a message for those without the right."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.clusters import k8s, services
from apps.clusters.models import Cluster, Node
from tests.admin.conftest import import_synced

pytestmark = pytest.mark.django_db


def page_text(response) -> str:
    """The rendered page with tags removed and whitespace collapsed."""
    html = response.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def change_url(cluster) -> str:
    return reverse("admin:clusters_cluster_change", args=[cluster.pk])


def sim_node(sim, name: str) -> dict:
    """The node as the cluster itself has it (not the portal's snapshot)."""
    with k8s.KubeClient(
        k8s.Connection(name="probe", server=sim.url, token=sim.token, ca_data=sim.ca_data)
    ) as client:
        return client.get(f"/api/v1/nodes/{name}")


# -- the change page in human form --------------------------------------------------------------
def test_cluster_change_page_shows_units_conditions_labels_and_nodes(client, tenant_admin, cluster):
    client.force_login(tenant_admin)
    response = client.get(change_url(cluster))
    assert response.status_code == 200
    text = page_text(response)
    # 3 kubesim nodes: 8 + 8 + 16 cores, 32 + 32 + 64 GiB; allocatable 90m and 800Mi less each.
    assert "Resource Capacity Allocatable" in text
    assert "cpu 32 cores 31.73 cores" in text
    assert "memory 128 GiB 125.7 GiB" in text
    assert "pods 330 pods 330 pods" in text
    assert "nvidia.com/gpu" in text
    # Conditions as a table row: type, status, reason.
    assert "HealthCheck True Probed" in text or "HealthCheck True Healthy" in text
    # Labels as chips, architectures, GPUs, the phase badge.
    html = response.content.decode()
    chip = '<span class="tke-key">env</span><span class="tke-value">prod</span></li>'
    assert '<li class="tke-chip">' + chip in html
    assert '<li class="tke-chip">amd64</li>' in html and '<li class="tke-chip">arm64</li>' in html
    gpu_node = Node.objects.get(cluster=cluster, gpus__gt=0)
    assert f"{gpu_node.gpus} GPU" in text and gpu_node.name in text
    assert 'class="tke-badge tke-ok">Running<' in html
    # The node table with its buttons, one row per node.
    for node in Node.objects.filter(cluster=cluster):
        assert f'aria-label="Cordon {node.name}"' in html
    assert 'class="permissionslink"' in html  # guardian's object permissions stay
    assert "node-1 Ready schedulable amd64 8 cores 32 GiB" in text
    # No raw JSON of capacity or conditions outside the collapsed label editor.
    assert '"lastProbeTime"' not in html and "{&quot;cpu&quot;" not in html
    assert "{'cpu'" not in html


def test_node_change_page_shows_capacity_and_labels(client, tenant_admin, cluster):
    node = Node.objects.get(cluster=cluster, name="node-1")
    client.force_login(tenant_admin)
    response = client.get(reverse("admin:clusters_node_change", args=[node.pk]))
    assert response.status_code == 200
    text = page_text(response)
    assert "cpu 8 cores 7.91 cores" in text
    assert "memory 32 GiB 31.2 GiB" in text
    assert "ephemeral-storage 100 GiB 92 GiB" in text
    html = response.content.decode()
    assert (
        '<span class="tke-key">kubernetes.io/arch</span><span class="tke-value">amd64</span>'
        in html
    )
    # A label without a value is its key alone.
    assert '<span class="tke-key">node-role.kubernetes.io/worker</span></li>' in html
    for operation in ("cordon", "drain"):
        url = reverse(
            "admin:clusters_cluster_node_operation", args=[cluster.pk, "node-1", operation]
        )
        assert f'formaction="{url}"' in html
    assert "/uncordon/" not in html


def test_node_page_shows_no_buttons_to_a_reader(client, staff_reader, cluster):
    node = Node.objects.get(cluster=cluster, name="node-1")
    client.force_login(staff_reader)
    response = client.get(reverse("admin:clusters_node_change", args=[node.pk]))
    assert response.status_code == 200 and "7.91 cores" in page_text(response)
    assert "/nodes/node-1/" not in response.content.decode()


# -- operations ---------------------------------------------------------------------------------
def test_cordon_button_cordons_the_node_in_the_cluster_and_uncordon_undoes_it(
    client, tenant_admin, cluster, sim_cluster, audit_rows
):
    client.force_login(tenant_admin)
    url = reverse("admin:clusters_cluster_node_operation", args=[cluster.pk, "node-2", "cordon"])
    response = client.post(url, follow=True)
    assert "cls-" in page_text(response) and f"Cordoned node-2 of {cluster.name}" in page_text(
        response
    )
    assert sim_node(sim_cluster, "node-2")["spec"]["unschedulable"] is True
    assert Node.objects.get(cluster=cluster, name="node-2").unschedulable
    [event] = audit_rows()
    assert (event.action, event.resource) == ("cordonNode", f"cluster:{cluster.name}/node:node-2")
    assert event.outcome == "success" and event.channel == "admin"
    html = client.get(change_url(cluster)).content.decode()
    assert 'aria-label="Uncordon node-2"' in html

    url = reverse("admin:clusters_cluster_node_operation", args=[cluster.pk, "node-2", "uncordon"])
    client.post(url)
    assert not sim_node(sim_cluster, "node-2")["spec"].get("unschedulable")
    assert not Node.objects.get(cluster=cluster, name="node-2").unschedulable
    assert [e.action for e in audit_rows()] == ["cordonNode", "uncordonNode"]


def test_node_actions_cordon_and_drain_the_selected_nodes(
    client, tenant_admin, cluster, sim_cluster, audit_rows
):
    nodes = Node.objects.filter(cluster=cluster, name__in=["node-1", "node-3"])
    client.force_login(tenant_admin)
    response = client.post(
        reverse("admin:clusters_node_changelist"),
        {"action": "drain_nodes", "_selected_action": [n.pk for n in nodes]},
        follow=True,
    )
    text = page_text(response)
    assert (
        f"Drained node-1 of {cluster.name}" in text and f"Drained node-3 of {cluster.name}" in text
    )
    assert sim_node(sim_cluster, "node-1")["spec"]["unschedulable"] is True
    assert sim_node(sim_cluster, "node-3")["spec"]["unschedulable"] is True
    assert not sim_node(sim_cluster, "node-2")["spec"].get("unschedulable")
    [event] = audit_rows()
    assert event.action == "drainNode"
    assert event.resource == (
        f"cluster:{cluster.name}/node:node-1,cluster:{cluster.name}/node:node-3"
    )


def test_health_check_and_sync_run_through_the_services(
    client, tenant_admin, cluster, sim_cluster, audit_rows
):
    Node.objects.filter(cluster=cluster).delete()
    Cluster.objects.filter(pk=cluster.pk).update(last_probe_at=None, node_count=0)
    client.force_login(tenant_admin)
    response = client.post(
        reverse("admin:clusters_cluster_health_check", args=[cluster.pk]), follow=True
    )
    assert f"Health check of {cluster.name}: Running, Kubernetes" in page_text(response)
    cluster.refresh_from_db()
    assert cluster.last_probe_at is not None
    response = client.post(
        reverse("admin:clusters_cluster_changelist"),
        {"action": "sync_nodes_now", "_selected_action": [cluster.pk]},
        follow=True,
    )
    assert f"Synced 3 nodes of {cluster.name}" in page_text(response)
    assert Node.objects.filter(cluster=cluster).count() == 3
    events = audit_rows()
    assert [(e.action, e.resource, e.outcome) for e in events] == [
        ("updateCluster", f"cluster:{cluster.name}", "success"),
        ("updateCluster", f"cluster:{cluster.name}", "success"),
    ]


def test_a_dead_cluster_says_unreachable_never_500(
    client, tenant_admin, cluster, sim_cluster, audit_rows
):
    sim_cluster.faults.down()
    client.force_login(tenant_admin)
    for url in (
        reverse("admin:clusters_cluster_health_check", args=[cluster.pk]),
        reverse("admin:clusters_cluster_sync", args=[cluster.pk]),
        reverse("admin:clusters_cluster_node_operation", args=[cluster.pk, "node-1", "cordon"]),
    ):
        response = client.post(url, follow=True)
        assert response.status_code == 200
        text = page_text(response)
        assert f"Cluster {cluster.name} is unreachable" in text, text[:2000]
    assert [e.outcome for e in audit_rows()] == ["failure", "failure", "failure"]
    assert client.get(change_url(cluster)).status_code == 200


def test_rotate_credential_switches_the_credential(
    client, tenant_admin, cluster, sim_cluster, audit_rows
):
    new_token = sim_cluster.add_user("rotated-admin")
    client.force_login(tenant_admin)
    url = reverse("admin:clusters_cluster_rotate_credential", args=[cluster.pk])
    form = client.get(url)
    assert form.status_code == 200 and 'name="token"' in form.content.decode()
    response = client.post(url, {"token": new_token}, follow=True)
    assert f"Rotated the credential of {cluster.name}" in page_text(response)
    cluster.refresh_from_db()
    assert cluster.credential.token == new_token
    assert services.check_health(cluster).phase == "Running"
    [event] = audit_rows()
    assert (event.action, event.resource, event.outcome) == (
        "updateCluster",
        f"cluster:{cluster.name}",
        "success",
    )
    assert new_token not in str(event.request_body)


def test_rotate_credential_with_a_rejected_token_keeps_the_old_one(
    client, tenant_admin, cluster, audit_rows
):
    old = cluster.credential.token
    client.force_login(tenant_admin)
    url = reverse("admin:clusters_cluster_rotate_credential", args=[cluster.pk])
    response = client.post(url, {"token": "not-a-token-of-this-cluster"})
    assert response.status_code == 200
    assert "The cluster rejected this credential." in page_text(response)
    cluster.refresh_from_db()
    assert cluster.credential.token == old
    assert [e.outcome for e in audit_rows()] == ["failure"]


# -- refusals -----------------------------------------------------------------------------------
def test_a_reader_is_refused_every_operation_and_nothing_changes(
    client, staff_reader, cluster, sim_cluster, audit_rows
):
    client.force_login(staff_reader)
    page = client.get(change_url(cluster))
    assert page.status_code == 200 and "node-1" in page.content.decode()
    # No buttons for what the reader may not do (a hidden button is not the guard: below).
    assert 'aria-label="Cordon' not in page.content.decode()
    assert "Check health" not in page_text(page) and "Sync nodes" not in page_text(page)
    old_token = cluster.credential.token
    attempts = [
        (reverse("admin:clusters_cluster_health_check", args=[cluster.pk]), {}, "updateCluster"),
        (reverse("admin:clusters_cluster_sync", args=[cluster.pk]), {}, "updateCluster"),
        (
            reverse("admin:clusters_cluster_rotate_credential", args=[cluster.pk]),
            {"token": "x"},
            "updateCluster",
        ),
        (
            reverse("admin:clusters_cluster_node_operation", args=[cluster.pk, "node-1", "cordon"]),
            {},
            "cordonNode",
        ),
        (
            reverse("admin:clusters_cluster_changelist"),
            {"action": "check_health_now", "_selected_action": [cluster.pk]},
            "updateCluster",
        ),
    ]
    probed = Cluster.objects.get(pk=cluster.pk).last_probe_at
    for url, data, action in attempts:
        response = client.post(url, data, follow=True)
        assert response.status_code == 200
        assert f"You are not allowed to {action} on cluster:{cluster.name}" in page_text(response)
    html = response.content.decode()
    assert (
        f'<a href="/why/?action=updateCluster&amp;resource=cluster%3A{cluster.name}">'
        "Why can&#x27;t I?</a>" in html
    )
    cluster.refresh_from_db()
    assert cluster.last_probe_at == probed and cluster.credential.token == old_token
    assert not sim_node(sim_cluster, "node-1")["spec"].get("unschedulable")
    events = audit_rows()
    assert [(e.action, e.outcome) for e in events] == [
        ("updateCluster", "denied"),
        ("updateCluster", "denied"),
        ("updateCluster", "denied"),
        ("cordonNode", "denied"),
        ("updateCluster", "denied"),
    ]


def test_other_tenants_clusters_are_invisible(client, other_user, cluster, audit_rows):
    client.force_login(other_user)
    assert (
        cluster.name
        not in client.get(reverse("admin:clusters_cluster_changelist")).content.decode()
    )
    assert client.get(change_url(cluster)).status_code == 302  # the admin's "does not exist"
    url = reverse("admin:clusters_cluster_node_operation", args=[cluster.pk, "node-1", "cordon"])
    assert client.post(url).status_code == 404
    assert client.post(reverse("admin:clusters_cluster_sync", args=[cluster.pk])).status_code == 404
    node = Node.objects.filter(cluster=cluster).first()
    assert node.name not in client.get(reverse("admin:clusters_node_changelist")).content.decode()


# -- query counts -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url_name", ["admin:clusters_cluster_changelist", "admin:clusters_node_changelist"]
)
def test_changelist_queries_do_not_grow_with_rows(
    client, tenant, tenant_admin, kube_sim, sim_cluster, url_name
):
    import_synced(tenant, sim_cluster, "one")
    client.force_login(tenant_admin)
    client.get(reverse(url_name))  # warm caches (policy index, content types)
    with CaptureQueriesContext(connection) as one:
        assert client.get(reverse(url_name)).status_code == 200
    extra = [
        kube_sim.add_cluster(f"q{i}{sim_cluster.name}", nodes=3, controller=False) for i in range(3)
    ]
    try:
        for i, handle in enumerate(extra):
            handle.ca_data = open(handle.ca_file).read()  # noqa: SIM115
            import_synced(tenant, handle, f"more-{i}")
        with CaptureQueriesContext(connection) as many:
            response = client.get(reverse(url_name))
        assert response.status_code == 200
        assert response.content.decode().count("cls-") >= 4
        assert len(many) == len(one), [q["sql"] for q in many.captured_queries]
    finally:
        for handle in extra:
            kube_sim.remove_cluster(handle.name)


def test_drain_button_evicts_the_nodes_pods_and_reports_them(
    client, tenant_admin, cluster, sim_cluster, audit_rows
):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "lonely", "namespace": "default"},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "nginx:1.27"}]},
    }
    conn = k8s.Connection(
        name="probe", server=sim_cluster.url, token=sim_cluster.token, ca_data=sim_cluster.ca_data
    )
    with k8s.KubeClient(conn) as kube:
        kube.request("POST", "/api/v1/namespaces/default/pods", body=pod)
    client.force_login(tenant_admin)
    url = reverse("admin:clusters_cluster_node_operation", args=[cluster.pk, "node-1", "drain"])
    text = page_text(client.post(url, follow=True))
    assert f"Drained node-1 of {cluster.name}: evicted default/lonely" in text
    with k8s.KubeClient(conn) as kube:
        left = kube.get("/api/v1/pods", query={"fieldSelector": "spec.nodeName=node-1"})
    assert "lonely" not in [p["metadata"]["name"] for p in left["items"]]
    assert sim_node(sim_cluster, "node-1")["spec"]["unschedulable"] is True
    assert [(e.action, e.outcome) for e in audit_rows()] == [("drainNode", "success")]


def test_drain_needs_delete_pod_too(client, tenant, cluster, sim_cluster, audit_rows):
    """A staff user allowed drainNode but denied deletePod somewhere is refused the drain, as
    by the API."""
    from apps.authz.models import Policy
    from tests.conftest import persona
    from tests.factories import bind

    user = persona(tenant, "dora", "read-only", is_staff=True)
    Policy.objects.create(
        tenant=tenant,
        name="drainer",
        statements=[
            {"actions": ["drainNode"], "resources": ["cluster:*"], "effect": "allow"},
            {"actions": ["deletePod"], "resources": ["cluster:*"], "effect": "allow"},
            {
                "actions": ["deletePod"],
                "resources": ["cluster:*/namespace:kube-system/*"],
                "effect": "deny",
            },
        ],
    )
    bind(user, "drainer")
    client.force_login(user)
    url = reverse("admin:clusters_cluster_node_operation", args=[cluster.pk, "node-1", "drain"])
    text = page_text(client.post(url, follow=True))
    assert f"You are not allowed to deletePod on cluster:{cluster.name}/namespace:*/pod:*" in text
    assert not sim_node(sim_cluster, "node-1")["spec"].get("unschedulable")
    assert [(e.action, e.outcome) for e in audit_rows()] == [("drainNode", "denied")]


def test_the_cluster_page_speaks_chinese(client, tenant_admin, cluster):
    client.force_login(tenant_admin)
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    text = page_text(client.get(change_url(cluster)))
    assert "容量与可分配量" in text and "cpu 32 核 31.73 核" in text
    assert "node-1 就绪 可调度 amd64 8 核 32 GiB" in text
    assert "检查健康状态" in text and "轮换凭证" in text
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})  # leave English active


def test_cluster_page_queries_do_not_grow_with_nodes(
    client, tenant, tenant_admin, kube_sim, cluster
):
    client.force_login(tenant_admin)
    client.get(change_url(cluster))
    with CaptureQueriesContext(connection) as three:
        assert client.get(change_url(cluster)).status_code == 200
    big = kube_sim.add_cluster(f"big{cluster.name[-6:]}", nodes=9, controller=False)
    try:
        big.ca_data = open(big.ca_file).read()  # noqa: SIM115
        large = import_synced(tenant, big, "large")
        client.get(change_url(large))
        with CaptureQueriesContext(connection) as nine:
            response = client.get(change_url(large))
        assert response.content.decode().count('aria-label="Cordon node-') == 9
        assert len(nine) == len(three), [q["sql"] for q in nine.captured_queries]
    finally:
        kube_sim.remove_cluster(big.name)


def form_fields(html: str) -> dict:
    """The values a browser would send back from the change form (inputs, textareas)."""
    data = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or 'type="submit"' in tag or 'type="checkbox"' in tag:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        data[name.group(1)] = value.group(1) if value else ""
    for name, value in re.findall(
        r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S
    ):
        data[name] = value.strip().replace("&quot;", '"')
    return data


def test_editing_a_cluster_goes_through_the_update_service(
    client, tenant, tenant_admin, cluster, sim_cluster, audit_rows
):
    other = import_synced(tenant, sim_cluster, "staging")
    client.force_login(tenant_admin)
    data = form_fields(client.get(change_url(cluster)).content.decode())
    assert data["display_name"] == "prod"
    response = client.post(change_url(cluster), {**data, "display_name": other.display_name})
    assert response.status_code == 200
    assert "Another cluster has this name." in page_text(response)
    cluster.refresh_from_db()
    assert cluster.display_name == "prod"
    response = client.post(
        change_url(cluster), {**data, "display_name": "production", "labels": '{"env": "live"}'}
    )
    assert response.status_code == 302, page_text(response)[-2000:]
    cluster.refresh_from_db()
    assert (cluster.display_name, cluster.labels) == ("production", {"env": "live"})
    assert [(e.action, e.outcome) for e in audit_rows()] == [
        ("updateCluster", "failure"),
        ("updateCluster", "success"),
    ]
