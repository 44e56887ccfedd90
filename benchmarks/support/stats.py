"""One way to compute percentiles, used by every benchmark module.

Nearest-rank: the p-th percentile of n samples is the ``ceil(p/100 · n)``-th smallest, so
p99 of 300 samples is the 297th smallest and p100 the largest. No sample is dropped or
interpolated: a slow request that happened is in the figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(samples: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0 < q ≤ 1) of ``samples``."""
    if not samples:
        raise ValueError("percentile of no samples")
    if not 0 < q <= 1:
        raise ValueError(f"quantile {q} is outside (0, 1]")
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def p50_p99_ms(samples_s: Sequence[float], digits: int = 3) -> tuple[float, float]:
    """(p50, p99) in milliseconds of samples in seconds."""
    return (
        round(percentile(samples_s, 0.50) * 1000, digits),
        round(percentile(samples_s, 0.99) * 1000, digits),
    )
