"""LDAP sign-in, groups, revocation and the connection test, against a real OpenLDAP slapd
(``tests/fixtures/ldap.py``): people sign in on the real sign-in form (``POST /login/``), the
directory is changed the way its administrator would, and the portal's API is asked what
changed."""

from __future__ import annotations

import html

import ldap
import pytest
from django.test import Client

from apps.accounts.choices import DirectoryState, UserSource
from apps.accounts.models import Group, User
from apps.audit.models import AuditEvent
from tests.conftest import persona
from tests.factories import TenantFactory, UserFactory, make_api_key, make_identity_provider
from tests.fixtures.ldap import READER_PW, SUFFIXES, free_port

pytestmark = pytest.mark.django_db

BASE = SUFFIXES[0]
GENERIC = "Wrong tenant/username or password"


def search_config(server, suffix=BASE, **extra):
    """A provider that finds people with a search, bound as the read-only service account."""
    return {
        "server_uri": server.uri,
        "bind_dn": server.reader_dn(suffix),
        "user_search_base": f"ou=people,{suffix}",
        "group_search_base": f"ou=groups,{suffix}",
        "group_search_filter": "(objectClass=groupOfNames)",
        "attr_map": {"display_name": "cn", "email": "mail", "phone": "telephoneNumber"},
        **extra,
    }


def ldap_provider(tenant, server, name="corp", secret=READER_PW, **config):
    return make_identity_provider(
        tenant, name=name, type="ldap", config=search_config(server, **config), secret=secret
    )


def sign_in(client, username, password, tenant="acme"):
    return client.post("/login/", {"tenant": tenant, "username": username, "password": password})


def last_failure() -> AuditEvent:
    return AuditEvent.objects.filter(action="auth.login_failed").latest("created_at")


@pytest.fixture
def boss(tenant):
    """A local tenant administrator, to call the API."""
    return persona(tenant, "boss", "administrator", is_staff=True)


# -- signing in --------------------------------------------------------------------------------
def test_first_sign_in_through_search_creates_the_user_in_the_tenant(client, tenant, ldap_dir):
    provider = ldap_provider(tenant, ldap_dir)
    response = sign_in(client, "bob", "bob-Pass-1")
    assert response.status_code == 302, response.content.decode()[:2000]
    bob = User.objects.get(tenant=tenant, username="bob")
    assert client.session["_auth_user_id"] == str(bob.pk)
    assert bob.source == UserSource.LDAP
    assert bob.identity_provider == provider
    assert bob.external_id == ldap_dir.user_dn("bob")
    assert (bob.display_name, bob.email, bob.phone) == (
        "Bob Builder",
        "bob@example.org",
        "+1 555 0100",
    )
    assert not bob.has_usable_password()
    assert bob.directory_state == DirectoryState.PRESENT
    assert client.get("/api/v1/me/").json()["username"] == "bob"
    event = AuditEvent.objects.get(action="auth.login")
    assert event.user == bob and "identity provider 'corp'" in event.message
    assert AuditEvent.objects.filter(action="identity.user_created", user=bob).exists()
    # the second sign-in finds the same user
    client.logout()
    assert sign_in(client, "bob", "bob-Pass-1").status_code == 302
    assert User.objects.filter(tenant=tenant, username="bob").count() == 1


def test_dn_template_sign_in_without_a_service_account(client, tenant, ldap_dir):
    make_identity_provider(
        tenant,
        name="corp",
        config={
            "server_uri": ldap_dir.uri,
            "user_dn_template": f"uid=%(user)s,ou=people,{BASE}",
        },
    )
    assert sign_in(client, "carol", "carol-Pass-1").status_code == 302
    carol = User.objects.get(tenant=tenant, username="carol")
    assert carol.external_id == ldap_dir.user_dn("carol")
    assert carol.display_name == "Carol Danvers"
    client.logout()
    page = sign_in(client, "carol", "not-her-password")
    assert GENERIC in page.content.decode()
    assert "wrong password for uid=carol" in last_failure().message


def test_wrong_password_and_unknown_name_fail_alike_and_are_audited(client, tenant, ldap_dir):
    ldap_provider(tenant, ldap_dir)
    wrong = sign_in(client, "bob", "bob-Pass-2")
    assert wrong.status_code == 200 and GENERIC in wrong.content.decode()
    assert "_auth_user_id" not in client.session
    event = last_failure()
    assert event.username == "acme/bob" and event.outcome == "denied"
    assert f"wrong password for {ldap_dir.user_dn('bob')}" in event.message
    unknown = sign_in(client, "zed", "whatever-1")
    assert GENERIC in unknown.content.decode()  # the page does not say who exists
    assert "no single entry matches (uid=%(user)s)" in last_failure().message
    assert not User.objects.filter(username__in=["bob", "zed"]).exists()


def test_every_spelling_of_a_directory_name_is_the_one_account_the_directory_names(
    tenant, ldap_dir
):
    """LDAP matches the typed name regardless of case and (with this filter) by uid or mail:
    every way in is the same portal user, named by the entry's uid — not created twice, not
    renamed to whatever was typed last."""
    ldap_provider(
        tenant, ldap_dir, user_search_filter="(|(uid=%(user)s)(mail=%(user)s))", username_attr=""
    )
    for typed in ("  BOB ", "bob@example.org", "Bob", "BOB@EXAMPLE.ORG"):
        browser = Client()
        response = sign_in(browser, typed, "bob-Pass-1")
        assert response.status_code == 302, (typed, response.content.decode()[:500])
        assert browser.get("/api/v1/me/").json()["username"] == "bob", typed
        assert list(User.objects.filter(tenant=tenant).values_list("username", flat=True)) == [
            "bob"
        ], typed
    # a case variant the first time round is the directory's spelling too
    carol = Client()
    assert sign_in(carol, "CAROL", "carol-Pass-1").status_code == 302
    assert carol.get("/api/v1/me/").json()["username"] == "carol"


def test_the_username_attribute_follows_the_dn_template_or_is_configured(client, tenant, ldap_dir):
    from apps.accounts.identity.ldap import username_attribute

    assert username_attribute({"user_dn_template": "cn=%(user)s,ou=people,dc=x"}) == "cn"
    assert (
        username_attribute(
            {"user_search_filter": "(&(objectClass=person)(sAMAccountName=%(user)s))"}
        )
        == "samaccountname"
    )
    assert username_attribute({"user_search_filter": "(|(uid=%(user)s)(mail=%(user)s))"}) == "uid"
    assert (
        username_attribute({"username_attr": "mail", "user_search_filter": "(uid=%(user)s)"})
        == "mail"
    )
    # configured: people sign in with their uid and are known by their mail address
    ldap_provider(tenant, ldap_dir, username_attr="mail")
    assert sign_in(client, "Bob", "bob-Pass-1").status_code == 302
    assert client.get("/api/v1/me/").json()["username"] == "bob@example.org"
    # an entry without the attribute is refused with the reason
    ldap_dir.add_user("nomail", "nomail-Pass-1", cn="No Mail")
    page = sign_in(Client(), "nomail", "nomail-Pass-1")
    assert "has no 'mail' attribute" in html.unescape(page.content.decode())
    assert "has no 'mail' attribute to take the portal username from" in last_failure().message


def test_an_empty_password_is_never_an_anonymous_bind(tenant, ldap_dir):
    from django.contrib.auth import authenticate

    ldap_provider(tenant, ldap_dir)
    assert authenticate(username="acme/bob", password="") is None
    assert authenticate(username="acme/bob", password="bob-Pass-1") is not None


def test_a_server_that_is_down_is_a_clear_failed_sign_in(client, tenant, boss, api):
    port = free_port()  # nothing listens there
    make_identity_provider(
        tenant,
        name="corp",
        config={
            "server_uri": f"ldap://127.0.0.1:{port}",
            "user_search_base": f"ou=people,{BASE}",
            "timeout": 2,
        },
    )
    page = sign_in(client, "bob", "bob-Pass-1")
    assert page.status_code == 200 and GENERIC in page.content.decode()
    assert f"corp: LDAP server ldap://127.0.0.1:{port} unreachable" in last_failure().message
    # local accounts still sign in
    assert GENERIC in sign_in(client, "boss", "wrong-password").content.decode()
    assert last_failure().message.startswith("acme/boss is a local account and its sign-in failed")
    assert sign_in(client, "boss", "Correct-horse-9").status_code == 302
    report = api(boss).post("/api/v1/identity-providers/corp/test/").json()
    assert report["ok"] is False and report["failed_step"] == "tcp"
    assert report["steps"][-1]["detail"] == f"127.0.0.1:{port}: connection refused"


def test_the_disabled_filter_and_the_required_group_refuse(client, tenant, ldap_dir):
    ldap_provider(
        tenant,
        ldap_dir,
        user_disabled_filter="(employeeType=disabled)",
        require_group=ldap_dir.group_dn("developers"),
    )
    assert GENERIC in sign_in(client, "dave", "dave-Pass-1").content.decode()
    assert "is disabled in the directory (matches (employeeType=disabled))" in (
        last_failure().message
    )
    assert GENERIC in sign_in(client, "carol", "carol-Pass-1").content.decode()
    assert f"is not a member of {ldap_dir.group_dn('developers')}" in last_failure().message
    assert not User.objects.filter(username__in=["dave", "carol"]).exists()
    assert sign_in(client, "bob", "bob-Pass-1").status_code == 302


def test_a_directory_cannot_take_over_a_local_account(client, tenant, tenant_admin, ldap_dir):
    """``alice`` is a local administrator; the directory's alice is someone else."""
    ldap_provider(tenant, ldap_dir)
    page = sign_in(client, "alice", "alice-Pass-1")
    assert page.status_code == 200
    text = html.unescape(page.content.decode())
    assert "The username 'alice' in tenant 'acme' belongs to a local account" in text
    assert "_auth_user_id" not in client.session
    assert "belongs to a local account" in last_failure().message
    tenant_admin.refresh_from_db()
    assert tenant_admin.source == UserSource.LOCAL and tenant_admin.identity_provider is None
    # the local alice keeps signing in with her own password
    assert sign_in(client, "alice", "Correct-horse-9").status_code == 302


def test_sign_in_over_ldaps_and_starttls(client, tenant, ldap_dir):
    provider = ldap_provider(tenant, ldap_dir, server_uri=ldap_dir.ldaps_uri)
    # not trusted: the throwaway CA is in no system bundle
    assert GENERIC in sign_in(client, "bob", "bob-Pass-1").content.decode()
    assert f"LDAP server {ldap_dir.ldaps_uri} unreachable" in last_failure().message
    provider.config = {**provider.config, "ca_cert": ldap_dir.ca_pem}
    provider.save()
    assert sign_in(client, "bob", "bob-Pass-1").status_code == 302
    client.logout()
    provider.config = {**provider.config, "server_uri": ldap_dir.uri, "start_tls": True}
    provider.save()
    assert sign_in(client, "bob", "bob-Pass-1").status_code == 302


# -- groups ------------------------------------------------------------------------------------
def test_groups_are_mirrored_and_follow_the_directory(client, tenant, ldap_dir, boss, api):
    provider = ldap_provider(tenant, ldap_dir, mirror_groups=True)
    local = Group.objects.create(tenant=tenant, name="oncall")
    assert sign_in(client, "bob", "bob-Pass-1").status_code == 302
    bob = User.objects.get(username="bob")
    local.members.add(bob)  # an administrator's own group: the directory leaves it alone
    developers = Group.objects.get(tenant=tenant, name="developers")
    assert developers.identity_provider == provider and developers.source == UserSource.LDAP
    assert developers.external_id == ldap_dir.group_dn("developers")
    assert set(bob.portal_groups.values_list("name", flat=True)) == {"developers", "oncall"}
    # the directory moves bob from developers to ops: the next sign-in follows
    ldap_dir.remove_member("developers", "bob")
    ldap_dir.add_member("ops", "bob")
    client.logout()
    assert sign_in(client, "bob", "bob-Pass-1").status_code == 302
    assert set(bob.portal_groups.values_list("name", flat=True)) == {"ops", "oncall"}
    assert Group.objects.get(name="developers").members.count() == 0
    # …and so does an on-demand sync of the user
    ldap_dir.remove_member("ops", "bob")
    response = api(boss).post("/api/v1/users/bob/sync/")
    assert response.status_code == 200, response.content
    assert response.json()["username"] == "bob"
    assert set(bob.portal_groups.values_list("name", flat=True)) == {"oncall"}


def test_group_mapping_names_the_portal_group(client, tenant, ldap_dir):
    operators = Group.objects.create(tenant=tenant, name="operators")
    # the config spells the DN in capitals; the directory answers in lower case
    ldap_provider(tenant, ldap_dir, group_mapping={f"CN=ops,OU=groups,{BASE}": "operators"})
    assert sign_in(client, "carol", "carol-Pass-1").status_code == 302
    assert list(operators.members.values_list("username", flat=True)) == ["carol"]
    assert not Group.objects.filter(name="ops").exists()  # not mirrored: mapping only


def test_member_of_attribute_groups(client, tenant, ldap_dir):
    """``group_type: member_dn`` reads the user's ``memberOf`` (memberof overlay)."""
    ldap_provider(tenant, ldap_dir, mirror_groups=True, group_type="member_dn")
    assert sign_in(client, "alice", "alice-Pass-1").status_code == 302
    alice = User.objects.get(username="alice")
    assert set(alice.portal_groups.values_list("name", flat=True)) == {"developers", "admins"}


@pytest.mark.parametrize(
    ("group_type", "object_class", "members"),
    [
        ("posix_group", "posixGroup", lambda d: {"memberUid": ["bob"], "gidNumber": "5000"}),
        (
            "group_of_unique_names",
            "groupOfUniqueNames",
            lambda d: {"uniqueMember": [d.user_dn("bob")]},
        ),
    ],
    ids=["posix_group", "group_of_unique_names"],
)
def test_the_other_group_types_are_read(
    client, tenant, ldap_dir, boss, api, group_type, object_class, members
):
    """posixGroup (``memberUid``) and groupOfUniqueNames (``uniqueMember``) directories: the
    user's groups of that kind are mirrored, and a group they leave is left at the next sync."""
    ldap_dir.add(
        ldap_dir.group_dn("builders"),
        {"objectClass": [object_class, "top"], "cn": "builders", **members(ldap_dir)},
    )
    ldap_provider(
        tenant,
        ldap_dir,
        mirror_groups=True,
        group_type=group_type,
        group_search_filter=f"(objectClass={object_class})",
    )
    assert sign_in(client, "bob", "bob-Pass-1").status_code == 302
    bob = User.objects.get(username="bob")
    # only groups of that kind: bob's groupOfNames "developers" is not one of them
    assert set(bob.portal_groups.values_list("name", flat=True)) == {"builders"}
    ldap_dir.delete(ldap_dir.group_dn("builders"))
    assert api(boss).post("/api/v1/users/bob/sync/").status_code == 200
    assert set(bob.portal_groups.values_list("name", flat=True)) == set()


def test_admin_group_makes_and_unmakes_tenant_administrators(client, tenant, ldap_dir, boss, api):
    ldap_provider(tenant, ldap_dir, admin_groups=[ldap_dir.group_dn("admins")])
    ldap_dir.add_member("admins", "carol")
    assert sign_in(client, "carol", "carol-Pass-1").status_code == 302
    assert client.get("/api/v1/me/").json()["is_tenant_admin"] is True
    carol = User.objects.get(username="carol")
    assert carol.is_staff
    # an administrator's power: carol can list the tenant's identity providers
    assert client.get("/api/v1/identity-providers/").status_code == 200
    ldap_dir.remove_member("admins", "carol")
    assert api(boss).post("/api/v1/users/carol/sync/").json()["is_tenant_admin"] is False
    carol.refresh_from_db()
    assert not carol.is_staff and not carol.is_tenant_admin
    assert client.post("/api/v1/identity-providers/", {"name": "x"}).status_code == 403


# -- losing access -----------------------------------------------------------------------------
def test_deleted_in_the_directory_loses_session_and_api_keys_at_sync(
    client, tenant, ldap_dir, boss, api
):
    provider = ldap_provider(tenant, ldap_dir, mirror_groups=True)
    assert sign_in(client, "bob", "bob-Pass-1").status_code == 302
    assert sign_in(Client(), "carol", "carol-Pass-1").status_code == 302
    bob = User.objects.get(username="bob")
    _, key = make_api_key(bob)
    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/v1/me/").status_code == 200
    assert bearer.get("/api/v1/me/").status_code == 200

    ldap_dir.delete(ldap_dir.user_dn("bob"))
    response = api(boss).post("/api/v1/identity-providers/corp/sync/")
    assert response.status_code == 202, response.content
    provider.refresh_from_db()
    report = provider.last_sync
    assert {k: report[k] for k in ("checked", "present", "missing", "unreachable")} == {
        "checked": 2,
        "present": 1,
        "missing": 1,
        "unreachable": 0,
    }
    bob.refresh_from_db()
    assert bob.directory_state == DirectoryState.MISSING
    assert client.get("/api/v1/me/").status_code in (401, 403)
    refused = bearer.get("/api/v1/me/")
    assert refused.status_code == 401 and refused.json()["code"] == "user_not_in_directory"
    revoked = AuditEvent.objects.get(action="identity.user_revoked", user=bob)
    assert f"{ldap_dir.user_dn('bob')} no longer exists" in revoked.message
    # carol is untouched; bob cannot sign in again
    assert User.objects.get(username="carol").directory_state == DirectoryState.PRESENT
    assert GENERIC in sign_in(Client(), "bob", "bob-Pass-1").content.decode()


def test_the_periodic_recheck_revokes_disabled_users(client, tenant, ldap_dir, settings):
    from apps.accounts.tasks import revalidate_directory_users

    ldap_provider(tenant, ldap_dir, user_disabled_filter="(employeeType=disabled)")
    assert sign_in(client, "bob", "bob-Pass-1").status_code == 302
    ldap_dir.modify(ldap_dir.user_dn("bob"), [(ldap.MOD_ADD, "employeeType", ["disabled"])])
    settings.PORTAL_DIRECTORY_RECHECK_SECONDS = 0
    assert revalidate_directory_users() == {"acme/corp": 1}
    bob = User.objects.get(username="bob")
    assert bob.directory_state == DirectoryState.DISABLED
    assert client.get("/api/v1/me/").status_code in (401, 403)


def test_an_outage_keeps_access_but_restores_nobody(client, tenant, ldap_dir, boss, api):
    provider = ldap_provider(tenant, ldap_dir)
    assert sign_in(client, "bob", "bob-Pass-1").status_code == 302
    assert sign_in(Client(), "carol", "carol-Pass-1").status_code == 302
    ldap_dir.delete(ldap_dir.user_dn("carol"))
    api(boss).post("/api/v1/users/carol/sync/")
    assert User.objects.get(username="carol").directory_state == DirectoryState.MISSING

    provider.config = {**provider.config, "server_uri": f"ldap://127.0.0.1:{free_port()}"}
    provider.save()
    assert api(boss).post("/api/v1/identity-providers/corp/sync/").status_code == 202
    provider.refresh_from_db()
    assert provider.last_sync["unreachable"] == 2
    assert "unreachable" in provider.last_sync["messages"][0]
    assert User.objects.get(username="bob").directory_state == DirectoryState.UNREACHABLE
    assert client.get("/api/v1/me/").status_code == 200  # the outage locks nobody out
    assert User.objects.get(username="carol").directory_state == DirectoryState.MISSING


def test_a_user_enabled_again_in_the_directory_is_restored_by_sync(
    client, tenant, ldap_dir, boss, api
):
    """Disabled and enabled again (the same entry): access comes back at the next sync. (An
    entry deleted and re-created is another person: see the test after next.)"""
    ldap_provider(tenant, ldap_dir, user_disabled_filter="(employeeType=disabled)")
    assert sign_in(client, "bob", "bob-Pass-1").status_code == 302
    bob_dn = ldap_dir.user_dn("bob")
    ldap_dir.modify(bob_dn, [(ldap.MOD_ADD, "employeeType", ["disabled"])])
    assert api(boss).post("/api/v1/users/bob/sync/").json()["directory_state"] == "disabled"
    assert client.get("/api/v1/me/").status_code in (401, 403)
    ldap_dir.modify(bob_dn, [(ldap.MOD_DELETE, "employeeType", ["disabled"])])
    assert api(boss).post("/api/v1/users/bob/sync/").json()["directory_state"] == "present"
    assert AuditEvent.objects.filter(action="identity.user_restored").exists()


# -- tenants -----------------------------------------------------------------------------------
def test_two_tenants_with_their_own_directories_never_meet(ldap_dir, api):
    acme = TenantFactory(slug="acme")
    globex = TenantFactory(slug="globex")
    ldap_provider(acme, ldap_dir)
    ldap_provider(globex, ldap_dir, name="globex-ldap", suffix=SUFFIXES[1])
    ldap_dir.add_user("gina", "gina-Pass-1", "Gina", suffix=SUFFIXES[1])
    acme_admin = persona(acme, "boss", "administrator", is_staff=True)

    assert sign_in(Client(), "bob", "bob-Pass-1", tenant="acme").status_code == 302
    assert sign_in(Client(), "bob", "bob-Pass-1", tenant="globex").status_code == 302
    assert sign_in(Client(), "gina", "gina-Pass-1", tenant="globex").status_code == 302
    # gina is not in acme's directory
    assert GENERIC in sign_in(Client(), "gina", "gina-Pass-1", tenant="acme").content.decode()

    acme_bob = User.objects.get(tenant=acme, username="bob")
    globex_bob = User.objects.get(tenant=globex, username="bob")
    assert acme_bob.pk != globex_bob.pk
    assert acme_bob.external_id == f"uid=bob,ou=people,{SUFFIXES[0]}"
    assert globex_bob.external_id == f"uid=bob,ou=people,{SUFFIXES[1]}"
    assert globex_bob.identity_provider.name == "globex-ldap"

    client = api(acme_admin)
    listed = {row["username"] for row in client.get("/api/v1/users/").json()["results"]}
    assert listed == {"boss", "bob"}
    assert client.get("/api/v1/users/gina/").status_code == 404
    assert client.get("/api/v1/users/bob/").json()["tenant"] == "acme"
    assert client.post("/api/v1/identity-providers/globex-ldap/sync/").status_code == 404


# -- test connection ---------------------------------------------------------------------------
def probe(api, admin, tenant, name, config, secret=""):
    make_identity_provider(tenant, name=name, config=config, secret=secret)
    response = api(admin).post(f"/api/v1/identity-providers/{name}/test/")
    assert response.status_code == 200, response.content
    return response.json()


def steps(report) -> dict:
    return {step["name"]: (step["ok"], step["detail"]) for step in report["steps"]}


def test_connection_succeeds_step_by_step(api, boss, tenant, ldap_dir):
    report = probe(
        api,
        boss,
        tenant,
        "corp",
        search_config(ldap_dir, require_group=ldap_dir.group_dn("developers")),
        READER_PW,
    )
    assert report["ok"] is True, report
    assert list(steps(report)) == ["dns", "tcp", "bind", "search"]
    assert steps(report)["bind"] == (True, f"bound as {ldap_dir.reader_dn()}")
    assert "4 users match (uid=*) under ou=people" in steps(report)["search"][1]
    assert "3 groups match (objectClass=groupOfNames) under ou=groups" in steps(report)["search"][1]


def test_connection_reports_dns_failure(api, boss, tenant):
    report = probe(
        api,
        boss,
        tenant,
        "corp",
        {"server_uri": "ldap://ldap.invalid", "user_search_base": f"ou=people,{BASE}"},
    )
    assert report["failed_step"] == "dns"
    assert steps(report)["dns"][1].startswith("cannot resolve ldap.invalid")


def test_connection_reports_tls_trust(api, boss, tenant, ldap_dir):
    untrusted = probe(
        api, boss, tenant, "a", search_config(ldap_dir, server_uri=ldap_dir.ldaps_uri)
    )
    assert untrusted["failed_step"] == "tls"
    assert steps(untrusted)["tls"][1].startswith("TLS certificate not trusted")
    trusted = probe(
        api,
        boss,
        tenant,
        "b",
        search_config(ldap_dir, server_uri=ldap_dir.ldaps_uri, ca_cert=ldap_dir.ca_pem),
        READER_PW,
    )
    assert trusted["ok"] is True, trusted
    assert steps(trusted)["tls"][0] is True and "TLSv1" in steps(trusted)["tls"][1]
    starttls = probe(api, boss, tenant, "c", search_config(ldap_dir, start_tls=True))
    assert starttls["failed_step"] == "tls"
    assert steps(starttls)["tls"][1].startswith("TLS certificate not trusted")
    starttls_ok = probe(
        api,
        boss,
        tenant,
        "d",
        search_config(ldap_dir, start_tls=True, ca_cert=ldap_dir.ca_pem),
        READER_PW,
    )
    assert starttls_ok["ok"] is True, starttls_ok
    assert steps(starttls_ok)["tls"][1].startswith("StartTLS, TLSv1")


def test_connection_reports_a_refused_bind(api, boss, tenant, ldap_dir):
    report = probe(api, boss, tenant, "corp", search_config(ldap_dir), "not-the-password")
    assert report["failed_step"] == "bind"
    assert steps(report)["bind"][1] == f"invalid credentials for {ldap_dir.reader_dn()}"
    assert "not-the-password" not in str(report)


def test_connection_reports_a_missing_search_base(api, boss, tenant, ldap_dir):
    config = search_config(ldap_dir, user_search_base=f"ou=nobody,{BASE}")
    report = probe(api, boss, tenant, "corp", config, READER_PW)
    assert report["failed_step"] == "search"
    assert steps(report)["search"][1] == f"user search base 'ou=nobody,{BASE}' does not exist"
    bad_admin = search_config(ldap_dir, admin_groups=[ldap_dir.group_dn("root")])
    report = probe(api, boss, tenant, "corp2", bad_admin, READER_PW)
    assert steps(report)["search"][1] == f"admin group '{ldap_dir.group_dn('root')}' does not exist"
    template = {"server_uri": ldap_dir.uri, "user_dn_template": f"uid=%(user)s,ou=staff,{BASE}"}
    report = probe(api, boss, tenant, "corp3", template)
    assert steps(report)["search"][1] == (
        f"parent of user_dn_template 'ou=staff,{BASE}' does not exist"
    )


def test_a_local_user_is_not_synced(api, boss, tenant):
    UserFactory(tenant=tenant, username="lou")
    response = api(boss).post("/api/v1/users/lou/sync/")
    assert response.status_code == 400
    assert "local account" in str(response.json())


def test_admin_shows_directory_state_and_syncs_selected_users(client, tenant, ldap_dir, boss):
    """The admin's user page shows who vouches for a directory user; its "sync" action asks
    the directory and says what it answered (a local account is refused by name)."""
    ldap_provider(tenant, ldap_dir)
    assert sign_in(Client(), "bob", "bob-Pass-1").status_code == 302
    bob = User.objects.get(username="bob")
    local = UserFactory(tenant=tenant, username="lou")
    client.force_login(boss)
    page = client.get(f"/admin/accounts/user/{bob.pk}/change/").content.decode()
    assert ldap_dir.user_dn("bob") in html.unescape(page)
    assert "Present" in page

    ldap_dir.delete(ldap_dir.user_dn("bob"))
    response = client.post(
        "/admin/accounts/user/",
        {"action": "sync_with_directory", "_selected_action": [bob.pk, local.pk]},
        follow=True,
    )
    text = html.unescape(response.content.decode())
    # (the admin capitalises its messages)
    assert "Bob: Removed from the directory" in text
    assert "Lou: 'lou' is a local account." in text
    bob.refresh_from_db()
    assert bob.directory_state == DirectoryState.MISSING


def test_admin_syncs_a_whole_directory_on_demand(client, tenant, ldap_dir, boss):
    """The admin's provider list has the on-demand sync too (as the API's
    ``…/identity-providers/<name>/sync/``): every user of the directory is asked now, the
    report is shown in the list, and a provider that cannot be synced says why."""
    from tests.factories import make_identity_provider as make_provider

    provider = ldap_provider(tenant, ldap_dir, mirror_groups=True)
    sso = make_provider(tenant, name="sso", type="oidc")
    assert sign_in(Client(), "bob", "bob-Pass-1").status_code == 302
    assert sign_in(Client(), "carol", "carol-Pass-1").status_code == 302
    ldap_dir.delete(ldap_dir.user_dn("bob"))
    ldap_dir.remove_member("developers", "alice")
    ldap_dir.add_member("developers", "carol")
    client.force_login(boss)
    response = client.post(
        "/admin/accounts/identityprovider/",
        {"action": "sync_directory", "_selected_action": [provider.pk, sso.pk]},
        follow=True,
    )
    text = html.unescape(response.content.decode())
    assert "Corp: sync queued" in text
    assert "Sso: Only LDAP directories can be synced on demand." in text
    assert User.objects.get(username="bob").directory_state == DirectoryState.MISSING
    carol = User.objects.get(username="carol")
    assert set(carol.portal_groups.values_list("name", flat=True)) == {"ops", "developers"}
    assert "2 checked, 1 missing, 0 disabled, 0 unreachable, 0 errors" in text
    revoked = AuditEvent.objects.get(action="identity.user_revoked")
    assert revoked.user.username == "bob"


def test_a_re_created_entry_does_not_inherit_the_old_account(client, tenant, ldap_dir, boss):
    """Deleting bob's entry and making a new one with the same DN (say, a new employee
    called Bob) is another person: the new entry's sign-in is refused, and the old account —
    its API keys, groups and history — stops working instead of passing to the newcomer."""
    ldap_provider(tenant, ldap_dir, mirror_groups=True)
    assert sign_in(client, "bob", "bob-Pass-1").status_code == 302
    bob = User.objects.get(username="bob")
    assert bob.external_uid  # OpenLDAP's entryUUID, remembered at the first sign-in
    _, key = make_api_key(bob)
    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert bearer.get("/api/v1/me/").status_code == 200

    ldap_dir.delete(ldap_dir.user_dn("bob"))
    ldap_dir.add_user("bob", "new-Bob-Pass-2", cn="Bob Newcomer")
    refused = sign_in(Client(), "bob", "new-Bob-Pass-2")
    assert refused.status_code == 200
    page = html.unescape(refused.content.decode())
    assert "was deleted and re-created" in page and "must delete that account" in page
    bob.refresh_from_db()
    assert bob.directory_state == DirectoryState.MISSING
    assert bob.display_name != "Bob Newcomer"
    assert bearer.get("/api/v1/me/").json()["code"] == "user_not_in_directory"
    assert client.get("/api/v1/me/").status_code in (401, 403)

    # once an administrator deletes the old account, the newcomer gets a fresh one
    from apps.accounts import services

    services.delete_user(actor=boss, user=bob)
    assert sign_in(Client(), "bob", "new-Bob-Pass-2").status_code == 302
    newcomer = User.objects.get(username="bob")
    assert newcomer.pk != bob.pk and newcomer.display_name == "Bob Newcomer"


def test_sync_finds_a_re_created_entry_gone(client, tenant, ldap_dir, boss, api):
    ldap_provider(tenant, ldap_dir)
    assert sign_in(client, "bob", "bob-Pass-1").status_code == 302
    ldap_dir.delete(ldap_dir.user_dn("bob"))
    ldap_dir.add_user("bob", "new-Bob-Pass-2")
    synced = api(boss).post("/api/v1/users/bob/sync/")
    assert synced.status_code == 200, synced.content
    assert synced.json()["directory_state"] == DirectoryState.MISSING
    revoked = AuditEvent.objects.get(action="identity.user_revoked")
    assert "deleted and re-created" in revoked.message
