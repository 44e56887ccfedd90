"""Monitoring benchmark: one part per area (``benchmarks/monitoring_parts/<part>.py``, each
exposing ``KEY`` and ``measure() -> dict``), its figures under ``KEY`` in
``benchmarks/results/monitoring.json``.

The file is read, the parts run replace only their own keys, and the whole is written back:
parts written by other runs (collection, query, evaluation) are kept. ``MONITORING_PARTS=a,b``
runs only those parts (module names).
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "monitoring.json"


def run() -> dict:
    import benchmarks.monitoring_parts as parts

    wanted = {p for p in os.environ.get("MONITORING_PARTS", "").split(",") if p}
    try:
        figures = json.loads(RESULTS.read_text())
    except (FileNotFoundError, ValueError):
        figures = {}
    for info in sorted(pkgutil.iter_modules(parts.__path__), key=lambda i: i.name):
        if wanted and info.name not in wanted:
            continue
        module = importlib.import_module(f"benchmarks.monitoring_parts.{info.name}")
        figures[module.KEY] = module.measure()
        # Written after each part too: a later part failing keeps this one's figures.
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(figures, indent=2))
    return figures
