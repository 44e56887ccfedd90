"""Tenant isolation and tenant resolution (X-Portal-Tenant for platform administrators)."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.accounts.models import User
from apps.audit.services import record_event
from apps.tenants.models import Tenant
from tests.factories import UserFactory, bind

pytestmark = pytest.mark.django_db


def test_other_tenants_user_is_404_and_never_listed(api, tenant_admin, other_user):
    client = api(tenant_admin)
    assert client.get(f"/api/v1/users/{other_user.username}/").status_code == 404
    listed = {row["username"] for row in client.get("/api/v1/users/").json()["results"]}
    assert other_user.username not in listed
    searched = client.get("/api/v1/users/", {"search": other_user.username}).json()
    assert searched["count"] == 0


def test_same_username_in_two_tenants_are_different_people(api, tenant, other_tenant):
    a = UserFactory(tenant=tenant, username="sam", is_staff=True)
    b = UserFactory(tenant=other_tenant, username="sam", is_staff=True)
    bind(a, "administrator")
    bind(b, "administrator")
    response = api(a).patch("/api/v1/users/sam/", {"display_name": "Sam of Acme"})
    assert response.status_code == 200
    b.refresh_from_db()
    assert b.display_name != "Sam of Acme"


def test_other_tenants_audit_event_is_404(api, tenant_admin, other_user):
    theirs = record_event(action="createThing", user=other_user, status_code=201)
    client = api(tenant_admin)
    assert client.get(f"/api/v1/audit-events/{theirs.pk}/").status_code == 404
    ids = {row["id"] for row in client.get("/api/v1/audit-events/").json()["results"]}
    assert theirs.pk not in ids


def test_platform_admin_sees_all_tenants_or_chooses_one(api, platform_admin, member, other_user):
    client = api(platform_admin)
    everyone = {row["username"] for row in client.get("/api/v1/users/").json()["results"]}
    assert {"bob", "mallory", "operator"} <= everyone
    acme = client.get("/api/v1/users/", HTTP_X_PORTAL_TENANT="acme").json()["results"]
    assert {row["username"] for row in acme} == {"bob"}
    unknown = client.get("/api/v1/users/", HTTP_X_PORTAL_TENANT="nope")
    assert unknown.status_code == 404


def test_platform_admin_must_choose_a_tenant_to_create_users(api, platform_admin, tenant):
    client = api(platform_admin)
    body = {"username": "dave", "password": "A-long-password-42"}
    response = client.post("/api/v1/users/", body)
    assert response.status_code == 400
    assert response.json()["code"] == "tenant_required"
    created = client.post("/api/v1/users/", body, HTTP_X_PORTAL_TENANT="acme")
    assert created.status_code == 201, created.content
    assert User.objects.get(username="dave").tenant == tenant


def test_users_of_a_disabled_tenant_are_refused(client, member, tenant):
    tenant.is_active = False
    tenant.save()
    assert not client.login(username="acme/bob", password="Correct-horse-9")


def test_session_sign_in_uses_tenant_qualified_names(client, tenant, other_tenant):
    UserFactory(tenant=tenant, username="sam")
    UserFactory(tenant=other_tenant, username="sam")
    assert client.login(username="globex/sam", password="Correct-horse-9")
    assert client.get("/api/v1/me/").json()["tenant"] == "globex"
    client.logout()
    # Ambiguous bare names never sign anyone in.
    assert not client.login(username="sam", password="Correct-horse-9")


def test_session_writes_need_csrf(client, tenant_admin):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(tenant_admin)
    response = strict.post(
        "/api/v1/users/",
        {"username": "eve", "password": "A-long-password-42"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_createtenant_command(capsys):
    call_command(
        "createtenant",
        "umbrella",
        "--display-name",
        "Umbrella",
        "--admin",
        "root",
        "--password",
        "S3cure-pass-xyz",
    )
    tenant = Tenant.objects.get(slug="umbrella")
    admin = User.objects.get(tenant=tenant, username="root")
    assert admin.is_staff and admin.check_password("S3cure-pass-xyz")
    assert "umbrella/root" in capsys.readouterr().out
    with pytest.raises(CommandError, match="slug: A tenant with slug 'umbrella' already exists"):
        call_command("createtenant", "umbrella")
    with pytest.raises(CommandError, match="slug"):
        call_command("createtenant", "Bad Slug!")


def test_saving_a_stale_tenant_never_rewinds_the_policy_version(tenant):
    from apps.authz.enforcer import bump_version

    stale = Tenant.objects.get(pk=tenant.pk)
    bump_version(tenant.pk)
    fresh_version = Tenant.objects.get(pk=tenant.pk).authz_version
    stale.display_name = "Renamed"
    stale.save()
    assert Tenant.objects.get(pk=tenant.pk).authz_version == fresh_version
