"""Terminal session recordings for auditors (console:terminal-sessions, -session, -cast):
listed to who may list audit events, replayed by who may read the session's opening audit
event; a replay is itself audited."""

from __future__ import annotations

import gzip
import stat

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.terminal import services
from apps.terminal.models import TerminalSession
from apps.terminal.recording import Recorder, decompress
from tests.console.matrix import ConsoleMatrix
from tests.factories import make_cluster

pytestmark = pytest.mark.django_db


def make_session(tenant, user, pod="web-1", recorded=True):
    cluster = make_cluster(tenant)
    grant = services.Grant(
        services.Caller(user),
        cluster,
        None,
        services.EXEC_ACTION,
        services.pod_resource(cluster.name, "team-a", pod),
    )
    session = services.open_session(
        grant,
        namespace="team-a",
        pod=pod,
        container="main",
        command=["sh"],
        tty=True,
        protocol="v5.channel.k8s.io",
        path="/ws/…",
        source_ip="127.0.0.1",
    )
    recorder = None
    if recorded:
        recorder = Recorder(80, 24, 10_000)
        recorder.output(b"/ # ")
        recorder.input(b"id\n")
        recorder.output(b"uid=0(root)\r\n")
    services.close_session(
        session, exit_code=0, reason="the command ended", recorder=recorder, path="/ws/…"
    )
    return session


class SessionPage(ConsoleMatrix):
    url_name = ""
    object_page = True
    # someone else's session: replayed by who holds replayTerminalSession (the administrator)
    reader = "tenant_admin"

    def make_object(self, tenant):
        from apps.accounts.models import User

        actor = User.objects.filter(tenant=tenant).first()
        self.session = make_session(tenant, actor)

    def url_for(self, tenant) -> str:
        return reverse(self.url_name, kwargs={"pk": self.session.pk})


class TestTerminalSessionsMatrix(ConsoleMatrix):
    """Every signed-in user may open the list (as the audit list, self-service): it shows
    the sessions whose audit events they may list."""

    url = "/audit/terminal-sessions/"
    expect = 'id="terminal-sessions"'
    no_permission = None

    def make_object(self, tenant):
        from apps.accounts.models import User

        make_session(tenant, User.objects.filter(tenant=tenant).first(), pod="only-acme")

    def expect_of_tenant(self, tenant) -> str:
        return "only-acme"


class TestTerminalSessionMatrix(SessionPage):
    url_name = "console:terminal-session"
    expect = 'id="cast-player"'


class TestTerminalCastMatrix(SessionPage):
    url_name = "console:terminal-session-cast"
    expect = '"version": 2'

    def test_no_permission_is_the_console_403(self, request, client, tenant):
        # a file, not a page: the refusal is still the console's 403
        self.make_object(tenant)
        client.force_login(request.getfixturevalue(self.no_permission))
        response = client.get(self.url_for(tenant))
        assert response.status_code == 403
        assert self.expect not in response.content.decode()


def test_list_shows_sessions_with_constant_queries(client, tenant, member):
    client.force_login(member)
    make_session(tenant, member, pod="first")
    url = reverse("console:terminal-sessions")
    client.get(url)  # warm: the policy index and the session
    with CaptureQueriesContext(connection) as one:
        page = client.get(url).content.decode()
    assert "team-a/first" in page
    for i in range(5):
        make_session(tenant, member, pod=f"more-{i}")
    client.get(url)
    with CaptureQueriesContext(connection) as six:
        page = client.get(url).content.decode()
    assert page.count("data-session=") == 6
    assert len(six) == len(one)


def test_replay_page_and_cast_content_and_the_replay_is_audited(client, tenant, member):
    session = make_session(tenant, member)
    client.force_login(member)
    page = client.get(reverse("console:terminal-session", kwargs={"pk": session.pk}))
    body = page.content.decode()
    assert "team-a/web-1" in body and "<code>sh</code>" in body
    assert "'wasm-unsafe-eval'" in page["Content-Security-Policy"]
    cast = client.get(reverse("console:terminal-session-cast", kwargs={"pk": session.pk}))
    lines = cast.content.decode().splitlines()
    assert lines[1:] and '"i", "id\\n"' in lines[2] and "uid=0(root)" in lines[3]
    viewed = AuditEvent.objects.filter(action="replayTerminalSession", message__contains="replay")
    assert [(e.username, e.resource) for e in viewed] == [
        ("acme/bob", f"auditevent:{session.open_event_id}")
    ]


def test_other_pages_keep_the_strict_policy(client, tenant, member):
    client.force_login(member)
    response = client.get(reverse("console:terminal-sessions"))
    assert "wasm-unsafe-eval" not in response["Content-Security-Policy"]


def test_unrecorded_session_has_no_player_and_no_cast(client, tenant, member):
    session = make_session(tenant, member, recorded=False)
    client.force_login(member)
    body = client.get(reverse("console:terminal-session", kwargs={"pk": session.pk})).content
    assert b'id="terminal-session-unrecorded"' in body and b"cast-player" not in body
    cast = client.get(reverse("console:terminal-session-cast", kwargs={"pk": session.pk}))
    assert cast.status_code == 404


def test_a_viewer_sees_no_other_users_sessions(client, tenant, member, viewer):
    session = make_session(tenant, member, pod="bobs-pod")
    client.force_login(viewer)
    page = client.get(reverse("console:terminal-sessions")).content.decode()
    assert "bobs-pod" not in page and "No terminal sessions." in page
    response = client.get(reverse("console:terminal-session", kwargs={"pk": session.pk}))
    assert response.status_code == 403 and b"cast-player" not in response.content
    cast = client.get(reverse("console:terminal-session-cast", kwargs={"pk": session.pk}))
    assert cast.status_code == 403 and b"uid=0" not in cast.content


def test_the_platform_menu_links_to_terminal_sessions(client, tenant, member):
    client.force_login(member)
    page = client.get(reverse("console:overview")).content.decode()
    assert 'href="/audit/terminal-sessions/"' in page


def test_reading_the_audit_trail_is_not_enough_to_replay_others_sessions(
    client, tenant, member, read_only_user
):
    """A recording holds what was typed (passwords too): replaying someone else's session
    takes ``replayTerminalSession``, which read-only access (``get*``) does not hold; the
    auditors' predefined ``audit-read`` does."""
    from tests.conftest import persona

    session = make_session(tenant, member)
    url = reverse("console:terminal-session-cast", kwargs={"pk": session.pk})
    client.force_login(read_only_user)
    response = client.get(url)
    assert response.status_code == 403 and b"uid=0(root)" not in response.content
    client.force_login(persona(tenant, "audrey", "audit-read"))
    response = client.get(url)
    assert response.status_code == 200 and b"uid=0(root)" in response.content


def test_the_audit_event_of_a_terminal_session_links_to_its_replay(
    client, tenant, member, read_only_user
):
    """Shown on the session's opening event, to who may replay it: its owner (self-service)
    and holders of replayTerminalSession — not to one who may only read the audit trail."""
    from tests.conftest import persona

    session = make_session(tenant, member, pod="linked")
    event_url = reverse("console:audit-event", kwargs={"pk": session.open_event_id})
    replay = reverse("console:terminal-session", kwargs={"pk": session.pk})
    for user in (member, persona(tenant, "audrey", "audit-read")):
        client.force_login(user)
        page = client.get(event_url).content.decode()
        assert f'href="{replay}"' in page and 'id="audit-event-terminal-session"' in page
    client.force_login(read_only_user)  # may read the event (get*), not replay it
    response = client.get(event_url)
    assert response.status_code == 200 and 'id="audit-event-fields"' in response.content.decode()
    assert "audit-event-terminal-session" not in response.content.decode()
    # the closing event is not the session's opening: no link there
    closing = AuditEvent.objects.filter(message__contains=f"session {session.pk} closed").get()
    client.force_login(member)
    page = client.get(reverse("console:audit-event", kwargs={"pk": closing.pk})).content.decode()
    assert 'id="audit-event-fields"' in page and "audit-event-terminal-session" not in page


# -- where recordings are kept (TERMINAL_RECORDING_DIR) --------------------------------------
def test_recording_in_the_database_by_default(client, tenant, member, settings):
    settings.TERMINAL_RECORDING_DIR = ""
    session = make_session(tenant, member)
    session.refresh_from_db()
    assert session.recording_path == "" and session.recording is not None
    assert "uid=0(root)" in str(decompress(session.recording))
    client.force_login(member)
    cast = client.get(reverse("console:terminal-session-cast", kwargs={"pk": session.pk}))
    assert cast.status_code == 200 and b"uid=0(root)" in cast.content


def test_recording_in_the_directory_not_the_database(client, tenant, member, settings, tmp_path):
    """A file per session under tenant-<id>/ (0600 in 0700 directories, written whole), the
    row keeping only its relative path; the replay page and the download read the file."""
    root = tmp_path / "recordings"
    settings.TERMINAL_RECORDING_DIR = str(root)
    session = make_session(tenant, member)
    session.refresh_from_db()
    assert session.recording is None
    assert session.recording_path == f"tenant-{tenant.pk}/session-{session.pk}.cast.gz"
    path = root / session.recording_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left behind
    assert "uid=0(root)" in str(decompress(path.read_bytes()))
    client.force_login(member)
    page = client.get(reverse("console:terminal-session", kwargs={"pk": session.pk}))
    assert b'id="cast-player"' in page.content and b"terminal-session-missing" not in page.content
    cast = client.get(reverse("console:terminal-session-cast", kwargs={"pk": session.pk}))
    assert cast.status_code == 200 and '"i", "id\\n"' in cast.content.decode()


def test_a_database_recording_still_replays_once_a_directory_is_configured(
    client, tenant, member, settings, tmp_path
):
    settings.TERMINAL_RECORDING_DIR = ""
    session = make_session(tenant, member)
    settings.TERMINAL_RECORDING_DIR = str(tmp_path)
    client.force_login(member)
    cast = client.get(reverse("console:terminal-session-cast", kwargs={"pk": session.pk}))
    assert cast.status_code == 200 and b"uid=0(root)" in cast.content


def test_a_missing_recording_file_is_said_on_the_replay_page(
    client, tenant, member, settings, tmp_path
):
    settings.TERMINAL_RECORDING_DIR = str(tmp_path)
    session = make_session(tenant, member)
    (tmp_path / session.recording_path).unlink()
    client.force_login(member)
    page = client.get(reverse("console:terminal-session", kwargs={"pk": session.pk}))
    body = page.content.decode()
    assert page.status_code == 200 and 'id="terminal-session-missing"' in body
    assert f"the recording file {session.recording_path} is missing" in body
    assert 'id="cast-player"' not in body
    cast = client.get(reverse("console:terminal-session-cast", kwargs={"pk": session.pk}))
    assert cast.status_code == 404 and b"is missing" in cast.content


@pytest.mark.parametrize("kind", ["dot-dot", "absolute", "symlink"])
def test_a_recording_path_outside_the_directory_is_never_read(
    client, tenant, member, settings, tmp_path, kind
):
    """Paths are generated, but a row changed behind the portal's back (or a link planted in
    the directory) still cannot make it read a file outside the recordings directory."""
    root, secret = tmp_path / "recordings", tmp_path / "secret.cast.gz"
    secret.write_bytes(gzip.compress(b'{"version": 2}\n[0.1, "o", "top secret"]\n'))
    settings.TERMINAL_RECORDING_DIR = str(root)
    session = make_session(tenant, member)
    if kind == "symlink":
        link = root / session.recording_path
        link.unlink()
        link.symlink_to(secret)
    else:
        path = "../secret.cast.gz" if kind == "dot-dot" else str(secret)
        TerminalSession.objects.filter(pk=session.pk).update(recording_path=path)
    client.force_login(member)
    cast = client.get(reverse("console:terminal-session-cast", kwargs={"pk": session.pk}))
    assert cast.status_code == 404 and b"top secret" not in cast.content
    assert b"is outside" in cast.content
    page = client.get(reverse("console:terminal-session", kwargs={"pk": session.pk}))
    assert 'id="terminal-session-missing"' in page.content.decode()
