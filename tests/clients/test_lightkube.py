"""lightkube 1.0 (typed, httpx-based) lists, gets, creates and watches through the portal and
directly against kubesim; what it did is read back from kubesim directly."""

from __future__ import annotations

import uuid

import pytest
import yaml
from kubernetes import client as k8s
from lightkube import Client, KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap, Namespace, Pod

from tests.live import *  # noqa: F403

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_state")]


@pytest.fixture
def lightkube(kubeconfig):
    config = KubeConfig.from_dict(yaml.safe_load(kubeconfig))
    with Client(config=config, trust_env=False) as lightkube_client:
        yield lightkube_client


def test_list_get_create_watch(lightkube, sim, sim_namespace):
    name = f"lk-{uuid.uuid4().hex[:6]}"
    # list (and the resourceVersion to watch from)
    assert sim_namespace in {ns.metadata.name for ns in lightkube.list(Namespace)}
    before = lightkube.list(ConfigMap, namespace=sim_namespace)
    assert [c.metadata.name for c in before] == ["kube-root-ca.crt"]
    since = before.resourceVersion

    # create
    created = lightkube.create(
        ConfigMap(
            metadata=ObjectMeta(name=name, namespace=sim_namespace, labels={"client": "lightkube"}),
            data={"greeting": "hello"},
        )
    )
    assert created.metadata.uid
    stored = k8s.CoreV1Api(sim).read_namespaced_config_map(name, sim_namespace)
    assert (stored.metadata.uid, stored.data) == (created.metadata.uid, {"greeting": "hello"})

    # get, and list by label
    got = lightkube.get(ConfigMap, name, namespace=sim_namespace)
    assert (got.metadata.uid, got.data) == (created.metadata.uid, {"greeting": "hello"})
    labelled = lightkube.list(ConfigMap, namespace=sim_namespace, labels={"client": "lightkube"})
    assert [c.metadata.name for c in labelled] == [name]

    # watch from before the create: ADDED, then the change and the deletion made since
    k8s.CoreV1Api(sim).patch_namespaced_config_map(
        name, sim_namespace, {"data": {"greeting": "hi"}}
    )
    lightkube.delete(ConfigMap, name, namespace=sim_namespace)
    events = lightkube.watch(
        ConfigMap, namespace=sim_namespace, fields={"metadata.name": name}, resource_version=since
    )
    seen = []
    for kind, obj in events:
        seen.append((kind, obj.metadata.name, (obj.data or {}).get("greeting")))
        if kind == "DELETED":
            break
    events.close()
    assert seen == [
        ("ADDED", name, "hello"),
        ("MODIFIED", name, "hi"),
        ("DELETED", name, "hi"),
    ]
    assert isinstance(obj, ConfigMap)


def test_pods_are_typed(lightkube, bob, sim_namespace):
    """A pod made by kubectl, read as lightkube's typed Pod (status, containers)."""
    bob("apply", "-n", sim_namespace, "-f", "-", stdin=pod_manifest("box"))  # noqa: F405
    bob("wait", "-n", sim_namespace, "--for=condition=Ready", "pod/box", "--timeout=20s")
    (pod,) = lightkube.list(Pod, namespace=sim_namespace)
    assert isinstance(pod, Pod)
    assert (pod.metadata.name, pod.status.phase) == ("box", "Running")
    assert pod.spec.containers[0].image == "busybox:1.37"
