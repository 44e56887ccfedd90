"""The Celery application. Queues: cluster-ops, metrics, notify, default (DESIGN.md)."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tkeportal.settings.dev")

app = Celery("tkeportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in ("default", "cluster-ops", "metrics", "notify")]
app.autodiscover_tasks()
