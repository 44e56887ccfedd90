"""LDAP sign-in in a real browser: a directory user types tenant, username and password on
the sign-in page, lands on the overview signed in as the user the directory vouched for, and
a wrong directory password gets the page's usual error."""

import pytest

from apps.accounts.models import User
from tests.browser import *  # noqa: F403
from tests.factories import make_identity_provider
from tests.fixtures.ldap import READER_PW

pytestmark = pytest.mark.django_db(transaction=True)


def test_ldap_sign_in_in_the_browser(http_portal, page, tenant, ldap_dir):
    make_identity_provider(
        tenant,
        name="corp",
        config={
            "server_uri": ldap_dir.uri,
            "bind_dn": ldap_dir.reader_dn(),
            "user_search_base": f"ou=people,{ldap_dir.base}",
            "group_search_base": f"ou=groups,{ldap_dir.base}",
            "mirror_groups": True,
        },
        secret=READER_PW,
    )
    page.goto(f"{http_portal.url}/login/")
    page.fill("#id_tenant", "acme")
    page.fill("#id_username", "bob")
    page.fill("#id_password", "not-bobs-password")
    page.click("#sign-in button[type=submit]")
    assert "Wrong tenant/username or password" in page.inner_text("#sign-in")
    page.fill("#id_password", "bob-Pass-1")
    page.click("#sign-in button[type=submit]")
    page.wait_for_url(f"{http_portal.url}/")
    assert "acme/bob" in page.inner_text("header")
    bob = User.objects.get(tenant=tenant, username="bob")
    assert bob.source == "ldap" and bob.external_id == ldap_dir.user_dn("bob")
    assert list(bob.portal_groups.values_list("name", flat=True)) == ["developers"]


def test_an_administrator_syncs_the_directory_from_its_console_page(
    http_portal, page, tenant, tenant_admin, ldap_dir
):
    """carol signed in through the directory and was deleted there since: "Sync every user
    now" on the provider's page ends her access and shows the report."""
    from django.test import Client

    make_identity_provider(
        tenant,
        name="corp",
        config={
            "server_uri": ldap_dir.uri,
            "bind_dn": ldap_dir.reader_dn(),
            "user_search_base": f"ou=people,{ldap_dir.base}",
        },
        secret=READER_PW,
    )
    login = {"tenant": "acme", "username": "carol", "password": "carol-Pass-1"}
    assert Client().post("/login/", login).status_code == 302
    ldap_dir.delete(ldap_dir.user_dn("carol"))

    page.goto(f"{http_portal.url}/login/")
    page.fill("#id_tenant", "acme")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "Correct-horse-9")
    page.click("#sign-in button[type=submit]")
    page.wait_for_url(f"{http_portal.url}/")
    page.goto(f"{http_portal.url}/access/identity-providers/corp/")
    assert page.is_visible("#idp-sync-never")
    page.click("#idp-sync-now")
    page.wait_for_selector("#idp-sync-report")
    report = page.inner_text("#idp-sync-report")
    assert "Removed\n1" in report or "Removed\t1" in report, report
    assert User.objects.get(tenant=tenant, username="carol").directory_state == "missing"
