"""Access management in the console: every page's permission matrix, and the writes —
disable/enable a user, create (once) and revoke API keys, policies through the statement
editor, bindings, identity provider tests — authorized and audited as the API does them."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from apps.accounts import sessions
from apps.accounts.models import APIKey, User
from apps.audit.models import AuditEvent
from apps.authz import services as authz_services
from apps.authz.models import Binding, Policy
from tests.console.matrix import ConsoleMatrix
from tests.factories import UserFactory, bind, make_api_key, make_identity_provider

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}

_HERE = "tests.console.test_access."
NOT_PAGES = {
    "console:user-disable": _HERE + "test_administrator_disables_and_enables_a_user",
    "console:user-enable": _HERE + "test_administrator_disables_and_enables_a_user",
    "console:group-members": _HERE + "test_group_members_are_managed_like_the_api",
    "console:api-key-create": _HERE + "test_api_key_is_shown_once_after_a_recent_sign_in",
    "console:api-key-revoke": _HERE + "test_revoking_keys_is_authorized_like_the_api",
    "console:binding-create": _HERE + "test_bindings_are_created_and_removed_by_who_may",
    "console:binding-delete": _HERE + "test_bindings_are_created_and_removed_by_who_may",
    "console:identity-provider-test": _HERE + "test_identity_provider_test_shows_the_step_report",
    "console:identity-provider-sync": _HERE + "test_an_ldap_directory_is_synced_from_its_page",
}


def carol(tenant):
    return User.objects.filter(tenant=tenant, username="carol-acme").first() or UserFactory(
        tenant=tenant, username="carol-acme", display_name="Carol Acme"
    )


def custom_policy(tenant, name="acme-custom", effect="allow"):
    found = Policy.objects.filter(tenant=tenant, name=name).first()
    return found or authz_services.create_policy(
        actor=None,
        tenant=tenant,
        name=name,
        statements=[{"actions": ["getCluster"], "resources": ["cluster:web"], "effect": effect}],
    )


def fresh(client):
    """Mark the session's sign-in as just now (what signing in does)."""
    session = client.session
    session[sessions.AUTH_TIME] = int(time.time())
    session.save()


def stale(client):
    session = client.session
    session[sessions.AUTH_TIME] = int(time.time()) - settings.PORTAL_REAUTH_MAX_AGE - 60
    session.save()


# -- permission matrices -----------------------------------------------------------------------
class TestUsersMatrix(ConsoleMatrix):
    url = "/access/users/"
    expect = "carol-acme"
    no_permission = None  # listUsers is self-service: everyone sees themselves

    def make_object(self, tenant):
        return carol(tenant)

    def every_signed_in_user_may_open_it(self, request, client, tenant):
        viewer = request.getfixturevalue("viewer")
        self.make_object(tenant)
        client.force_login(viewer)
        page = client.get(self.url).content.decode()
        assert "acme/vic" in page and ">vic<" in page and "carol-acme" not in page

    def expect_of_tenant(self, tenant) -> str:
        return "carol-acme"


class TestUserMatrix(ConsoleMatrix):
    url_name = "console:user"
    expect = "Carol Acme"
    no_permission = None
    object_page = True

    def make_object(self, tenant):
        return carol(tenant)

    def url_for(self, tenant) -> str:
        return reverse("console:user", args=[carol(tenant).pk])

    def every_signed_in_user_may_open_it(self, request, client, tenant):
        """A viewer opens their own page; anyone else's is 404 (not listed, not got)."""
        viewer = request.getfixturevalue("viewer")
        client.force_login(viewer)
        assert client.get(reverse("console:user", args=[viewer.pk])).status_code == 200
        assert client.get(self.url_for(tenant)).status_code == 404


class TestGroupsMatrix(ConsoleMatrix):
    url = "/access/groups/"
    expect = "acme-devs"

    def make_object(self, tenant):
        from apps.accounts.models import Group

        return Group.objects.get_or_create(tenant=tenant, name="acme-devs")[0]

    def expect_of_tenant(self, tenant) -> str:
        return "acme-devs"


class TestGroupMatrix(TestGroupsMatrix):
    url = ""
    url_name = "console:group"
    object_page = True

    def url_for(self, tenant) -> str:
        return reverse("console:group", args=["acme-devs"])


class TestAPIKeysMatrix(ConsoleMatrix):
    url = "/access/api-keys/"
    expect = "acme-ci-key"
    no_permission = None  # one's own keys are self-service

    def make_object(self, tenant):
        member = User.objects.filter(tenant=tenant, username="bob").first()
        if member is not None:
            make_api_key(member, description="acme-ci-key")

    def every_signed_in_user_may_open_it(self, request, client, tenant):
        request.getfixturevalue("member")
        self.make_object(tenant)
        client.force_login(request.getfixturevalue("viewer"))
        page = client.get(self.url).content.decode()
        assert 'id="api-keys-table"' in page and "acme-ci-key" not in page

    def expect_of_tenant(self, tenant) -> str:
        return "acme-ci-key"

    def test_reader_sees_the_page(self, request, client, tenant):
        request.getfixturevalue("member")
        super().test_reader_sees_the_page(request, client, tenant)


class TestPoliciesMatrix(ConsoleMatrix):
    url = "/access/policies/"
    expect = "acme-custom"

    def make_object(self, tenant):
        return custom_policy(tenant)

    def expect_of_tenant(self, tenant) -> str:
        return "acme-custom"


class TestPolicyMatrix(TestPoliciesMatrix):
    url = ""
    url_name = "console:policy"
    object_page = True

    def url_for(self, tenant) -> str:
        return reverse("console:policy", args=["acme-custom"])


class TestPolicyNewMatrix(ConsoleMatrix):
    url = "/access/new/policy/"
    expect = 'id="policy-form"'
    reader = "tenant_admin"
    no_permission = "member"  # may read policies, not create them

    def expect_of_tenant(self, tenant) -> str:
        return "acme-custom"


class TestPolicyEditMatrix(ConsoleMatrix):
    url_name = "console:policy-edit"
    expect = "cluster:web"
    reader = "tenant_admin"
    no_permission = "member"
    object_page = True

    def make_object(self, tenant):
        return custom_policy(tenant)

    def url_for(self, tenant) -> str:
        return reverse("console:policy-edit", args=["acme-custom"])


class TestRolesMatrix(ConsoleMatrix):
    url = "/access/roles/"
    expect = "acme-operators"

    def make_object(self, tenant):
        from apps.authz.models import Role

        return Role.objects.filter(tenant=tenant, name="acme-operators").first() or (
            authz_services.create_role(
                actor=None, tenant=tenant, name="acme-operators", policies=[custom_policy(tenant)]
            )
        )

    def expect_of_tenant(self, tenant) -> str:
        return "acme-operators"


class TestRoleMatrix(TestRolesMatrix):
    url = ""
    url_name = "console:role"
    object_page = True

    def url_for(self, tenant) -> str:
        return reverse("console:role", args=["acme-operators"])


class TestRoleNewMatrix(ConsoleMatrix):
    url = "/access/new/role/"
    expect = 'id="role-form"'
    reader = "tenant_admin"
    no_permission = "member"

    def expect_of_tenant(self, tenant) -> str:
        return "acme-custom"


class TestRoleEditMatrix(TestRolesMatrix):
    url = ""
    url_name = "console:role-edit"
    expect = 'id="role-form"'
    reader = "tenant_admin"
    no_permission = "member"
    object_page = True

    def url_for(self, tenant) -> str:
        return reverse("console:role-edit", args=["acme-operators"])


class TestBindingsMatrix(ConsoleMatrix):
    url = "/access/bindings/"
    expect = "carol-acme"

    def make_object(self, tenant):
        user = carol(tenant)
        if not Binding.objects.filter(user=user).exists():
            bind(user, "read-only")

    def expect_of_tenant(self, tenant) -> str:
        return "carol-acme"


class TestIdentityProvidersMatrix(ConsoleMatrix):
    url = "/access/identity-providers/"
    expect = "acme-ldap"

    def make_object(self, tenant):
        from apps.accounts.models import IdentityProvider

        return IdentityProvider.objects.filter(
            tenant=tenant, name="acme-ldap"
        ).first() or make_identity_provider(tenant, name="acme-ldap")

    def expect_of_tenant(self, tenant) -> str:
        return "acme-ldap"


class TestIdentityProviderMatrix(TestIdentityProvidersMatrix):
    url = ""
    url_name = "console:identity-provider"
    object_page = True

    def url_for(self, tenant) -> str:
        return reverse("console:identity-provider", args=["acme-ldap"])


# -- users -----------------------------------------------------------------------------------
def test_user_page_shows_groups_bindings_and_keys(client, tenant, tenant_admin):
    from apps.accounts.models import Group

    user = carol(tenant)
    group = Group.objects.create(tenant=tenant, name="ops")
    group.members.add(user)
    bind(group, "read-only")
    bind(user, "platform-user")
    make_api_key(user, description="carol-laptop")
    client.force_login(tenant_admin)
    page = client.get(reverse("console:user", args=[user.pk])).content.decode()
    assert 'id="user-groups"' in page and ">ops<" in page
    assert "read-only" in page and "platform-user" in page  # direct and through the group
    assert "carol-laptop" in page
    assert 'id="user-disable"' in page
    # effective permissions, as the API's users/<name>/permissions/ gives them
    table = page.split('id="user-permissions"')[1].split("</table>")[0]
    assert "platform-user" in table and "read-only" in table


def test_administrator_disables_and_enables_a_user(client, tenant, tenant_admin, member):
    user = carol(tenant)
    url = reverse("console:user-disable", args=[user.pk])
    # a member may read users but not disable them: the console's refusal, nothing changes
    client.force_login(member)
    refused = client.post(url)
    assert refused.status_code == 403 and "disableUser" in refused.content.decode()
    user.refresh_from_db()
    assert user.is_active
    # the administrator disables (HTMX: the page region comes back)
    client.force_login(tenant_admin)
    response = client.post(url, follow=True, **HTMX)
    assert response.status_code == 200
    assert 'id="user-status">Disabled<' in response.content.decode()
    user.refresh_from_db()
    assert not user.is_active
    # audited once each, under the API's action names: the refusal and the change
    refusal = AuditEvent.objects.filter(action="disableUser", outcome="denied").get()
    assert refusal.user == member and refusal.resource == "user:carol-acme"
    event = AuditEvent.objects.filter(action="disableUser", outcome="success").get()
    assert event.resource == "user:carol-acme" and event.channel == "console"
    assert event.user == tenant_admin
    client.post(reverse("console:user-enable", args=[user.pk]))
    user.refresh_from_db()
    assert user.is_active


def test_disabling_oneself_is_refused_in_the_page(client, tenant, tenant_admin):
    client.force_login(tenant_admin)
    response = client.post(reverse("console:user-disable", args=[tenant_admin.pk]), **HTMX)
    assert response.status_code == 200
    assert 'id="access-error"' in response.content.decode()
    assert "cannot disable yourself" in response.content.decode()
    tenant_admin.refresh_from_db()
    assert tenant_admin.is_active


def test_other_tenant_user_actions_are_404(client, tenant, other_user):
    user = carol(tenant)
    client.force_login(other_user)
    assert client.post(reverse("console:user-disable", args=[user.pk])).status_code == 404
    user.refresh_from_db()
    assert user.is_active


def test_group_members_are_managed_like_the_api(client, tenant, tenant_admin, member):
    from apps.accounts.models import Group

    user = carol(tenant)
    group = Group.objects.create(tenant=tenant, name="ops")
    url = reverse("console:group-members", args=["ops"])
    # a member may read the group but not change it
    client.force_login(member)
    page = client.get(reverse("console:group", args=["ops"])).content.decode()
    assert 'id="group-add-member"' not in page
    assert client.post(url, {"op": "add", "username": "carol-acme"}).status_code == 403
    assert not group.members.exists()
    client.force_login(tenant_admin)
    response = client.post(url, {"op": "add", "username": "carol-acme"}, follow=True, **HTMX)
    assert "carol-acme" in response.content.decode().split('id="group-members"')[1]
    assert list(group.members.all()) == [user]
    assert AuditEvent.objects.filter(
        action="updateGroup", resource="group:ops", outcome="success"
    ).exists()
    missing = client.post(url, {"op": "add", "username": "nobody"}, **HTMX).content.decode()
    assert 'id="access-error"' in missing and "nobody" in missing
    client.post(url, {"op": "remove", "username": "carol-acme"})
    assert not group.members.exists()


def test_adding_to_a_group_grants_only_what_the_actor_holds(client, tenant, member):
    """Adding someone to an administrators' group is granting the administrator policy:
    refused (in the page) to whoever does not hold it."""
    from apps.accounts.models import Group

    authz_services.create_policy(
        actor=None,
        tenant=tenant,
        name="group-keeper",
        statements=[{"actions": ["updateGroup"], "resources": ["group:*"], "effect": "allow"}],
    )
    bind(member, "group-keeper")
    admins = Group.objects.create(tenant=tenant, name="admins")
    bind(admins, "administrator")
    carol(tenant)
    client.force_login(member)
    response = client.post(
        reverse("console:group-members", args=["admins"]),
        {"op": "add", "username": "carol-acme"},
        **HTMX,
    )
    assert response.status_code == 200 and 'id="access-error"' in response.content.decode()
    assert not admins.members.exists()
    assert AuditEvent.objects.get(action="updateGroup").outcome == "denied"


# -- API keys ----------------------------------------------------------------------------------
def test_api_key_is_shown_once_after_a_recent_sign_in(client, tenant, member):
    url = reverse("console:api-key-create")
    client.force_login(member)
    # an old sign-in: re-authentication first, as the API requires; no key is made
    stale(client)
    page = client.post(url, {"description": "ci", "expires_in": "7d"}, **HTMX).content.decode()
    assert 'id="reauth-link"' in page and "/reauth/?next=%2Faccess%2Fapi-keys%2F" in page
    assert not APIKey.objects.filter(user=member).exists()
    assert AuditEvent.objects.get(action="createAPIKey").outcome == "denied"
    # a recent sign-in: the key, once, with a copy button
    fresh(client)
    response = client.post(url, {"description": "ci", "expires_in": "7d"}, **HTMX)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    page = response.content.decode()
    key = APIKey.objects.get(user=member)
    assert 'id="new-key-copy"' in page and 'data-access-copy="#new-key"' in page
    plaintext = page.split('id="new-key" value="')[1].split('"')[0]
    assert plaintext.startswith("tkp_") and key.prefix in plaintext
    # the key works for the API, and is never shown again
    api = client_with_key(plaintext)
    assert api.get("/api/v1/me/").json()["username"] == "bob"
    assert plaintext not in client.get(reverse("console:api-keys")).content.decode()
    event = AuditEvent.objects.filter(action="createAPIKey", outcome="success").get()
    assert event.resource == key.authz_resource
    assert plaintext not in str(event.request_body)


def client_with_key(plaintext):
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return api


def test_api_key_lifetime_errors_name_the_field(client, tenant, member):
    client.force_login(member)
    fresh(client)
    response = client.post(reverse("console:api-key-create"), {"expires_in": "forever"})
    assert response.status_code == 400
    assert "expires_in" in response.content.decode()
    assert not APIKey.objects.filter(user=member).exists()


def test_revoking_keys_is_authorized_like_the_api(client, tenant, member, tenant_admin):
    own, _ = make_api_key(member, description="own")
    admins, _ = make_api_key(tenant_admin, description="admins")
    client.force_login(member)
    listing = client.get(reverse("console:api-keys")).content.decode()
    assert reverse("console:api-key-revoke", args=[own.pk]) in listing
    assert "admins" in listing
    assert reverse("console:api-key-revoke", args=[admins.pk]) not in listing
    # another's key: visible to a reader, but deleting it needs deleteAPIKey on it
    refused = client.post(reverse("console:api-key-revoke", args=[admins.pk]), **HTMX)
    assert refused.status_code == 403
    assert APIKey.objects.filter(pk=admins.pk).exists()
    # one's own: self-service
    response = client.post(reverse("console:api-key-revoke", args=[own.pk]), follow=True, **HTMX)
    assert (
        response.status_code == 200
        and "own"
        not in response.content.decode().split('id="api-keys-table"')[1].split("</table>")[0]
    )
    assert not APIKey.objects.filter(pk=own.pk).exists()
    # the administrator revokes anyone's in the tenant
    client.force_login(tenant_admin)
    kept, _ = make_api_key(member, description="kept")
    client.post(reverse("console:api-key-revoke", args=[kept.pk]))
    assert not APIKey.objects.filter(pk=kept.pk).exists()


def test_other_tenant_cannot_revoke(client, tenant, member, other_user):
    key, _ = make_api_key(member)
    client.force_login(other_user)
    assert client.post(reverse("console:api-key-revoke", args=[key.pk])).status_code == 404
    assert APIKey.objects.filter(pk=key.pk).exists()


# -- policies --------------------------------------------------------------------------------
def editor_post(name="web-readers", **extra):
    data = {
        "name": name,
        "display_name": "Web readers",
        "scope": "platform",
        "s-0-actions": "getCluster\nlist*",
        "s-0-resources": "cluster:web",
        "s-0-effect": "allow",
        "s-1-actions": "deleteCluster",
        "s-1-resources": "cluster:web",
        "s-1-effect": "deny",
        # a row emptied in the editor is a removed statement
        "s-2-actions": "",
        "s-2-resources": "",
        "s-2-effect": "allow",
    }
    data.update(extra)
    return data


def test_policy_editor_creates_and_edits(client, tenant, tenant_admin):
    client.force_login(tenant_admin)
    form = client.get(reverse("console:policy-new")).content.decode()
    # the catalogue is offered as choices, grouped by kind
    assert '<optgroup label="Cluster">' in form and "<option>createDeployment</option>" in form
    response = client.post(reverse("console:policy-new"), editor_post())
    assert response.status_code == 303
    assert response["Location"] == reverse("console:policy", args=["web-readers"])
    policy = Policy.objects.get(tenant=tenant, name="web-readers")
    assert policy.statements == [
        {"actions": ["getCluster", "list*"], "resources": ["cluster:web"], "effect": "allow"},
        {"actions": ["deleteCluster"], "resources": ["cluster:web"], "effect": "deny"},
    ]
    assert AuditEvent.objects.filter(action="createPolicy", resource="policy:web-readers").exists()
    edit = reverse("console:policy-edit", args=["web-readers"])
    assert "deleteCluster" in client.get(edit).content.decode()
    client.post(
        edit, {"s-0-actions": "getCluster", "s-0-resources": "cluster:*", "s-0-effect": "allow"}
    )
    policy.refresh_from_db()
    assert policy.statements == [
        {"actions": ["getCluster"], "resources": ["cluster:*"], "effect": "allow"}
    ]
    assert AuditEvent.objects.filter(action="updatePolicy").exists()


def test_policy_created_through_htmx_goes_to_its_page(client, tenant, tenant_admin):
    client.force_login(tenant_admin)
    response = client.post(reverse("console:policy-new"), editor_post(), **HTMX)
    assert response.status_code == 200
    assert response["HX-Location"] == reverse("console:policy", args=["web-readers"])
    assert Policy.objects.filter(tenant=tenant, name="web-readers").exists()


def test_policy_editor_errors_are_next_to_the_field(client, tenant, tenant_admin):
    client.force_login(tenant_admin)
    response = client.post(
        reverse("console:policy-new"), editor_post(**{"s-1-actions": "getClustr"}), **HTMX
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="s-1-actions-error">&#x27;getClustr&#x27; matches no known action' in page
    # nothing is lost: the other statement and the fields come back as typed
    assert "getCluster\nlist*" in page and 'value="Web readers"' in page
    assert not Policy.objects.filter(name="web-readers").exists()


def test_a_policy_named_new_is_not_shadowed(client, tenant, tenant_admin):
    custom_policy(tenant, name="new")
    client.force_login(tenant_admin)
    page = client.get(reverse("console:policy", args=["new"])).content.decode()
    assert 'id="policy-statements"' in page and "cluster:web" in page
    assert reverse("console:policy-new") != reverse("console:policy", args=["new"])


def test_predefined_policies_are_read_only(client, tenant, tenant_admin):
    client.force_login(tenant_admin)
    page = client.get(reverse("console:policy", args=["administrator"])).content.decode()
    assert 'id="policy-readonly"' in page and 'id="policy-edit"' not in page
    edit = reverse("console:policy-edit", args=["administrator"])
    assert client.get(edit)["Location"] == reverse("console:policy", args=["administrator"])
    response = client.post(edit, editor_post())
    assert response.status_code == 400 and "predefined" in response.content.decode()
    assert Policy.objects.get(tenant=tenant, name="administrator").statements[0]["actions"] == ["*"]


def test_member_cannot_create_policies(client, tenant, member):
    client.force_login(member)
    response = client.post(reverse("console:policy-new"), editor_post(), **HTMX)
    assert response.status_code == 403
    assert not Policy.objects.filter(name="web-readers").exists()
    assert 'id="policy-new"' not in client.get(reverse("console:policies")).content.decode()


# -- roles -----------------------------------------------------------------------------------
def test_roles_are_created_and_edited_with_their_policies(client, tenant, tenant_admin, member):
    from apps.authz.models import Role

    custom_policy(tenant)
    client.force_login(member)
    refused = client.post(reverse("console:role-new"), {"name": "ops", "policies": ["read-only"]})
    assert refused.status_code == 403 and not Role.objects.filter(name="ops").exists()
    client.force_login(tenant_admin)
    form = client.get(reverse("console:role-new")).content.decode()
    assert 'value="acme-custom"' in form and 'value="read-only"' in form
    response = client.post(
        reverse("console:role-new"),
        {"name": "ops", "display_name": "Operators", "policies": ["read-only", "acme-custom"]},
        **HTMX,
    )
    assert response["HX-Location"] == reverse("console:role", args=["ops"])
    role = Role.objects.get(tenant=tenant, name="ops")
    assert sorted(role.policies.values_list("name", flat=True)) == ["acme-custom", "read-only"]
    assert AuditEvent.objects.filter(action="createRole", resource="role:ops").exists()
    edit = reverse("console:role-edit", args=["ops"])
    client.post(edit, {"display_name": "Ops", "policies": ["read-only"]})
    role.refresh_from_db()
    assert role.display_name == "Ops"
    assert list(role.policies.values_list("name", flat=True)) == ["read-only"]
    bad = client.post(edit, {"policies": ["no-such-policy"]}, **HTMX).content.decode()
    assert 'id="access-error"' in bad and "no-such-policy" in bad
    assert list(role.policies.values_list("name", flat=True)) == ["read-only"]


# -- bindings --------------------------------------------------------------------------------
def test_bindings_are_created_and_removed_by_who_may(client, tenant, tenant_admin, member):
    user = carol(tenant)
    data = {
        "subject_kind": "user",
        "subject": "carol-acme",
        "target_kind": "policy",
        "target": "read-only",
        "domain": "*",
    }
    client.force_login(member)
    assert client.post(reverse("console:binding-create"), data).status_code == 403
    assert not Binding.objects.filter(user=user).exists()
    client.force_login(tenant_admin)
    assert client.post(reverse("console:binding-create"), data).status_code == 303
    binding = Binding.objects.get(user=user)
    assert binding.policy.name == "read-only" and binding.domain == "*"
    assert AuditEvent.objects.filter(action="createBinding", resource=binding.authz_resource)
    # an unknown name is an error in the page, naming the field
    bad = client.post(reverse("console:binding-create"), {**data, "subject": "nobody"}, **HTMX)
    assert "subject" in bad.content.decode() and "nobody" in bad.content.decode()
    # the member may not remove it; the administrator may
    client.force_login(member)
    assert client.post(reverse("console:binding-delete", args=[binding.pk])).status_code == 403
    client.force_login(tenant_admin)
    client.post(reverse("console:binding-delete", args=[binding.pk]))
    assert not Binding.objects.filter(pk=binding.pk).exists()


def test_nobody_binds_what_they_do_not_hold(client, tenant, member):
    """A user allowed to create bindings still cannot grant more than they hold (the
    service's guard), and the refusal is shown in the page."""
    authz_services.create_policy(
        actor=None,
        tenant=tenant,
        name="binder",
        statements=[{"actions": ["createBinding"], "resources": ["*"], "effect": "allow"}],
    )
    bind(member, "binder")
    carol(tenant)
    client.force_login(member)
    response = client.post(
        reverse("console:binding-create"),
        {
            "subject_kind": "user",
            "subject": "carol-acme",
            "target_kind": "policy",
            "target": "administrator",
            "domain": "*",
        },
        **HTMX,
    )
    assert response.status_code == 200
    assert "You cannot grant policy &#x27;administrator&#x27;" in response.content.decode()
    assert not Binding.objects.filter(user__username="carol-acme").exists()


# -- identity providers ----------------------------------------------------------------------
def test_identity_provider_test_shows_the_step_report(client, tenant, tenant_admin, member):
    provider = make_identity_provider(tenant, name="acme-ldap", secret="bind-Passw0rd")
    url = reverse("console:identity-provider-test", args=["acme-ldap"])
    client.force_login(member)
    assert client.post(url, **HTMX).status_code == 403
    client.force_login(tenant_admin)
    detail = client.get(reverse("console:identity-provider", args=["acme-ldap"])).content.decode()
    assert "bind-Passw0rd" not in detail and "set (never shown)" in detail
    response = client.post(url, HTTP_HX_TARGET="idp-report", **HTMX)
    page = response.content.decode()
    assert response.status_code == 200 and page.startswith('<div id="idp-report"')
    # nothing listens on 127.0.0.1:1: the probe stops at the TCP step and says why
    assert 'id="idp-steps"' in page and "<code>tcp</code>" in page and "refused" in page
    provider.refresh_from_db()
    assert provider.last_test["failed_step"] == "tcp"
    assert AuditEvent.objects.filter(
        action="testIdentityProvider", resource="identityprovider:acme-ldap"
    ).exists()


def test_an_ldap_directory_is_synced_from_its_page(client, tenant, tenant_admin, member, ldap_dir):
    """ "Sync every user now" on an LDAP provider's page does what ``POST
    /api/v1/identity-providers/<name>/sync/`` does: someone deleted from the directory loses
    access, the page shows the report, members may not, and OIDC providers have no button."""
    from tests.fixtures.ldap import READER_PW

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
    make_identity_provider(tenant, name="sso", type="oidc")
    login = {"tenant": "acme", "username": "carol", "password": "carol-Pass-1"}
    assert Client().post("/login/", login).status_code == 302
    carol = User.objects.get(username="carol")
    page_url = reverse("console:identity-provider", args=["corp"])
    sync_url = reverse("console:identity-provider-sync", args=["corp"])

    client.force_login(member)
    assert client.post(sync_url).status_code == 403
    client.force_login(tenant_admin)
    page = client.get(page_url).content.decode()
    assert 'id="idp-sync-now"' in page and 'id="idp-sync-never"' in page
    assert (
        'id="idp-sync-now"'
        not in client.get(reverse("console:identity-provider", args=["sso"])).content.decode()
    )

    ldap_dir.delete(ldap_dir.user_dn("carol"))
    response = client.post(sync_url)
    assert response.status_code == 303 and response["Location"] == page_url
    carol.refresh_from_db()
    assert carol.directory_state == "missing"
    report = client.get(page_url).content.decode()
    assert 'id="idp-sync-report"' in report
    assert '<dt class="col-sm-2">Removed</dt><dd class="col-sm-10">1</dd>' in report
    assert AuditEvent.objects.filter(
        action="syncIdentityProvider", resource="identityprovider:corp", outcome="success"
    ).exists()
    # an OIDC provider cannot be synced: refused with the reason
    refused = client.post(reverse("console:identity-provider-sync", args=["sso"]))
    assert refused.status_code == 400
    assert "Only LDAP directories can be synced on demand." in refused.content.decode()


# -- query counts ----------------------------------------------------------------------------
def _rows(tenant, admin, n: int, start: int):
    from apps.accounts.models import Group

    for i in range(start, start + n):
        user = UserFactory(tenant=tenant, username=f"user{i}")
        make_api_key(admin, description=f"k{i}")
        group = Group.objects.create(tenant=tenant, name=f"group{i}")
        group.members.add(user)
        policy = custom_policy(tenant, name=f"policy{i}")
        authz_services.create_role(actor=None, tenant=tenant, name=f"role{i}", policies=[policy])
        bind(user, f"policy{i}")
        make_identity_provider(tenant, name=f"idp{i}")


@pytest.mark.parametrize(
    "name",
    ["users", "groups", "api-keys", "policies", "roles", "bindings", "identity-providers"],
)
def test_list_queries_do_not_grow_with_rows(
    client, tenant, tenant_admin, name, django_assert_max_num_queries
):
    _rows(tenant, tenant_admin, 1, 0)
    client.force_login(tenant_admin)
    url = reverse(f"console:{name}")
    client.get(url)
    with django_assert_max_num_queries(40) as few:
        client.get(url)
    baseline = len(few.captured_queries)  # (the next request resets the query log)
    _rows(tenant, tenant_admin, 6, 1)
    client.get(url)  # the policy index is rebuilt once after the new bindings
    with django_assert_max_num_queries(baseline):
        page = client.get(url).content.decode()
    marker = {
        "users": "user6",
        "groups": "group6",
        "api-keys": "k6",
        "policies": "policy6",
        "roles": "role6",
        "bindings": "policy6",
        "identity-providers": "idp6",
    }[name]
    assert marker in page


# -- "Why can't I?" from a refused action --------------------------------------------------------
def _why_link(page: str) -> str:
    import html
    import re

    match = re.search(r'id="why-link" href="([^"]+)"', page)
    assert match, page[:2000]
    return html.unescape(match.group(1))


def _reason(page: str) -> str:
    import html
    import re

    match = re.search(r'<span class="d-block small">([^<]*)</span>', page) or re.search(
        r'<p class="text-body-secondary">([^<]*)</p>', page
    )
    return html.unescape(match.group(1).strip())


def test_a_refused_htmx_action_is_a_fragment_with_the_why_link(client, tenant, member):
    user = carol(tenant)
    client.force_login(member)
    response = client.post(reverse("console:user-disable", args=[user.pk]), **HTMX)
    page = response.content.decode()
    assert response.status_code == 403
    assert response["HX-Retarget"] == "#main" and response["HX-Reselect"] == "#refusal"
    assert response["X-Console-Refusal"] == "1"
    assert page.startswith('<div class="alert alert-danger portal-refusal" id="refusal"')
    assert "<html" not in page and "disableUser" in page and "user:carol-acme" in page
    # without HTMX: the console's whole 403 page, with the same link
    full = client.post(reverse("console:user-disable", args=[user.pk])).content.decode()
    assert 'id="forbidden"' in full and _why_link(full) == _why_link(page)


@pytest.mark.parametrize(
    "who, method, target",
    [
        ("member", "post", "user-disable"),
        ("member", "post", "api-key-revoke"),
        ("member", "post", "policy-new"),
        ("member", "post", "identity-provider-test"),
        ("member", "get", "policy-edit"),
        ("viewer", "get", "policies"),
        ("viewer", "get", "bindings"),
    ],
)
def test_why_agrees_with_the_refusal(request, client, tenant, tenant_admin, who, method, target):
    """The explanation the link opens refuses the same action on the same resource, for the
    same reason the page gave."""
    user = carol(tenant)
    key, _ = make_api_key(tenant_admin)
    custom_policy(tenant)
    make_identity_provider(tenant, name="acme-ldap")
    args = {
        "user-disable": [user.pk],
        "api-key-revoke": [key.pk],
        "identity-provider-test": ["acme-ldap"],
        "policy-edit": ["acme-custom"],
    }.get(target, [])
    client.force_login(request.getfixturevalue(who))
    response = getattr(client, method)(reverse(f"console:{target}", args=args), **HTMX)
    assert response.status_code == 403, response.content[:500]
    refusal = response.content.decode()
    why = client.get(_why_link(refusal))
    verdict = why.content.decode()
    assert why.status_code == 200 and 'id="why-verdict"' in verdict
    assert "<strong>Refused</strong>" in verdict
    # the same question: the action and resource of the refusal fill the explanation's form
    link = _why_link(refusal)
    from urllib.parse import parse_qs, urlsplit

    asked = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    assert f'id="why-action" name="action" value="{asked["action"]}"' in verdict
    assert f'name="resource" value="{asked["resource"]}"' in verdict
    if asked["resource"] != "*":
        # a refusal about one object gives the policy layer's own reason, word for word
        stated = _reason(refusal)
        assert stated and stated in verdict


def test_platform_admin_pages_by_name_need_a_tenant_when_names_collide(
    client, tenant, other_tenant, platform_admin
):
    custom_policy(tenant, name="shared")
    custom_policy(other_tenant, name="shared")
    client.force_login(platform_admin)
    url = reverse("console:policy", args=["shared"])
    assert client.get(url).status_code == 404  # every tenant at once: which one?
    client.post(reverse("console:tenant-switch"), {"tenant": "globex", "next": "/"})
    page = client.get(url).content.decode()
    assert 'id="policy-statements"' in page
    assert client.get(reverse("console:policies")).content.decode().count(">shared<") == 1


@pytest.mark.parametrize(
    "path",
    [
        "/access/users/",
        "/access/groups/",
        "/access/api-keys/",
        "/access/policies/",
        "/access/new/policy/",
        "/access/roles/",
        "/access/new/role/",
        "/access/bindings/",
        "/access/identity-providers/",
        "/audit/",
    ],
)
def test_pages_speak_chinese(client, tenant, tenant_admin, path):
    client.force_login(tenant_admin)
    client.post("/i18n/setlang/", {"language": "zh-hans"})
    page = client.get(path).content.decode()
    assert '<html lang="zh-hans">' in page
    heading = page.split("<h1", 1)[1].split("</h1>", 1)[0]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in heading), heading
