"""The authorization API: policies, roles, groups, bindings, API keys, check/explain."""

from datetime import timedelta

import pytest

from apps.accounts.models import APIKey, Group
from apps.authz.models import Binding, Policy, Role
from tests.conftest import PROJECT
from tests.factories import GroupFactory, UserFactory, bind, make_api_key
from tests.matrix import APIMatrix

pytestmark = pytest.mark.django_db

READ_CLUSTERS = [{"actions": ["get*", "list*"], "resources": ["cluster:*"], "effect": "allow"}]


def custom_policy(tenant, name="cluster-reader", statements=None):
    return Policy.objects.create(tenant=tenant, name=name, statements=statements or READ_CLUSTERS)


class TestPolicyMatrix(APIMatrix):
    list_url = "/api/v1/policies/"

    def make_object(self, tenant):
        return custom_policy(tenant, name=f"p{Policy.objects.count()}")

    def lookup(self, obj):
        return obj.name

    def lookup_from_json(self, row):
        return row["name"]

    def create_data(self, tenant):
        return {"name": "ops", "statements": READ_CLUSTERS}

    def update_data(self, obj):
        return {"description": "changed"}


class TestRoleMatrix(APIMatrix):
    list_url = "/api/v1/roles/"

    def make_object(self, tenant):
        return Role.objects.create(tenant=tenant, name=f"r{Role.objects.count()}")

    def lookup(self, obj):
        return obj.name

    def lookup_from_json(self, row):
        return row["name"]

    def create_data(self, tenant):
        return {"name": "operators", "policies": ["read-only"]}

    def update_data(self, obj):
        return {"display_name": "Renamed"}


class TestGroupMatrix(APIMatrix):
    list_url = "/api/v1/groups/"

    def make_object(self, tenant):
        return GroupFactory(tenant=tenant)

    def lookup(self, obj):
        return obj.name

    def lookup_from_json(self, row):
        return row["name"]

    def create_data(self, tenant):
        return {"name": "sre", "members": []}

    def update_data(self, obj):
        return {"description": "changed"}


class TestBindingMatrix(APIMatrix):
    list_url = "/api/v1/bindings/"
    updatable = False

    def make_object(self, tenant):
        return bind(UserFactory(tenant=tenant), "read-only")

    def create_data(self, tenant):
        UserFactory(tenant=tenant, username="newbie")
        return {"user": "newbie", "policy": "read-only", "domain": "*"}


class TestAPIKeyMatrix(APIMatrix):
    """Keys: administrators see and revoke the tenant's; everyone else only their own."""

    list_url = "/api/v1/api-keys/"
    reader = "tenant_admin"
    non_writer = None
    no_permission = None
    updatable = False

    def make_object(self, tenant):
        return make_api_key(UserFactory(tenant=tenant))[0]

    def create_data(self, tenant):
        return {"expires_in": "30m", "description": "ci"}


# -- policies -----------------------------------------------------------------------------
def test_policy_validation_names_each_bad_field(api, tenant_admin):
    response = api(tenant_admin).post(
        "/api/v1/policies/",
        {
            "name": "bad",
            "statements": [
                {"actions": ["getClustr"], "resources": ["cluster:*"]},
                {"actions": ["get*"], "resources": ["not a path"], "effect": "maybe"},
            ],
        },
    )
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert "getClustr" in fields["statements[0].actions"][0]
    assert "not a resource path" in fields["statements[1].resources"][0]
    assert "maybe" in fields["statements[1].effect"][0]


def test_predefined_policies_exist_and_cannot_be_changed(api, tenant_admin, tenant):
    client = api(tenant_admin)
    names = {p["name"] for p in client.get("/api/v1/policies/", {"limit": 100}).json()["results"]}
    assert {
        "administrator",
        "platform-user",
        "viewer",
        "read-only",
        "project-owner",
        "project-member",
        "project-viewer",
        "clusters-full",
        "projects-full",
        "registry-full",
        "monitoring-full",
        "notify-full",
        "audit-read",
    } <= names
    response = client.patch("/api/v1/policies/read-only/", {"description": "mine now"})
    assert response.status_code == 400
    assert "predefined" in response.json()["detail"]
    assert client.delete("/api/v1/policies/administrator/").status_code == 400


# -- escalation ---------------------------------------------------------------------------
@pytest.fixture
def binder(tenant):
    """May manage bindings and read, nothing more."""
    policy = Policy.objects.create(
        tenant=tenant,
        name="binding-manager",
        statements=[
            {
                "actions": ["*Binding*", "get*", "list*", "watch*"],
                "resources": ["*"],
                "effect": "allow",
            }
        ],
    )
    user = UserFactory(tenant=tenant, username="bindy")
    Binding.objects.create(tenant=tenant, user=user, policy=policy)
    return user


def test_binder_cannot_grant_administrator_to_themselves(api, binder, tenant_admin):
    response = api(binder).post(
        "/api/v1/bindings/", {"user": "bindy", "policy": "administrator", "domain": "*"}
    )
    assert response.status_code == 403
    assert "do not hold" in response.json()["detail"]
    assert not Binding.objects.filter(user=binder, policy__name="administrator").exists()


def test_binder_can_grant_what_they_hold(api, binder, member):
    response = api(binder).post(
        "/api/v1/bindings/", {"user": "bob", "policy": "read-only", "domain": "*"}
    )
    assert response.status_code == 201, response.content


def test_no_escalation_through_group_membership(api, binder, tenant):
    admins = GroupFactory(tenant=tenant, name="admins")
    bind(admins, "administrator")
    group_admin = Policy.objects.create(
        tenant=tenant,
        name="group-admin",
        statements=[{"actions": ["*Group*"], "resources": ["group:*"], "effect": "allow"}],
    )
    Binding.objects.create(tenant=tenant, user=binder, policy=group_admin)
    response = api(binder).patch("/api/v1/groups/admins/", {"members": ["bindy"]})
    assert response.status_code == 403
    assert not admins.members.filter(pk=binder.pk).exists()


def test_no_escalation_through_role_or_policy_edits(api, binder, tenant):
    role = Role.objects.create(tenant=tenant, name="mine")
    role.policies.add(Policy.objects.get(tenant=tenant, name="read-only"))
    Binding.objects.create(tenant=tenant, user=binder, role=role)
    mine = custom_policy(tenant, "mine-policy")
    Binding.objects.create(tenant=tenant, user=binder, policy=mine)
    editor = Policy.objects.create(
        tenant=tenant,
        name="editor",
        statements=[
            {"actions": ["*Role*", "*Policy*", "*Policies*"], "resources": ["*"], "effect": "allow"}
        ],
    )
    Binding.objects.create(tenant=tenant, user=binder, policy=editor)
    client = api(binder)
    response = client.patch("/api/v1/roles/mine/", {"policies": ["read-only", "administrator"]})
    assert response.status_code == 403, response.content
    response = client.patch(
        "/api/v1/policies/mine-policy/",
        {"statements": [{"actions": ["*"], "resources": ["*"], "effect": "allow"}]},
    )
    assert response.status_code == 403, response.content
    assert (
        client.post(
            "/api/v1/authz/check/", {"action": "deleteUser", "resource": "user:alice"}
        ).json()["allowed"]
        is False
    )


# -- last administrator -----------------------------------------------------------------------
def test_the_last_administrator_cannot_be_removed(api, tenant_admin, member):
    client = api(tenant_admin)
    binding = Binding.objects.get(user=tenant_admin, policy__name="administrator")
    response = client.delete(f"/api/v1/bindings/{binding.pk}/")
    assert response.status_code == 400
    assert "without an active administrator" in response.json()["detail"]
    response = client.patch("/api/v1/users/alice/", {"is_tenant_admin": False})
    assert response.status_code == 400
    # With a second administrator, the first may step down.
    assert client.patch("/api/v1/users/bob/", {"is_tenant_admin": True}).status_code == 200
    assert client.delete(f"/api/v1/bindings/{binding.pk}/").status_code == 204


# -- immediate revocation --------------------------------------------------------------------
def test_revoked_permission_stops_working_on_the_next_request(api, tenant_admin, tenant):
    reader = UserFactory(tenant=tenant, username="rita")
    binding = bind(reader, "read-only")
    client = api(reader)
    assert client.get("/api/v1/policies/").status_code == 200
    assert api(tenant_admin).delete(f"/api/v1/bindings/{binding.pk}/").status_code == 204
    assert client.get("/api/v1/policies/").status_code == 403


def test_group_membership_change_takes_effect_immediately(api, tenant_admin, tenant):
    readers = GroupFactory(tenant=tenant, name="readers")
    bind(readers, "read-only")
    user = UserFactory(tenant=tenant, username="gina")
    client = api(user)
    assert client.get("/api/v1/roles/").status_code == 403
    admin = api(tenant_admin)
    assert admin.patch("/api/v1/groups/readers/", {"members": ["gina"]}).status_code == 200
    assert client.get("/api/v1/roles/").status_code == 200
    assert admin.patch("/api/v1/groups/readers/", {"members": []}).status_code == 200
    assert client.get("/api/v1/roles/").status_code == 403


# -- check / explain ----------------------------------------------------------------------------
def test_check_for_yourself(api, project_member):
    client = api(project_member)
    body = {"action": "createDeployment", "resource": "cluster:c1/namespace:web/deployment:*"}
    assert client.post("/api/v1/authz/check/", body).json()["allowed"] is False
    allowed = client.post("/api/v1/authz/check/", {**body, "project": PROJECT}).json()
    assert allowed["allowed"] is True
    other = client.post("/api/v1/authz/check/", {**body, "project": "prj-other"}).json()
    assert other["allowed"] is False


def test_explain_names_policy_binding_and_chain(api, tenant_admin, tenant):
    group = GroupFactory(tenant=tenant, name="devs")
    binding = bind(group, "project-viewer", PROJECT)
    user = UserFactory(tenant=tenant, username="dev1")
    group.members.add(user)
    response = api(tenant_admin).get(
        "/api/v1/authz/explain/",
        {
            "user": "dev1",
            "action": "getPod",
            "resource": "cluster:c/namespace:n/pod:p",
            "project": PROJECT,
        },
    )
    body = response.json()
    assert body["allowed"] is True
    assert body["matched"] == [
        {
            "policy": "project-viewer",
            "effect": "allow",
            "action_pattern": "get*",
            "resource_pattern": "*",
            "domain": PROJECT,
            "via": f"group {group.pk} → group binding",
            "binding": binding.pk,
        }
    ]


def test_explicit_deny_wins_and_is_explained(api, tenant_admin, member, tenant):
    deny = Policy.objects.create(
        tenant=tenant,
        name="no-prod-delete",
        statements=[{"actions": ["delete*"], "resources": ["cluster:prod*"], "effect": "deny"}],
    )
    Binding.objects.create(tenant=tenant, user=member, policy=deny)
    body = (
        api(tenant_admin)
        .get(
            "/api/v1/authz/explain/",
            {"user": "bob", "action": "deleteCluster", "resource": "cluster:prod-1"},
        )
        .json()
    )
    assert body["allowed"] is False
    assert body["reason"] == "explicitly denied by policy no-prod-delete"
    assert {m["effect"] for m in body["matched"]} == {"allow", "deny"}


def test_checking_others_needs_permission_and_stays_in_tenant(api, member, viewer, other_user):
    client = api(viewer)
    response = client.get(
        "/api/v1/authz/explain/", {"user": "bob", "action": "getUser", "resource": "user:bob"}
    )
    assert response.status_code == 403
    admin_elsewhere = api(other_user)
    response = admin_elsewhere.get(
        "/api/v1/authz/explain/", {"user": "bob", "action": "getUser", "resource": "user:bob"}
    )
    assert response.status_code == 404


# -- users ------------------------------------------------------------------------------------
def test_admin_disables_enables_and_resets_password(api, tenant_admin, member, client):
    admin = api(tenant_admin)
    _, key = make_api_key(member)
    assert admin.post("/api/v1/users/bob/disable/").json()["is_active"] is False
    from rest_framework.test import APIClient

    bobs = APIClient()
    bobs.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert bobs.get("/api/v1/me/").json()["code"] == "user_disabled"
    assert admin.post("/api/v1/users/bob/enable/").json()["is_active"] is True
    assert bobs.get("/api/v1/me/").status_code == 200
    response = admin.post("/api/v1/users/bob/reset-password/", {"password": "New-pass-4567"})
    assert response.status_code == 204
    assert client.login(username="acme/bob", password="New-pass-4567")


def test_member_cannot_disable_others(api, member, tenant_admin):
    assert api(member).post("/api/v1/users/alice/disable/").status_code == 403


def test_effective_permissions(api, tenant_admin, project_viewer):
    body = api(tenant_admin).get("/api/v1/users/quinn/permissions/", {"project": PROJECT}).json()
    assert [(s["policy"], s["domain"]) for s in body["statements"]] == [("project-viewer", PROJECT)]
    assert api(tenant_admin).get("/api/v1/users/quinn/permissions/").json()["statements"] == []


def test_user_sees_own_permissions_but_not_others(api, viewer, member):
    client = api(viewer)
    assert client.get("/api/v1/users/vic/permissions/").status_code == 200
    assert client.get("/api/v1/users/bob/permissions/").status_code == 404


# -- api keys ------------------------------------------------------------------------------------
def test_everyone_manages_their_own_keys_and_sees_the_secret_once(api, viewer):
    client = api(viewer)
    created = client.post("/api/v1/api-keys/", {"expires_in": "30m", "description": "laptop"})
    assert created.status_code == 201, created.content
    secret = created.json()["key"]
    assert secret.startswith("tkp_")
    key_id = created.json()["id"]
    listed = client.get("/api/v1/api-keys/").json()["results"]
    assert {row["id"] for row in listed} >= {key_id}
    assert all(row["key"] is None for row in listed)
    assert all(row["user"] == "vic" for row in listed)
    assert client.post(f"/api/v1/api-keys/{key_id}/disable/").json()["disabled"] is True
    assert client.post(f"/api/v1/api-keys/{key_id}/enable/").json()["disabled"] is False
    assert client.delete(f"/api/v1/api-keys/{key_id}/").status_code == 204


def test_key_lifetime_is_validated(api, viewer):
    client = api(viewer)
    assert client.post("/api/v1/api-keys/", {"expires_in": "soon"}).json()["fields"]["expires_in"]
    response = client.post("/api/v1/api-keys/", {"expires_in": "400d"})
    assert response.status_code == 400
    assert "one year" in response.json()["detail"]


def test_others_keys_are_invisible_but_admins_revoke_them(api, viewer, member, tenant_admin):
    key, _ = make_api_key(member)
    assert api(viewer).get(f"/api/v1/api-keys/{key.pk}/").status_code == 404
    assert api(viewer).post(f"/api/v1/api-keys/{key.pk}/disable/").status_code == 404
    assert api(tenant_admin).post(f"/api/v1/api-keys/{key.pk}/disable/").status_code == 200
    assert APIKey.objects.get(pk=key.pk).disabled


def test_keys_act_with_owner_permissions_never_more(api, viewer):
    client = api(viewer)
    created = client.post("/api/v1/api-keys/", {"expires_in": "30m"}).json()
    from rest_framework.test import APIClient

    by_key = APIClient()
    by_key.credentials(HTTP_AUTHORIZATION=f"Bearer {created['key']}")
    assert by_key.get("/api/v1/policies/").status_code == 403
    assert (
        by_key.post("/api/v1/bindings/", {"user": "vic", "policy": "administrator"}).status_code
        == 403
    )
    key = APIKey.objects.get(pk=created["id"])
    assert key.expires_at - key.created_at <= timedelta(hours=1)


def test_group_members_are_tenant_scoped(api, tenant_admin, other_user):
    response = api(tenant_admin).post("/api/v1/groups/", {"name": "g1", "members": ["mallory"]})
    assert response.status_code == 400
    assert "members" in response.json()["fields"]
    assert not Group.objects.filter(name="g1").exists()


def test_binder_cannot_grant_more_than_held_even_partially(api, binder, member, tenant):
    """read-only includes watch*; a binder holding get* and list* only may not grant it."""
    narrow = Policy.objects.get(tenant=tenant, name="binding-manager")
    narrow.statements = [
        {"actions": ["*Binding*", "get*", "list*"], "resources": ["*"], "effect": "allow"}
    ]
    narrow.save()
    response = api(binder).post(
        "/api/v1/bindings/", {"user": "bob", "policy": "read-only", "domain": "*"}
    )
    assert response.status_code == 403
