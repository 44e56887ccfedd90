"""Every ``kubectl create <generator>`` — sent by kubectl 1.37 as protobuf — works directly
against kubesim and through the portal, and the created object holds what was asked for
(read back with ``kubectl get -o json``)."""

from __future__ import annotations

import json

import pytest

from tests.core.test_kubeproto import GENERATORS, dig
from tests.live import *  # noqa: F403
from tests.live import Kubectl

pytestmark = [pytest.mark.usefixtures("live_state"), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def direct(live_cluster, tmp_path):
    """kubectl straight at the simulated cluster, with its own credentials."""
    path = tmp_path / "direct.kubeconfig"
    live_cluster.kubeconfig(path)
    return Kubectl(path.read_text(), tmp_path / "direct", live_cluster.token)


@pytest.fixture
def admin(kubectl_as, tenant_admin):
    """kubectl through the portal as the tenant administrator (RBAC kinds need the grant)."""
    return kubectl_as(tenant_admin)


def create_and_read(kubectl, namespace: str, generator: str) -> dict:
    command, _ = GENERATORS[generator]
    args = [a.replace("_", " ") for a in command.replace("-n kp", f"-n {namespace}").split()]
    cut = args.index("--") if "--" in args else len(args)
    made = kubectl(*args[:cut], "-o", "name", *args[cut:]).stdout.strip()
    ns = [] if "clusterrole" in made else ["-n", namespace]
    obj = json.loads(kubectl("get", made, *ns, "-o", "json").stdout)
    if not ns:  # cluster-scoped: the next run creates it again
        kubectl("delete", made)
    return obj


@pytest.mark.parametrize("generator", sorted(GENERATORS))
@pytest.mark.parametrize("via", ["direct", "portal"])
def test_kubectl_create_generator(via, generator, direct, admin, namespace):
    kubectl = direct if via == "direct" else admin
    obj = create_and_read(kubectl, namespace, generator)
    _, facts = GENERATORS[generator]
    for path, value in facts.items():
        assert dig(obj, path) == value, path
    assert obj["metadata"]["uid"] and obj["metadata"]["resourceVersion"]


@pytest.fixture(scope="module")
def tls_pair():
    from apps.sandbox.kubesim.tls import serving_cert

    cert = serving_cert()
    return cert.dir / "tls.crt", cert.dir / "tls.key"


@pytest.mark.parametrize("via", ["direct", "portal"])
def test_create_namespace_secret_and_server_dry_run(via, direct, bob, namespace, tls_pair):
    kubectl = direct if via == "direct" else bob
    name = f"{namespace}-{via}"
    kubectl("create", "namespace", name)
    assert json.loads(kubectl("get", "ns", name, "-o", "json").stdout)["status"] == {
        "phase": "Active"
    }
    dry = kubectl("create", "namespace", f"{name}-dry", "--dry-run=server", "-o", "json")
    assert json.loads(dry.stdout)["metadata"]["name"] == f"{name}-dry"
    missing = kubectl("get", "ns", f"{name}-dry", check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr
    kubectl("create", "secret", "generic", "s", "-n", namespace, "--from-literal=k=v1")
    kubectl(
        "create", "secret", "tls", "t", "-n", namespace,
        f"--cert={tls_pair[0]}", f"--key={tls_pair[1]}",
    )  # fmt: skip
    if via == "direct":
        secret = json.loads(kubectl("get", "secret", "s", "-n", namespace, "-o", "json").stdout)
        assert secret["data"] == {"k": "djE="} and secret["type"] == "Opaque"
    tls = json.loads(kubectl("get", "secret", "t", "-n", namespace, "-o", "json").stdout)
    assert tls["type"] == "kubernetes.io/tls"
    assert set(tls["data"]) == {"tls.crt", "tls.key"}
