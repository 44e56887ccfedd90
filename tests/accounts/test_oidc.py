"""OpenID Connect sign-in against a real provider (oidc-provider-mock on loopback): the full
authorization-code flow through the portal's own views (the provider's authorization form
submitted like a browser does), every id_token check we make on top of mozilla-django-oidc,
provisioning and groups, two tenants with their own providers, revalidation through refresh
grants, RP-initiated logout and "test connection".

Bad tokens are issued by the provider's real token endpoint and signed with its own key
(``oidc_idp.id_token_changes``): only the portal's checks stand between them and a session.
"""

from __future__ import annotations

import html
import socket
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.choices import DirectoryState, UserSource
from apps.accounts.identity import module_for, oidc
from apps.accounts.identity.oidc import revalidate
from apps.accounts.models import Group, User
from apps.accounts.tasks import revalidate_directory_users
from apps.accounts.views import END_SESSION_KEY
from apps.audit.models import AuditEvent
from tests.factories import UserFactory, bind, make_api_key
from tests.fixtures.oidc import make_oidc_provider

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

CAROL = {
    "preferred_username": "carol",
    "email": "carol@example.org",
    "email_verified": True,
    "name": "Carol Clark",
}


def start(client, provider, **params):
    """GET oidc-start; the provider's authorization URL it redirects to."""
    url = reverse("oidc-start", kwargs={"tenant": provider.tenant.slug, "provider": provider.name})
    response = client.get(url, params)
    assert response.status_code == 302, response.content
    return response["Location"]


def sign_in(client, idp, provider, sub, **params):
    """The whole flow as a browser runs it; the callback's response."""
    callback = idp.authorize(start(client, provider, **params), sub)
    assert callback.startswith("http://testserver/login/oidc/callback/?")
    return client.get(callback)


def refusal(client, response) -> str:
    """The sign-in page the refused callback leads to: its error text (shown once)."""
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == reverse("login")
    page = client.get(response["Location"])
    assert page.status_code == 200
    message = page.context["sso_error"]
    assert message and message in html.unescape(page.content.decode())
    again = client.get(response["Location"])
    assert not again.context.get("sso_error")  # shown once
    assert "_auth_user_id" not in client.session
    return message


def last_failure() -> AuditEvent:
    return AuditEvent.objects.filter(action="auth.login_failed").latest("id")


@pytest.fixture
def provider(tenant, oidc_idp):
    return make_oidc_provider(tenant, oidc_idp, display_name="Acme SSO")


# -- the code flow -----------------------------------------------------------------------------
def test_first_sign_in_creates_the_user_in_the_providers_tenant(client, provider, oidc_idp):
    oidc_idp.set_user("sub-carol", **CAROL)
    authorize = start(client, provider, next="/api/v1/me/")
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(f"{oidc_idp.url}/oauth2/authorize?")
    assert query["client_id"] == ["portal"]
    assert query["redirect_uri"] == ["http://testserver/login/oidc/callback/"]
    assert query["scope"] == ["openid email profile"]
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["nonce"][0] and query["state"][0]
    assert "prompt" not in query

    before = int(time.time())
    response = client.get(oidc_idp.authorize(authorize, "sub-carol"))
    assert response.status_code == 302
    assert response["Location"] == "/api/v1/me/"  # ?next= kept through the provider
    me = client.get("/api/v1/me/").json()
    assert (me["username"], me["tenant"], me["source"]) == ("carol", "acme", "oidc")
    carol = User.objects.get(tenant=provider.tenant, username="carol")
    assert carol.identity_provider == provider
    assert carol.external_id == "sub-carol"
    assert carol.source == UserSource.OIDC
    assert (carol.email, carol.display_name) == ("carol@example.org", "Carol Clark")
    assert carol.directory_state == DirectoryState.PRESENT
    assert carol.directory_grant  # the refresh token, for revalidation
    assert not carol.has_usable_password()
    assert client.session["auth_time"] >= before
    assert response.cookies["portal_tenant"].value == "acme"
    login = AuditEvent.objects.get(action="auth.login", user=carol)
    assert "identity provider 'sso'" in login.message
    assert AuditEvent.objects.filter(action="identity.user_created", user=carol).exists()
    # the discovery document is cached on the provider with its fetch time
    provider.refresh_from_db()
    assert provider.discovery["document"]["issuer"] == oidc_idp.issuer
    assert provider.discovery["fetched_at"] >= before - 1


def test_configured_scopes_are_asked_and_sign_in_rotates_the_session(client, tenant, oidc_idp):
    """The provider's ``scopes`` are what the authorization request asks for; the session
    that carried the sign-in's state (planted before it, say) is not the signed-in one."""
    provider = make_oidc_provider(
        tenant, oidc_idp, scopes=["openid", "email", "profile", "offline_access"]
    )
    oidc_idp.set_user("sub-carol", **CAROL)
    authorize = start(client, provider)
    assert parse_qs(urlsplit(authorize).query)["scope"] == ["openid email profile offline_access"]
    before = client.cookies["sessionid"].value
    assert client.get(oidc_idp.authorize(authorize, "sub-carol"))["Location"] == "/"
    after = client.cookies["sessionid"].value
    assert after != before
    replay = Client()
    replay.cookies["sessionid"] = before
    assert replay.get("/api/v1/me/").status_code in (401, 403)
    assert client.get("/api/v1/me/").json()["username"] == "carol"


def test_second_sign_in_finds_the_user_by_subject_and_follows_renames(client, provider, oidc_idp):
    oidc_idp.set_user("sub-carol", **CAROL)
    sign_in(client, oidc_idp, provider, "sub-carol")
    first = User.objects.get(username="carol")
    oidc_idp.set_user("sub-carol", **{**CAROL, "preferred_username": "carol.clark"})
    response = sign_in(Client(), oidc_idp, provider, "sub-carol")
    assert response.status_code == 302 and response["Location"] == "/"
    first.refresh_from_db()
    assert first.username == "carol.clark"
    assert User.objects.filter(identity_provider=provider).count() == 1


def test_next_to_another_site_is_dropped(client, provider, oidc_idp):
    oidc_idp.set_user("sub-carol", **CAROL)
    response = sign_in(client, oidc_idp, provider, "sub-carol", next="https://evil.example/")
    assert response["Location"] == "/"


def test_pkce_off_sends_no_challenge(client, tenant, oidc_idp):
    provider = make_oidc_provider(tenant, oidc_idp, use_pkce=False)
    oidc_idp.set_user("sub-carol", **CAROL)
    authorize = start(client, provider)
    assert "code_challenge" not in parse_qs(urlsplit(authorize).query)
    assert client.get(oidc_idp.authorize(authorize, "sub-carol"))["Location"] == "/"


def test_disabled_or_unknown_provider_is_not_offered(client, provider):
    provider.enabled = False
    provider.save()
    for tenant, name in (("acme", "sso"), ("nowhere", "sso")):
        url = reverse("oidc-start", kwargs={"tenant": tenant, "provider": name})
        response = client.get(url)
        page = client.get(response["Location"])
        assert (
            f"Single sign-on &#x27;{name}&#x27; is not available for tenant"
            in page.content.decode()
        )


def test_provider_denying_the_request_is_reported(client, provider, oidc_idp):
    authorize = start(client, provider)
    # the authorization page's "Deny" button posts action=deny to the same URL
    denied = requests.post(authorize, data={"action": "deny"}, allow_redirects=False, timeout=5)
    assert denied.status_code == 302
    message = refusal(client, client.get(denied.headers["Location"]))
    assert "refused (access_denied" in message
    assert "access_denied" in last_failure().message


# -- groups ------------------------------------------------------------------------------------
def groups_of(user) -> set[str]:
    return set(Group.objects.filter(members=user).values_list("name", flat=True))


def test_group_claims_mirror_map_and_make_administrators(client, tenant, oidc_idp, tenant_admin):
    """(``tenant_admin``: carol is not the tenant's last administrator, whom the portal
    would keep.)"""
    provider = make_oidc_provider(
        tenant,
        oidc_idp,
        mirror_groups=True,
        group_mapping={"platform-ops": "ops"},
        admin_groups=["portal-admins"],
    )
    local = Group.objects.create(tenant=tenant, name="local-team")
    oidc_idp.set_user("sub-carol", **CAROL, groups=["devs", "platform-ops", "portal-admins"])
    sign_in(client, oidc_idp, provider, "sub-carol")
    carol = User.objects.get(username="carol")
    local.members.add(carol)  # an administrator's own grouping: not the provider's to undo
    assert groups_of(carol) == {
        "devs",
        "ops",
        "portal-admins",
        "local-team",
    }
    assert Group.objects.get(tenant=tenant, name="devs").identity_provider == provider
    assert carol.is_tenant_admin

    # the provider drops groups: memberships and administrator status follow at the next sign-in
    oidc_idp.set_user("sub-carol", **CAROL, groups=["devs"])
    sign_in(Client(), oidc_idp, provider, "sub-carol")
    carol = User.objects.get(pk=carol.pk)
    assert groups_of(carol) == {"devs", "local-team"}
    assert not carol.is_tenant_admin

    # no groups claim at all: no provider-managed group left
    oidc_idp.set_user("sub-carol", **CAROL)
    sign_in(Client(), oidc_idp, provider, "sub-carol")
    assert groups_of(carol) == {"local-team"}


# -- id_token checks ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"iss": "http://issuer.example"},
            "was issued by 'http://issuer.example', not by the configured issuer",
        ),
        ({"aud": ["another-app"]}, "is meant for ['another-app'], not for this portal's client id"),
        ({"aud": ["portal", "another-app"]}, "has several audiences"),
        ({"aud": ["portal", "another-app"], "azp": "another-app"}, "was issued to 'another-app'"),
        ({"exp": lambda claims: int(time.time()) - 300}, "the id_token expired at"),
        ({"iat": lambda claims: int(time.time()) + 600}, "issued in the future"),
        ({"exp": None}, "has no valid 'exp' claim"),
        ({"nonce": "not-our-nonce"}, "nonce is not the one this sign-in sent"),
    ],
    ids=["issuer", "audience", "several-audiences", "azp", "expired", "future", "no-exp", "nonce"],
)
def test_tokens_our_checks_refuse(client, provider, oidc_idp, changes, expected):
    oidc_idp.set_user("sub-carol", **CAROL)
    oidc_idp.id_token_changes.update(changes)
    message = refusal(client, sign_in(client, oidc_idp, provider, "sub-carol"))
    assert expected in message
    assert not User.objects.filter(username="carol").exists()
    failure = last_failure()
    assert expected in failure.message and failure.tenant == provider.tenant


def test_the_same_changes_within_limits_are_accepted(client, provider, oidc_idp):
    """The refusals above are about the values, not about re-signing: a re-signed token with
    several audiences authorized for us, and a little clock skew, is fine."""
    oidc_idp.set_user("sub-carol", **CAROL)
    oidc_idp.id_token_changes.update(
        aud=["portal", "another-app"], azp="portal", iat=lambda claims: int(time.time()) + 30
    )
    assert sign_in(client, oidc_idp, provider, "sub-carol")["Location"] == "/"


def test_token_from_another_key_is_refused(client, provider, oidc_idp, second_oidc_idp):
    """Signed by another provider's key (a forged token): the signature check refuses it."""
    oidc_idp.set_user("sub-carol", **CAROL)
    oidc_idp.sign, original = second_oidc_idp.sign, oidc_idp.sign
    try:
        oidc_idp.id_token_changes["sub"] = "sub-carol"
        message = refusal(client, sign_in(client, oidc_idp, provider, "sub-carol"))
    finally:
        oidc_idp.sign = original
    assert "signature does not verify" in message


def test_verify_kid_requires_a_kid(client, tenant, oidc_idp):
    provider = make_oidc_provider(tenant, oidc_idp, verify_kid=True)
    oidc_idp.set_user("sub-carol", **CAROL)
    message = refusal(client, sign_in(client, oidc_idp, provider, "sub-carol"))
    assert "names no signing key ('kid'); turn off verify_kid" in message


# -- claims ------------------------------------------------------------------------------------
def test_allowed_email_domains(client, tenant, oidc_idp):
    provider = make_oidc_provider(tenant, oidc_idp, allowed_email_domains=["example.org"])
    oidc_idp.set_user("sub-eve", preferred_username="eve", email="eve@evil.example")
    assert "'eve@evil.example' is not in an allowed domain (example.org)" in refusal(
        client, sign_in(client, oidc_idp, provider, "sub-eve")
    )
    oidc_idp.set_user(
        "sub-eve", preferred_username="eve", email="eve@example.org", email_verified=False
    )
    assert "'eve@example.org' is not verified" in refusal(
        client, sign_in(client, oidc_idp, provider, "sub-eve")
    )
    oidc_idp.set_user("sub-eve", preferred_username="eve")
    assert "sent no email" in refusal(client, sign_in(client, oidc_idp, provider, "sub-eve"))
    assert not User.objects.filter(username="eve").exists()
    oidc_idp.set_user("sub-carol", **{**CAROL, "email": "Carol@EXAMPLE.org"})
    assert sign_in(client, oidc_idp, provider, "sub-carol")["Location"] == "/"


def test_missing_or_invalid_username_claim_is_a_clear_error(client, provider, oidc_idp):
    oidc_idp.set_user("sub-nameless", email="nameless@example.org")
    message = refusal(client, sign_in(client, oidc_idp, provider, "sub-nameless"))
    assert "sent no 'preferred_username' claim" in message
    assert "(username_claim)" in message
    oidc_idp.set_user("sub-odd", preferred_username="Odd Name!")
    message = refusal(client, sign_in(client, oidc_idp, provider, "sub-odd"))
    assert "'Odd Name!' cannot be a portal username" in message
    assert not User.objects.filter(identity_provider=provider).exists()


def test_username_claim_is_configurable(client, tenant, oidc_idp):
    provider = make_oidc_provider(tenant, oidc_idp, username_claim="login")
    oidc_idp.set_user("sub-carol", **CAROL, login="cclark")
    sign_in(client, oidc_idp, provider, "sub-carol")
    assert User.objects.get(identity_provider=provider).username == "cclark"


# -- takeover ----------------------------------------------------------------------------------
def test_local_account_with_the_same_name_is_not_taken_over(client, provider, oidc_idp, member):
    oidc_idp.set_user("sub-bob", preferred_username="bob", email=member.email)
    message = refusal(client, sign_in(client, oidc_idp, provider, "sub-bob"))
    assert "'bob' in tenant 'acme' belongs to a local account" in message
    member.refresh_from_db()
    assert member.identity_provider is None and member.source == UserSource.LOCAL
    assert member.check_password("Correct-horse-9")


def test_users_are_never_matched_by_email(client, provider, oidc_idp, member):
    """mozilla-django-oidc matches users by email: here the provider's 'mallory' with bob's
    address must become a new user, not bob."""
    oidc_idp.set_user("sub-mallory", preferred_username="mallory", email=member.email)
    sign_in(client, oidc_idp, provider, "sub-mallory")
    assert client.get("/api/v1/me/").json()["username"] == "mallory"
    mallory = User.objects.get(identity_provider=provider)
    assert mallory.pk != member.pk and mallory.username == "mallory"


# -- state -------------------------------------------------------------------------------------
def test_a_state_works_once_and_only_in_its_browser(client, provider, oidc_idp):
    oidc_idp.set_user("sub-carol", **CAROL)
    callback = oidc_idp.authorize(start(client, provider), "sub-carol")
    stranger = Client()
    assert "state mismatch" in refusal(stranger, stranger.get(callback))
    assert client.get(callback)["Location"] == "/"
    replayed = client.get(callback)  # replayed while signed in: refused and audited
    assert urlsplit(replayed["Location"]).path == reverse("login")
    assert "state mismatch" in last_failure().message
    client.logout()
    assert "state mismatch" in refusal(client, client.get(callback))
    no_state = client.get(reverse("oidc-callback"), {"code": "x"})
    assert "state mismatch" in refusal(client, no_state)


def test_stray_callbacks_from_strangers_leave_no_audit_rows(client, provider, oidc_idp):
    """The callback URL is public: a client that never started a sign-in cannot flood the
    audit trail through it (it still gets the explanation); a browser that did start one has
    its stale or replayed answers recorded, in its tenant."""
    stranger = Client()
    for _ in range(5):
        response = stranger.get(reverse("oidc-callback"), {"code": "x", "state": "forged"})
        assert "state mismatch" in refusal(stranger, response)
    assert not AuditEvent.objects.filter(action="auth.login_failed").exists()
    start(client, provider)
    client.get(reverse("oidc-callback"), {"code": "x", "state": "forged"})
    failure = last_failure()
    assert "state mismatch" in failure.message and failure.tenant == provider.tenant


# -- tenants -----------------------------------------------------------------------------------
def test_two_tenants_with_their_own_providers_never_share_users(
    tenant, other_tenant, oidc_idp, second_oidc_idp
):
    acme_sso = make_oidc_provider(tenant, oidc_idp)
    globex_sso = make_oidc_provider(other_tenant, second_oidc_idp)
    # both providers know a "carol" under the same subject
    oidc_idp.set_user("sub-1", **CAROL)
    second_oidc_idp.set_user("sub-1", **CAROL)
    acme_browser, globex_browser = Client(), Client()
    sign_in(acme_browser, oidc_idp, acme_sso, "sub-1")
    sign_in(globex_browser, second_oidc_idp, globex_sso, "sub-1")
    acme_carol = User.objects.get(tenant=tenant, username="carol")
    globex_carol = User.objects.get(tenant=other_tenant, username="carol")
    assert acme_carol.pk != globex_carol.pk
    assert (acme_carol.identity_provider, globex_carol.identity_provider) == (acme_sso, globex_sso)
    assert acme_browser.get("/api/v1/me/").json()["tenant"] == "acme"
    assert globex_browser.get("/api/v1/me/").json()["tenant"] == "globex"
    # each sees their own tenant's carol; other tenants' users are 404
    bind(acme_carol, "read-only")
    bind(globex_carol, "read-only")
    assert acme_browser.get("/api/v1/users/carol/").json()["id"] == acme_carol.pk
    assert globex_browser.get("/api/v1/users/carol/").json()["id"] == globex_carol.pk
    listed = acme_browser.get("/api/v1/users/").json()["results"]
    assert [row["id"] for row in listed] == [acme_carol.pk]
    other = UserFactory(tenant=other_tenant, username="only-in-globex")
    assert acme_browser.get(f"/api/v1/users/{other.username}/").status_code == 404

    # globex's provider cannot be used to sign in to acme's: its tokens name another issuer
    second_oidc_idp.id_token_changes["iss"] = oidc_idp.issuer
    stranger = Client()
    message = refusal(stranger, sign_in(stranger, second_oidc_idp, globex_sso, "sub-1"))
    assert "not by the configured issuer" in message


def test_a_directory_tenant_and_a_single_sign_on_tenant_never_meet(
    tenant, other_tenant, oidc_idp, ldap_dir
):
    """acme signs in through LDAP, globex through OIDC, and both have a carol: two accounts,
    each provider reaches only its own tenant, and neither tenant sees the other's users."""
    from tests.factories import make_identity_provider
    from tests.fixtures.ldap import READER_PW, SUFFIXES

    make_identity_provider(
        tenant,
        name="corp",
        type="ldap",
        config={
            "server_uri": ldap_dir.uri,
            "bind_dn": ldap_dir.reader_dn(),
            "user_search_base": f"ou=people,{SUFFIXES[0]}",
        },
        secret=READER_PW,
    )
    globex_sso = make_oidc_provider(other_tenant, oidc_idp, name="globex-sso")
    oidc_idp.set_user("sub-carol", **CAROL)

    acme_browser = Client()
    signed = acme_browser.post(
        "/login/", {"tenant": "acme", "username": "carol", "password": "carol-Pass-1"}
    )
    assert signed.status_code == 302
    globex_browser = Client()
    assert sign_in(globex_browser, oidc_idp, globex_sso, "sub-carol")["Location"] == "/"
    acme_carol = User.objects.get(tenant=tenant, username="carol")
    globex_carol = User.objects.get(tenant=other_tenant, username="carol")
    assert (acme_carol.source, globex_carol.source) == (UserSource.LDAP, UserSource.OIDC)
    assert acme_carol.pk != globex_carol.pk

    # globex's provider is not acme's: not offered, not startable, and acme's directory
    # password is no way into globex
    assert "globex-sso" not in Client().get("/login/", {"tenant": "acme"}).content.decode()
    url = reverse("oidc-start", kwargs={"tenant": "acme", "provider": "globex-sso"})
    stranger = Client()
    page = stranger.get(stranger.get(url)["Location"]).content.decode()
    assert "Single sign-on &#x27;globex-sso&#x27; is not available for tenant" in page
    refused = Client().post(
        "/login/", {"tenant": "globex", "username": "carol", "password": "carol-Pass-1"}
    )
    assert refused.status_code == 200 and "_auth_user_id" not in refused.wsgi_request.session

    bind(acme_carol, "read-only")
    bind(globex_carol, "read-only")
    acme_listed = acme_browser.get("/api/v1/users/").json()["results"]
    globex_listed = globex_browser.get("/api/v1/users/").json()["results"]
    assert [row["id"] for row in acme_listed] == [acme_carol.pk]
    assert [row["id"] for row in globex_listed] == [globex_carol.pk]
    assert acme_browser.get("/api/v1/identity-providers/globex-sso/").status_code == 404


def test_the_host_name_chooses_the_tenant_of_the_sign_in_page(
    settings, tenant, other_tenant, oidc_idp, second_oidc_idp
):
    """With ``PORTAL_TENANT_HOST_SUFFIX``, ``acme.portal.example.com/login/`` is acme's page:
    the tenant field is filled in and acme's single sign-on is offered — never globex's; a
    host outside the suffix (or the bare suffix) infers nothing."""
    settings.PORTAL_TENANT_HOST_SUFFIX = ".portal.example.com"
    settings.ALLOWED_HOSTS = [".portal.example.com", "testserver"]
    make_oidc_provider(tenant, oidc_idp, display_name="Acme SSO")
    make_oidc_provider(other_tenant, second_oidc_idp, display_name="Globex SSO")

    page = Client(HTTP_HOST="acme.portal.example.com").get("/login/")
    assert page.context["tenant"] == "acme"
    body = page.content.decode()
    assert 'name="tenant" autocomplete="organization" value="acme"' in body
    assert "Sign in with Acme SSO" in body and "Globex SSO" not in body
    assert "/login/oidc/acme/sso/" in body

    globex = Client(HTTP_HOST="globex.portal.example.com").get("/login/").content.decode()
    assert "Sign in with Globex SSO" in globex and "Acme SSO" not in globex

    for host in ("portal.example.com", "testserver", "a.acme.portal.example.com"):
        page = Client(HTTP_HOST=host).get("/login/")
        assert page.context["tenant"] == "", host
        assert "Sign in with" not in page.content.decode(), host

    # typed wins over the host: globex/… on acme's host is a globex sign-in page
    page = Client(HTTP_HOST="acme.portal.example.com").get("/login/", {"tenant": "globex"})
    assert page.context["tenant"] == "globex"


# -- revalidation ------------------------------------------------------------------------------
def test_revoking_the_grant_at_the_provider_ends_sessions_and_api_keys(client, provider, oidc_idp):
    oidc_idp.set_user("sub-carol", **CAROL)
    sign_in(client, oidc_idp, provider, "sub-carol")
    carol = User.objects.get(username="carol")
    _, key = make_api_key(carol)
    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/v1/me/").status_code == 200
    assert bearer.get("/api/v1/me/").status_code == 200

    # still valid at the provider: access stays
    module_for("oidc").revalidate(provider, [carol])
    carol.refresh_from_db()
    assert carol.directory_state == DirectoryState.PRESENT
    assert client.get("/api/v1/me/").status_code == 200

    oidc_idp.revoke("sub-carol")
    revalidate(provider, list(User.objects.filter(pk=carol.pk)))
    carol.refresh_from_db()
    assert carol.directory_state == DirectoryState.DISABLED
    assert client.get("/api/v1/me/").status_code in (401, 403)
    refused = bearer.get("/api/v1/me/")
    assert refused.status_code == 401
    assert refused.json()["code"] == "user_not_in_directory"
    revoked = AuditEvent.objects.get(action="identity.user_revoked", user=carol)
    assert "refused the user's refresh grant (invalid refresh token)" in revoked.message

    # signing in again at the provider restores them
    sign_in(Client(), oidc_idp, provider, "sub-carol")
    carol.refresh_from_db()
    assert carol.directory_state == DirectoryState.PRESENT
    assert bearer.get("/api/v1/me/").status_code == 200


def test_revalidation_brings_the_groups_of_a_refreshed_id_token(
    client, tenant, oidc_idp, tenant_admin
):
    provider = make_oidc_provider(tenant, oidc_idp, mirror_groups=True, admin_groups=["admins"])
    oidc_idp.set_user("sub-carol", **CAROL, groups=["devs", "admins"])
    sign_in(client, oidc_idp, provider, "sub-carol")
    carol = User.objects.get(username="carol")
    assert groups_of(carol) == {"devs", "admins"} and carol.is_tenant_admin

    oidc_idp.set_user("sub-carol", **CAROL, groups=["devs"])
    oidc_idp.id_token_on_refresh = True
    revalidate(provider, [carol])
    carol = User.objects.get(pk=carol.pk)
    assert carol.directory_state == DirectoryState.PRESENT
    assert groups_of(carol) == {"devs"} and not carol.is_tenant_admin


def test_provider_unreachable_keeps_access(client, provider, oidc_idp):
    oidc_idp.set_user("sub-carol", **CAROL)
    sign_in(client, oidc_idp, provider, "sub-carol")
    carol = User.objects.get(username="carol")
    provider.refresh_from_db()
    closed = _closed_port()
    provider.discovery["document"]["token_endpoint"] = f"http://127.0.0.1:{closed}/token"
    revalidate(provider, [carol])
    carol.refresh_from_db()
    assert carol.directory_state == DirectoryState.UNREACHABLE
    assert client.get("/api/v1/me/").status_code == 200


def test_without_a_refresh_token_access_lasts_a_bounded_time_after_sign_in(
    client, provider, oidc_idp, settings
):
    """A provider that issues no refresh token cannot be asked whether the user was disabled
    there: the portal trusts the sign-in for PORTAL_OIDC_UNVERIFIED_MAX_AGE, then the user's
    sessions and API keys stop until they sign in through the provider again. The recheck
    leaves such users out (nothing to ask with), so it cannot renew that trust."""
    settings.PORTAL_OIDC_UNVERIFIED_MAX_AGE = 3600
    oidc_idp.refresh_tokens = False
    oidc_idp.set_user("sub-carol", **CAROL)
    sign_in(client, oidc_idp, provider, "sub-carol")
    carol = User.objects.get(username="carol")
    assert carol.directory_grant == ""
    _, key = make_api_key(carol)
    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/v1/me/").status_code == 200
    assert bearer.get("/api/v1/me/").status_code == 200

    # the periodic recheck has nothing to ask with: it neither picks carol nor renews her
    signed_in_at = timezone.now() - timedelta(seconds=3500)
    User.objects.filter(pk=carol.pk).update(directory_checked_at=signed_in_at)
    assert revalidate_directory_users() == {}
    carol.refresh_from_db()
    assert carol.directory_checked_at == signed_in_at
    assert bearer.get("/api/v1/me/").status_code == 200

    # past the bound: the key and the session stop, saying why
    User.objects.filter(pk=carol.pk).update(
        directory_checked_at=timezone.now() - timedelta(seconds=3700)
    )
    refused = bearer.get("/api/v1/me/")
    assert refused.status_code == 401
    assert refused.json()["code"] == "user_not_in_directory"
    assert "issued no refresh token" in refused.json()["detail"]
    assert "more than 1 h old: sign in through it again" in refused.json()["detail"]
    assert client.get("/api/v1/me/").status_code in (401, 403)

    # signing in through the provider again renews it
    sign_in(Client(), oidc_idp, provider, "sub-carol")
    assert bearer.get("/api/v1/me/").status_code == 200


def test_users_with_a_grant_are_rechecked_and_unaffected_by_the_bound(
    client, provider, oidc_idp, settings
):
    settings.PORTAL_OIDC_UNVERIFIED_MAX_AGE = 60
    oidc_idp.set_user("sub-carol", **CAROL)
    sign_in(client, oidc_idp, provider, "sub-carol")
    carol = User.objects.get(username="carol")
    assert carol.directory_grant
    User.objects.filter(pk=carol.pk).update(
        directory_checked_at=timezone.now() - timedelta(hours=2)
    )
    # overdue for its recheck, but the grant can be asked: still in, and the recheck renews
    assert client.get("/api/v1/me/").status_code == 200
    assert revalidate_directory_users() == {str(provider): 1}
    carol.refresh_from_db()
    assert timezone.now() - carol.directory_checked_at < timedelta(minutes=1)
    assert carol.directory_state == DirectoryState.PRESENT


# -- logout and re-authentication --------------------------------------------------------------
def test_logout_ends_the_provider_session_too(client, provider, oidc_idp):
    oidc_idp.set_user("sub-carol", **CAROL)
    sign_in(client, oidc_idp, provider, "sub-carol")
    # the pages' CSP lets the sign-out form's redirect reach the provider (form-action)
    policy = client.get("/api/v1/me/")["Content-Security-Policy"]
    assert f"form-action 'self' {oidc_idp.url}" in policy
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{oidc_idp.url}/oauth2/end_session"
    query = parse_qs(target.query)
    hint = jwt.decode(query["id_token_hint"][0], options={"verify_signature": False})
    assert hint["sub"] == "sub-carol" and hint["iss"] == oidc_idp.issuer
    assert query["post_logout_redirect_uri"] == ["http://testserver/login/"]
    assert query["client_id"] == ["portal"]
    assert client.get("/api/v1/me/").status_code in (401, 403)
    (logout,) = AuditEvent.objects.filter(action="auth.logout")
    assert (logout.user.username, logout.outcome) == ("carol", "success")
    ended = requests.get(response["Location"], timeout=5)  # the provider takes the hint
    assert ended.status_code == 200 and query["id_token_hint"][0] in ended.text


def test_end_session_off_logs_out_locally_only(client, tenant, oidc_idp):
    provider = make_oidc_provider(tenant, oidc_idp, end_session=False)
    oidc_idp.set_user("sub-carol", **CAROL)
    sign_in(client, oidc_idp, provider, "sub-carol")
    assert END_SESSION_KEY not in client.session
    csp = client.get("/api/v1/me/")["Content-Security-Policy"]
    # (directives come in no fixed order: compare the directive, not a substring)
    assert "form-action 'self'" in [d.strip() for d in csp.split(";")]
    assert client.post(reverse("logout"))["Location"] == reverse("login")


def test_reauthentication_refreshes_auth_time_for_the_same_user_only(client, provider, oidc_idp):
    oidc_idp.set_user("sub-carol", **CAROL)
    oidc_idp.set_user("sub-dave", preferred_username="dave")
    sign_in(client, oidc_idp, provider, "sub-carol")
    session = client.session
    # An hour ago: past the re-authentication age, within the session timeouts.
    stale = int(time.time()) - 3600
    session["auth_time"] = stale
    session.save()

    authorize = start(client, provider, reauth="1", next="/api/v1/me/")
    query = parse_qs(urlsplit(authorize).query)
    assert query["prompt"] == ["login"] and query["max_age"] == ["0"]
    response = client.get(oidc_idp.authorize(authorize, "sub-dave"))
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert "signed in &#x27;dave&#x27;, not &#x27;carol&#x27;" in page.content.decode()
    assert client.session["auth_time"] == stale
    assert client.get("/api/v1/me/").json()["username"] == "carol"  # still carol, not dave

    authorize = start(client, provider, reauth="1", next="/api/v1/me/")
    response = client.get(oidc_idp.authorize(authorize, "sub-carol"))
    assert response["Location"] == "/api/v1/me/"
    assert client.session["auth_time"] >= int(time.time()) - 5
    assert AuditEvent.objects.filter(action="auth.reauth", user__username="carol").exists()


# -- test connection ---------------------------------------------------------------------------
def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _steps(report):
    return [(step.name, step.ok) for step in report.steps]


def test_connection_ok(provider, oidc_idp):
    report = oidc.test_connection(provider)
    assert report.ok, report.as_dict()
    assert _steps(report) == [("dns", True), ("tcp", True), ("discovery", True), ("jwks", True)]
    assert f"issuer {oidc_idp.issuer}" in report.steps[2].detail
    assert "1 usable for RS256" in report.steps[3].detail


def test_connection_dns_failure(tenant, oidc_idp):
    provider = make_oidc_provider(tenant, oidc_idp, issuer="http://no-such-idp.invalid")
    report = oidc.test_connection(provider)
    assert _steps(report) == [("dns", False)]
    assert "cannot resolve no-such-idp.invalid" in report.steps[0].detail


def test_connection_refused(tenant, oidc_idp):
    port = _closed_port()
    provider = make_oidc_provider(tenant, oidc_idp, issuer=f"http://127.0.0.1:{port}")
    report = oidc.test_connection(provider)
    assert _steps(report) == [("dns", True), ("tcp", False)]
    assert report.steps[1].detail == f"127.0.0.1:{port}: connection refused"


def test_connection_tls_failure(tenant, oidc_idp):
    """https:// to a server that speaks plain HTTP: the handshake step says so."""
    provider = make_oidc_provider(tenant, oidc_idp, issuer=oidc_idp.url.replace("http:", "https:"))
    report = oidc.test_connection(provider)
    assert _steps(report) == [("dns", True), ("tcp", True), ("tls", False)]
    assert report.steps[2].detail.startswith("TLS handshake failed")


def test_connection_discovery_names_another_issuer(provider, oidc_idp):
    oidc_idp.discovery_changes["issuer"] = "http://impostor.example"
    report = oidc.test_connection(provider)
    assert _steps(report) == [("dns", True), ("tcp", True), ("discovery", False)]
    assert report.steps[2].detail == (
        f"the discovery document at {oidc_idp.issuer}/.well-known/openid-configuration names "
        f"issuer 'http://impostor.example', but the configured issuer is '{oidc_idp.issuer}'"
    )
    # and a sign-in started now says the same
    client = Client()
    response = client.get(reverse("oidc-start", kwargs={"tenant": "acme", "provider": "sso"}))
    assert (
        "names issuer &#x27;http://impostor.example&#x27;"
        in client.get(response["Location"]).content.decode()
    )


def test_connection_discovery_without_jwks(provider, oidc_idp):
    oidc_idp.discovery_changes["jwks_uri"] = None
    report = oidc.test_connection(provider)
    assert report.failed_step == "discovery"
    assert report.steps[-1].detail.endswith("has no jwks_uri")


def test_connection_no_key_for_the_algorithm(tenant, oidc_idp):
    provider = make_oidc_provider(tenant, oidc_idp, sign_algo="ES256")
    oidc_idp.discovery_changes["id_token_signing_alg_values_supported"] = None
    report = oidc.test_connection(provider)
    assert report.failed_step == "jwks"
    assert report.steps[-1].detail == f"{oidc_idp.url}/jwks has 1 key(s), none usable for ES256"


def test_connection_through_the_api(api, tenant_admin, provider):
    response = api(tenant_admin).post(f"/api/v1/identity-providers/{provider.name}/test/")
    assert response.status_code == 200, response.content
    assert response.json()["ok"] is True
    assert [s["name"] for s in response.json()["steps"]] == ["dns", "tcp", "discovery", "jwks"]
