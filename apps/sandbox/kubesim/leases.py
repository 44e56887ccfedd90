"""Node heartbeat leases: the kubelet of every node renews ``kube-node-lease/<node>``
(``coordination.k8s.io/v1`` Lease, owned by its Node), as real kubelets do alongside the
node status heartbeat."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .clock import now_micro

if TYPE_CHECKING:
    from .cluster import Cluster

NAMESPACE = "kube-node-lease"
DURATION = 40  # seconds, the kubelet's default nodeLeaseDurationSeconds


def heartbeat(cluster: Cluster) -> None:
    """Create or renew each node's lease."""
    rt = cluster.rt("coordination.k8s.io", "leases")
    if cluster.find("", "namespaces", None, NAMESPACE) is None:
        return
    stamp = now_micro()
    for node in cluster.objects("", "nodes"):
        name = node["metadata"]["name"]
        entry = cluster.store.get(rt, NAMESPACE, name)
        if entry is None:
            cluster.create(
                rt,
                NAMESPACE,
                {
                    "metadata": {
                        "name": name,
                        "ownerReferences": [
                            {
                                "apiVersion": "v1",
                                "kind": "Node",
                                "name": name,
                                "uid": node["metadata"]["uid"],
                            }
                        ],
                    },
                    "spec": {
                        "holderIdentity": name,
                        "leaseDurationSeconds": DURATION,
                        "renewTime": stamp,
                    },
                },
                manager="kubelet",
            )
        else:
            obj = entry.copy()
            obj.setdefault("spec", {})["renewTime"] = stamp
            cluster.store.write(rt, obj, entry)
