"""Periodic work without Celery beat: the embedded default (``make run`` with no Redis) runs
``CELERY_BEAT_SCHEDULE`` in-process, so health checks (and the namespace reconcile, the
directory re-check …) still happen on schedule and ``Cluster.last_probe_at`` moves.

With a broker, Celery beat does this job (``make run`` starts it); without one, tasks run
eagerly, so running a beat entry here runs the whole of its work in this process. Each entry
runs when its interval has passed since its last run; one failing entry is logged and the
others go on. ``manage.py runperiodic`` is the loop (``--once``: every entry once, then exit).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger("tkeportal.periodic")


def interval_of(schedule) -> float:
    """Seconds between runs of a beat entry's ``schedule`` (a number or a timedelta; a
    Celery ``schedule`` object's ``run_every``)."""
    every = getattr(schedule, "run_every", schedule)
    if isinstance(every, timedelta):
        return every.total_seconds()
    if isinstance(every, int | float) and every > 0:
        return float(every)
    raise ValueError(f"unsupported schedule {schedule!r}: give seconds or a timedelta")


class Periodic:
    """The beat entries and when each last ran (``clock`` is monotonic seconds)."""

    def __init__(self, schedule: dict | None = None, clock: Callable[[], float] = time.monotonic):
        schedule = settings.CELERY_BEAT_SCHEDULE if schedule is None else schedule
        self.entries = {name: dict(entry) for name, entry in schedule.items()}
        self.intervals = {name: interval_of(e["schedule"]) for name, e in self.entries.items()}
        self.clock = clock
        self.last_run: dict[str, float] = {}

    def due(self) -> list[str]:
        now = self.clock()
        return [
            name
            for name, every in self.intervals.items()
            if name not in self.last_run or now - self.last_run[name] >= every
        ]

    def seconds_to_next(self) -> float:
        now = self.clock()
        waits = [
            max(0.0, self.last_run.get(name, now - every) + every - now)
            for name, every in self.intervals.items()
        ]
        return min(waits, default=60.0)

    def run(self, name: str) -> bool:
        """Run one entry now, in this process; False (logged) when it failed."""
        entry = self.entries[name]
        self.last_run[name] = self.clock()
        try:
            task = import_string(entry["task"])
        except ImportError:
            logger.exception("periodic task %s names no task: %s", name, entry["task"])
            return False
        # Run eagerly without re-raising: a failing task is logged and the others go on.
        result = task.apply(args=entry.get("args", ()), kwargs=entry.get("kwargs", {}), throw=False)
        if result.failed():
            logger.error(
                "periodic task %s (%s) failed: %s\n%s",
                name,
                entry["task"],
                result.result,
                result.traceback or "",
            )
            return False
        logger.debug("periodic task %s ran", name)
        return True

    def run_due(self) -> dict[str, bool]:
        return {name: self.run(name) for name in self.due()}
