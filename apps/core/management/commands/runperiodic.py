"""``manage.py runperiodic``: run ``CELERY_BEAT_SCHEDULE`` in this process (the embedded
default's Celery beat: ``make run`` starts it when no broker is configured).

    manage.py runperiodic          # every entry on its schedule until interrupted
    manage.py runperiodic --once   # every entry once, then exit
"""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from apps.core.periodic import Periodic


class Command(BaseCommand):
    help = "Run the periodic tasks (health checks, reconciles …) in-process, without Celery beat."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run every entry once and exit")

    def handle(self, *args, once=False, **options):
        periodic = Periodic()
        if once:
            results = periodic.run_due()
            for name, ok in results.items():
                self.stdout.write(f"{name}: {'ok' if ok else 'failed'}")
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write(
            f"periodic tasks in-process: {', '.join(sorted(periodic.entries))} "
            "(no broker configured)"
        )
        while not stop.is_set():
            close_old_connections()  # a long-lived process: no connection outlives its use
            periodic.run_due()
            close_old_connections()
            stop.wait(max(1.0, periodic.seconds_to_next()))
