"""``manage.py kubesim``: run simulated clusters for the demo or local development.

    manage.py kubesim --clusters prod:3,staging:2 --port 18080 --kubeconfig out.yaml

Starts one kubesim server (HTTPS on 127.0.0.1) with a cluster per ``name:nodes`` entry (seeded,
controller on), writes a kubeconfig with one context per cluster, and serves until interrupted.
``--watch-history 75s`` sets the watch cache's events-history window (default 75 s, as
kube-apiserver 1.37): watches resuming from an older resourceVersion on a busy resource get
410 Gone and relist. ``--time-scale 0.1`` runs the simulated kubelet's clocks (sleep, back-off,
grace periods) ten times faster. ``--state var/kubesim-state.json`` keeps the clusters' objects
in that file (saved every ``--save-every`` seconds and on shutdown) and starts from it when it
exists, so a restart keeps the demo's work; delete the file to start from the seed again.
"""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import yaml
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.sandbox.kubesim import KubeSim, kubeconfig_for, snapshot


def parse_seconds(text: str) -> float:
    """``75``, ``75s``, ``2m``, ``1h`` or ``1m30s`` → seconds (positive)."""
    value = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        seconds = float(value)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)(h|m|s)", value)
        if not parts or "".join(n + u for n, u in parts) != value:
            raise CommandError(f"--watch-history: {text!r} is not a duration (e.g. 75s, 5m)")
        seconds = sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)
    if seconds <= 0:
        raise CommandError(f"--watch-history: {text!r} must be longer than 0s")
    return seconds


def parse_clusters(spec: str) -> list[tuple[str, int]]:
    """``prod:3,staging:2`` → ``[("prod", 3), ("staging", 2)]``."""
    out = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, nodes = part.partition(":")
        try:
            count = int(nodes or "3")
        except ValueError as exc:
            raise CommandError(f"bad node count in {part!r}: use name:N") from exc
        if not name or count < 1:
            raise CommandError(f"bad cluster spec {part!r}: use name:N with N >= 1")
        out.append((name, count))
    if not out:
        raise CommandError("--clusters names no cluster")
    return out


class Command(BaseCommand):
    help = "Run kubesim, a Kubernetes API simulator, with the given clusters."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--clusters",
            default="prod:3,staging:2",
            help="comma-separated name:nodes (default prod:3,staging:2)",
        )
        parser.add_argument("--port", type=int, default=18080, help="listen port on 127.0.0.1")
        parser.add_argument(
            "--kubeconfig",
            default="kubesim.kubeconfig",
            help="where to write the kubeconfig (one context per cluster)",
        )
        parser.add_argument("--no-seed", action="store_true", help="nodes only, no workloads")
        parser.add_argument(
            "--no-controller", action="store_true", help="do not run the controller loop"
        )
        parser.add_argument(
            "--watch-history",
            default="75s",
            help="watch cache events-history window, e.g. 75s or 5m (default 75s, as "
            "kube-apiserver 1.37)",
        )
        parser.add_argument(
            "--time-scale",
            type=float,
            default=1.0,
            help="real seconds per simulated second for kubelet waits (default 1.0)",
        )
        parser.add_argument(
            "--state",
            default="",
            help="keep the clusters' objects in this file and start from it (default: none)",
        )
        parser.add_argument(
            "--save-every",
            type=float,
            default=15.0,
            help="seconds between saves of --state (and one at shutdown)",
        )
        parser.add_argument(
            "--token",
            default=None,
            help="bearer token for every cluster (default: random per cluster)",
        )

    def handle(self, *args: object, **options: object) -> None:
        clusters = parse_clusters(str(options["clusters"]))
        options["watch_history"] = parse_seconds(str(options["watch_history"]))
        if float(options["time_scale"]) <= 0:
            raise CommandError("--time-scale must be a positive number")
        try:
            asyncio.run(self._serve(clusters, options))
        except KeyboardInterrupt:
            self.stdout.write("kubesim stopped")

    async def _serve(self, clusters: list[tuple[str, int]], options: dict) -> None:
        sim = KubeSim()
        try:
            await sim.start(int(options["port"]))
        except OSError as exc:
            raise CommandError(f"cannot listen on 127.0.0.1:{options['port']}: {exc}") from exc
        state = Path(str(options["state"])) if options["state"] else None
        saved = snapshot.load(state) if state else {}
        handles = []
        for name, nodes in clusters:
            kept = saved.get(name)
            handle = await sim.add_cluster_async(
                name,
                0 if kept else nodes,
                token=options["token"] or None,
                seed=not options["no_seed"] and not kept,
                controller=not options["no_controller"],
                watch_history=options["watch_history"],
                time_scale=float(options["time_scale"]),
            )
            if kept:
                count = snapshot.restore_cluster(handle.cluster, kept)
                self.stdout.write(f"cluster {name}: {count} objects restored from {state}")
            handles.append(handle)
        path = Path(str(options["kubeconfig"]))
        path.write_text(
            yaml.safe_dump(
                kubeconfig_for([(h, h.token, "default") for h in handles]), sort_keys=False
            )
        )
        for handle in handles:
            self.stdout.write(f"cluster {handle.name}: {handle.url}")
        self.stdout.write(
            f"kubeconfig written to {path} (contexts: {', '.join(h.name for h in handles)})"
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        every = max(1.0, float(options["save_every"]))
        while True:
            try:
                await asyncio.wait_for(stop.wait(), timeout=every if state else None)
                break
            except TimeoutError:
                snapshot.save([h.cluster for h in handles], state)
        if state:
            snapshot.save([h.cluster for h in handles], state)
            self.stdout.write(f"kubesim state saved to {state}")
        await sim._shutdown()
        self.stdout.write("kubesim stopped")
