"""Browser-side hardening: a Content-Security-Policy, frame refusal and a referrer policy on
every HTML page; CSRF on session-authenticated writes; no credential minted by a GET.

The class: clickjacking and cross-site request forgery against a management console (the
reason Rancher's UI and the Kubernetes dashboard send ``frame-ancestors``/X-Frame-Options
and CSRF tokens), and script injection turned into account takeover, which a CSP without
inline script blunts. Issue 8, "Accounts and policies", low: "a Content-Security-Policy
header on every HTML page" and "the kubeconfig download is a POST".
"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from apps.accounts.models import APIKey, Group
from apps.audit.models import AuditEvent
from tests.factories import make_cluster

pytestmark = pytest.mark.django_db

_SCRIPT_TAG = re.compile(r"<script\b[^>]*>", re.IGNORECASE)


def _directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    pairs = (part.strip().split() for part in header.split(";") if part.strip())
    return {words[0]: words[1:] for words in pairs}


def assert_hardened(response) -> None:
    """The headers every HTML page carries."""
    policy = _directives(response)
    assert policy["script-src"] == ["'self'"]  # no inline, no eval, no other origin
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["default-src"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def assert_no_inline_script(html: str) -> None:
    """Every executable <script> loads from a URL: the page works under script-src 'self'.
    (``type="application/json"`` blocks are data, which CSP does not run.)"""
    tags = _SCRIPT_TAG.findall(html)
    inline = [t for t in tags if "src=" not in t and "application/json" not in t]
    assert not inline, inline


@pytest.mark.parametrize("path", ["/login/", "/admin/login/", "/api/docs/", "/no-such-page/"])
def test_every_html_page_sends_csp_frame_and_referrer_headers(client, path):
    response = client.get(path)
    expected = 404 if path == "/no-such-page/" else 200
    assert response.status_code == expected, response.content[:300]
    assert response["Content-Type"].startswith("text/html")
    assert_hardened(response)
    assert_no_inline_script(response.content.decode())


def test_signed_in_pages_send_them_too_and_the_admin_works_under_them(client, tenant_admin):
    client.force_login(tenant_admin)
    for path in (
        "/",
        "/admin/",
        "/admin/accounts/user/",
        f"/admin/accounts/user/{tenant_admin.pk}/change/",
    ):
        response = client.get(path)
        assert response.status_code == 200, (path, response.content[:300])
        assert_hardened(response)
        assert_no_inline_script(response.content.decode())


def test_swagger_ui_loads_its_start_up_script_from_the_portal(client):
    """Swagger UI's initialisation is a separate same-origin script (the split view), so the
    page needs no inline script; the script it names is served as JavaScript."""
    page = client.get("/api/docs/").content.decode()
    sources = re.findall(r'<script\b[^>]*\bsrc="([^"]+)"', page)
    assert any("swagger-ui-bundle" in src for src in sources), sources
    start_up = [src for src in sources if src.startswith("/api/docs/")]
    assert len(start_up) == 1, sources
    script = client.get(start_up[0].replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()
    for src in sources:
        assert src.startswith("/"), f"{src} is not from the portal (script-src 'self')"


def test_a_session_write_without_the_csrf_token_is_refused_and_writes_nothing(tenant_admin):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(tenant_admin)

    forged = browser.post("/api/v1/groups/", {"name": "forged"}, content_type="application/json")

    assert forged.status_code == 403, forged.content
    body = forged.json()
    assert set(body) == {"code", "detail", "fields"}
    assert body["code"] == "permission_denied" and "CSRF" in body["detail"]
    assert not Group.objects.filter(name="forged").exists()
    assert AuditEvent.objects.filter(path="/api/v1/groups/", status_code=403).count() == 1

    # The same request with the token the portal handed out goes through: the refusal above
    # was the missing token, not the request.
    browser.get("/login/")
    token = browser.cookies["csrftoken"].value
    honest = browser.post(
        "/api/v1/groups/",
        {"name": "honest"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert honest.status_code == 201, honest.content
    assert Group.objects.filter(name="honest").exists()


def test_the_kubeconfig_endpoint_mints_nothing_on_get_or_without_csrf(tenant, member):
    """Issue 8, low: a GET minted a credential (an <img src> on any page could have made the
    browser of a signed-in user fetch one). GET is a 405 in the error shape; a session POST
    needs the CSRF token; neither creates a key."""
    cluster = make_cluster(tenant, "prod")
    url = f"/api/v1/clusters/{cluster.name}/kubeconfig"
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(member)

    got = browser.get(url)
    assert got.status_code == 405, got.content
    assert got.json()["code"] == "method_not_allowed"
    forged = browser.post(url, {}, content_type="application/json")
    assert forged.status_code == 403, forged.content
    assert "CSRF" in forged.json()["detail"]
    assert not APIKey.objects.filter(user=member).exists()

    browser.get("/login/")
    token = browser.cookies["csrftoken"].value
    minted = browser.post(url, {}, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert minted.status_code == 200, minted.content
    assert APIKey.objects.filter(user=member, cluster=cluster).count() == 1
