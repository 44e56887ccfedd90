"""A terminal session through the websocket with TERMINAL_RECORDING_DIR set: the recording
lands in the directory, not the row; when the directory cannot be written, it is kept in the
row rather than lost."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from apps.terminal.models import TerminalSession
from apps.terminal.recording import decompress

from .conftest import exec_path, open_term, session_cookie

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

ECHO = "container=main&command=echo&command=recorded&tty=false"


async def _session(cluster, user) -> TerminalSession:
    connected, term = await open_term(
        exec_path(cluster, query=ECHO), await sync_to_async(session_cookie)(user)
    )
    assert connected
    await term.until_closed()
    assert term.output == b"recorded\n"
    return await sync_to_async(TerminalSession.objects.get)()


async def test_a_session_is_recorded_to_the_directory(
    cluster, sim, tenant_admin, settings, tmp_path
):
    settings.TERMINAL_RECORDING_DIR = str(tmp_path)
    session = await _session(cluster, tenant_admin)
    assert session.recording is None
    assert session.recording_path == f"tenant-{session.tenant_id}/session-{session.pk}.cast.gz"
    cast = decompress((tmp_path / session.recording_path).read_bytes())
    assert ["o", "recorded\n"] in [event[1:] for event in cast[1:]]
    assert session.recording_bytes > 0


async def test_an_unwritable_directory_keeps_the_recording_in_the_row(
    cluster, sim, tenant_admin, settings, tmp_path
):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the directory should be")
    settings.TERMINAL_RECORDING_DIR = str(blocked)
    session = await _session(cluster, tenant_admin)
    assert session.recording_path == ""
    cast = decompress(session.recording)
    assert ["o", "recorded\n"] in [event[1:] for event in cast[1:]]
