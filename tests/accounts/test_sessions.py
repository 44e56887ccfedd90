"""Console sessions (apps/accounts/sessions.py): a new session key at sign-in, sign-out that
deletes the session, idle and absolute timeouts, and the production cookie settings."""

import time

import pytest
from django.test import Client

from apps.accounts import sessions
from apps.accounts.models import PortalSession as Session
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

GOOD = {"username": "acme/bob", "password": "Correct-horse-9"}


def session_key(client) -> str:
    return client.cookies["sessionid"].value


def sign_in(client) -> str:
    response = client.post("/login/", GOOD)
    assert response.status_code == 302, response.content.decode()[:500]
    return session_key(client)


def me(cookie: str):
    """GET /api/v1/me/ from a fresh client presenting only this session cookie."""
    replay = Client()
    replay.cookies["sessionid"] = cookie
    return replay.get("/api/v1/me/")


def edit_session(key: str, **values) -> None:
    store = Session.objects.get(session_key=key).get_decoded()
    store.update(values)
    from apps.accounts.session_store import SessionStore

    session = SessionStore(session_key=key)
    session.update(store)
    session.save()


def test_sign_in_rotates_the_session_key(client, member):
    """A session id planted before sign-in (session fixation) is worthless after it."""
    planted = client.session
    planted["visited"] = True
    planted.save()
    before = planted.session_key
    client.cookies["sessionid"] = before
    after = sign_in(client)
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert me(before).status_code == 401
    assert me(after).json()["username"] == "bob"


def test_sessions_record_their_user_and_end_by_an_index(member, tenant_admin):
    """Ending a user's sessions reads only that user's rows (the session row carries the
    user): the work does not grow with everyone else's sessions, and another user's sessions
    and anonymous ones are untouched; deleting a user deletes their sessions."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    anonymous = Client()
    anonymous.get("/login/")  # the sign-in page's CSRF cookie: no session row needed
    planted = anonymous.session
    planted["visited"] = True
    planted.save()
    assert Session.objects.get(session_key=planted.session_key).user_id is None

    keys = [sign_in(Client()) for _ in range(3)]
    assert set(Session.objects.filter(user=member).values_list("session_key", flat=True)) == set(
        keys
    )

    def end(user, keep=None):
        with CaptureQueriesContext(connection) as queries:
            ended = sessions.end_sessions(user, keep=keep)
        # reads other than the per-session delete's fetch by primary key
        reads = [
            q["sql"]
            for q in queries
            if q["sql"].lstrip().upper().startswith("SELECT")
            and not q["sql"].rstrip().endswith("LIMIT 21")  # objects.get(session_key=…)
        ]
        return ended, reads

    admin_browsers = []
    for _ in range(2):
        browser = Client()
        assert browser.post("/login/", {"username": "acme/alice", "password": "Correct-horse-9"})
        admin_browsers.append(browser)
    ended, reads = end(member, keep=keys[0])
    assert ended == 2
    assert len(reads) == 1 and '"user_id" =' in reads[0] and "session_data" not in reads[0]
    assert list(Session.objects.filter(user=member).values_list("session_key", flat=True)) == [
        keys[0]
    ]
    assert me(keys[0]).status_code == 200 and me(keys[1]).status_code == 401
    assert Session.objects.filter(user=tenant_admin).count() == 2
    assert Session.objects.filter(session_key=planted.session_key).exists()

    # the same single read with many more sessions of others around
    for _ in range(5):
        sign_in(Client())
    _, more_reads = end(tenant_admin)
    assert len(more_reads) == 1
    assert Session.objects.filter(user=tenant_admin).count() == 0

    member.delete()
    assert not Session.objects.filter(session_key=keys[0]).exists()


def test_sign_in_records_when(client, member):
    started = int(time.time())
    key = sign_in(client)
    data = Session.objects.get(session_key=key).get_decoded()
    assert started <= data[sessions.AUTH_TIME] <= int(time.time())
    assert data[sessions.LAST_SEEN] == data[sessions.AUTH_TIME]


def test_sign_out_deletes_the_session_and_the_old_cookie_is_anonymous(client, member):
    key = sign_in(client)
    assert me(key).status_code == 200
    response = client.post("/logout/")
    assert response.status_code == 302
    assert not Session.objects.filter(session_key=key).exists()
    assert me(key).status_code == 401
    replay = Client()
    replay.cookies["sessionid"] = key
    home = replay.get("/")
    assert home.status_code == 302 and home["Location"].startswith("/login/")
    logout = AuditEvent.objects.get(action="auth.logout")
    assert logout.user == member and logout.outcome == "success"


def test_an_idle_session_ends(client, member, settings):
    key = sign_in(client)
    now = int(time.time())
    edit_session(key, last_seen=now - settings.PORTAL_SESSION_IDLE_TIMEOUT - 5)
    assert me(key).status_code == 401
    assert not Session.objects.filter(session_key=key).exists()
    event = AuditEvent.objects.get(action="auth.session_expired")
    assert event.user == member
    assert "idle for more than 1 h" in event.message


def test_a_session_ends_at_the_absolute_timeout_however_active(client, member, settings):
    key = sign_in(client)
    now = int(time.time())
    edit_session(key, auth_time=now - settings.PORTAL_SESSION_ABSOLUTE_TIMEOUT - 5, last_seen=now)
    assert me(key).status_code == 401
    assert not Session.objects.filter(session_key=key).exists()
    event = AuditEvent.objects.get(action="auth.session_expired")
    assert "signed in more than 12 h ago" in event.message


def test_a_session_inside_both_limits_lives_and_is_stamped_at_most_once_a_minute(
    client, member, settings
):
    key = sign_in(client)
    now = int(time.time())
    edit_session(
        key,
        auth_time=now - settings.PORTAL_SESSION_ABSOLUTE_TIMEOUT + 120,
        last_seen=now - settings.PORTAL_SESSION_IDLE_TIMEOUT + 120,
    )
    assert me(key).status_code == 200
    stamped = Session.objects.get(session_key=key).get_decoded()[sessions.LAST_SEEN]
    assert stamped >= now
    # Within the minute the stamp is not rewritten (one session write a minute, not a request).
    edit_session(key, last_seen=now - 30)
    assert me(key).status_code == 200
    assert Session.objects.get(session_key=key).get_decoded()[sessions.LAST_SEEN] == now - 30


def test_a_session_without_a_sign_in_time_is_ended(client, member):
    """Sessions from before these rules carry no auth_time: they end once."""
    key = sign_in(client)
    data = Session.objects.get(session_key=key).get_decoded()
    data.pop(sessions.AUTH_TIME)
    from apps.accounts.session_store import SessionStore

    session = SessionStore(session_key=key)
    session.clear()
    session.update(data)
    session.save()
    assert me(key).status_code == 401


def test_production_cookies_are_secure_httponly_lax_and_host_prefixed(client, member, settings):
    """What tkeportal/settings/hardening.py sets, on a real sign-in over HTTPS."""
    from tkeportal.settings import hardening

    for name in dir(hardening):
        if name.startswith(("SESSION_COOKIE", "CSRF_COOKIE")):
            setattr(settings, name, getattr(hardening, name))
    form = client.get("/login/", secure=True)
    csrf = form.cookies["__Host-csrftoken"]
    assert csrf["secure"] and csrf["samesite"] == "Lax" and csrf["path"] == "/"
    assert not csrf["domain"]
    response = client.post(
        "/login/",
        {**GOOD, "csrfmiddlewaretoken": csrf.value},
        secure=True,
        HTTP_REFERER="https://testserver/login/",
    )
    assert response.status_code == 302
    cookie = response.cookies["__Host-sessionid"]
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax"
    assert cookie["path"] == "/" and not cookie["domain"]
    assert "sessionid" not in response.cookies


def test_the_hourly_purge_deletes_expired_sessions_only(member):
    from datetime import timedelta

    from django.utils import timezone

    from apps.core.periodic import Periodic

    live = sign_in(Client())
    gone = sign_in(Client())
    Session.objects.filter(session_key=gone).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    assert Periodic().run("session-purge") is True
    assert set(Session.objects.values_list("session_key", flat=True)) == {live}
    assert me(live).status_code == 200
