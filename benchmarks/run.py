#!/usr/bin/env python
"""Run the benchmarks: every ``benchmarks/<name>.py`` exposing ``run() -> dict``.

Prints one table per benchmark and writes ``benchmarks/results/<name>.json``.
Usage: ``benchmarks/run.py [name …]`` (all when none given).
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
SKIP = {"run", "__init__", "conftest"}  # (sub-packages are parts, not benchmarks)


def discover(names: list[str]) -> list[str]:
    found = sorted(p.stem for p in ROOT.glob("*.py") if p.stem not in SKIP)
    if not names:
        return found
    unknown = sorted(set(names) - set(found))
    if unknown:
        sys.exit(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(found)}")
    return names


def table(name: str, figures: dict, seconds: float) -> str:
    width = max((len(k) for k in figures), default=10)
    lines = [f"== {name} ({seconds:.1f}s)"]
    for key, value in figures.items():
        shown = (
            f"{value:,.3f}"
            if isinstance(value, float)
            else f"{value:,}"
            if isinstance(value, int)
            else str(value)
        )
        lines.append(f"  {key:<{width}}  {shown:>16}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT.parent))
    RESULTS.mkdir(exist_ok=True)
    names = discover(argv)
    if not names:
        sys.exit("no benchmarks found under benchmarks/")
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        started = time.monotonic()
        figures = module.run()
        elapsed = time.monotonic() - started
        (RESULTS / f"{name}.json").write_text(json.dumps(figures, indent=2, sort_keys=False))
        print(table(name, figures, elapsed), flush=True)
    print(f"results written to {RESULTS}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
