"""The client matrix: each client runs through the portal (a member's API key kubeconfig, good
for this cluster only) and directly against kubesim (the cluster's own token); what it did is
read back from kubesim directly with the official client."""

from __future__ import annotations

import uuid

import pytest
import yaml
from kubernetes import client, config

from tests.live import fetch_kubeconfig


@pytest.fixture(params=["portal", "direct"])
def kubeconfig(request, live_cluster) -> str:
    """The kubeconfig (YAML) a user of the client would have."""
    if request.param == "direct":
        return yaml.safe_dump(live_cluster.kubeconfig())
    portal, member = request.getfixturevalue("portal"), request.getfixturevalue("member")
    text, _ = fetch_kubeconfig(portal, member, request.getfixturevalue("cluster"))
    return text


@pytest.fixture
def sim(live_cluster):
    """The cluster as kubesim holds it, read directly (not through the portal)."""
    configuration = client.Configuration()
    config.load_kube_config_from_dict(live_cluster.kubeconfig(), client_configuration=configuration)
    with client.ApiClient(configuration) as api:
        yield api


@pytest.fixture
def sim_namespace(sim) -> str:
    """A namespace of the test's own, made directly in kubesim."""
    name = f"cl-{uuid.uuid4().hex[:6]}"
    client.CoreV1Api(sim).create_namespace({"metadata": {"name": name}})
    return name
