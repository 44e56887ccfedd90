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
