"""Fixtures of the kubesim contract suite.

One simulator per test session (background thread), a fresh cluster per test. The suite talks
to clusters only through the official ``kubernetes`` client and ``kubectl``.

Point it at a real cluster with ``KUBE_TEST_TARGET=kubeconfig:/path/to/kubeconfig``: tests then
use that cluster's current context (one namespace per test), and tests marked
``simulator_only`` (fault injection, seeding, compaction, …) are deselected.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config

from apps.sandbox.kubesim import KubeSim

KUBECTL = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "kubectl")
if not Path(KUBECTL).exists():
    KUBECTL = shutil.which("kubectl") or KUBECTL
TARGET = os.environ.get("KUBE_TEST_TARGET", "")
_counter = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "simulator_only: asserts kubesim-specific behaviour (fault injection, "
        "seeding, internals); deselected when KUBE_TEST_TARGET names a real cluster",
    )
    config.addinivalue_line(
        "markers",
        "cluster_options(**kw): options for the test's kubesim cluster "
        "(nodes, seed, controller, own_port, …)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not TARGET:
        return
    keep, drop = [], []
    for item in items:
        in_suite = "tests/sandbox" in str(item.fspath)
        (drop if in_suite and item.get_closest_marker("simulator_only") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@dataclass
class Target:
    """A cluster under test: where it is and how to reach it."""

    kubeconfig: Path
    handle: Any | None  # kubesim ClusterHandle, None for a real cluster

    @property
    def sim(self) -> Any:
        assert self.handle is not None, "simulator-only helper used against a real cluster"
        return self.handle


@pytest.fixture(scope="session")
def kubesim() -> Iterator[KubeSim | None]:
    if TARGET:
        yield None
        return
    sim = KubeSim().start_in_thread()
    yield sim
    sim.stop()


def new_cluster(sim: KubeSim, tmp_path: Path, **options: Any) -> Target:
    options.setdefault("nodes", 3)
    options.setdefault("seed", False)
    handle = sim.add_cluster(f"t{next(_counter)}", **options)
    path = tmp_path / f"{handle.name}.kubeconfig"
    handle.kubeconfig(path)
    return Target(path, handle)


@pytest.fixture
def cluster(
    kubesim: KubeSim | None, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Target]:
    """A fresh 3-node cluster with the controller on (no demo workloads)."""
    if TARGET:
        yield Target(Path(TARGET.split(":", 1)[1]), None)
        return
    marker = request.node.get_closest_marker("cluster_options")
    target = new_cluster(kubesim, tmp_path, **(marker.kwargs if marker else {}))
    yield target
    kubesim.remove_cluster(target.handle.name)


def make_api(kubeconfig: Path, retries: int = 0) -> client.ApiClient:
    """An ApiClient for ``kubeconfig``; retries are explicit (0: every failure surfaces)."""
    configuration = client.Configuration()
    config.load_kube_config(
        config_file=str(kubeconfig), client_configuration=configuration, persist_config=False
    )
    configuration.retries = retries
    return client.ApiClient(configuration)


@pytest.fixture
def api(cluster: Target) -> Iterator[client.ApiClient]:
    with make_api(cluster.kubeconfig) as api_client:
        yield api_client


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def apps_api(api: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api)


@pytest.fixture
def namespace(core: client.CoreV1Api) -> Iterator[str]:
    """A namespace of its own for the test (created and removed through the API)."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    wait_for(lambda: _has_default_sa(core, name), "default service account")
    yield name
    try:
        core.delete_namespace(name)
    except client.ApiException as exc:
        if exc.status != 404:
            raise


def _has_default_sa(core: client.CoreV1Api, namespace: str) -> bool:
    try:
        core.read_namespaced_service_account("default", namespace)
    except client.ApiException:
        return False
    return True


def wait_for(
    predicate: Callable[[], Any], what: str, timeout: float = 10.0, interval: float = 0.02
) -> Any:
    """Poll ``predicate`` until it returns something truthy (fails the test on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@pytest.fixture
def kubectl(cluster: Target, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real kubectl against the cluster (own HOME and discovery cache)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "KUBECONFIG": str(cluster.kubeconfig),
        "KUBECACHEDIR": str(home / "cache"),
    }

    def run(
        *args: str, stdin: str | None = None, check: bool = True, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [KUBECTL, *args], input=stdin, capture_output=True, text=True, env=env, timeout=timeout
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({proc.returncode}):\n"
                f"{proc.stdout}\n{proc.stderr}"
            )
        return proc

    run.env = env  # type: ignore[attr-defined]
    return run


def deployment(
    name: str,
    replicas: int = 2,
    image: str = "nginx:1.27",
    labels: dict[str, str] | None = None,
    **container: Any,
) -> dict[str, Any]:
    labels = labels or {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": image, **container}]},
            },
        },
    }


def pod(
    name: str, image: str = "busybox:1.37", labels: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": name}},
        "spec": {"containers": [{"name": "main", "image": image}], **spec},
    }


def running_pod(core: client.CoreV1Api, namespace: str, body: dict[str, Any]) -> Any:
    core.create_namespaced_pod(namespace, body)
    name = body["metadata"]["name"]
    return wait_for(lambda: _phase(core, namespace, name, "Running"), f"pod {name} running")


def _phase(core: client.CoreV1Api, namespace: str, name: str, phase: str) -> Any:
    found = core.read_namespaced_pod(name, namespace)
    return found if found.status.phase == phase else None


def to_yaml(*docs: dict[str, Any]) -> str:
    return yaml.safe_dump_all(list(docs))


@dataclass
class Raw:
    """A raw HTTP answer: status, headers, body bytes (parsed as JSON by ``json``)."""

    status: int
    headers: Any
    data: bytes

    @property
    def json(self) -> Any:
        import json

        return json.loads(self.data)


def raw(
    api: client.ApiClient,
    method: str,
    path: str,
    *,
    body: Any = None,
    query: list[tuple[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    stream: bool = False,
) -> Any:
    """Call any path with the client's credentials and transport (no status handling)."""
    head = {"Accept": "application/json"}
    if body is not None:
        head["Content-Type"] = "application/json"
    head.update(headers or {})
    method, url, header_params, body_out, _ = api.param_serialize(
        method,
        path,
        query_params=query or [],
        header_params=head,
        body=body,
        auth_settings=["BearerToken"],
    )
    if stream:
        return api.rest_client.pool_manager.request(
            method, url, headers=header_params, preload_content=False
        )
    resp = api.call_api(method, url, header_params, body_out)
    return Raw(resp.status, resp.headers, resp.read())
