"""Recordings past TERMINAL_RECORDING_RETENTION_DAYS are removed by the beat task
``purge_recordings`` (apps/terminal/tasks.py): in the database and in the recordings
directory; the session rows stay and the console says when the recording went."""

from __future__ import annotations

import gzip
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.terminal.models import TerminalSession
from apps.terminal.recording import write_file
from apps.terminal.tasks import purge_recordings

pytestmark = pytest.mark.django_db

CAST = gzip.compress(b'{"version": 2, "width": 80, "height": 24}\n[0.1, "o", "hi\\r\\n"]\n')


def _session(tenant, *, ended_days_ago: float | None, root=None) -> TerminalSession:
    now = timezone.now()
    ended = None if ended_days_ago is None else now - timedelta(days=ended_days_ago)
    session = TerminalSession.objects.create(
        tenant=tenant,
        username="alice",
        cluster_name="cls-a",
        namespace="web",
        pod="frontend",
        started_at=(ended or now) - timedelta(minutes=5),
        ended_at=ended,
        recording_bytes=len(CAST),
    )
    if root is None:
        session.recording = CAST
    else:
        session.recording_path = write_file(root, tenant.pk, session.pk, CAST)
    session.save()
    return session


def test_old_recordings_go_new_ones_and_the_rows_stay(tenant, settings, tmp_path):
    settings.TERMINAL_RECORDING_DIR = str(tmp_path)
    settings.TERMINAL_RECORDING_RETENTION_DAYS = 30
    old_row = _session(tenant, ended_days_ago=31)
    old_file = _session(tenant, ended_days_ago=45, root=tmp_path)
    recent = _session(tenant, ended_days_ago=29, root=tmp_path)
    still_open = _session(tenant, ended_days_ago=None)
    old_path = tmp_path / old_file.recording_path

    assert purge_recordings() == 2

    assert not old_path.exists()
    for purged in (old_row, old_file):
        purged.refresh_from_db()
        assert purged.recording is None and purged.recording_path == ""
        assert purged.recording_purged_at is not None
    recent.refresh_from_db()
    assert (tmp_path / recent.recording_path).read_bytes() == CAST
    still_open.refresh_from_db()
    assert bytes(still_open.recording) == CAST
    assert TerminalSession.objects.count() == 4
    assert purge_recordings() == 0  # nothing twice


def test_a_missing_file_counts_as_removed_and_zero_keeps_everything(tenant, settings, tmp_path):
    settings.TERMINAL_RECORDING_DIR = str(tmp_path)
    gone = _session(tenant, ended_days_ago=400, root=tmp_path)
    (tmp_path / gone.recording_path).unlink()
    kept = _session(tenant, ended_days_ago=400)

    settings.TERMINAL_RECORDING_RETENTION_DAYS = 0
    assert purge_recordings() == 0
    kept.refresh_from_db()
    assert bytes(kept.recording) == CAST

    settings.TERMINAL_RECORDING_RETENTION_DAYS = 180
    assert purge_recordings() == 2
    gone.refresh_from_db()
    assert gone.recording_purged_at is not None and gone.recording_path == ""


def test_the_console_says_the_recording_was_removed(client, tenant, tenant_admin, settings):
    settings.TERMINAL_RECORDING_RETENTION_DAYS = 30
    session = _session(tenant, ended_days_ago=60)
    purge_recordings()
    client.force_login(tenant_admin)
    page = client.get(reverse("console:terminal-session", kwargs={"pk": session.pk}))
    assert page.status_code == 200
    assert 'id="terminal-session-purged"' in page.content.decode()
    assert 'id="cast-player"' not in page.content.decode()
    cast = client.get(reverse("console:terminal-session-cast", kwargs={"pk": session.pk}))
    assert cast.status_code == 404
    assert "removed on" in cast.content.decode()
