"""Web terminal and live logs benchmark (issue 13) → ``benchmarks/results/webtty.json``.

The portal runs as in production — ``uvicorn --ws wsproto tkeportal.asgi:application`` over
HTTPS in its own process — and the cluster is ``manage.py kubesim`` in another
(:class:`benchmarks.support.proxy.Servers`); the clients are asyncio websockets in this process.

* **Keystroke round trip**, ``TERMINALS`` terminals open at once on each route: through the
  portal (``/ws/clusters/<c>/namespaces/<ns>/pods/<pod>/exec``, API key, ``tke.terminal.v1``
  JSON stdin) and directly to kubesim's exec websocket (``v5.channel.k8s.io``). Every terminal
  types like a person (a key every 50–150 ms, so ~10 keys/s per terminal, ~500/s in all) and
  times each key from sending it to its tty echo arriving. The routes take turns in
  ``BLOCKS`` blocks each (same machine load for both); the other route's terminals stay open
  and idle meanwhile. ``keystroke_added_p99_ms`` = p99(portal) − p99(direct) (target ≤ 10 ms);
  ``keystroke_portal_cpu_ms`` is the portal process's CPU time per keystroke — a count, not a
  clock, steadier than latencies on a shared machine.
* **Log streaming**, ``FOLLOWERS`` followers at once, each of its own pod whose container
  writes ``LOG_RATE`` lines a second (kubesim's ``kubesim.io/log-lines-per-second``): first
  directly (``pods/<p>/log?follow=true``: can kubesim produce that much?), then through the
  portal's logs websocket. Lines a second per stream (p50 and the slowest stream) and in total,
  over ``LOG_SECONDS`` after a warm-up second, and the lines the portal dropped (its bounded
  queue, ``TERMINAL_LOG_QUEUE``) because a reader fell behind.

Percentiles are nearest-rank (:mod:`benchmarks.support.stats`), nothing dropped.
``WEBTTY_PROFILE=<file>`` runs the portal under cProfile and writes its profile there.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import ssl
import time
from datetime import timedelta

from benchmarks.support.proxy import Servers, cpu_seconds
from benchmarks.support.stats import p50_p99_ms, percentile
from benchmarks.support.testdb import test_database

TERMINALS = 50
KEYSTROKES = 200  # per terminal and route
BLOCKS = 4  # turns per route
KEY_GAP_S = (0.05, 0.15)  # between a key's echo and the next key
FOLLOWERS = 50
LOG_RATE = 1000  # lines a second each followed container writes
LOG_SECONDS = 8.0
NAMESPACE = "webtty"
TARGET_ADDED_P99_MS = 10.0
KEY = b"k"


def run() -> dict:
    with test_database():
        from apps.accounts.models import User
        from apps.accounts.services import create_api_key
        from apps.authz.services import ensure_predefined_policies, make_administrator
        from apps.tenants.models import Tenant

        tenant = Tenant.objects.create(slug="bench", display_name="Bench")
        ensure_predefined_policies(tenant)
        admin = User.objects.create(tenant=tenant, username="admin")
        make_administrator(actor=None, user=admin, admin=True)
        _, key = create_api_key(actor=admin, user=admin, expires_in=timedelta(hours=2))
        return measure(tenant, key)


def measure(
    tenant,
    key: str,
    *,
    terminals: int = TERMINALS,
    keystrokes: int = KEYSTROKES,
    blocks: int = BLOCKS,
    followers: int = FOLLOWERS,
    log_rate: int = LOG_RATE,
    log_seconds: float = LOG_SECONDS,
) -> dict:
    """The figures, for ``key`` (an API key of a tenant administrator of ``tenant``)."""
    servers = PortalServers()
    servers.start()
    try:
        env = _prepare(servers, tenant, key)
        figures = asyncio.run(
            _measure(env, terminals, keystrokes, blocks, followers, log_rate, log_seconds)
        )
    finally:
        servers.stop()
    return figures


class PortalServers(Servers):
    """kubesim and the portal; the portal under cProfile when ``WEBTTY_PROFILE`` names a file
    (uvicorn exits normally on SIGTERM, so the profile is written)."""

    def _spawn(self, *args: str) -> None:
        profile = os.environ.get("WEBTTY_PROFILE")
        if profile and args[:2] == ("-m", "uvicorn"):
            args = ("-m", "benchmarks.support.profiled", profile, *args[1:])
        super()._spawn(*args)


class Env:
    """Where the two routes go, and with what."""

    def __init__(self, servers: Servers, cluster, spec, server: str, key: str):
        self.servers = servers
        self.cluster = cluster
        self.server = server.rstrip("/")
        self.sim_token = spec.token
        self.key = key
        self.sim_ssl = ssl.create_default_context(cadata=spec.ca_data)
        self.portal_ssl = ssl.create_default_context(cafile=str(servers.cert.ca_file))
        self.portal = f"127.0.0.1:{servers.portal_port}"
        self.portal_pid = servers.procs[1].pid
        self.sim_pid = servers.procs[0].pid

    def direct_exec(self) -> str:
        query = "stdin=true&stdout=true&tty=true&container=main&command=sh"
        return f"{self.server}/api/v1/namespaces/{NAMESPACE}/pods/term/exec?{query}"

    def portal_exec(self) -> str:
        return (
            f"wss://{self.portal}/ws/clusters/{self.cluster.name}/namespaces/{NAMESPACE}"
            "/pods/term/exec?container=main&command=sh&tty=true"
        )

    def direct_log(self, pod: str) -> str:
        return f"{self.server}/api/v1/namespaces/{NAMESPACE}/pods/{pod}/log?follow=true&tailLines=0"

    def portal_log(self, pod: str) -> str:
        return (
            f"wss://{self.portal}/ws/clusters/{self.cluster.name}/namespaces/{NAMESPACE}"
            f"/pods/{pod}/logs?tailLines=0"
        )

    def portal_headers(self) -> dict:
        return {"Authorization": f"Bearer {self.key}", "Origin": f"https://{self.portal}"}

    def sim_headers(self) -> dict:
        return {"Authorization": f"Bearer {self.sim_token}"}

    def post(self, path: str, body: dict) -> None:
        import urllib3

        http = urllib3.PoolManager(ssl_context=self.sim_ssl, retries=False)
        headers = {**self.sim_headers(), "Content-Type": "application/json"}
        response = http.request("POST", self.server + path, body=json.dumps(body), headers=headers)
        if response.status != 201:
            raise RuntimeError(f"POST {path}: {response.status} {response.data[:300]!r}")

    def start_pods(self, names: list[str], annotations: dict | None = None) -> None:
        """Create busybox pods in the namespace and wait until all of them run."""
        import urllib3

        for name in names:
            self.post(
                f"/api/v1/namespaces/{NAMESPACE}/pods",
                {
                    "metadata": {"name": name, "annotations": annotations or {}},
                    "spec": {"containers": [{"name": "main", "image": "busybox:1.37"}]},
                },
            )
        http = urllib3.PoolManager(ssl_context=self.sim_ssl, retries=False)
        path = f"{self.server}/api/v1/namespaces/{NAMESPACE}/pods"
        deadline = time.monotonic() + 60
        while True:
            items = http.request("GET", path, headers=self.sim_headers()).json()["items"]
            running = {
                p["metadata"]["name"]
                for p in items
                if (p.get("status") or {}).get("phase") == "Running"
            }
            if running >= set(names):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"pods not Running after 60s: {set(names) - running}")
            time.sleep(0.2)


def _prepare(servers: Servers, tenant, key: str) -> Env:
    """Import kubesim's cluster; a namespace with the terminals' pod, Running."""
    import yaml

    from apps.clusters import services

    text = servers.kubeconfig.read_text()
    spec = services.spec_from_kubeconfig(text, "proxied")
    cluster = services.import_cluster(actor=None, tenant=tenant, display_name="webtty", spec=spec)
    server = yaml.safe_load(text)["clusters"][0]["cluster"]["server"]
    env = Env(servers, cluster, spec, server, key)
    env.post("/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
    env.start_pods(["term"])
    return env


def _log_pods(env: Env, followers: int, log_rate: int) -> list[str]:
    """One pod per follower writing ``log_rate`` lines a second (made only now, so that the
    keystroke part does not share kubesim with the log generators)."""
    names = [f"log-{i:03d}" for i in range(followers)]
    env.start_pods(names, {"kubesim.io/log-lines-per-second": str(log_rate)})
    return names


async def _measure(env, terminals, keystrokes, blocks, followers, log_rate, log_seconds) -> dict:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        if os.environ.get("WEBTTY_PROFILE"):
            os.kill(env.portal_pid, signal.SIGUSR1)  # benchmarks.support.profiled: start
        figures = await _keystrokes(http, env, terminals, keystrokes, blocks)
        # The same with one terminal: what the relay adds without queueing behind others.
        alone = await _keystrokes(http, env, 1, max(keystrokes // 2, blocks), blocks)
        figures.update(
            (f"single_{name}", value)
            for name, value in alone.items()
            if name.startswith(("keystroke_added", "keystroke_direct_p", "keystroke_portal_p"))
        )
        figures.update(await _logs(http, env, followers, log_rate, log_seconds))
    return figures


# -- keystrokes --------------------------------------------------------------------------------
class Terminal:
    """One open terminal on one route; ``key()`` types a key and times its echo."""

    def __init__(self, ws, direct: bool):
        self.ws = ws
        self.direct = direct

    async def _stdin(self, data: bytes) -> None:
        if self.direct:
            await self.ws.send_bytes(b"\x00" + data)
        else:
            await self.ws.send_str(json.dumps({"type": "stdin", "data": data.decode()}))

    async def _output(self, timeout: float) -> bytes:
        """The next output bytes (control messages and other channels are skipped)."""
        import aiohttp

        while True:
            message = await self.ws.receive(timeout=timeout)
            if message.type == aiohttp.WSMsgType.BINARY:
                data = message.data
                if not self.direct:
                    return data
                if data[:1] == b"\x01":
                    return data[1:]
            elif message.type != aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"terminal closed: {message.type} {message.data!r}")

    async def ready(self) -> None:
        """Wait for the shell's prompt, then for the output to settle."""
        await self._output(timeout=30)
        while True:
            try:
                await self._output(timeout=0.3)
            except TimeoutError:
                return

    async def key(self) -> float:
        started = time.perf_counter()
        await self._stdin(KEY)
        while KEY not in await self._output(timeout=30):
            pass
        return time.perf_counter() - started

    async def type_keys(self, count: int, samples: list[float]) -> None:
        for _ in range(count):
            await asyncio.sleep(random.uniform(*KEY_GAP_S))
            samples.append(await self.key())
        # ^U: the line is cleared (the shell's line buffer stays short); not timed.
        await self._stdin(b"\x15")
        try:
            while True:
                await self._output(timeout=0.2)
        except TimeoutError:
            pass


async def _open_terminal(http, env: Env, direct: bool) -> Terminal:
    if direct:
        ws = await http.ws_connect(
            env.direct_exec(),
            protocols=("v5.channel.k8s.io",),
            headers=env.sim_headers(),
            ssl=env.sim_ssl,
            max_msg_size=0,
        )
    else:
        ws = await http.ws_connect(
            env.portal_exec(),
            protocols=("tke.terminal.v1",),
            headers=env.portal_headers(),
            ssl=env.portal_ssl,
            max_msg_size=0,
        )
    terminal = Terminal(ws, direct)
    await terminal.ready()
    return terminal


async def _keystrokes(http, env: Env, terminals: int, keystrokes: int, blocks: int) -> dict:
    routes = {"direct": True, "portal": False}
    opened: dict[str, list[Terminal]] = {}
    open_all: dict[str, float] = {}
    for route, direct in routes.items():
        started = time.monotonic()
        opened[route] = list(
            await asyncio.gather(*(_open_terminal(http, env, direct) for _ in range(terminals)))
        )
        open_all[route] = round(time.monotonic() - started, 3)
    samples: dict[str, list[float]] = {"direct": [], "portal": []}
    cpu = {"direct": 0.0, "portal": 0.0}
    pids = {"direct": env.sim_pid, "portal": env.portal_pid}
    per_block = [keystrokes // blocks + (i < keystrokes % blocks) for i in range(blocks)]
    # A warm-up round per route, not counted.
    for route in routes:
        await asyncio.gather(*(t.type_keys(3, []) for t in opened[route]))
    for i, count in enumerate(per_block):
        order = ("portal", "direct") if i % 2 else ("direct", "portal")
        for route in order:
            before = cpu_seconds(pids[route])
            await asyncio.gather(*(t.type_keys(count, samples[route]) for t in opened[route]))
            cpu[route] += cpu_seconds(pids[route]) - before
    for route in routes:
        for terminal in opened[route]:
            await terminal.ws.close()
    out: dict = {}
    for route in ("direct", "portal"):
        p50, p99 = p50_p99_ms(samples[route])
        out[f"keystroke_{route}_p50_ms"] = p50
        out[f"keystroke_{route}_p95_ms"] = round(percentile(samples[route], 0.95) * 1000, 3)
        out[f"keystroke_{route}_p99_ms"] = p99
    for q in ("p50", "p95", "p99"):
        out[f"keystroke_added_{q}_ms"] = round(
            out[f"keystroke_portal_{q}_ms"] - out[f"keystroke_direct_{q}_ms"], 3
        )
    keys = len(samples["portal"])
    out["keystroke_portal_cpu_ms"] = round(cpu["portal"] * 1000 / keys, 3)
    # A count, not a clock: keystrokes one core could relay at this cost.
    out["keystroke_portal_keys_per_s_per_core"] = round(
        1000 / max(out["keystroke_portal_cpu_ms"], 0.001)
    )
    out["keystroke_kubesim_cpu_ms"] = round(cpu["direct"] * 1000 / len(samples["direct"]), 3)
    out["keystroke_terminals"] = terminals
    for route in routes:
        # all terminals asked for at once, until each has shown its prompt
        out[f"keystroke_{route}_open_all_s"] = open_all[route]
    out["keystroke_samples_per_route"] = keys
    out["keystroke_target_added_p99_le_10ms"] = out["keystroke_added_p99_ms"] <= (
        TARGET_ADDED_P99_MS
    )
    return out


# -- logs ----------------------------------------------------------------------------------------
class Window:
    """The counting window: it opens a warm-up second after the last follower is connected
    (the streams' set-up — authorization, audit — is not part of their throughput)."""

    def __init__(self, followers: int, seconds: float):
        self.waiting = followers
        self.seconds = seconds
        self.ready = asyncio.Event()
        self.start = self.end = 0.0
        self.connect_s = 0.0
        self.began = time.monotonic()

    def connected(self) -> None:
        self.waiting -= 1
        if self.waiting == 0:
            moment = time.monotonic()
            self.connect_s = moment - self.began
            self.start, self.end = moment + 1.0, moment + 1.0 + self.seconds
            self.ready.set()

    def over(self) -> bool:
        return self.ready.is_set() and time.monotonic() >= self.end

    def counting(self) -> bool:
        return self.ready.is_set() and self.start <= time.monotonic() < self.end


async def _follow_direct(http, env: Env, pod: str, window: Window, out: dict) -> None:
    async with http.get(env.direct_log(pod), headers=env.sim_headers(), ssl=env.sim_ssl) as resp:
        if resp.status != 200:
            raise RuntimeError(f"logs of {pod}: {resp.status} {await resp.text()}")
        window.connected()
        counted = total = 0
        async for chunk in resp.content.iter_any():
            if window.over():
                break
            lines = chunk.count(b"\n")
            total += lines
            if window.counting():
                counted += lines
        out[pod] = (counted, total)


async def _follow_portal(
    http, env: Env, pod: str, window: Window, out: dict, lost: list, failed: list
) -> None:
    import aiohttp

    async with http.ws_connect(
        env.portal_log(pod),
        protocols=("tke.terminal.v1",),
        headers=env.portal_headers(),
        ssl=env.portal_ssl,
        max_msg_size=0,
    ) as ws:
        window.connected()
        counted = total = 0
        while not window.over():
            left = window.end - time.monotonic() if window.ready.is_set() else 1.0
            try:
                message = await ws.receive(timeout=max(left, 0.001))
            except TimeoutError:
                continue
            if message.type != aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"logs of {pod} closed: {message.type} {message.data!r}")
            body = json.loads(message.data)
            if body["type"] == "log":
                total += len(body["lines"])
                if window.counting():
                    counted += len(body["lines"])
            elif body["type"] == "dropped":
                lost.append(body["count"])
            elif body["type"] in ("error", "end"):
                # A stream the portal could not keep (e.g. "cluster … unreachable: no
                # answer within 15s" when it is saturated) counts, with its lines so far.
                failed.append(f"{pod}: {body.get('message') or body.get('reason')}")
                break
        out[pod] = (counted, total)


async def _logs(http, env: Env, followers: int, log_rate: int, seconds: float) -> dict:
    pods = await asyncio.to_thread(_log_pods, env, followers, log_rate)
    figures: dict = {"log_followers": followers, "log_generated_lines_per_s": log_rate}
    for route in ("direct", "portal"):
        counts: dict[str, tuple[int, int]] = {}
        lost: list[int] = []
        failed: list[str] = []
        window = Window(followers, seconds)
        before = cpu_seconds(env.portal_pid)
        if route == "direct":
            await asyncio.gather(*(_follow_direct(http, env, p, window, counts) for p in pods))
        else:
            await asyncio.gather(
                *(_follow_portal(http, env, p, window, counts, lost, failed) for p in pods)
            )
        spent = cpu_seconds(env.portal_pid) - before
        rates = [counts[p][0] / seconds for p in pods]
        figures[f"log_{route}_lines_per_s_per_stream_p50"] = round(percentile(rates, 0.5), 1)
        figures[f"log_{route}_lines_per_s_per_stream_min"] = round(min(rates), 1)
        figures[f"log_{route}_lines_per_s_total"] = round(sum(rates), 1)
        figures[f"log_{route}_connect_all_s"] = round(window.connect_s, 3)
        if route == "portal":
            figures["log_portal_dropped_lines"] = sum(lost)
            figures["log_portal_failed_streams"] = len(failed)
            if failed:
                figures["log_portal_failures"] = sorted(set(failed))[:5]
            lines = sum(total for _, total in counts.values())
            # (set-up and the warm-up second included: every line the portal relayed)
            per_line = spent * 1e6 / max(lines, 1)
            figures["log_portal_cpu_us_per_line"] = round(per_line, 2)
            figures["log_portal_lines_per_s_per_core"] = round(1e6 / max(per_line, 0.001))
    return figures
