"""The kubesim server: an aiohttp application hosting several clusters, each under
``/clusters/<name>`` on the shared port and, optionally, on a port of its own — plus the
thread plumbing that lets tests start it in the background.

    sim = KubeSim().start_in_thread()
    prod = sim.add_cluster("prod", nodes=3, seed=True, controller=True)
    prod.kubeconfig("/tmp/kubeconfig")          # for kubectl / kubernetes.config
    prod.faults.fail(503, path="/pods")         # fault injection
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import secrets
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import yaml
from aiohttp import web

from .cluster import Cluster
from .controller import Controller
from .errors import ApiError, path_not_found
from .handlers import ClusterApi, error_response
from .seed import seed_cluster
from .store import HISTORY_MAX, HISTORY_WINDOW
from .tls import serving_cert

T = TypeVar("T")
HOST = "127.0.0.1"


class ClusterHandle:
    """What callers get back from :meth:`KubeSim.add_cluster`."""

    def __init__(self, sim: KubeSim, name: str, options: dict[str, Any]):
        self.sim = sim
        self.name = name
        self.options = options
        self.token: str = options["token"]
        self.port: int | None = None
        self._site: web.TCPSite | None = None
        self._runner: web.AppRunner | None = None
        self.cluster: Cluster  # set by KubeSim._build

    # ------------------------------------------------------------ addressing

    @property
    def url(self) -> str:
        """Server URL for clients (own port if it has one, else the path prefix)."""
        if self.port is not None:
            return f"{self.sim.scheme}://{HOST}:{self.port}"
        return f"{self.sim.url}/clusters/{self.name}"

    @property
    def ca_file(self) -> str | None:
        """Path of the CA bundle that verifies the server (None when serving plain HTTP)."""
        return str(serving_cert().ca_file) if self.sim.tls else None

    @property
    def prefix_url(self) -> str:
        return f"{self.sim.url}/clusters/{self.name}"

    @property
    def faults(self) -> Any:
        return self.cluster.faults

    def kubeconfig(
        self,
        path: str | Path | None = None,
        *,
        token: str | None = None,
        namespace: str = "default",
    ) -> dict[str, Any]:
        """A kubeconfig dict for this cluster (written as YAML when ``path`` is given)."""
        config = kubeconfig_for([(self, token or self.token, namespace)])
        if path is not None:
            Path(path).write_text(yaml.safe_dump(config, sort_keys=False))
        return config

    # ------------------------------------------------------------ control

    def call(self, fn: Callable[[Cluster], T]) -> T:
        """Run ``fn(cluster)`` on the server loop and return its result."""
        return self.sim.run(self._call(fn))

    async def _call(self, fn: Callable[[Cluster], T]) -> T:
        return fn(self.cluster)

    def add_user(
        self,
        name: str,
        token: str | None = None,
        *,
        verbs: list[str] | None = None,
        namespaces: list[str] | None = None,
    ) -> str:
        """Add a bearer-token user limited to ``verbs`` / ``namespaces``; returns the token."""
        token = token or secrets.token_hex(16)
        self.call(lambda c: c.add_user(name, token, verbs, namespaces))
        return token

    def compact(self) -> None:
        """Drop watch history: older resourceVersions now answer 410 Gone."""
        self.call(lambda c: c.store.compact())

    def set_controller(self, enabled: bool) -> None:
        self.sim.run(self.sim._set_controller(self, enabled))

    def append_log(self, namespace: str, pod: str, container: str, line: str) -> None:
        self.call(lambda c: c.logs.append((namespace, pod, container), line))

    def requests(self) -> list[tuple[str, str]]:
        """(method, path) of the latest requests this cluster received (at most 1024), oldest
        first, counting refused ones and those sent while it was down."""
        return self.call(lambda c: list(c.request_log))

    def set_node_ready(self, node: str, ready: bool) -> None:
        """Flip a node's Ready condition (the kubelet stopped/started posting status)."""
        self.call(lambda c: c.set_node_ready(node, ready))

    def restart_container(self, namespace: str, pod: str, container: str, times: int = 1) -> int:
        """Count ``times`` more restarts of a container (as if it crashed and the kubelet
        started it again); its new restartCount."""
        return self.call(lambda c: c.restart_container(namespace, pod, container, times))

    def set_pod_phase(self, namespace: str, pod: str, phase: str) -> None:
        """Put a pod in ``phase`` (Failed, Succeeded, Pending …), as its kubelet would report."""
        self.call(lambda c: c.set_pod_phase(namespace, pod, phase))

    def reset(self) -> None:
        """Throw the cluster's state away and rebuild it as add_cluster first made it."""
        self.sim.run(self.sim._rebuild(self))


def kubeconfig_for(entries: list[tuple[ClusterHandle, str, str]]) -> dict[str, Any]:
    clusters, users, contexts = [], [], []
    for handle, token, namespace in entries:
        server: dict[str, Any] = {"server": handle.url}
        if handle.sim.tls:
            server["certificate-authority-data"] = base64.b64encode(serving_cert().ca_pem).decode()
        clusters.append({"name": handle.name, "cluster": server})
        users.append({"name": f"{handle.name}-admin", "user": {"token": token}})
        contexts.append(
            {
                "name": handle.name,
                "context": {
                    "cluster": handle.name,
                    "user": f"{handle.name}-admin",
                    "namespace": namespace,
                },
            }
        )
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": clusters,
        "users": users,
        "contexts": contexts,
        "current-context": contexts[0]["name"] if contexts else "",
    }


class KubeSim:
    """A process-local Kubernetes API simulator hosting any number of clusters."""

    def __init__(self, host: str = HOST, tls: bool = True):
        self.host = host
        self.tls = tls  # kubectl sends bearer tokens only over TLS
        self.port: int | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.handles: dict[str, ClusterHandle] = {}
        self._apis: dict[str, ClusterApi] = {}
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    # ------------------------------------------------------------ lifecycle

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def _ssl(self) -> Any:
        return serving_cert().server_context() if self.tls else None

    def _app(self, fixed: str | None = None) -> web.Application:
        app = web.Application(client_max_size=64 * 2**20)

        async def dispatch(request: web.Request) -> web.StreamResponse:
            if fixed is not None:
                return await self._serve(fixed, request, request.path)
            path = request.path
            if not path.startswith("/clusters/"):
                return error_response(path_not_found())
            name, _, rest = path[len("/clusters/") :].partition("/")
            return await self._serve(name, request, "/" + rest)

        app.router.add_route("*", "/{tail:.*}", dispatch)
        return app

    async def start(self, port: int = 0) -> KubeSim:
        """Start serving on the current event loop."""
        self.loop = asyncio.get_running_loop()
        self._runner = web.AppRunner(
            self._app(), handle_signals=False, access_log=None, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, self.host, port, reuse_address=True, ssl_context=self._ssl()
        )
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    def start_in_thread(self, port: int = 0) -> KubeSim:
        """Run the server loop in a daemon thread; returns once it accepts connections."""
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()

        def main() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start(port))
            except OSError as exc:
                ready.set_exception(exc)
                return
            ready.set_result(None)
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()
            self._stopped.set()

        self._thread = threading.Thread(target=main, name="kubesim", daemon=True)
        self._thread.start()
        ready.result(timeout=30)
        return self

    async def _shutdown(self) -> None:
        for handle in list(self.handles.values()):
            await self._teardown(handle)
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        if self.loop is None:
            return
        if self._thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._stopped.wait(10)
        self.loop = None

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server loop from any thread and wait for it."""
        assert self.loop is not None, "KubeSim is not started"
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            raise RuntimeError("use the async methods from the server's own loop")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    # ------------------------------------------------------------ clusters

    def add_cluster(self, name: str, nodes: int = 3, **options: Any) -> ClusterHandle:
        """Create a cluster (thread-safe); options as :meth:`add_cluster_async`, see
        :class:`ClusterHandle`."""
        return self.run(self.add_cluster_async(name, nodes, **options))

    async def add_cluster_async(
        self,
        name: str,
        nodes: int = 3,
        *,
        token: str | None = None,
        seed: bool = True,
        controller: bool = True,
        own_port: bool | int = False,
        history_size: int = HISTORY_MAX,
        watch_history: float = HISTORY_WINDOW,
        time_scale: float = 1.0,
        pod_startup: float = 0.05,
        gpu_nodes: int | None = None,
    ) -> ClusterHandle:
        """``watch_history``: the watch cache's events-history window in seconds (75, as
        kube-apiserver 1.37; see :mod:`.store`), ``history_size`` its capacity limit in events
        per resource; ``time_scale``: real seconds per simulated second for the kubelet's and
        controllers' waits (see :mod:`.clock`)."""
        if name in self.handles:
            raise ValueError(f"cluster {name!r} already exists")
        if watch_history <= 0:
            raise ValueError(f"watch_history must be positive seconds, not {watch_history}")
        if time_scale <= 0:
            raise ValueError(f"time_scale must be a positive number, not {time_scale}")
        options = {
            "nodes": nodes,
            "token": token or secrets.token_hex(16),
            "seed": seed,
            "controller": controller,
            "history_size": history_size,
            "watch_history": watch_history,
            "time_scale": time_scale,
            "pod_startup": pod_startup,
            "gpu_nodes": gpu_nodes,
        }
        handle = ClusterHandle(self, name, options)
        self._build(handle)
        self.handles[name] = handle
        if own_port is not False:
            port = 0 if own_port is True else int(own_port)
            handle._runner = web.AppRunner(
                self._app(name), handle_signals=False, access_log=None, shutdown_timeout=0.5
            )
            await handle._runner.setup()
            await self._open_site(handle, port)
        return handle

    def _build(self, handle: ClusterHandle) -> None:
        opts = handle.options
        assert self.loop is not None
        cluster = Cluster(
            handle.name,
            opts["token"],
            self.loop,
            opts["history_size"],
            watch_history=opts["watch_history"],
        )
        cluster.time_scale = opts["time_scale"]
        handle.cluster = cluster
        if opts["controller"]:
            cluster.controller = Controller(cluster, pod_startup=opts["pod_startup"])
        seed_cluster(cluster, opts["nodes"], workloads=opts["seed"], gpu_nodes=opts["gpu_nodes"])
        if cluster.controller is not None:
            cluster.controller.start()
        self._apis[handle.name] = ClusterApi(cluster, f"/clusters/{handle.name}")
        cluster.faults.on_down_change.append(lambda down, h=handle: self._on_down(h, down))

    def _on_down(self, handle: ClusterHandle, down: bool) -> None:
        if handle._runner is None:
            return
        coro = self._close_site(handle) if down else self._open_site(handle, handle.port or 0)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            asyncio.ensure_future(coro)
        else:
            self.run(coro)

    async def _open_site(self, handle: ClusterHandle, port: int) -> None:
        assert handle._runner is not None
        site = web.TCPSite(
            handle._runner, self.host, port, reuse_address=True, ssl_context=self._ssl()
        )
        await site.start()
        handle._site = site
        handle.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _close_site(self, handle: ClusterHandle) -> None:
        if handle._site is not None:
            await handle._site.stop()
            handle._site = None

    async def _set_controller(self, handle: ClusterHandle, enabled: bool) -> None:
        cluster = handle.cluster
        if enabled and cluster.controller is None:
            cluster.controller = Controller(cluster, pod_startup=handle.options["pod_startup"])
            cluster.controller.start()
            cluster.controller.resync_all()
        elif not enabled and cluster.controller is not None:
            await cluster.controller.stop()
            cluster.controller = None

    async def _rebuild(self, handle: ClusterHandle) -> None:
        if handle.cluster.controller is not None:
            await handle.cluster.controller.stop()
        handle.cluster.close_watches()
        self._build(handle)

    async def _teardown(self, handle: ClusterHandle) -> None:
        if handle.cluster.controller is not None:
            await handle.cluster.controller.stop()
        handle.cluster.close_watches()
        if handle._runner is not None:
            await handle._runner.cleanup()

    def remove_cluster(self, name: str) -> None:
        handle = self.handles.pop(name, None)
        self._apis.pop(name, None)
        if handle is not None:
            self.run(self._teardown(handle))

    def kubeconfig(self, path: str | Path | None = None) -> dict[str, Any]:
        """One kubeconfig with a context per cluster (written when ``path`` is given)."""
        config = kubeconfig_for([(h, h.token, "default") for h in self.handles.values()])
        if path is not None:
            Path(path).write_text(yaml.safe_dump(config, sort_keys=False))
        return config

    # ------------------------------------------------------------ serving

    async def _serve(self, name: str, request: web.Request, path: str) -> web.StreamResponse:
        api = self._apis.get(name)
        if api is None:
            return error_response(path_not_found())
        faults = api.cluster.faults
        api.cluster.request_log.append((request.method, path))
        if faults.is_down:
            # Shared port: a dead cluster answers nothing; the connection just drops.
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=503)  # never reaches the client: the socket is gone
        method = request.method
        rule = faults.take("delay", method, path)
        if rule is not None:
            await asyncio.sleep(rule.seconds)
        rule = faults.take("fail", method, path)
        if rule is not None:
            return error_response(
                ApiError(rule.status, rule.message or _default_message(rule.status), rule.reason)
            )
        return await api.handle(request, path)


def _default_message(status: int) -> str:
    return {
        500: "Internal error occurred: injected fault",
        503: "the server is currently unable to handle the request",
        429: "the server has received too many requests and has asked us to try again later",
        504: "the server was unable to return a response in the time allotted, but may still "
        "be processing the request",
    }.get(status, f"injected fault (HTTP {status})")
