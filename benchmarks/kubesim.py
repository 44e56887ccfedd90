"""kubesim latency through the official kubernetes client over real HTTPS.

Figures (milliseconds, p50/p99 over 1,000 requests each): GET of one pod, LIST of 1,000 pods,
PATCH of one pod, and delivery of one watch event (write → event read by a watching client).
``get_flat`` shows the store does not slow down as requests accumulate: p50 of the first vs
the last 1,000 of 5,000 GETs, with a PATCH after every fifth GET (the history keeps growing).
LIST is measured as HTTP + ``json.loads`` (``_preload_content=False``); turning 1,000 pods into
the client's models costs far more than the server does, so that figure is reported apart
(``list_1000_pods_deserialized``, 10 requests).
"""

from __future__ import annotations

import json
import queue
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes import client, config

from apps.sandbox.kubesim import KubeSim
from benchmarks.support.stats import percentile

PODS = 1000
N = 1000


def _pct(samples: list[float], q: float) -> float:
    return round(percentile(samples, q) * 1000, 3)


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": _pct(samples, 0.50),
        "p99_ms": _pct(samples, 0.99),
        "mean_ms": round(statistics.fmean(samples) * 1000, 3),
        "n": len(samples),
    }


def _timed(n: int, fn: Callable[[int], Any]) -> list[float]:
    out = []
    for i in range(n):
        started = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - started)
    return out


def _seed_pods(cluster: Any) -> None:
    rt = cluster.rt("", "pods")
    for i in range(PODS):
        cluster.create(
            rt,
            "bench",
            {
                "metadata": {
                    "name": f"pod-{i:04d}",
                    "labels": {"app": f"app-{i % 10}", "bench": "yes"},
                },
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "image": "nginx:1.27",
                            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                        }
                    ]
                },
            },
        )


def run() -> dict[str, Any]:
    started = time.perf_counter()
    sim = KubeSim().start_in_thread()
    handle = sim.add_cluster("bench", nodes=3, seed=False, controller=False)
    handle.call(lambda c: c.create(c.rt("", "namespaces"), None, {"metadata": {"name": "bench"}}))
    handle.call(_seed_pods)
    workdir = Path(tempfile.mkdtemp(prefix="kubesim-bench-"))
    handle.kubeconfig(workdir / "kubeconfig")
    configuration = client.Configuration()
    config.load_kube_config(
        config_file=str(workdir / "kubeconfig"),
        client_configuration=configuration,
        persist_config=False,
    )
    configuration.retries = 0
    api = client.ApiClient(configuration)
    core = client.CoreV1Api(api)
    results: dict[str, Any] = {"pods_in_store": PODS}
    try:
        core.read_namespaced_pod("pod-0000", "bench")  # warm the connection pool
        results["get"] = _summary(
            _timed(N, lambda i: core.read_namespaced_pod(f"pod-{i % PODS:04d}", "bench"))
        )

        def list_raw(_: int) -> None:
            resp = core.list_namespaced_pod("bench", _preload_content=False)
            items = json.loads(resp.data)["items"]
            assert len(items) == PODS

        results["list_1000_pods"] = _summary(_timed(N, list_raw))
        results["list_1000_pods_deserialized"] = _summary(
            _timed(10, lambda i: core.list_namespaced_pod("bench"))
        )
        results["patch"] = _summary(
            _timed(
                N,
                lambda i: core.patch_namespaced_pod(
                    f"pod-{i % PODS:04d}", "bench", {"metadata": {"labels": {"round": str(i)}}}
                ),
            )
        )
        results["watch_event"] = _summary(_watch_latency(handle, core))
        samples = []
        for i in range(5 * N):
            t0 = time.perf_counter()
            core.read_namespaced_pod(f"pod-{i % PODS:04d}", "bench")
            samples.append(time.perf_counter() - t0)
            if i % 5 == 0:  # keep writing so the store's history keeps growing
                core.patch_namespaced_pod(
                    f"pod-{i % PODS:04d}",
                    "bench",
                    {"metadata": {"annotations": {"n": str(i)}}},
                    _preload_content=False,
                )
        first, last = _summary(samples[:N]), _summary(samples[-N:])
        results["get_flat"] = {
            "first_1000_p50_ms": first["p50_ms"],
            "last_1000_p50_ms": last["p50_ms"],
            "ratio": round(last["p50_ms"] / first["p50_ms"], 3),
        }
    finally:
        api.close()
        sim.stop()
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    return results


def _watch_latency(handle: Any, core: client.CoreV1Api) -> list[float]:
    """Time from a write returning to its event arriving on an open watch."""
    core.create_namespaced_config_map("bench", {"metadata": {"name": "tick"}, "data": {}})
    rv = core.list_namespaced_config_map("bench").metadata.resource_version
    resp = core.list_namespaced_config_map(
        "bench", watch=True, resource_version=rv, timeout_seconds=300, _preload_content=False
    )
    arrivals: queue.Queue[tuple[float, str]] = queue.Queue()

    def reader() -> None:
        buffer = b""
        for chunk in resp.stream(65536, decode_content=False):
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                event = json.loads(line)
                arrivals.put((time.perf_counter(), event["object"]["data"].get("n", "")))

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    samples = []
    for i in range(N):
        t0 = time.perf_counter()
        core.patch_namespaced_config_map(
            "tick", "bench", {"data": {"n": str(i)}}, _preload_content=False
        )
        while True:
            arrived, value = arrivals.get(timeout=10)
            if value == str(i):
                samples.append(arrived - t0)
                break
    # End the stream from the server side so the reader thread sees a clean EOF.
    handle.call(lambda c: c.close_watches())
    thread.join(10)
    resp.release_conn()
    return samples


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
