"""Fixtures of the terminal tests: a kubesim cluster (controller on, so pods run) imported into
the tenant; namespace ``team-a`` owned by project ``prj-test`` with pod ``web``, namespace
``team-b`` owned by project ``prj-other`` with pod ``db``; Deployment ``team-a/api`` with two
pods (``deployment``); signed-in browser sessions."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import pytest_asyncio
from channels.testing import WebsocketCommunicator
from django.test import Client
from kubernetes import client as kclient

from apps.clusters import k8s, services
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from tests.conftest import PROJECT

ORIGIN = "http://localhost"
POD_BODY = {
    "apiVersion": "v1",
    "kind": "Pod",
    "spec": {"containers": [{"name": "main", "image": "busybox:1.37"}]},
}


@pytest.fixture
def sim(kube_sim):
    handle = kube_sim.add_cluster(f"t{uuid.uuid4().hex[:8]}", nodes=1, seed=False)
    handle.ca_data = open(handle.ca_file).read()  # noqa: SIM115
    yield handle
    kube_sim.remove_cluster(handle.name)


def _wait_running(core, namespace, name, seconds=15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pod = core.read_namespaced_pod(name, namespace)
        if pod.status.phase == "Running":
            return pod
        time.sleep(0.05)
    raise AssertionError(f"pod {namespace}/{name} never ran")


@pytest.fixture
def cluster(tenant, sim):
    """The imported cluster, with running pods team-a/web and team-b/db, each namespace
    owned by a project."""
    spec = k8s.Connection(server=sim.url, token=sim.token, ca_data=sim.ca_data)
    cluster = services.import_cluster(actor=None, tenant=tenant, display_name="sim", spec=spec)
    config = kclient.Configuration(host=sim.url)
    config.ssl_ca_cert = sim.ca_file
    config.api_key = {"authorization": f"Bearer {sim.token}"}
    with kclient.ApiClient(config) as api_client:
        core = kclient.CoreV1Api(api_client)
        for namespace, pod in (("team-a", "web"), ("team-b", "db")):
            core.create_namespace({"metadata": {"name": namespace}})
            body = {**POD_BODY, "metadata": {"name": pod}}
            core.create_namespaced_pod(namespace, body)
        for namespace, pod in (("team-a", "web"), ("team-b", "db")):
            _wait_running(core, namespace, pod)
    for project_name, namespace in ((PROJECT, "team-a"), ("prj-other", "team-b")):
        project = Project.objects.create(
            tenant=tenant, name=project_name, display_name=project_name
        )
        ProjectCluster.objects.create(project=project, cluster=cluster, hard={})
        ProjectNamespace.objects.create(
            tenant=tenant, project=project, cluster=cluster, namespace=namespace, hard={}
        )
    return cluster


def session_cookie(user) -> str:
    browser = Client()
    browser.force_login(user, backend="apps.accounts.backends.TenantAwareModelBackend")
    return browser.cookies["sessionid"].value


def exec_path(cluster, namespace="team-a", pod="web", query="container=main") -> str:
    return f"/ws/clusters/{cluster.name}/namespaces/{namespace}/pods/{pod}/exec?{query}"


def exec_requests(sim) -> list[tuple[str, str]]:
    return [(m, p) for m, p in sim.requests() if p.endswith("/exec")]


class Term:
    """A browser's side of one terminal websocket."""

    def __init__(self, communicator: WebsocketCommunicator):
        self.ws = communicator
        self.output = b""
        self.controls: list[dict] = []
        self.close_code: int | None = None

    async def next(self, timeout: float = 10) -> dict:
        message = await self.ws.receive_output(timeout)
        if message["type"] == "websocket.close":
            self.close_code = message.get("code", 1000)
        elif message.get("bytes") is not None:
            self.output += message["bytes"]
        elif message.get("text") is not None:
            self.controls.append(json.loads(message["text"]))
        return message

    async def until_output(self, needle: bytes, timeout: float = 10) -> bytes:
        deadline = time.monotonic() + timeout
        while needle not in self.output:
            left = deadline - time.monotonic()
            assert left > 0 and self.close_code is None, (needle, self.output, self.controls)
            try:
                await self.next(left)
            except TimeoutError:
                raise AssertionError(f"no {needle!r} in {self.output!r}; {self.controls}") from None
        return self.output

    async def until_closed(self, timeout: float = 10) -> int:
        deadline = time.monotonic() + timeout
        while self.close_code is None:
            try:
                await self.next(max(deadline - time.monotonic(), 0.01))
            except TimeoutError:
                raise AssertionError(f"not closed: {self.output!r}; {self.controls}") from None
        await self.ws.wait(5)  # the application has finished (its records are written)
        return self.close_code

    def control(self, kind: str) -> dict:
        found = [c for c in self.controls if c.get("type") == kind]
        assert len(found) == 1, (kind, self.controls)
        return found[0]

    async def type(self, text: str) -> None:
        await self.ws.send_to(text_data=json.dumps({"type": "stdin", "data": text}))

    async def resize(self, cols: int, rows: int) -> None:
        await self.ws.send_to(text_data=json.dumps({"type": "resize", "cols": cols, "rows": rows}))


async def open_term(
    path: str,
    cookie: str | None = None,
    origin: str | None = ORIGIN,
    headers: list | None = None,
    subprotocols: list[str] | None = None,
) -> tuple[bool, Term]:
    from tkeportal.asgi import application

    sent = list(headers or [])
    if origin:
        sent.append((b"origin", origin.encode()))
    if cookie:
        sent.append((b"cookie", f"sessionid={cookie}".encode()))
    ws = WebsocketCommunicator(application, path, headers=sent, subprotocols=subprotocols)
    connected, _ = await ws.connect(timeout=15)
    return connected, Term(ws)


DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "api"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "api"}},
        "template": {
            "metadata": {"labels": {"app": "api"}},
            "spec": {"containers": [{"name": "app", "image": "busybox:1.37"}]},
        },
    },
}


def _api(sim) -> kclient.ApiClient:
    config = kclient.Configuration(host=sim.url)
    config.ssl_ca_cert = sim.ca_file
    config.api_key = {"authorization": f"Bearer {sim.token}"}
    return kclient.ApiClient(config)


def running_pods(sim, selector="app=api", count=2, seconds=20.0) -> list[str]:
    with _api(sim) as api:
        core = kclient.CoreV1Api(api)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            pods = core.list_namespaced_pod("team-a", label_selector=selector).items
            names = sorted(
                p.metadata.name
                for p in pods
                if p.status.phase == "Running" and p.metadata.deletion_timestamp is None
            )
            if len(names) == count:
                return names
            time.sleep(0.05)
    raise AssertionError(f"never {count} running pods for {selector}")


def scale(sim, replicas: int) -> None:
    with _api(sim) as api:
        kclient.AppsV1Api(api).patch_namespaced_deployment_scale(
            "api", "team-a", {"spec": {"replicas": replicas}}
        )


@pytest.fixture
def deployment(cluster, sim):
    """Deployment team-a/api with two running pods (names sorted)."""
    with _api(sim) as api:
        kclient.AppsV1Api(api).create_namespaced_deployment("team-a", DEPLOYMENT)
    return running_pods(sim)


DUO = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "duo"},
    "spec": {
        "containers": [
            {"name": "main", "image": "busybox:1.37"},
            {"name": "side", "image": "busybox:1.37"},
        ]
    },
}


@pytest_asyncio.fixture
async def close_upstreams():
    """The terminal sockets pool their cluster connections in one aiohttp session per event
    loop; each test has its own loop, so close that loop's session with it (otherwise its
    idle keep-alive connections stay open until garbage collection: leaked descriptors and
    "Unclosed client session" warnings late in the suite)."""
    yield
    from apps.terminal.exec import upstreams

    await upstreams.close()
