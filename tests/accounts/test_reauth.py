"""Re-authentication before sensitive actions (apps/accounts/reauth.py): a browser session
signed in to longer ago than PORTAL_REAUTH_MAX_AGE cannot mint API keys or kubeconfigs until
the user confirms their password at /reauth/; API keys are not affected."""

import time
from urllib.parse import urlencode

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone

from apps.accounts import sessions
from apps.accounts.models import APIKey
from apps.accounts.models import PortalSession as Session
from apps.audit.models import AuditEvent
from tests.conftest import PROJECT
from tests.factories import make_cluster
from tests.projects.test_projects_api import make_project

pytestmark = pytest.mark.django_db

PASSWORD = "Correct-horse-9"


def session_client(user, *, age: int) -> Client:
    """A browser session of ``user`` signed in ``age`` seconds ago (and active just now)."""
    client = Client()
    assert client.post("/login/", {"username": str(user), "password": PASSWORD}).status_code == 302
    key = client.cookies["sessionid"].value
    from apps.accounts.session_store import SessionStore

    session = SessionStore(session_key=key)
    session[sessions.AUTH_TIME] = int(time.time()) - age
    session.save()
    return client


def auth_time(client) -> int:
    key = client.cookies["sessionid"].value
    return Session.objects.get(session_key=key).get_decoded()[sessions.AUTH_TIME]


def assert_reauth_required(response, next_url="/"):
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["code"] == "reauthentication_required"
    assert body["reauth_url"] == "/reauth/?" + urlencode({"next": next_url})
    assert "recent sign-in" in body["detail"]


def test_a_stale_session_cannot_create_an_api_key(member, settings):
    client = session_client(member, age=settings.PORTAL_REAUTH_MAX_AGE + 60)
    refused = client.post(
        "/api/v1/api-keys/",
        {"expires_in": "1h"},
        HTTP_REFERER="http://testserver/account/keys/?tab=mine",
    )
    assert_reauth_required(refused, "/account/keys/?tab=mine")
    assert not APIKey.objects.filter(user=member).exists()


def test_a_fresh_session_and_an_api_key_can(member, api, settings):
    fresh = session_client(member, age=settings.PORTAL_REAUTH_MAX_AGE - 60)
    assert fresh.post("/api/v1/api-keys/", {"expires_in": "1h"}).status_code == 201
    # An API key is no session: an old key mints (shorter-lived) keys without a re-auth.
    assert api(member).post("/api/v1/api-keys/", {"expires_in": "5m"}).status_code == 201


def test_a_stale_session_cannot_download_a_cluster_kubeconfig(member, tenant, settings):
    cluster = make_cluster(tenant, "prod")
    client = session_client(member, age=settings.PORTAL_REAUTH_MAX_AGE + 60)
    url = f"/api/v1/clusters/{cluster.name}/kubeconfig"
    assert_reauth_required(client.post(url))
    assert not APIKey.objects.filter(user=member).exists()
    # Authorization first: a cluster the user cannot see is still 404, not "re-authenticate".
    assert client.post("/api/v1/clusters/cls-nope/kubeconfig").status_code == 404


def test_a_stale_session_cannot_download_a_project_kubeconfig(project_member, tenant, settings):
    make_project(tenant, PROJECT, {make_cluster(tenant, "one"): {}})
    client = session_client(project_member, age=settings.PORTAL_REAUTH_MAX_AGE + 60)
    assert_reauth_required(client.post(f"/api/v1/projects/{PROJECT}/kubeconfig"))
    assert not APIKey.objects.filter(user=project_member).exists()


def test_re_authenticating_with_the_password_unlocks_the_action(member, settings):
    client = session_client(member, age=settings.PORTAL_REAUTH_MAX_AGE + 60)
    stale = auth_time(client)
    form = client.get("/reauth/?next=/account/keys/")
    assert form.status_code == 200
    assert "Enter the password of <strong>acme/bob</strong>" in form.content.decode()

    wrong = client.post("/reauth/", {"password": "nope", "next": "/account/keys/"})
    assert wrong.status_code == 400
    assert "Wrong password." in wrong.content.decode()
    assert auth_time(client) == stale

    ok = client.post("/reauth/", {"password": PASSWORD, "next": "/account/keys/"})
    assert ok.status_code == 302 and ok["Location"] == "/account/keys/"
    assert auth_time(client) >= int(time.time()) - 2
    assert client.post("/api/v1/api-keys/", {"expires_in": "1h"}).status_code == 201

    events = list(AuditEvent.objects.filter(action="auth.reauth").order_by("id"))
    assert [(e.outcome, e.user) for e in events] == [("denied", member), ("success", member)]
    assert "Wrong password" in events[0].message


def test_re_authentication_goes_through_the_lockout(member, settings):
    client = session_client(member, age=settings.PORTAL_REAUTH_MAX_AGE + 60)
    for _ in range(settings.PORTAL_LOGIN_MAX_FAILURES - 1):
        client.post("/reauth/", {"password": "nope"})
    locked = client.post("/reauth/", {"password": "nope"})
    assert "Too many failed sign-ins for this account" in locked.content.decode()
    refused = client.post("/reauth/", {"password": PASSWORD})
    assert refused.status_code == 400
    assert "Too many failed sign-ins for this account" in refused.content.decode()
    assert AccessAttempt.objects.get(username="acme/bob").failures_since_start == (
        settings.PORTAL_LOGIN_MAX_FAILURES + 1
    )
    assert_reauth_required(client.post("/api/v1/api-keys/", {"expires_in": "1h"}))


def test_re_authentication_never_redirects_off_site(member, settings):
    client = session_client(member, age=settings.PORTAL_REAUTH_MAX_AGE + 60)
    ok = client.post("/reauth/", {"password": PASSWORD, "next": "https://evil.example/x"})
    assert ok.status_code == 302 and ok["Location"] == "/"


def test_the_reauth_page_needs_a_session(client):
    response = client.get("/reauth/?next=/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_helper_for_other_doors(member, settings, rf):
    """What the web terminal will call: a session is fresh within the limit, not after."""
    from apps.accounts import reauth

    now = int(time.time())
    assert reauth.session_is_fresh({sessions.AUTH_TIME: now - settings.PORTAL_REAUTH_MAX_AGE})
    assert not reauth.session_is_fresh(
        {sessions.AUTH_TIME: now - settings.PORTAL_REAUTH_MAX_AGE - 2}
    )
    assert not reauth.session_is_fresh({})


def test_single_sign_on_users_re_authenticate_at_their_provider(tenant):
    from tests.factories import UserFactory, make_identity_provider

    provider = make_identity_provider(tenant, "corp-sso", "oidc")
    user = UserFactory(
        tenant=tenant,
        username="sso",
        source="oidc",
        identity_provider=provider,
        external_id="s1",
        directory_checked_at=timezone.now(),  # signed in through the provider just now
    )
    client = Client()
    client.force_login(user)
    response = client.get("/reauth/?next=/account/keys/")
    assert response.status_code == 302
    assert response["Location"] == "/login/oidc/acme/corp-sso/?reauth=1&next=%2Faccount%2Fkeys%2F"
