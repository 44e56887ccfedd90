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
