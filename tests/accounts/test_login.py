"""Sign-in hardening: repeated failures lock the name for a while, at every door."""

import pytest

from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

GOOD = {"username": "acme/bob", "password": "Correct-horse-9"}
BAD = {"username": "acme/bob", "password": "wrong"}


def test_five_failures_lock_the_name_even_for_the_right_password(client, member, settings):
    for _ in range(settings.PORTAL_LOGIN_MAX_FAILURES):
        page = client.post("/login/", BAD)
        assert "Wrong tenant/username or password" in page.content.decode()
    locked = client.post("/login/", GOOD)
    assert locked.status_code == 200
    assert "Too many failed sign-ins" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # every attempt, the refused ones included, is in the audit trail
    assert AuditEvent.objects.filter(path="/login/").count() == 6


def test_the_lock_also_guards_the_admin_and_direct_authenticate(client, member, settings):
    from django.contrib.auth import authenticate

    for _ in range(settings.PORTAL_LOGIN_MAX_FAILURES):
        assert authenticate(username="acme/bob", password="wrong") is None
    assert authenticate(username="acme/bob", password="Correct-horse-9") is None
    response = client.post("/admin/login/", GOOD)
    assert "_auth_user_id" not in client.session
    assert response.status_code == 200


def test_success_resets_the_count_and_other_names_are_not_affected(
    client, member, viewer, settings
):
    for _ in range(settings.PORTAL_LOGIN_MAX_FAILURES - 1):
        client.post("/login/", BAD)
    assert client.post("/login/", GOOD).status_code == 302
    client.logout()
    for _ in range(settings.PORTAL_LOGIN_MAX_FAILURES - 1):
        client.post("/login/", BAD)
    assert client.post("/login/", GOOD).status_code == 302  # counted afresh after success
    client.logout()
    assert client.login(username="acme/vic", password="Correct-horse-9")


def test_lock_expires(client, member, settings):
    settings.PORTAL_LOGIN_LOCKOUT_SECONDS = 1
    for _ in range(settings.PORTAL_LOGIN_MAX_FAILURES):
        client.post("/login/", BAD)
    assert "Too many" in client.post("/login/", GOOD).content.decode()
    import time

    time.sleep(1.2)
    assert client.post("/login/", GOOD).status_code == 302


def test_hammering_a_locked_account_keeps_it_locked(client, member, settings):
    """Every refused attempt at a locked account restarts the window (console form and
    ``authenticate()`` alike), so the lock lasts until the attempts stop; then it expires."""
    import time

    from django.contrib.auth import authenticate

    settings.PORTAL_LOGIN_LOCKOUT_SECONDS = 2
    for _ in range(settings.PORTAL_LOGIN_MAX_FAILURES):
        client.post("/login/", BAD)
    locked_at = time.monotonic()
    while time.monotonic() - locked_at < 3:  # past the first failure's window
        assert "Too many" in client.post("/login/", BAD).content.decode()
        assert authenticate(username="acme/bob", password="wrong") is None
        time.sleep(0.4)
    assert "Too many" in client.post("/login/", GOOD).content.decode()
    assert "_auth_user_id" not in client.session
    time.sleep(2.2)  # no attempt for a whole window
    assert client.post("/login/", GOOD).status_code == 302
