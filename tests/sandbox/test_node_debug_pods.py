"""Pods pinned to a node (``spec.nodeName``) and privileged host pods, as ``kubectl debug
node/…`` and the portal's node shell make them: bound without the scheduler, started only by a
kubelet that runs (a missing or NotReady node leaves them Pending), and ``nsenter -t 1`` into
the node's namespaces only from a privileged hostPID container."""

from __future__ import annotations

import time

import pytest

from .conftest import pod, running_pod, wait_for
from .test_exec_logs import exec_

NSENTER = ["nsenter", "-t", "1", "-m", "-u", "-i", "-n", "-p", "--"]


def debug_pod(name: str, node: str, privileged: bool = True, host_network: bool = True) -> dict:
    body = pod(name, nodeName=node, tolerations=[{"operator": "Exists"}])
    body["spec"].update(hostPID=True, hostNetwork=host_network, hostIPC=True)
    body["spec"]["containers"][0].update(
        securityContext={"privileged": privileged}, stdin=True, tty=True
    )
    return body


def nodes(core) -> list[str]:
    return sorted(n.metadata.name for n in core.list_node().items)


def test_a_pod_with_node_name_runs_on_that_node(core, namespace):
    node = nodes(core)[-1]
    found = running_pod(core, namespace, debug_pod("pinned", node))
    assert found.spec.node_name == node
    # hostNetwork: the node's address, and the node's hostname inside
    address = next(
        a.address for a in core.read_node(node).status.addresses if a.type == "InternalIP"
    )
    assert found.status.pod_ip == address == found.status.host_ip
    assert exec_(core, namespace, "pinned", ["hostname"]) == f"{node}\n"


def test_nsenter_from_a_privileged_host_pod_reaches_the_node(core, namespace):
    node = nodes(core)[0]
    # without hostNetwork the container has its own hostname; the node's UTS namespace has
    # the node's
    running_pod(core, namespace, debug_pod("dbg", node, host_network=False))
    assert exec_(core, namespace, "dbg", ["hostname"]) == "dbg\n"
    assert exec_(core, namespace, "dbg", [*NSENTER, "sh", "-c", "hostname; whoami"]) == (
        f"{node}\nroot\n"
    )


def test_nsenter_is_refused_without_privilege_or_host_pid(core, namespace):
    node = nodes(core)[0]
    running_pod(core, namespace, debug_pod("plain", node, privileged=False))
    out = exec_(core, namespace, "plain", [*NSENTER, "hostname"])
    assert "Operation not permitted" in out
    assert node not in out
    running_pod(core, namespace, pod("ordinary"))
    assert exec_(core, namespace, "ordinary", ["hostname"]) == "ordinary\n"
    assert "Operation not permitted" in exec_(core, namespace, "ordinary", [*NSENTER, "hostname"])


@pytest.mark.simulator_only
def test_a_pod_bound_to_a_missing_node_stays_pending(core, namespace):
    core.create_namespaced_pod(namespace, debug_pod("nowhere", "no-such-node"))
    time.sleep(0.6)
    found = core.read_namespaced_pod("nowhere", namespace)
    assert found.status.phase == "Pending"
    assert found.spec.node_name == "no-such-node"
    assert not found.status.container_statuses


@pytest.mark.simulator_only
def test_a_pod_bound_to_a_not_ready_node_waits_for_it(cluster, core, namespace):
    node = nodes(core)[1]
    cluster.sim.set_node_ready(node, False)
    core.create_namespaced_pod(namespace, debug_pod("waiting", node))
    time.sleep(0.6)
    assert core.read_namespaced_pod("waiting", namespace).status.phase == "Pending"
    cluster.sim.set_node_ready(node, True)
    wait_for(
        lambda: core.read_namespaced_pod("waiting", namespace).status.phase == "Running",
        "pod running once its node is Ready",
    )
