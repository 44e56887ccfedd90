"""The web terminal's websocket (apps/terminal/exec.py) against kubesim: who may open one
(refusals happen before the cluster sees any exec request), the relay both ways, exit status,
resize, timeouts, keepalive, the audit trail and the recording."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import pytest
from asgiref.sync import sync_to_async

from apps.accounts.sessions import AUTH_TIME
from apps.audit.models import AuditEvent
from apps.terminal.models import TerminalSession, TerminalSettings
from apps.terminal.recording import CAPPED_MARKER, decompress
from tests.factories import make_api_key

from .conftest import exec_path, exec_requests, open_term, session_cookie

login = sync_to_async(session_cookie)

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.usefixtures("close_upstreams"),
    pytest.mark.django_db(transaction=True),
]


def rows(model, **filters):
    return sync_to_async(lambda: list(model.objects.filter(**filters).order_by("pk")))()


async def refused(term, code: int) -> dict:
    """The refusal: an error control message, then close code 4000 + HTTP status."""
    assert await term.until_closed() == 4000 + code
    error = term.control("error")
    assert error["code"] == code
    return error


# -- who may open a terminal -------------------------------------------------------------------
async def test_no_session_is_refused_before_any_cluster_connection(cluster, sim):
    connected, term = await open_term(exec_path(cluster))
    assert connected
    error = await refused(term, 401)
    assert "sign in" in error["message"]
    assert exec_requests(sim) == []
    assert await rows(TerminalSession) == []


async def test_other_tenants_user_is_told_the_cluster_does_not_exist(cluster, sim, other_user):
    connected, term = await open_term(exec_path(cluster), await login(other_user))
    error = await refused(term, 404)
    assert error["message"] == f"cluster {cluster.name} not found"
    assert exec_requests(sim) == []


async def test_other_projects_pod_is_refused(cluster, sim, project_member):
    path = exec_path(cluster, "team-b", "db")
    connected, term = await open_term(path, await login(project_member))
    error = await refused(term, 403)
    assert f"execPod on cluster:{cluster.name}/namespace:team-b/pod:db" in error["message"]
    assert exec_requests(sim) == []
    denied = await rows(AuditEvent, action="execPod", outcome="denied")
    assert [(e.username, e.resource, e.status_code) for e in denied] == [
        ("acme/pete", f"cluster:{cluster.name}/namespace:team-b/pod:db", 403)
    ]


async def test_without_exec_pod_the_pod_reader_is_refused(cluster, sim, project_viewer):
    # project_viewer may read the pod in their own project's namespace, not exec into it.
    connected, term = await open_term(exec_path(cluster), await login(project_viewer))
    error = await refused(term, 403)
    assert "may not execPod" in error["message"]
    assert exec_requests(sim) == []
    assert await rows(TerminalSession) == []


async def test_origin_mismatch_is_refused_at_the_handshake(cluster, sim, tenant_admin):
    cookie = await login(tenant_admin)
    for origin in ("https://evil.example", None):
        connected, term = await open_term(exec_path(cluster), cookie, origin=origin)
        assert not connected, origin
    assert exec_requests(sim) == []


async def test_a_stale_sign_in_must_reauthenticate(cluster, sim, tenant_admin):
    from apps.accounts.session_store import SessionStore

    cookie = await login(tenant_admin)

    def age():
        store = SessionStore(session_key=cookie)
        store[AUTH_TIME] = store[AUTH_TIME] - 3600
        store.save()

    await sync_to_async(age)()
    connected, term = await open_term(exec_path(cluster), cookie)
    error = await refused(term, 401)
    assert error["reauth_url"].startswith("/reauth/?next=")
    assert exec_requests(sim) == []


async def test_project_member_opens_a_terminal_in_the_projects_pod(cluster, sim, project_member):
    connected, term = await open_term(exec_path(cluster), await login(project_member))
    await term.until_output(b"# ")
    await term.type("hostname\n")
    await term.until_output(b"\r\nweb\r\n")
    await term.ws.disconnect()
    assert exec_requests(sim) == [("GET", "/api/v1/namespaces/team-a/pods/web/exec")]


async def test_an_api_key_client_needs_no_origin_but_a_cookie_does(cluster, sim, member):
    """A CLI with an API key sends no Origin: it is let through to authenticate itself. The
    same socket carrying the session cookie without Origin is refused at the handshake."""
    _, token = await sync_to_async(make_api_key)(member)
    path = exec_path(cluster, query="container=main&command=echo&command=keyed&tty=false")
    bearer = [(b"authorization", f"Bearer {token}".encode())]
    connected, term = await open_term(path, origin=None, headers=bearer)
    assert connected
    await term.until_closed()
    assert term.output == b"keyed\n"
    cookie = await login(member)
    connected, _ = await open_term(path, cookie, origin=None, headers=bearer)
    assert not connected
    assert len(exec_requests(sim)) == 1  # the first socket's only


async def test_api_key_in_header_or_subprotocol(cluster, sim, member):
    _, token = await sync_to_async(make_api_key)(member)
    path = exec_path(cluster, query="container=main&command=echo&command=keyed&tty=false")
    bearer = [(b"authorization", f"Bearer {token}".encode())]
    connected, term = await open_term(path, headers=bearer)
    assert connected
    await term.until_closed()
    assert term.output == b"keyed\n"
    assert term.control("exit")["code"] == 0
    encoded = base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")
    connected, term = await open_term(
        path, subprotocols=["tke.terminal.v1", f"base64url.bearer.authorization.k8s.io.{encoded}"]
    )
    assert connected
    await term.until_closed()
    assert term.output == b"keyed\n"
    sessions = await rows(TerminalSession)
    assert [(s.username, s.api_key_id is not None, s.exit_code) for s in sessions] == [
        ("acme/bob", True, 0),
        ("acme/bob", True, 0),
    ]
    _, bad = await open_term(path, headers=[(b"authorization", b"Bearer tke_nope")])
    await refused(bad, 401)


# -- the session itself ------------------------------------------------------------------------
async def test_round_trip_exit_status_audit_and_recording(cluster, sim, tenant_admin):
    connected, term = await open_term(exec_path(cluster), await login(tenant_admin))
    assert connected
    await term.until_output(b"# ")
    await term.type("echo round-trip\n")
    await term.until_output(b"\r\nround-trip\r\n")
    await term.type("exit 3\n")
    assert await term.until_closed() == 1000
    assert term.control("opened")["protocol"] == "v5.channel.k8s.io"
    exit_ = term.control("exit")
    assert exit_["code"] == 3
    assert exit_["reason"] == "the command ended"

    (session,) = await rows(TerminalSession)
    assert (session.username, session.cluster_name, session.namespace, session.pod) == (
        "acme/alice",
        cluster.name,
        "team-a",
        "web",
    )
    assert (session.container, session.command, session.exit_code) == ("main", ["sh"], 3)
    assert session.ended_at is not None and session.protocol == "v5.channel.k8s.io"

    events = await rows(AuditEvent, action="execPod", channel="websocket")
    assert [e.status_code for e in events] == [101, 101]
    start, end = events
    resource = f"cluster:{cluster.name}/namespace:team-a/pod:web"
    assert {start.resource, end.resource} == {resource}
    assert {start.username, end.username} == {"acme/alice"}
    assert start.message.startswith(f"terminal session {session.pk} opened in {cluster.name}")
    assert "container main, command 'sh'" in start.message
    assert "container main, command 'sh'" in end.message
    assert "exit code 3" in end.message and "recorded" in end.message

    cast = decompress(session.recording)
    header, events_ = cast[0], cast[1:]
    assert header["version"] == 2 and (header["width"], header["height"]) == (80, 24)
    inputs = "".join(e[2] for e in events_ if e[1] == "i")
    outputs = "".join(e[2] for e in events_ if e[1] == "o")
    assert inputs == "echo round-trip\nexit 3\n"
    assert "round-trip" in outputs and "# " in outputs
    times = [e[0] for e in events_]
    assert times == sorted(times) and all(isinstance(t, float) for t in times)
    assert session.recording_bytes == len("".join(json.dumps(x) + "\n" for x in cast))


async def test_non_tty_command_exit_status(cluster, sim, tenant_admin):
    query = "container=main&command=sh&command=-c&command=echo+out%3B+echo+err+%3E%262%3B+exit+7"
    connected, term = await open_term(
        exec_path(cluster, query=query + "&tty=false"), await login(tenant_admin)
    )
    await term.until_closed()
    assert term.output.count(b"out\n") == 1 and b"err\n" in term.output
    assert term.control("exit")["code"] == 7
    (session,) = await rows(TerminalSession)
    assert session.exit_code == 7 and session.tty is False
    assert session.command == ["sh", "-c", "echo out; echo err >&2; exit 7"]


async def test_resize_reaches_the_container(cluster, sim, tenant_admin):
    path = exec_path(cluster, query="container=main&cols=100&rows=30")
    connected, term = await open_term(path, await login(tenant_admin))
    await term.until_output(b"# ")
    await term.type("stty size\n")
    await term.until_output(b"30 100")
    await term.resize(132, 43)
    await term.type("stty size\n")
    await term.until_output(b"43 132")
    await term.type("exit\n")
    await term.until_closed()
    (session,) = await rows(TerminalSession)
    cast = decompress(session.recording)
    assert (cast[0]["width"], cast[0]["height"]) == (100, 30)
    assert [e[2] for e in cast[1:] if e[1] == "r"] == ["132x43"]


async def test_idle_terminal_is_closed_with_a_reason(cluster, sim, tenant_admin, settings):
    settings.TERMINAL_IDLE_TIMEOUT = 1
    connected, term = await open_term(exec_path(cluster), await login(tenant_admin))
    started = time.monotonic()
    assert await term.until_closed() == 1000
    waited = time.monotonic() - started
    assert 1 <= waited < 5
    exit_ = term.control("exit")
    assert exit_["code"] is None
    assert exit_["reason"] == "idle for 1s (terminal idle timeout)"
    (session,) = await rows(TerminalSession)
    assert session.close_reason == "idle for 1s (terminal idle timeout)"
    assert session.ended_at is not None


async def test_keepalive_pings_while_idle(cluster, sim, tenant_admin, settings):
    settings.TERMINAL_KEEPALIVE_INTERVAL = 0.2
    connected, term = await open_term(exec_path(cluster), await login(tenant_admin))
    deadline = time.monotonic() + 3
    while sum(c.get("type") == "ping" for c in term.controls) < 3:
        assert time.monotonic() < deadline, term.controls
        await term.next(3)
    await term.type("exit\n")
    assert await term.until_closed() == 1000


async def test_signing_out_ends_the_terminal(cluster, sim, tenant_admin, settings):
    from apps.accounts.session_store import SessionStore

    settings.TERMINAL_SESSION_RECHECK = 0.2
    cookie = await login(tenant_admin)
    connected, term = await open_term(exec_path(cluster), cookie)
    await term.until_output(b"# ")
    await sync_to_async(lambda: SessionStore(session_key=cookie).delete())()
    assert await term.until_closed(5) == 1000
    assert term.control("exit")["reason"] == "you signed out (or the session was ended)"


async def test_a_user_their_directory_drops_loses_an_open_terminal(
    cluster, sim, tenant_admin, settings
):
    """A terminal is a use of the session: when the user's identity provider drops them
    (the recheck marks them missing), the open terminal ends at its next re-check."""
    from apps.accounts.choices import DirectoryState
    from apps.accounts.identity.provisioning import set_directory_state
    from tests.factories import make_identity_provider

    def make_directory_user():
        provider = make_identity_provider(tenant_admin.tenant, name="corp")
        tenant_admin.source, tenant_admin.identity_provider = "ldap", provider
        tenant_admin.external_id, tenant_admin.directory_state = "uid=alice,dc=x", "present"
        tenant_admin.save()

    await sync_to_async(make_directory_user)()
    settings.TERMINAL_SESSION_RECHECK = 0.2
    connected, term = await open_term(exec_path(cluster), await login(tenant_admin))
    await term.until_output(b"# ")
    await term.type("hostname\n")
    await term.until_output(b"\r\nweb\r\n")
    await sync_to_async(set_directory_state)(tenant_admin, DirectoryState.MISSING)
    assert await term.until_closed(5) == 1000
    assert term.control("exit")["reason"] == (
        "your account is no longer vouched for: removed or disabled in identity provider 'corp'"
    )


async def test_an_api_key_disabled_while_its_terminal_is_open_ends_it(
    cluster, sim, member, settings
):
    from apps.accounts.models import APIKey

    settings.TERMINAL_SESSION_RECHECK = 0.2
    key, token = await sync_to_async(make_api_key)(member)
    bearer = [(b"authorization", f"Bearer {token}".encode())]
    connected, term = await open_term(exec_path(cluster), headers=bearer)
    await term.until_output(b"# ")
    await sync_to_async(APIKey.objects.filter(pk=key.pk).update)(disabled=True)
    assert await term.until_closed(5) == 1000
    assert term.control("exit")["reason"] == (
        f"the API key no longer works: API key {key.prefix}… has been disabled."
    )


async def test_recording_disabled_for_the_tenant(cluster, sim, tenant_admin, tenant):
    await sync_to_async(TerminalSettings.objects.create)(tenant=tenant, record_sessions=False)
    connected, term = await open_term(
        exec_path(cluster, query="container=main&command=echo&command=hi&tty=false"),
        await login(tenant_admin),
    )
    await term.until_closed()
    assert term.output == b"hi\n"
    (session,) = await rows(TerminalSession)
    assert session.recording is None and session.exit_code == 0
    (end,) = await rows(AuditEvent, action="execPod", message__contains="closed")
    assert end.message.endswith("not recorded")


async def test_recording_is_capped_with_a_marker(cluster, sim, tenant_admin, settings):
    settings.TERMINAL_RECORDING_MAX_BYTES = 400
    from urllib.parse import quote

    script = "; ".join(f"echo line-{i}" for i in range(40))
    query = "container=main&tty=false&command=sh&command=-c&command=" + quote(script)
    connected, term = await open_term(exec_path(cluster, query=query), await login(tenant_admin))
    await term.until_closed()
    assert b"line-39\n" in term.output  # the browser got everything
    (session,) = await rows(TerminalSession)
    cast = decompress(session.recording)
    assert session.recording_capped is True
    assert session.recording_bytes <= 400
    assert cast[-1][1:] == ["m", CAPPED_MARKER]
    recorded = "".join(e[2] for e in cast[1:] if e[1] == "o")
    assert recorded.startswith("line-0\n") and "line-39" not in recorded


async def test_exit_code_when_the_container_is_unknown(cluster, sim, tenant_admin):
    path = exec_path(cluster, query="container=nope")
    connected, term = await open_term(path, await login(tenant_admin))
    error = await refused(term, 400)
    assert "nope" in error["message"]
    assert await rows(TerminalSession) == []
    failed = await rows(AuditEvent, action="execPod", outcome="failure")
    assert len(failed) == 1 and "refused the terminal" in failed[0].message


async def test_falls_back_to_v4_on_an_older_cluster(cluster, sim, tenant_admin):
    sim.call(lambda c: setattr(c, "exec_protocols", ("v4.channel.k8s.io",)))
    path = exec_path(cluster, query="container=main&command=sh&command=-c&command=exit+5&tty=false")
    connected, term = await open_term(path, await login(tenant_admin))
    await term.until_closed()
    assert term.control("opened")["protocol"] == "v4.channel.k8s.io"
    assert term.control("exit")["code"] == 5
    (session,) = await rows(TerminalSession)
    assert (session.protocol, session.exit_code) == ("v4.channel.k8s.io", 5)


async def test_unreachable_cluster_is_reported_and_audited(cluster, sim, tenant_admin):
    sim.faults.down()
    connected, term = await open_term(exec_path(cluster), await login(tenant_admin))
    error = await refused(term, 502)
    assert f"Cluster {cluster.name} is unreachable" in error["message"]
    assert await rows(TerminalSession) == []
    (failed,) = await rows(AuditEvent, action="execPod", outcome="failure")
    assert failed.status_code == 502 and "unreachable" in failed.message
    sim.faults.up()


async def test_typing_in_a_terminal_keeps_the_console_session_alive(
    cluster, sim, tenant_admin, settings
):
    from apps.accounts.session_store import SessionStore
    from apps.accounts.sessions import LAST_SEEN

    settings.TERMINAL_SESSION_RECHECK = 0.2
    cookie = await login(tenant_admin)

    def last_seen_back(seconds):
        store = SessionStore(session_key=cookie)
        store[LAST_SEEN] = store[LAST_SEEN] - seconds
        store.save()
        return store[LAST_SEEN]

    def last_seen():
        return SessionStore(session_key=cookie)[LAST_SEEN]

    connected, term = await open_term(exec_path(cluster), cookie)
    await term.until_output(b"# ")
    stale = await sync_to_async(last_seen_back)(120)
    await term.type("echo busy\n")
    await term.until_output(b"\r\nbusy\r\n")
    deadline = time.monotonic() + 5
    while await sync_to_async(last_seen)() == stale:
        assert time.monotonic() < deadline, "last_seen never moved"
        await asyncio.sleep(0.1)
    assert await sync_to_async(last_seen)() >= int(time.time()) - 2
    await term.type("exit\n")
    assert await term.until_closed() == 1000
    assert term.control("exit")["reason"] == "the command ended"


async def test_an_idle_terminal_does_not_outlive_the_sessions_idle_timeout(
    cluster, sim, tenant_admin, settings
):
    from apps.accounts.session_store import SessionStore
    from apps.accounts.sessions import LAST_SEEN

    settings.TERMINAL_SESSION_RECHECK = 0.2
    cookie = await login(tenant_admin)
    connected, term = await open_term(exec_path(cluster), cookie)
    await term.until_output(b"# ")

    def idle_for_long():
        store = SessionStore(session_key=cookie)
        store[LAST_SEEN] = store[LAST_SEEN] - settings.PORTAL_SESSION_IDLE_TIMEOUT - 10
        store.save()

    await sync_to_async(idle_for_long)()
    assert await term.until_closed(5) == 1000
    assert term.control("exit")["reason"] == "idle session timeout reached"


async def test_browser_hanging_up_ends_and_audits_the_session(cluster, sim, tenant_admin):
    connected, term = await open_term(exec_path(cluster), await login(tenant_admin))
    await term.until_output(b"# ")
    await term.type("echo bye\n")
    await term.until_output(b"\r\nbye\r\n")
    await term.ws.disconnect()  # waits for the application to finish
    (session,) = await rows(TerminalSession)
    assert session.ended_at is not None and session.exit_code is None
    assert session.close_reason == "closed by the browser"
    closed = await rows(AuditEvent, action="execPod", message__contains="closed")
    assert len(closed) == 1
    assert "no exit status; closed by the browser; recorded" in closed[0].message
    cast = decompress(session.recording)
    assert "".join(e[2] for e in cast[1:] if e[1] == "i") == "echo bye\n"
