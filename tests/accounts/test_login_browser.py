"""The sign-in page in a real browser: a local account signs in with tenant, username and
password, lands on the overview, and signs out again."""

import pytest

from tests.browser import *  # noqa: F403

pytestmark = pytest.mark.django_db(transaction=True)


def test_local_sign_in_and_out_in_the_browser(http_portal, page, member):
    page.goto(f"{http_portal.url}/login/")
    page.fill("#id_tenant", "acme")
    page.fill("#id_username", "bob")
    page.fill("#id_password", "wrong-password")
    page.click("#sign-in button[type=submit]")
    assert "Wrong tenant/username or password" in page.inner_text("#sign-in")
    page.fill("#id_password", "Correct-horse-9")
    page.click("#sign-in button[type=submit]")
    page.wait_for_url(f"{http_portal.url}/")
    assert "acme/bob" in page.inner_text("header")
    page.click("#sign-out button")
    page.wait_for_url(f"{http_portal.url}/login/")
    page.goto(f"{http_portal.url}/")
    assert page.url.startswith(f"{http_portal.url}/login/")
    # the tenant is remembered for the next visit
    assert page.input_value("#id_tenant") == "acme"
