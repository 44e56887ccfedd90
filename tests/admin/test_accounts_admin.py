"""The user admin: status, API keys and the console link shown; disable / enable and revoking
a user's API keys as admin actions, through the services and the API's policy checks, each
audited once; refused with a message (and nothing changed) for those without the right."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.accounts.models import APIKey, User
from tests.factories import UserFactory, make_api_key

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:accounts_user_changelist"


def page_text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def act(client, action: str, *users):
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [u.pk for u in users]},
        follow=True,
    )


def test_user_change_page_shows_status_and_api_keys(client, tenant_admin, member):
    key, _ = make_api_key(member, description="ci deploys")
    client.force_login(tenant_admin)
    response = client.get(reverse("admin:accounts_user_change", args=[member.pk]))
    assert response.status_code == 200
    text = page_text(response)
    assert f"{key.prefix}… ci deploys active" in text
    assert 'class="tke-badge tke-ok">active<' in response.content.decode()
    assert key.digest not in response.content.decode()


def test_disable_and_enable_go_through_the_service(client, tenant_admin, member, audit_rows):
    client.force_login(tenant_admin)
    response = act(client, "disable_users", member)
    assert "Disabled bob" in page_text(response)
    member.refresh_from_db()
    assert not member.is_active
    response = act(client, "enable_users", member)
    assert "Enabled bob" in page_text(response)
    member.refresh_from_db()
    assert member.is_active
    assert [(e.action, e.resource, e.outcome, e.channel) for e in audit_rows()] == [
        ("disableUser", "user:bob", "success", "admin"),
        ("enableUser", "user:bob", "success", "admin"),
    ]


def test_disabling_yourself_is_refused_by_the_service(client, tenant_admin, audit_rows):
    client.force_login(tenant_admin)
    response = act(client, "disable_users", tenant_admin)
    assert response.status_code == 200
    assert "You cannot disable yourself." in page_text(response)
    tenant_admin.refresh_from_db()
    assert tenant_admin.is_active
    assert [(e.action, e.outcome) for e in audit_rows()] == [("disableUser", "failure")]


def test_revoke_api_keys_disables_every_key_of_the_user(client, tenant_admin, member, audit_rows):
    first, _ = make_api_key(member, description="one")
    second, _ = make_api_key(member, description="two")
    mine, _ = make_api_key(tenant_admin, description="mine")
    client.force_login(tenant_admin)
    response = act(client, "revoke_api_keys", member)
    text = page_text(response)
    assert f"Disabled API key {first.prefix}… of bob" in text
    assert f"Disabled API key {second.prefix}… of bob" in text
    keys = {k.prefix: k for k in APIKey.objects.all()}
    assert keys[first.prefix].disabled and keys[second.prefix].disabled
    assert keys[first.prefix].disabled_by == tenant_admin
    assert not keys[mine.prefix].disabled
    [event] = audit_rows()
    assert event.action == "disableAPIKey" and event.outcome == "success"
    assert set(event.resource.split(",")) == {
        f"user:bob/apikey:{first.prefix}",
        f"user:bob/apikey:{second.prefix}",
    }


def test_a_staff_reader_is_refused_and_nothing_changes(client, staff_reader, member, audit_rows):
    key, _ = make_api_key(member)
    client.force_login(staff_reader)
    assert client.get(reverse(CHANGELIST)).status_code == 200
    for action, name, resource in (
        ("disable_users", "disableUser", "user:bob"),
        ("revoke_api_keys", "disableAPIKey", f"user:bob/apikey:{key.prefix}"),
    ):
        response = act(client, action, member)
        assert response.status_code == 200
        assert f"You are not allowed to {name} on {resource}" in page_text(response)
    member.refresh_from_db()
    key.refresh_from_db()
    assert member.is_active and not key.disabled
    assert [(e.action, e.outcome) for e in audit_rows()] == [
        ("disableUser", "denied"),
        ("disableAPIKey", "denied"),
    ]


def test_api_key_admin_revoke_is_judged_too(client, staff_reader, member, audit_rows):
    key, _ = make_api_key(member)
    client.force_login(staff_reader)
    response = client.post(
        reverse("admin:accounts_apikey_changelist"),
        {"action": "revoke_keys", "_selected_action": [key.pk]},
        follow=True,
    )
    assert f"You are not allowed to disableAPIKey on user:bob/apikey:{key.prefix}" in page_text(
        response
    )
    key.refresh_from_db()
    assert not key.disabled
    assert [(e.action, e.outcome) for e in audit_rows()] == [("disableAPIKey", "denied")]


def test_other_tenant_users_are_invisible_and_not_actionable(
    client, tenant_admin, other_user, audit_rows
):
    client.force_login(tenant_admin)
    assert "mallory" not in client.get(reverse(CHANGELIST)).content.decode()
    act(client, "disable_users", other_user)
    other_user.refresh_from_db()
    assert other_user.is_active


def test_user_changelist_queries_do_not_grow_with_rows(client, tenant, tenant_admin):
    client.force_login(tenant_admin)
    client.get(reverse(CHANGELIST))
    with CaptureQueriesContext(connection) as one:
        assert client.get(reverse(CHANGELIST)).status_code == 200
    for i in range(5):
        UserFactory(tenant=tenant, username=f"extra{i}")
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse(CHANGELIST))
    assert "extra4" in response.content.decode()
    assert User.objects.filter(tenant=tenant).count() >= 6
    assert len(many) == len(one), [q["sql"] for q in many.captured_queries]


def test_user_page_buttons_disable_and_revoke_that_user(client, tenant_admin, member, audit_rows):
    key, _ = make_api_key(member)
    client.force_login(tenant_admin)
    change = reverse("admin:accounts_user_change", args=[member.pk])
    html = client.get(change).content.decode()
    disable = reverse("admin:accounts_user_operation", args=[member.pk, "disable"])
    revoke = reverse("admin:accounts_user_operation", args=[member.pk, "revoke-api-keys"])
    enable = reverse("admin:accounts_user_operation", args=[member.pk, "enable"])
    assert f'formaction="{disable}"' in html and f'formaction="{revoke}"' in html
    assert enable not in html  # bob is active
    assert 'class="permissionslink"' in html  # guardian's object permissions stay
    response = client.post(revoke, follow=True)
    assert f"Disabled API key {key.prefix}… of bob" in page_text(response)
    response = client.post(disable, follow=True)
    assert "Disabled bob" in page_text(response)
    assert f'formaction="{enable}"' in response.content.decode()
    member.refresh_from_db()
    key.refresh_from_db()
    assert not member.is_active and key.disabled
    assert [(e.action, e.outcome) for e in audit_rows()] == [
        ("disableAPIKey", "success"),
        ("disableUser", "success"),
    ]


def test_user_page_shows_a_reader_no_buttons_and_refuses_them(
    client, staff_reader, member, audit_rows
):
    client.force_login(staff_reader)
    html = client.get(reverse("admin:accounts_user_change", args=[member.pk])).content.decode()
    assert "/operations/" not in html and "bob" in html
    disable = reverse("admin:accounts_user_operation", args=[member.pk, "disable"])
    response = client.post(disable, follow=True)
    assert "You are not allowed to disableUser on user:bob" in page_text(response)
    member.refresh_from_db()
    assert member.is_active
    assert [(e.action, e.outcome) for e in audit_rows()] == [("disableUser", "denied")]


def test_user_operations_of_another_tenant_are_404(client, tenant_admin, other_user):
    client.force_login(tenant_admin)
    url = reverse("admin:accounts_user_operation", args=[other_user.pk, "disable"])
    assert client.post(url).status_code == 404
    other_user.refresh_from_db()
    assert other_user.is_active
