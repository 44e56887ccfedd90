"""Initial content of a simulated cluster: nodes (amd64 and arm64, some with NVIDIA GPUs as
extended resources), the ``kubernetes`` and ``kube-dns`` services, and — when asked — a few
namespaces with workloads, services, config and quotas that the controller brings to life.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cluster import Cluster

ZONES = ("ap-guangzhou-3", "ap-guangzhou-4", "ap-guangzhou-6")
NGINX_CONF = "server {\n  listen 80;\n  location / { root /usr/share/nginx/html; }\n}\n"
GPU_PRODUCT = "NVIDIA-A100-SXM4-40GB"


def node_object(cluster_name: str, index: int, arch: str, gpus: int) -> dict[str, Any]:
    name = f"node-{index}"
    cpu, memory = ("16", "64Gi") if gpus else ("8", "32Gi")
    digest = hashlib.sha256(f"{cluster_name}/{name}".encode()).hexdigest()
    labels = {
        "kubernetes.io/arch": arch,
        "kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": arch,
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/hostname": name,
        "node-role.kubernetes.io/worker": "",
        "node.kubernetes.io/instance-type": "GN10X.4XLARGE64"
        if gpus
        else ("SA5.2XLARGE32" if arch == "amd64" else "SR1.2XLARGE32"),
        "topology.kubernetes.io/region": "ap-guangzhou",
        "topology.kubernetes.io/zone": ZONES[(index - 1) % len(ZONES)],
    }
    capacity = {
        "cpu": cpu,
        "memory": memory,
        "pods": "110",
        "ephemeral-storage": "100Gi",
        "hugepages-2Mi": "0",
    }
    allocatable = {
        "cpu": f"{int(cpu) * 1000 - 90}m",
        "memory": f"{int(memory[:-2]) * 1024 - 800}Mi",
        "pods": "110",
        "ephemeral-storage": "92Gi",
        "hugepages-2Mi": "0",
    }
    if gpus:
        labels.update(
            {
                "nvidia.com/gpu.present": "true",
                "nvidia.com/gpu.product": GPU_PRODUCT,
                "nvidia.com/gpu.count": str(gpus),
                "nvidia.com/gpu.memory": "40960",
            }
        )
        capacity["nvidia.com/gpu"] = allocatable["nvidia.com/gpu"] = str(gpus)
    conditions = [
        (
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]
    return {
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": {
            "podCIDR": f"10.244.{index}.0/24",
            "podCIDRs": [f"10.244.{index}.0/24"],
            "providerID": f"qcloud:///{100000 + index}/ins-{digest[:8]}",
        },
        "status": {
            "capacity": capacity,
            "allocatable": allocatable,
            "conditions": [
                {
                    "type": t,
                    "status": s,
                    "reason": r,
                    "message": m,
                    "lastHeartbeatTime": None,
                    "lastTransitionTime": None,
                }
                for t, s, r, m in conditions
            ],
            "addresses": [
                {"type": "InternalIP", "address": f"10.0.0.{10 + index}"},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": digest[:32],
                "systemUUID": digest[32:64],
                "bootID": digest[:36],
                "kernelVersion": "6.8.0-60-generic",
                "osImage": "Ubuntu 24.04.2 LTS",
                "containerRuntimeVersion": "containerd://2.1.1",
                "kubeletVersion": "v1.37.0",
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": arch,
            },
            "images": [],
        },
    }


def _deployment(
    name: str,
    image: str,
    replicas: int,
    cpu: str = "100m",
    memory: str = "128Mi",
    extra: dict[str, Any] | None = None,
    port: int | None = 80,
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": name,
        "image": image,
        "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}},
    }
    if port:
        container["ports"] = [{"containerPort": port, "name": "http"}]
    if extra:
        container.update(extra)
    return {
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container]},
            },
        },
    }


def seed_cluster(
    cluster: Cluster, nodes: int, workloads: bool = True, gpu_nodes: int | None = None
) -> None:
    """Create nodes and, with ``workloads``, demo namespaces, apps, services and quotas."""
    c = cluster
    gpus = gpu_nodes if gpu_nodes is not None else (1 if nodes >= 2 else 0)
    node_rt = c.rt("", "nodes")
    for i in range(1, nodes + 1):
        arch = "arm64" if nodes >= 2 and i % 3 == 2 else "amd64"
        has_gpu = 4 if i > nodes - gpus else 0
        c.create(node_rt, None, node_object(c.name, i, arch, has_gpu))
        entry = c.store.get(node_rt, "", f"node-{i}")
        assert entry is not None
        obj = entry.copy()
        stamp = obj["metadata"]["creationTimestamp"]
        for cond in obj["status"]["conditions"]:
            cond["lastHeartbeatTime"] = cond["lastTransitionTime"] = stamp
        c.store.write(node_rt, obj, entry)
    svc = c.rt("", "services")
    c.create(
        svc,
        "default",
        {
            "metadata": {
                "name": "kubernetes",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "clusterIP": "10.96.0.1",
                "ports": [{"name": "https", "port": 443, "targetPort": 6443}],
            },
        },
    )
    c.create(
        svc,
        "kube-system",
        {
            "metadata": {"name": "kube-dns", "labels": {"k8s-app": "kube-dns"}},
            "spec": {
                "clusterIP": "10.96.0.10",
                "selector": {"k8s-app": "kube-dns"},
                "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP"},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                ],
            },
        },
    )
    if not workloads:
        return
    ns_rt, dep = c.rt("", "namespaces"), c.rt("apps", "deployments")
    for ns, team in (("web", "frontend"), ("data", "storage"), ("ml", "research")):
        c.create(ns_rt, None, {"metadata": {"name": ns, "labels": {"team": team}}})
    coredns = _deployment(
        "coredns", "registry.k8s.io/coredns/coredns:v1.12.1", 2, "100m", "70Mi", port=53
    )
    coredns["metadata"]["labels"] = {"k8s-app": "kube-dns"}
    coredns["spec"]["selector"] = {"matchLabels": {"k8s-app": "kube-dns"}}
    coredns["spec"]["template"]["metadata"]["labels"] = {"k8s-app": "kube-dns"}
    c.create(dep, "kube-system", coredns)
    c.create(
        c.rt("apps", "daemonsets"),
        "kube-system",
        {
            "metadata": {"name": "kube-proxy", "labels": {"k8s-app": "kube-proxy"}},
            "spec": {
                "selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
                "template": {
                    "metadata": {"labels": {"k8s-app": "kube-proxy"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "kube-proxy",
                                "image": "registry.k8s.io/kube-proxy:v1.37.0",
                                "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
                            }
                        ]
                    },
                },
            },
        },
    )
    quota = c.rt("", "resourcequotas")
    c.create(
        quota,
        "web",
        {
            "metadata": {"name": "web-quota"},
            "spec": {
                "hard": {
                    "pods": "50",
                    "requests.cpu": "8",
                    "requests.memory": "16Gi",
                    "count/deployments.apps": "20",
                }
            },
        },
    )
    c.create(
        c.rt("", "configmaps"),
        "web",
        {
            "metadata": {"name": "frontend-config"},
            "data": {
                "nginx.conf": NGINX_CONF,
                "APP_MODE": "production",
            },
        },
    )
    frontend = _deployment("frontend", "nginx:1.27", 3)
    frontend["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [
        {"name": "config", "mountPath": "/etc/nginx/conf.d"}
    ]
    frontend["spec"]["template"]["spec"]["volumes"] = [
        {"name": "config", "configMap": {"name": "frontend-config"}}
    ]
    c.create(dep, "web", frontend)
    c.create(
        dep,
        "web",
        _deployment(
            "api",
            "ccr.ccs.tencentyun.com/demo/api:1.4.2",
            2,
            "250m",
            "256Mi",
            {
                "env": [
                    {
                        "name": "APP_MODE",
                        "valueFrom": {
                            "configMapKeyRef": {"name": "frontend-config", "key": "APP_MODE"}
                        },
                    }
                ]
            },
            8080,
        ),
    )
    c.create(
        svc,
        "web",
        {
            "metadata": {"name": "frontend"},
            "spec": {"selector": {"app": "frontend"}, "ports": [{"port": 80, "targetPort": 80}]},
        },
    )
    c.create(
        svc,
        "web",
        {
            "metadata": {"name": "api"},
            "spec": {"selector": {"app": "api"}, "ports": [{"port": 8080}]},
        },
    )
    c.create(
        c.rt("apps", "statefulsets"),
        "data",
        {
            "metadata": {"name": "redis", "labels": {"app": "redis"}},
            "spec": {
                "replicas": 2,
                "serviceName": "redis",
                "selector": {"matchLabels": {"app": "redis"}},
                "template": {
                    "metadata": {"labels": {"app": "redis"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "redis",
                                "image": "redis:7.4",
                                "ports": [{"containerPort": 6379}],
                                "resources": {"requests": {"cpu": "200m", "memory": "256Mi"}},
                            }
                        ]
                    },
                },
            },
        },
    )
    c.create(
        svc,
        "data",
        {
            "metadata": {"name": "redis"},
            "spec": {"clusterIP": "None", "selector": {"app": "redis"}, "ports": [{"port": 6379}]},
        },
    )
    if gpus:
        c.create(
            quota,
            "ml",
            {
                "metadata": {"name": "gpu-quota"},
                "spec": {"hard": {"requests.nvidia.com/gpu": str(4 * gpus)}},
            },
        )
        trainer = _deployment(
            "trainer", "nvcr.io/nvidia/pytorch:25.04-py3", 1, "2", "8Gi", port=None
        )
        container = trainer["spec"]["template"]["spec"]["containers"][0]
        container["resources"]["requests"]["nvidia.com/gpu"] = "1"
        container["resources"]["limits"]["nvidia.com/gpu"] = "1"
        trainer["spec"]["template"]["spec"]["nodeSelector"] = {"nvidia.com/gpu.present": "true"}
        c.create(dep, "ml", trainer)
    c.create(
        c.rt("batch", "jobs"),
        "ml",
        {
            "metadata": {"name": "preprocess"},
            "spec": {
                "completions": 1,
                "template": {
                    "metadata": {"annotations": {"kubesim.io/run-seconds": "1"}},
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [
                            {
                                "name": "preprocess",
                                "image": "python:3.12-slim",
                                "command": ["python", "-m", "preprocess"],
                            }
                        ],
                    },
                },
            },
        },
    )
