"""kr8s 0.20 lists, gets, creates and watches through the portal and directly against kubesim;
what it did is read back from kubesim directly. kr8s's asyncio API, so a watch that has seen
enough is closed rather than left open on the proxy, and each run closes its connections:
kr8s 0.20 has no public close, and a keep-alive TLS connection left idle by a finished event
loop holds the test portal's graceful shutdown for asyncio's TLS shutdown timeout (30 s)."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import aclosing

import kr8s.asyncio
import pytest
from kr8s.asyncio.objects import ConfigMap, Pod
from kubernetes import client as k8s

from tests.live import *  # noqa: F403

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("live_state"),
    # kr8s 0.20 names 1.28-1.35 as tested; kubesim is 1.37 (the warning is all it does).
    pytest.mark.filterwarnings("ignore:Kubernetes version v1.37.0 is not supported"),
]


@pytest.fixture
def kubeconfig_file(kubeconfig, tmp_path):
    path = tmp_path / "kr8s.kubeconfig"
    path.write_text(kubeconfig)
    return str(path)


async def close(api) -> None:
    """Close the Api's HTTP connections (kr8s keeps its httpx client in ``_session``)."""
    await api._session.aclose()


async def list_get_create_watch(kubeconfig_file: str, namespace: str, name: str, sim) -> dict:
    api = await kr8s.asyncio.api(kubeconfig=kubeconfig_file, namespace=namespace)
    result: dict = {"namespaces": [ns.name async for ns in api.get("namespaces")]}
    result["before"] = [c.name async for c in api.get("configmaps", namespace=namespace)]
    # The point to watch from: the cluster's resourceVersion before the create.
    since = k8s.CoreV1Api(sim).list_namespaced_config_map(namespace).metadata.resource_version

    created = await ConfigMap(
        {
            "metadata": {"name": name, "namespace": namespace, "labels": {"client": "kr8s"}},
            "data": {"greeting": "hello"},
        },
        api=api,
    )
    await created.create()
    result["created_uid"] = created.metadata.uid
    got = await ConfigMap.get(name, namespace=namespace, api=api)
    result["got"] = (got.metadata.uid, dict(got.data))
    result["labelled"] = [
        c.name
        async for c in api.get("configmaps", namespace=namespace, label_selector="client=kr8s")
    ]

    k8s.CoreV1Api(sim).patch_namespaced_config_map(name, namespace, {"data": {"greeting": "hi"}})
    await got.delete()
    seen = []

    async def watch():
        # aclosing: leaving the loop closes the watch's connection at once (an async
        # generator left by `return` would hold it open until collected).
        events = api.watch(
            "configmaps", namespace=namespace, field_selector=f"metadata.name={name}", since=since
        )
        async with aclosing(events):
            async for kind, obj in events:
                seen.append((kind, obj.name, obj.raw.get("data", {}).get("greeting"), type(obj)))
                if kind == "DELETED":
                    return

    await asyncio.wait_for(watch(), timeout=15)
    result["seen"] = seen
    await close(api)
    return result


def test_list_get_create_watch(kubeconfig_file, sim, sim_namespace):
    name = f"kr-{uuid.uuid4().hex[:6]}"
    result = asyncio.run(list_get_create_watch(kubeconfig_file, sim_namespace, name, sim))
    assert sim_namespace in result["namespaces"]
    assert result["before"] == ["kube-root-ca.crt"]
    stored = k8s.CoreV1Api(sim).list_namespaced_config_map(sim_namespace)
    assert [c.metadata.name for c in stored.items] == ["kube-root-ca.crt"]  # deleted since
    assert result["created_uid"]
    assert result["got"] == (result["created_uid"], {"greeting": "hello"})
    assert result["labelled"] == [name]
    assert result["seen"] == [
        ("ADDED", name, "hello", ConfigMap),
        ("MODIFIED", name, "hi", ConfigMap),
        ("DELETED", name, "hi", ConfigMap),
    ]


def test_pods_are_read_as_objects(kubeconfig_file, bob, sim_namespace):
    """A pod made by kubectl, read as kr8s's Pod (status, readiness, containers)."""
    bob("apply", "-n", sim_namespace, "-f", "-", stdin=pod_manifest("box"))  # noqa: F405
    bob("wait", "-n", sim_namespace, "--for=condition=Ready", "pod/box", "--timeout=20s")

    async def read():
        api = await kr8s.asyncio.api(kubeconfig=kubeconfig_file)
        pods = [p async for p in api.get("pods", namespace=sim_namespace)]
        read = [
            (type(p), p.name, p.status.phase, await p.ready(), p.spec.containers[0].image)
            for p in pods
        ]
        await close(api)
        return read

    assert asyncio.run(read()) == [(Pod, "box", "Running", True, "busybox:1.37")]
