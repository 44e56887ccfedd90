"""Identity providers through the API and the admin: who may configure them, what is
validated, that secrets never come back, and that a directory user stops working the moment
their provider or the directory stops vouching for them."""

import pytest

from apps.accounts.choices import DirectoryState, UserSource
from apps.accounts.models import IdentityProvider
from tests.factories import UserFactory, bind, make_api_key, make_identity_provider
from tests.matrix import APIMatrix

pytestmark = pytest.mark.django_db

LDAP = {
    "server_uri": "ldap://ldap.example.org",
    "user_search_base": "ou=people,dc=example,dc=org",
    "group_search_base": "ou=groups,dc=example,dc=org",
    "mirror_groups": True,
    "admin_groups": ["cn=admins,ou=groups,dc=example,dc=org"],
}


class TestIdentityProviderMatrix(APIMatrix):
    list_url = "/api/v1/identity-providers/"

    def make_object(self, tenant):
        return make_identity_provider(tenant, name=f"ldap-{IdentityProvider.objects.count()}")

    def lookup(self, obj):
        return obj.name

    def lookup_from_json(self, row):
        return row["name"]

    def create_data(self, tenant):
        return {"name": "corp", "type": "ldap", "config": LDAP, "secret": "bind-Pa55word"}

    def update_data(self, obj):
        return {"display_name": "Corporate directory", "enabled": False}


def test_secret_is_stored_encrypted_and_never_returned(api, tenant_admin, tenant):
    client = api(tenant_admin)
    created = client.post(
        "/api/v1/identity-providers/",
        {"name": "corp", "type": "ldap", "config": LDAP, "secret": "bind-Pa55word"},
    )
    assert created.status_code == 201, created.content
    assert "bind-Pa55word" not in created.content.decode()
    assert created.json()["has_secret"] is True
    # defaults are filled in and returned
    assert created.json()["config"]["user_search_filter"] == "(uid=%(user)s)"
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM accounts_identityprovider WHERE name = 'corp'")
        (stored,) = cursor.fetchone()
    assert stored and "bind-Pa55word" not in stored
    assert IdentityProvider.objects.get(name="corp").secret == "bind-Pa55word"
    listed = client.get("/api/v1/identity-providers/").content.decode()
    assert "bind-Pa55word" not in listed
    # an update without a secret keeps the stored one
    client.patch("/api/v1/identity-providers/corp/", {"display_name": "Corp"})
    assert IdentityProvider.objects.get(name="corp").secret == "bind-Pa55word"


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({**LDAP, "server_uri": "http://x"}, "config.server_uri"),
        ({**LDAP, "user_dn_template": "uid=%(user)s,dc=x"}, "config.user_search_base"),
        ({**LDAP, "user_search_filter": "(uid=bob)"}, "config.user_search_filter"),
        ({**LDAP, "group_search_base": ""}, "config.group_search_base"),
        ({**LDAP, "group_mapping": {"cn=x": "Not A Name!"}}, "config.group_mapping"),
        ({**LDAP, "start_tls": True, "server_uri": "ldaps://x"}, "config.start_tls"),
        ({**LDAP, "attr_map": {"shoe_size": "x"}}, "config.attr_map"),
    ],
)
def test_invalid_ldap_settings_name_the_field(api, tenant_admin, config, field):
    response = api(tenant_admin).post(
        "/api/v1/identity-providers/", {"name": "corp", "type": "ldap", "config": config}
    )
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"], response.json()
    assert not IdentityProvider.objects.exists()


def test_invalid_oidc_settings_name_the_field(api, tenant_admin):
    response = api(tenant_admin).post(
        "/api/v1/identity-providers/",
        {"name": "sso", "type": "oidc", "config": {"issuer": "ftp://x", "scopes": ["email"]}},
    )
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert {"config.issuer", "config.client_id", "config.scopes"} <= set(fields), fields


def test_only_tenant_administrators_configure_identity(api, tenant, member):
    """A policy granting identity-provider writes is not enough: a provider decides who
    everyone is (and, through admin groups, who administers the tenant)."""
    from apps.authz.services import create_policy

    policy = create_policy(
        actor=None,
        tenant=tenant,
        name="idp-editor",
        statements=[{"actions": ["*IdentityProvider*"], "resources": ["*"], "effect": "allow"}],
    )
    bind(member, policy.name)
    response = api(member).post(
        "/api/v1/identity-providers/", {"name": "corp", "type": "ldap", "config": LDAP}
    )
    assert response.status_code == 403, response.content
    assert "Only tenant administrators" in response.json()["detail"]
    assert not IdentityProvider.objects.exists()


def test_provider_with_users_cannot_be_deleted(api, tenant_admin, tenant):
    provider = make_identity_provider(tenant)
    UserFactory(tenant=tenant, username="dora", source=UserSource.LDAP, identity_provider=provider)
    response = api(tenant_admin).delete(f"/api/v1/identity-providers/{provider.name}/")
    assert response.status_code == 400
    assert "still has 1 user" in response.json()["fields"]["name"][0]
    assert IdentityProvider.objects.filter(pk=provider.pk).exists()


def test_type_and_name_are_fixed(api, tenant_admin, tenant):
    provider = make_identity_provider(tenant)
    response = api(tenant_admin).patch(
        f"/api/v1/identity-providers/{provider.name}/", {"type": "oidc"}
    )
    assert response.status_code == 400
    assert "type" in response.json()["fields"]


def test_local_provider_test_reports_ok(api, tenant_admin, tenant):
    make_identity_provider(tenant, name="local", type="local")
    report = api(tenant_admin).post("/api/v1/identity-providers/local/test/").json()
    assert report["ok"] is True and report["failed_step"] is None


def test_member_cannot_test_or_sync(api, member, tenant):
    provider = make_identity_provider(tenant)
    client = api(member)
    assert client.post(f"/api/v1/identity-providers/{provider.name}/test/").status_code == 403
    assert client.post(f"/api/v1/identity-providers/{provider.name}/sync/").status_code == 403


def test_list_queries_do_not_grow_with_rows(
    api, tenant_admin, tenant, django_assert_max_num_queries
):
    for i in range(3):
        make_identity_provider(tenant, name=f"p{i}")
    client = api(tenant_admin)
    client.get("/api/v1/identity-providers/")  # warm the policy index
    with django_assert_max_num_queries(8) as few:
        client.get("/api/v1/identity-providers/")
    for i in range(3, 15):
        make_identity_provider(tenant, name=f"p{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(client.get("/api/v1/identity-providers/").json()["results"]) == 15


# -- losing access ---------------------------------------------------------------------------
@pytest.fixture
def dora(tenant):
    provider = make_identity_provider(tenant)
    user = UserFactory(
        tenant=tenant,
        username="dora",
        source=UserSource.LDAP,
        identity_provider=provider,
        external_id="uid=dora,ou=people,dc=example,dc=org",
        directory_state=DirectoryState.PRESENT,
    )
    bind(user, "platform-user")
    return user


@pytest.mark.parametrize("state", [DirectoryState.MISSING, DirectoryState.DISABLED])
def test_directory_dropping_a_user_stops_sessions_and_api_keys(client, dora, state):
    from django.test import Client

    from apps.accounts.identity.provisioning import set_directory_state

    _, key = make_api_key(dora)
    client.force_login(dora)
    assert client.get("/api/v1/me/").status_code == 200
    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert bearer.get("/api/v1/me/").status_code == 200
    set_directory_state(dora, state)
    assert client.get("/api/v1/me/").status_code in (401, 403)
    refused = bearer.get("/api/v1/me/")
    assert refused.status_code == 401
    assert refused.json()["code"] == "user_not_in_directory"
    from apps.audit.models import AuditEvent

    assert AuditEvent.objects.filter(action="identity.user_revoked", user=dora).exists()
    set_directory_state(dora, DirectoryState.PRESENT)
    assert bearer.get("/api/v1/me/").status_code == 200


def test_disabling_the_provider_stops_its_users(client, dora):
    _, key = make_api_key(dora)
    client.force_login(dora)
    provider = dora.identity_provider
    provider.enabled = False
    provider.save()
    assert client.get("/api/v1/me/").status_code in (401, 403)
    from django.test import Client

    assert Client(HTTP_AUTHORIZATION=f"Bearer {key}").get("/api/v1/me/").status_code == 401


def test_the_admin_shows_a_tenant_administrator_only_their_tenants_providers(
    client, tenant, other_tenant, tenant_admin
):
    mine = make_identity_provider(tenant, name="acme-ldap")
    theirs = make_identity_provider(other_tenant, name="globex-ldap", secret="globex-Secret-1")
    client.force_login(tenant_admin)
    page = client.get("/admin/accounts/identityprovider/").content.decode()
    assert "acme-ldap" in page and "globex-ldap" not in page
    assert client.get(f"/admin/accounts/identityprovider/{mine.pk}/change/").status_code == 200
    # another tenant's provider does not exist for them (the admin's "not found" redirect)
    other = client.get(f"/admin/accounts/identityprovider/{theirs.pk}/change/")
    assert other.status_code == 302 and "globex" not in other.content.decode()
    response = client.post(
        "/admin/accounts/identityprovider/",
        {"action": "test_connection", "_selected_action": [theirs.pk]},
        follow=True,
    )
    assert "globex-ldap" not in response.content.decode()
    theirs.refresh_from_db()
    assert theirs.last_test == {}
