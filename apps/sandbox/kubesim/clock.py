"""Timestamps in the API server's formats (RFC 3339, seconds or microseconds)."""

from __future__ import annotations

from datetime import UTC, datetime


def now_iso(when: datetime | None = None) -> str:
    return (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
