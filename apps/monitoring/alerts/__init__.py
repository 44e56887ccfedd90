"""Alarm policies, their evaluation, alarm records, silences and the Alertmanager webhook.

Models live in :mod:`.models` (imported by ``apps.monitoring.models`` so Django sees them);
writes in :mod:`.services`; the evaluator in :mod:`.evaluate`; notices in :mod:`.notices`;
the Celery tasks in :mod:`.tasks`; the webhook in :mod:`.alertmanager`.
"""
