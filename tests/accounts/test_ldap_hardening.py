"""LDAP sign-ins through the hardening (real slapd, ``tests/fixtures/ldap.py``): directory
passwords go through the same lockout, and directory users re-authenticate with their
directory password."""

import time

import pytest
from django.test import Client

from apps.accounts import sessions
from apps.accounts.session_store import SessionStore
from apps.audit.models import AuditEvent
from tests.accounts.test_ldap import ldap_provider, sign_in

pytestmark = pytest.mark.django_db


def test_directory_passwords_go_through_the_lockout(client, tenant, ldap_dir, settings):
    ldap_provider(tenant, ldap_dir)
    assert sign_in(client, "carol", "carol-Pass-1").status_code == 302  # the user exists now
    client.post("/logout/")
    for _ in range(settings.PORTAL_LOGIN_MAX_FAILURES - 1):
        sign_in(client, "Carol", "not-her-password")  # any spelling: one account
    locked = sign_in(client, "carol", "not-her-password")
    assert "Too many failed sign-ins for this account" in locked.content.decode()
    refused = sign_in(client, "carol", "carol-Pass-1")
    assert "Too many failed sign-ins for this account" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.filter(action="auth.login_failed").latest("id")
    assert event.message.startswith("refused without checking the password")


def test_a_directory_users_mail_address_is_the_same_account_for_the_lockout(
    client, tenant, ldap_dir, settings
):
    """With a directory that matches uid or mail, guesses typed as the address count against
    the same account as guesses at the name (not a second counter to guess with)."""
    ldap_provider(tenant, ldap_dir, user_search_filter="(|(uid=%(user)s)(mail=%(user)s))")
    assert sign_in(Client(), "carol", "carol-Pass-1").status_code == 302
    spellings = ["carol@example.org", "carol", "CAROL@example.org "]
    for attempt in range(settings.PORTAL_LOGIN_MAX_FAILURES):
        sign_in(client, spellings[attempt % len(spellings)], "not-her-password")
    for typed in ("carol@example.org", "carol"):
        refused = sign_in(Client(), typed, "carol-Pass-1")
        assert "Too many failed sign-ins for this account" in refused.content.decode(), typed


def test_a_directory_user_re_authenticates_with_the_directory_password(tenant, ldap_dir, settings):
    ldap_provider(tenant, ldap_dir)
    client = Client()
    assert sign_in(client, "carol", "carol-Pass-1").status_code == 302
    key = client.cookies["sessionid"].value
    session = SessionStore(session_key=key)
    session[sessions.AUTH_TIME] = int(time.time()) - settings.PORTAL_REAUTH_MAX_AGE - 60
    session.save()
    refused = client.post("/api/v1/api-keys/", {"expires_in": "1h"})
    assert refused.json()["code"] == "reauthentication_required"
    assert client.post("/reauth/", {"password": "wrong"}).status_code == 400
    assert client.post("/reauth/", {"password": "carol-Pass-1"}).status_code == 302
    assert client.post("/api/v1/api-keys/", {"expires_in": "1h"}).status_code == 201
