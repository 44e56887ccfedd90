"""The Monitoring panel on the node, pod and workload pages of a kubesim cluster: each names
its object the way /api/v1/metrics/ keys it, and the API answers that key with the page's
charts' metrics."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from apps.clusters import k8s, resources, services
from apps.monitoring import partitions, store
from tests.monitoring.seed import origin, values

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster(tenant, sim_cluster):
    spec = k8s.Connection(
        server=sim_cluster.url, token=sim_cluster.token, ca_data=sim_cluster.ca_data
    )
    return services.import_cluster(actor=None, tenant=tenant, display_name="sim", spec=spec)


def panel(body: str) -> dict:
    match = re.search(r'<section class="monitoring-panel[^>]*>', body)
    assert match, "no monitoring panel"
    attributes = dict(re.findall(r'data-([a-z]+)="([^"]*)"', match.group()))
    start = body.index('<script id="monitoring-config" type="application/json">')
    attributes["config"] = json.loads(
        body[body.index(">", start) + 1 : body.index("</script>", start)]
    )
    return attributes


def test_node_pod_and_workload_pages_key_their_panels(client, member, cluster):
    with services.client_for(cluster) as api:
        resources.create_object(
            api,
            resources.KINDS["deployments"],
            "default",
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web"},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "main", "image": "nginx"}]},
                    },
                },
            },
        )
        resources.create_object(
            api,
            resources.KINDS["pods"],
            "default",
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "solo"},
                "spec": {"nodeName": "node-1", "containers": [{"name": "m", "image": "nginx"}]},
            },
        )
    client.force_login(member)
    pages = {
        "node": reverse("console:node", kwargs={"cluster": cluster.name, "name": "node-1"}),
        "pod": reverse(
            "console:pod", kwargs={"cluster": cluster.name, "namespace": "default", "name": "solo"}
        ),
        "workload": reverse(
            "console:workload",
            kwargs={
                "cluster": cluster.name,
                "namespace": "default",
                "kind": "deployments",
                "name": "web",
            },
        ),
    }
    expected = {"node": "node-1", "pod": "default/solo", "workload": "default/Deployment/web"}
    found = {}
    for level, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, (level, response.content[:300])
        found[level] = panel(response.content.decode())
        assert found[level]["level"] == level
        assert found[level]["object"] == expected[level]
        assert found[level]["cluster"] == cluster.name
    titles = [c["title"] for c in found["pod"]["config"]["charts"]]
    assert titles == ["CPU", "Memory", "Restarts", "Network"]
    assert [s["metric"] for s in found["pod"]["config"]["charts"][0]["series"]] == [
        "cpu_core_used",
        "cpu_core_request",
        "cpu_core_limit",
    ]
    assert [c["title"] for c in found["workload"]["config"]["charts"]][2] == "Pods"

    # What the pod page's script asks for, the API answers for that key.
    start = origin()
    partitions.ensure_partitions(start)
    store.write(
        cluster, start, [store.Row("pod", "default/solo", values("pod", cpu_core_limit=0.5))]
    )
    metrics = ",".join(
        s["metric"] for chart in found["pod"]["config"]["charts"] for s in chart["series"]
    )
    response = client.get(
        found["pod"]["url"],
        {
            "cluster": cluster.name,
            "level": "pod",
            "object": "default/solo",
            "metric": metrics,
            "start": int(start.timestamp()) - 60,
            "end": int(start.timestamp()) + 120,
            "step": "60",
        },
    )
    assert response.status_code == 200, response.content
    limits = [s for s in response.json()["series"] if s["metric"] == "k8s_pod_cpu_core_limit"]
    assert limits[0]["points"] == [[int(start.timestamp()) + 60, 0.5]]
