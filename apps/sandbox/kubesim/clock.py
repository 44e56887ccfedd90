"""Time in a simulated cluster.

Timestamps use the API server's formats (RFC 3339, seconds or microseconds). Durations the
simulated kubelet and controllers wait — a container's ``sleep``, the crash-loop back-off, a
termination grace period, ``tolerationSeconds`` — are in simulated seconds; a cluster's
``time_scale`` (real seconds per simulated second, 1.0 by default) makes them pass faster, so
tests see a 5-minute back-off cap or a 30-second grace period in a fraction of the time.
Wall-clock timestamps (``deletionTimestamp``, ``startedAt``) stay real.
"""

from __future__ import annotations

from datetime import UTC, datetime


def now_iso(when: datetime | None = None) -> str:
    return (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def go_duration(seconds: float) -> str:
    """A whole number of seconds as Go's ``time.Duration`` prints it: ``10s``, ``1m20s``,
    ``5m0s``, ``1h0m0s``."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
