"""Every sign-in, failed sign-in (console, admin, locked), sign-out, re-authentication and
password change is exactly one audit event naming who and how it ended; identity-provider
changes through the API and the admin are audited without their secret."""

import pytest
from django.test import Client

from apps.accounts.models import IdentityProvider
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

PASSWORD = "Correct-horse-9"
NEW = "Fresh-Mountain-42"


class Trail:
    """The audit events recorded since the last look."""

    def __init__(self):
        self.seen = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    def new(self) -> list[AuditEvent]:
        events = list(AuditEvent.objects.filter(id__gt=self.seen).order_by("id"))
        if events:
            self.seen = events[-1].id
        return events

    def one(self, **expected) -> AuditEvent:
        events = self.new()
        assert len(events) == 1, [(e.action, e.path) for e in events]
        event = events[0]
        for name, value in expected.items():
            assert getattr(event, name) == value, (name, getattr(event, name), value)
        return event


def test_every_sign_in_door_is_one_event(member, tenant_admin, settings):
    trail = Trail()
    client = Client()

    client.post("/login/", {"username": "acme/bob", "password": "wrong"})
    trail.one(action="auth.login_failed", outcome="denied", user=None, username="acme/bob")

    client.post("/login/", {"tenant": "acme", "username": "bob", "password": PASSWORD})
    event = trail.one(action="auth.login", outcome="success", user=member, channel="console")
    assert event.message == "with a local password"

    client.post("/reauth/", {"password": "wrong"})
    trail.one(action="auth.reauth", outcome="denied", user=member)
    client.post("/reauth/", {"password": PASSWORD})
    trail.one(action="auth.reauth", outcome="success", user=member)

    client.post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW},
    )
    trail.one(action="auth.password_change", outcome="success", user=member)

    client.post("/logout/")
    trail.one(action="auth.logout", outcome="success", user=member)

    admin = Client()
    admin.post("/admin/login/", {"username": "acme/alice", "password": "nope"})
    trail.one(action="auth.login_failed", outcome="denied", channel="admin", username="acme/alice")
    admin.post("/admin/login/", {"username": "acme/alice", "password": PASSWORD})
    trail.one(action="auth.login", outcome="success", channel="admin", user=tenant_admin)

    for _ in range(settings.PORTAL_LOGIN_MAX_FAILURES):
        Client().post("/login/", {"username": "acme/bob", "password": "wrong"})
        trail.one(action="auth.login_failed", outcome="denied")
    Client().post("/login/", {"username": "acme/bob", "password": NEW})
    locked = trail.one(action="auth.login_failed", outcome="denied", username="acme/bob")
    assert locked.message.startswith("refused without checking the password: too many")


def test_identity_provider_changes_through_the_api_are_audited_without_the_secret(
    api, tenant_admin
):
    client = api(tenant_admin)
    trail = Trail()
    config = {"server_uri": "ldap://ldap.example.org", "user_search_base": "dc=example,dc=org"}
    created = client.post(
        "/api/v1/identity-providers/",
        {"name": "corp", "type": "ldap", "config": config, "secret": "bind-Pa55word"},
    )
    assert created.status_code == 201
    event = trail.one(outcome="success", user=tenant_admin, action="createIdentityProvider")
    assert event.path == "/api/v1/identity-providers/"
    assert event.request_body["secret"] == "[redacted]"
    assert "bind-Pa55word" not in str(event.request_body)

    client.patch("/api/v1/identity-providers/corp/", {"enabled": False, "secret": "new-S3cret"})
    event = trail.one(outcome="success", action="updateIdentityProvider", method="PATCH")
    assert "new-S3cret" not in str(event.request_body)

    client.delete("/api/v1/identity-providers/corp/")
    trail.one(outcome="success", action="deleteIdentityProvider", resource="identityprovider:corp")
    assert not IdentityProvider.objects.filter(name="corp").exists()


def test_identity_provider_changes_in_the_admin_are_audited_without_the_secret(
    client, tenant_admin
):
    client.force_login(tenant_admin)
    trail = Trail()
    response = client.post(
        "/admin/accounts/identityprovider/add/",
        {
            "name": "corp",
            "type": "ldap",
            "display_name": "Corporate",
            "enabled": "on",
            "priority": "100",
            "secret_value": "bind-Pa55word",
            "ldap__server_uri": "ldap://ldap.example.org",
            "ldap__user_search_base": "dc=example,dc=org",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert IdentityProvider.objects.get(name="corp").secret == "bind-Pa55word"
    event = trail.one(channel="admin", user=tenant_admin, outcome="success")
    assert event.action == "createIdentityProvider"
    assert event.request_body["secret_value"] == "[redacted]"
    assert "bind-Pa55word" not in str(event.request_body)
