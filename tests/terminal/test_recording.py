"""The recorder (apps/terminal/recording.py) on its own, and the admin's terminal pages."""

from __future__ import annotations

import gzip
import json

import pytest

from apps.terminal.models import TerminalSettings
from apps.terminal.recording import CAPPED_MARKER, Recorder, decompress


def test_recorder_events_utf8_split_across_frames_and_cap():
    rec = Recorder(100, 30, 2000, title="ns/pod main")
    rec.output("héllo".encode()[:2])  # "h" and the first byte of "é"
    rec.output("héllo".encode()[2:])
    rec.input(b"ls\n")
    rec.resize(120, 40)
    cast = decompress(rec.compressed())
    assert cast[0]["version"] == 2 and cast[0]["title"] == "ns/pod main"
    assert [e[1:] for e in cast[1:]] == [["o", "h"], ["o", "éllo"], ["i", "ls\n"], ["r", "120x40"]]
    assert rec.size == len(rec.text())
    while not rec.capped:
        rec.output(b"x" * 100)
    assert rec.size <= 2000
    cast = decompress(rec.compressed())
    assert cast[-1][1:] == ["m", CAPPED_MARKER]
    rec.output(b"after the cap")
    assert decompress(rec.compressed()) == cast
    assert json.loads(gzip.decompress(rec.compressed()).decode().splitlines()[0])["width"] == 100


def test_recorded_lines_are_the_json_of_their_events():
    """Event lines are built without json.dumps (they are written for every relayed frame)
    but are exactly what it would write: quotes, backslashes, escapes, non-ASCII, emoji."""
    rec = Recorder(80, 24, 100_000)
    for chunk in ["plain", 'quote " backslash \\ tab\t', "é ☃ 😀", "\x1b[1;31mred\x1b[0m\r\n"]:
        rec.output(chunk.encode())
    rec.input(b"\x03")
    lines = rec.text().splitlines()[1:]
    assert len(lines) == 5
    for line in lines:
        assert line == json.dumps(json.loads(line))
    assert json.loads(lines[2])[2] == "é ☃ 😀"


@pytest.mark.django_db
def test_tenant_admin_turns_recording_off_in_the_admin(client, tenant, tenant_admin):
    client.force_login(tenant_admin)
    response = client.post(
        "/admin/terminal/terminalsettings/add/", {"tenant": tenant.pk, "record_sessions": ""}
    )
    assert response.status_code == 302, response.content[:1000]
    row = TerminalSettings.objects.get()
    assert (row.tenant_id, row.record_sessions) == (tenant.pk, False)
    listing = client.get("/admin/terminal/terminalsession/")
    assert listing.status_code == 200
