"""Console benchmark part: the Deployment edit form (``console:form-edit``), rendered for a
Deployment with two containers, env, ports, probes, mounts, volumes and tolerations — the
live object read from kubesim, projected into the form and rendered — and the workload page
(``console:workload``: the object, its pods and revisions asked concurrently)."""

from __future__ import annotations

import time

from django.urls import reverse

from benchmarks.support.stats import p50_p99_ms

ROUNDS = 200


def _deployment() -> dict:
    container = {
        "image": "nginx:1.27",
        "command": ["nginx"],
        "args": ["-g", "daemon off;"],
        "env": [{"name": f"VAR_{i}", "value": str(i)} for i in range(10)],
        "ports": [{"name": "http", "containerPort": 8080}],
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1"}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
        "readinessProbe": {"tcpSocket": {"port": 8080}},
        "volumeMounts": [{"name": "cfg", "mountPath": "/etc/app"}],
    }
    return {
        "metadata": {"name": "shop", "annotations": {"team": "shop"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "shop"}},
            "template": {
                "metadata": {"labels": {"app": "shop"}},
                "spec": {
                    "containers": [{**container, "name": "app"}, {**container, "name": "side"}],
                    "volumes": [{"name": "cfg", "configMap": {"name": "settings"}}],
                    "tolerations": [{"key": "dedicated", "operator": "Exists"}],
                    "nodeSelector": {"kubernetes.io/arch": "amd64"},
                },
            },
        },
    }


def _timed(client, url: str, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
    return samples


def measure(env) -> dict:
    from apps.clusters import k8s, resources, services

    handle = env.sim.add_cluster("bench-forms", nodes=3, controller=True)
    ca = open(handle.ca_file).read()  # noqa: SIM115
    spec = k8s.Connection(server=handle.url, token=handle.token, ca_data=ca)
    cluster = services.import_cluster(
        actor=None, tenant=env.tenant, display_name="bench-forms", spec=spec
    )
    try:
        with services.client_for(cluster) as client:
            resources.create_object(
                client, resources.KINDS["deployments"], "default", _deployment()
            )
        kwargs = {"cluster": cluster.name, "namespace": "default", "kind": "deployments"}
        edit = reverse("console:form-edit", kwargs={**kwargs, "name": "shop"})
        page = reverse("console:workload", kwargs={**kwargs, "name": "shop"})
        _timed(env.client, edit, 10)  # warm caches and the policy index
        _timed(env.client, page, 10)
        edit_p50, edit_p99 = p50_p99_ms(_timed(env.client, edit, ROUNDS))
        page_p50, page_p99 = p50_p99_ms(_timed(env.client, page, ROUNDS))
    finally:
        env.sim.remove_cluster(handle.name)
    return {
        "deployment_form_p50_ms": edit_p50,
        "deployment_form_p99_ms": edit_p99,
        "workload_page_p50_ms": page_p50,
        "workload_page_p99_ms": page_p99,
    }
