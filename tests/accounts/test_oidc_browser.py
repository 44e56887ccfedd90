"""OpenID Connect sign-in in a real browser: the tenant typed on the sign-in page brings up
its provider's button, the provider's own authorization page is completed, and the browser
lands back on the portal signed in. Refusing at the provider shows why on the sign-in page."""

import pytest

from tests.browser import *  # noqa: F403
from tests.fixtures.oidc import make_oidc_provider

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


def test_oidc_sign_in_in_the_browser(http_portal, page, tenant, oidc_idp):
    make_oidc_provider(tenant, oidc_idp, display_name="Acme SSO")
    oidc_idp.set_user("sub-carol", preferred_username="carol", email="carol@example.org")

    page.goto(f"{http_portal.url}/login/")
    page.fill("#sso_tenant", "acme")
    page.click("#single-sign-on button[type=submit]")
    # the provider denies first: back on the sign-in page with the reason
    page.click("text=Sign in with Acme SSO")
    page.wait_for_url(f"{oidc_idp.url}/oauth2/authorize?*")
    page.click("button[value=deny]")
    page.wait_for_url(f"{http_portal.url}/login/?*")
    assert "refused (access_denied" in page.inner_text("#sign-in .error")

    page.click("text=Sign in with Acme SSO")
    page.wait_for_url(f"{oidc_idp.url}/oauth2/authorize?*")
    page.fill("input[name=sub]", "sub-carol")
    page.click("button:has-text('Authorize')")
    page.wait_for_url(f"{http_portal.url}/")
    assert "acme/carol" in page.inner_text("header")
    # signing out goes through the provider's end-session page (it ends its session too)
    page.click("#sign-out button")
    page.wait_for_url(f"{oidc_idp.url}/oauth2/end_session?*")
    page.click("button:has-text('End session')")
    page.wait_for_url(f"{http_portal.url}/login/")
