"""The simulator's request log: the (method, path) of every request a cluster received, so a
test can prove a client was refused before it reached the cluster."""

from __future__ import annotations

import pytest
from kubernetes import client

pytestmark = pytest.mark.simulator_only


def test_request_log_lists_every_request_in_order(cluster, core, namespace):
    before = len(cluster.sim.requests())
    core.list_namespaced_config_map(namespace)
    with pytest.raises(client.ApiException):
        core.read_namespaced_pod("absent", namespace)
    seen = cluster.sim.requests()[before:]
    assert seen == [
        ("GET", f"/api/v1/namespaces/{namespace}/configmaps"),
        ("GET", f"/api/v1/namespaces/{namespace}/pods/absent"),
    ]


def test_request_log_counts_refused_requests_and_is_bounded(cluster, core, namespace):
    cluster.sim.faults.fail(503, method="GET", path=r"/secrets$", times=1)
    with pytest.raises(client.ApiException):
        core.list_namespaced_secret(namespace)
    assert cluster.sim.requests()[-1] == ("GET", f"/api/v1/namespaces/{namespace}/secrets")
    for _ in range(1030):
        cluster.sim.call(lambda c: c.request_log.append(("GET", "/x")))
    log = cluster.sim.requests()
    assert len(log) == 1024 and set(log) == {("GET", "/x")}
