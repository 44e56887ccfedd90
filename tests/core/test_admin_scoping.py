"""The admin applies tenant scoping and the permission layer for tenant administrators."""

import pytest

from apps.accounts.models import User

pytestmark = pytest.mark.django_db


def test_tenant_admin_sees_only_own_tenant(client, tenant_admin, member, other_user):
    client.force_login(tenant_admin)
    page = client.get("/admin/accounts/user/").content.decode()
    assert "bob" in page
    assert "mallory" not in page
    assert client.get(f"/admin/accounts/user/{other_user.pk}/change/").status_code == 302
    tenants_page = client.get("/admin/tenants/tenant/").content.decode()
    assert "acme" in tenants_page and "globex" not in tenants_page


def test_tenant_admin_cannot_add_tenants_or_make_superusers(client, tenant_admin, member):
    client.force_login(tenant_admin)
    assert client.get("/admin/tenants/tenant/add/").status_code == 403
    form = client.get(f"/admin/accounts/user/{member.pk}/change/").content.decode()
    assert 'name="is_superuser"' not in form


def test_tenant_admin_adds_user_into_own_tenant(client, tenant_admin, other_user):
    client.force_login(tenant_admin)
    # "mallory" exists in another tenant: that must neither block nor leak.
    response = client.post(
        "/admin/accounts/user/add/",
        {
            "username": "mallory",
            "password1": "A-long-password-42",
            "password2": "A-long-password-42",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    created = User.objects.get(username="mallory", tenant=tenant_admin.tenant)
    assert not created.is_superuser


def test_plain_member_cannot_use_the_admin(client, member):
    client.force_login(member)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_platform_admin_sees_every_tenant(client, platform_admin, member, other_user):
    client.force_login(platform_admin)
    page = client.get("/admin/accounts/user/").content.decode()
    assert "bob" in page and "mallory" in page
