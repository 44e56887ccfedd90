"""The webtty benchmark (benchmarks/webtty.py) runs end to end with tiny parameters: the
portal under uvicorn and kubesim in their own processes, terminals typing on both routes, log
followers on both routes, and figures that add up."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from apps.accounts.services import create_api_key
from benchmarks import webtty

pytestmark = pytest.mark.django_db(transaction=True)


def test_webtty_benchmark_runs_with_tiny_parameters(tenant, tenant_admin):
    _, key = create_api_key(actor=tenant_admin, user=tenant_admin, expires_in=timedelta(hours=1))
    figures = webtty.measure(
        tenant,
        key,
        terminals=2,
        keystrokes=4,
        blocks=2,
        followers=2,
        log_rate=100,
        log_seconds=1.0,
    )
    json.dumps(figures)  # what run.py writes
    assert figures["keystroke_terminals"] == 2
    assert figures["keystroke_samples_per_route"] == 8
    for route in ("direct", "portal"):
        p50, p95, p99 = (figures[f"keystroke_{route}_{q}_ms"] for q in ("p50", "p95", "p99"))
        assert 0 < p50 <= p95 <= p99 < 10_000, figures
    added = figures["keystroke_portal_p99_ms"] - figures["keystroke_direct_p99_ms"]
    assert figures["keystroke_added_p99_ms"] == pytest.approx(added, abs=0.002)
    # Measured, but not necessarily moved: the process's CPU time counts in clock ticks
    # (10 ms), more than 8 tiny keystrokes cost (~0.6 ms each).
    assert figures["keystroke_portal_cpu_ms"] >= 0
    # Each followed container writes 100 lines a second: both routes see about that many.
    for route in ("direct", "portal"):
        per_stream = figures[f"log_{route}_lines_per_s_per_stream_p50"]
        assert 50 <= per_stream <= 150, figures
        assert (
            figures[f"log_{route}_lines_per_s_total"]
            >= 2 * figures[f"log_{route}_lines_per_s_per_stream_min"]
        )
    assert figures["log_portal_dropped_lines"] == 0
    assert figures["log_portal_failed_streams"] == 0
