"""No one acts above themselves: acting on a user, a binding, a deny, a membership or a key
needs at least what it would grant, remove or reach (DESIGN.md, security baseline).

Peer advisories of this class: Rancher CVE-2019-12303 (a project owner could add a
binding that gave them more than they held), Kubernetes' own RBAC escalation guard (no
binding of a role one does not hold, the rule ``_require_holds`` mirrors) and, for the key
findings, CVE-2018-1002105's lesson that a credential must reach no further than the
connection it was issued for. The findings themselves are issue 8's "Accounts and
policies" section.

The REST API through Django's test client, the admin, the sign-in page, and — for the
cluster-limited kubeconfig key — the live portal under uvicorn with kubesim and kubectl.
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
import requests
import yaml
from django.contrib.auth.hashers import check_password
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts.authentication import authenticate_api_key
from apps.accounts.models import APIKey, Group, User
from apps.authz import check
from apps.authz.models import Binding, Policy, Role
from apps.authz.services import create_policy, create_role, is_administrator
from apps.clusters import k8s
from apps.clusters import services as cluster_services
from tests.factories import PASSWORD, GroupFactory, UserFactory, bind, make_api_key
from tests.live import *  # noqa: F403
from tests.live import Kubectl, fetch_kubeconfig

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Stolen-battery-77"


def holding(tenant, username, actions, resources=("*",), *, extra=("viewer",), **fields):
    """A user bound to one custom policy (``actions`` on ``resources``) and the ``extra``
    predefined policies."""
    policy = create_policy(
        actor=None,
        tenant=tenant,
        name=f"only-{username}",
        statements=[{"actions": list(actions), "resources": list(resources), "effect": "allow"}],
    )
    user = UserFactory(tenant=tenant, username=username, **fields)
    bind(user, policy.name)
    for name in extra:
        bind(user, name)
    return user


@pytest.fixture
def lesser(tenant):
    """Holds less than any actor below: the login-only viewer policy they all hold too."""
    user = UserFactory(tenant=tenant, username="lou")
    bind(user, "viewer")
    return user


@pytest.fixture
def second_admin(tenant):
    """Another administrator, so disabling or demoting alice never trips the
    last-administrator guard (that guard must not be what refuses below)."""
    user = UserFactory(tenant=tenant, username="ada", is_staff=True)
    bind(user, "administrator")
    return user


def _state(user: User) -> dict:
    """What an action on a user could change, read back from the database."""
    row = User.objects.filter(pk=user.pk).first()
    if row is None:
        return {"exists": False}
    return {
        "exists": True,
        "password": row.password,
        "is_active": row.is_active,
        "display_name": row.display_name,
        "administrator": is_administrator(row),
    }


# Each user action: (action name, how to call it on a username, a setup for the target).
def _patch(client, name, body):
    return client.patch(f"/api/v1/users/{name}/", body)


USER_ACTIONS = {
    "updateUser": lambda client, name: _patch(client, name, {"display_name": "Owned"}),
    "updateUser-password": lambda client, name: _patch(client, name, {"password": NEW_PASSWORD}),
    "updateUser-admin-toggle": lambda client, name: _patch(
        client, name, {"is_tenant_admin": False}
    ),
    "disableUser": lambda client, name: client.post(f"/api/v1/users/{name}/disable/"),
    "enableUser": lambda client, name: client.post(f"/api/v1/users/{name}/enable/"),
    "resetUserPassword": lambda client, name: client.post(
        f"/api/v1/users/{name}/reset-password/", {"password": NEW_PASSWORD}
    ),
    "deleteUser": lambda client, name: client.delete(f"/api/v1/users/{name}/"),
}


@pytest.mark.parametrize("operation", sorted(USER_ACTIONS))
def test_a_user_holding_only_the_action_cannot_do_it_to_the_tenant_administrator(
    api, tenant, tenant_admin, second_admin, operation
):
    """Issue 8, high (the Rancher CVE-2019-12303 class): ``resetUserPassword`` or
    ``updateUser`` on ``user:*`` is not enough to act on someone who holds more — the
    answer is 403 naming why, and the administrator's row is unchanged."""
    action = operation.split("-")[0]
    actor = holding(tenant, "eve", ["getUser", action], ["user:*"])
    if action == "enableUser":
        User.objects.filter(pk=tenant_admin.pk).update(is_active=False)
    before = _state(tenant_admin)

    response = USER_ACTIONS[operation](api(actor), "alice")

    assert response.status_code == 403, response.content
    body = response.json()
    assert body["code"] == "permission_denied"
    assert "user 'alice'" in body["detail"]
    assert "at least every permission they hold" in body["detail"]
    assert _state(tenant_admin) == before


@pytest.mark.parametrize("operation", sorted(set(USER_ACTIONS) - {"updateUser-admin-toggle"}))
def test_the_same_user_may_do_it_to_someone_who_holds_less(
    api, tenant, tenant_admin, lesser, operation
):
    """The guard compares holdings; it does not forbid the action: the target here holds
    only what the actor holds too, so every action succeeds and is stored."""
    action = operation.split("-")[0]
    actor = holding(tenant, "eve", ["getUser", action], ["user:*"])
    if action == "enableUser":
        User.objects.filter(pk=lesser.pk).update(is_active=False)
    before = _state(lesser)

    response = USER_ACTIONS[operation](api(actor), "lou")

    assert response.status_code in (200, 204), response.content
    after = _state(lesser)
    expected = {
        "updateUser": ("display_name", "Owned"),
        "disableUser": ("is_active", False),
        "enableUser": ("is_active", True),
        "deleteUser": ("exists", False),
    }
    if action in expected and operation != "updateUser-password":
        field, value = expected[action]
        assert after[field] == value and before[field] != value
    else:  # a password was set
        assert check_password(NEW_PASSWORD, after["password"])


def test_admin_status_of_a_lesser_user_is_still_only_granted_by_who_holds_it(
    api, tenant, lesser, tenant_admin
):
    """The admin toggle on a user who holds less: granting administrator needs holding
    everything (the escalation guard grants use), revoking it needs acting on the target."""
    actor = holding(tenant, "eve", ["getUser", "updateUser"], ["user:*"])
    granted = _patch(api(actor), "lou", {"is_tenant_admin": True})
    assert granted.status_code == 403, granted.content
    assert not is_administrator(User.objects.get(pk=lesser.pk))
    by_admin = _patch(api(tenant_admin), "lou", {"is_tenant_admin": True})
    assert by_admin.status_code == 200, by_admin.content
    assert is_administrator(User.objects.get(pk=lesser.pk))


def test_reset_password_then_sign_in_as_the_administrator_fails_end_to_end(
    api, tenant, tenant_admin
):
    """The finding's chain: reset alice's password as a helpdesk user, sign in as alice.
    The reset is refused, so the new password does not open a session; hers still does."""
    helpdesk = holding(tenant, "eve", ["getUser", "listUsers", "resetUserPassword"], ["user:*"])
    reset = api(helpdesk).post("/api/v1/users/alice/reset-password/", {"password": NEW_PASSWORD})
    assert reset.status_code == 403, reset.content

    browser = Client()
    page = browser.post("/login/", {"username": "acme/alice", "password": NEW_PASSWORD})
    assert page.status_code == 200 and "_auth_user_id" not in browser.session
    assert "Wrong tenant/username or password" in page.content.decode()
    signed_in = browser.post("/login/", {"username": "acme/alice", "password": PASSWORD})
    assert signed_in.status_code == 302
    assert browser.session["_auth_user_id"] == str(tenant_admin.pk)


def test_the_admin_password_form_applies_the_same_guard(tenant, tenant_admin):
    """The Django admin's "change password" form is the same door as reset-password: a staff
    user allowed updateUser/resetUserPassword on user:* gets the admin's 403, and alice's
    password is unchanged."""
    staff = holding(
        tenant,
        "eve",
        ["getUser", "listUsers", "updateUser", "resetUserPassword"],
        ["user:*"],
        is_staff=True,
    )
    browser = Client()
    browser.force_login(staff)
    url = f"/admin/accounts/user/{tenant_admin.pk}/password/"
    assert browser.get(url).status_code == 403
    posted = browser.post(url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert posted.status_code == 403
    assert User.objects.get(pk=tenant_admin.pk).check_password(PASSWORD)
    edited = browser.post(
        f"/admin/accounts/user/{tenant_admin.pk}/change/",
        {
            "username": "alice",
            "display_name": "Owned",
            "email": "x@example.test",
            "phone": "",
            "is_active": "on",
            "is_staff": "on",
        },
    )
    assert edited.status_code == 403
    assert User.objects.get(pk=tenant_admin.pk).display_name == tenant_admin.display_name


# -- another user's API keys -----------------------------------------------------------------
KEY_ACTIONS = {
    "disableAPIKey": lambda client, key: client.post(f"/api/v1/api-keys/{key.pk}/disable/"),
    "enableAPIKey": lambda client, key: client.post(f"/api/v1/api-keys/{key.pk}/enable/"),
    "deleteAPIKey": lambda client, key: client.delete(f"/api/v1/api-keys/{key.pk}/"),
}


def _key_state(key: APIKey):
    row = APIKey.objects.filter(pk=key.pk).first()
    return None if row is None else (row.disabled, row.disabled_by_id, row.expires_at)


@pytest.mark.parametrize("action", sorted(KEY_ACTIONS))
def test_keys_of_someone_who_holds_more_are_out_of_reach(api, tenant, tenant_admin, action):
    """disable/enable/delete on ``user:*/apikey:*`` does not reach the keys of a user who
    holds more (enabling a key alice disabled would hand back a credential of hers)."""
    actor = holding(tenant, "eve", ["getAPIKey", action], ["user:*"])
    key, plaintext = make_api_key(tenant_admin)
    if action == "enableAPIKey":
        APIKey.objects.filter(pk=key.pk).update(disabled=True, disabled_by=tenant_admin)
    before = _key_state(key)

    response = KEY_ACTIONS[action](api(actor), key)

    assert response.status_code == 403, response.content
    assert "user 'alice'" in response.json()["detail"]
    assert _key_state(key) == before


@pytest.mark.parametrize("action", sorted(KEY_ACTIONS))
def test_keys_of_someone_who_holds_less_are_in_reach(api, tenant, tenant_admin, lesser, action):
    actor = holding(tenant, "eve", ["getAPIKey", action], ["user:*"])
    key, _ = make_api_key(lesser)
    if action == "enableAPIKey":
        APIKey.objects.filter(pk=key.pk).update(disabled=True, disabled_by=actor)

    response = KEY_ACTIONS[action](api(actor), key)

    assert response.status_code in (200, 204), response.content
    expected = {"disableAPIKey": True, "enableAPIKey": False}
    if action == "deleteAPIKey":
        assert _key_state(key) is None
    else:
        assert _key_state(key)[0] is expected[action]


def test_an_administrators_disable_sticks(api, tenant_admin, member):
    """Issue 8, low: the owner cannot re-enable a key an administrator disabled; the
    administrator can; and a key the owner disabled themselves they re-enable."""
    key, plaintext = make_api_key(member)
    owner = api(member)
    assert api(tenant_admin).post(f"/api/v1/api-keys/{key.pk}/disable/").status_code == 200
    stored = APIKey.objects.get(pk=key.pk)
    assert stored.disabled and stored.disabled_by == tenant_admin

    refused = owner.post(f"/api/v1/api-keys/{key.pk}/enable/")
    assert refused.status_code == 403, refused.content
    assert "disabled by alice" in refused.json()["detail"]
    assert APIKey.objects.get(pk=key.pk).disabled
    with pytest.raises(Exception, match="disabled"):
        authenticate_api_key(plaintext)

    assert api(tenant_admin).post(f"/api/v1/api-keys/{key.pk}/enable/").status_code == 200
    assert authenticate_api_key(plaintext).pk == key.pk

    assert owner.post(f"/api/v1/api-keys/{key.pk}/disable/").status_code == 200
    assert APIKey.objects.get(pk=key.pk).disabled_by == member
    assert owner.post(f"/api/v1/api-keys/{key.pk}/enable/").status_code == 200
    assert not APIKey.objects.get(pk=key.pk).disabled


def test_a_key_cannot_mint_a_key_that_outlives_it(member):
    """Issue 8, low: a 7-day key created a 1-year key. Now a longer lifetime is a 400 naming
    ``expires_in`` and no key is created; a shorter one is fine."""
    parent, plaintext = make_api_key(member, expires_in=timedelta(days=7))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    before = APIKey.objects.count()

    longer = client.post("/api/v1/api-keys/", {"expires_in": "52w"})
    assert longer.status_code == 400, longer.content
    assert "cannot outlive it" in longer.json()["fields"]["expires_in"][0]
    assert APIKey.objects.count() == before

    shorter = client.post("/api/v1/api-keys/", {"expires_in": "6d"})
    assert shorter.status_code == 201, shorter.content
    assert APIKey.objects.get(pk=shorter.json()["id"]).expires_at < parent.expires_at


# -- explicit denies ----------------------------------------------------------------------------
DENIED = ("deleteCluster", "cluster:prod")
MANAGER_ACTIONS = [
    "get*",
    "list*",
    "updateGroup",
    "deleteGroup",
    "deleteBinding",
    "updatePolicy",
    "deletePolicy",
    "updateRole",
    "deleteRole",
]


@pytest.fixture
def restrict_dan(tenant):
    """``restrict_dan(via)``: dan may manage groups, bindings, policies and roles and do what
    a platform user does — except delete clusters, denied through exactly one path: his
    group's binding (``group``), a role bound to him (``role``) or a binding of the deny
    policy to him (``policy``). One path only, so lifting it would really lift the deny."""

    def make(via: str) -> SimpleNamespace:
        deny = create_policy(
            actor=None,
            tenant=tenant,
            name="no-cluster-delete",
            statements=[
                {"actions": ["deleteCluster"], "resources": ["cluster:*"], "effect": "deny"}
            ],
        )
        dan = holding(tenant, "dan", MANAGER_ACTIONS, extra=("platform-user",))
        rows = SimpleNamespace(dan=dan, deny=deny, group=None, role=None, binding=None)
        if via == "group":
            rows.group = GroupFactory(tenant=tenant, name="restricted")
            rows.group.members.add(dan)
            rows.binding = bind(rows.group, deny.name)
        elif via == "role":
            rows.role = create_role(actor=None, tenant=tenant, name="guarded", policies=[deny])
            rows.binding = Binding.objects.create(tenant=tenant, user=dan, role=rows.role)
        else:
            rows.binding = bind(dan, deny.name)
        assert _denied(dan, tenant)
        return rows

    return make


def _denied(dan, tenant) -> bool:
    return not check(User.objects.get(pk=dan.pk), *DENIED, tenant=tenant).allowed


def _rows(r: SimpleNamespace) -> tuple:
    """Everything a lifting attempt could change, read back from the database."""
    return (
        sorted(r.group.members.values_list("pk", flat=True)) if r.group else None,
        Group.objects.filter(name="restricted").exists(),
        Binding.objects.filter(pk=r.binding.pk).exists(),
        Policy.objects.filter(pk=r.deny.pk).values_list("statements", flat=True).first(),
        sorted(Role.objects.filter(name="guarded").values_list("policies", flat=True)),
    )


# how → (the path the deny comes through, the request that would lift it)
DENY_LIFTS = {
    "leave the group": (
        "group",
        lambda c, r: c.patch(f"/api/v1/groups/{r.group.name}/", {"members": []}),
    ),
    "delete the group": ("group", lambda c, r: c.delete(f"/api/v1/groups/{r.group.name}/")),
    "delete the group's binding": (
        "group",
        lambda c, r: c.delete(f"/api/v1/bindings/{r.binding.pk}/"),
    ),
    "delete the role's binding": (
        "role",
        lambda c, r: c.delete(f"/api/v1/bindings/{r.binding.pk}/"),
    ),
    "take the policy out of the role": (
        "role",
        lambda c, r: c.patch("/api/v1/roles/guarded/", {"policies": []}),
    ),
    "delete the role": ("role", lambda c, r: c.delete("/api/v1/roles/guarded/")),
    "delete the policy's binding": (
        "policy",
        lambda c, r: c.delete(f"/api/v1/bindings/{r.binding.pk}/"),
    ),
    # (to statements dan holds, so the grant check passes and only the lifted deny is left)
    "edit the deny policy": (
        "policy",
        lambda c, r: c.patch(
            "/api/v1/policies/no-cluster-delete/",
            {"statements": [{"actions": ["getCluster"], "resources": ["cluster:*"]}]},
        ),
    ),
    "delete the deny policy": (
        "policy",
        lambda c, r: c.delete("/api/v1/policies/no-cluster-delete/"),
    ),
}


@pytest.mark.parametrize("how", sorted(DENY_LIFTS))
def test_a_user_under_a_deny_cannot_lift_it(api, tenant, tenant_admin, restrict_dan, how):
    """Issue 8, medium: the restricted user left the group, deleted the binding, edited or
    deleted the deny policy (also: emptied or deleted the role). Each is a 403 naming the
    deny, nothing changes, and the deny still applies afterwards (asked of the permission
    layer itself)."""
    via, lift = DENY_LIFTS[how]
    restricted = restrict_dan(via)
    before = _rows(restricted)

    response = lift(api(restricted.dan), restricted)

    assert response.status_code == 403, (how, response.content)
    detail = response.json()["detail"]
    assert "lift the deny deleteCluster on cluster:*" in detail and "user 'dan'" in detail
    assert _rows(restricted) == before
    assert _denied(restricted.dan, tenant)


@pytest.mark.parametrize("how", sorted(DENY_LIFTS))
def test_a_tenant_administrator_may_lift_it(api, tenant, tenant_admin, restrict_dan, how):
    """The guard refuses lifting from below, not lifting: the administrator's same request
    succeeds, and the deny is gone."""
    via, lift = DENY_LIFTS[how]
    restricted = restrict_dan(via)
    before = _rows(restricted)

    response = lift(api(tenant_admin), restricted)

    assert response.status_code in (200, 204), (how, response.content)
    assert _rows(restricted) != before
    assert not _denied(restricted.dan, tenant)


def test_a_tenant_administrator_may_lift_a_deny_on_themselves(api, tenant, tenant_admin):
    deny = create_policy(
        actor=None,
        tenant=tenant,
        name="no-cluster-delete",
        statements=[{"actions": ["deleteCluster"], "resources": ["cluster:*"], "effect": "deny"}],
    )
    binding = bind(tenant_admin, deny.name)
    assert _denied(tenant_admin, tenant)
    response = api(tenant_admin).delete(f"/api/v1/bindings/{binding.pk}/")
    assert response.status_code == 204, response.content
    assert not _denied(tenant_admin, tenant)


def test_someone_who_holds_the_denied_actions_may_lift_it_for_another(
    api, tenant, tenant_admin, restrict_dan
):
    """Lifting a deny is granting what it denies: a user who holds ``deleteCluster`` (and may
    delete bindings) can remove dan's deny binding; a user who does not, cannot."""
    restricted = restrict_dan("policy")
    binding = restricted.binding
    weaker = holding(tenant, "wes", ["getBinding", "deleteBinding"], ["binding:*"])
    refused = api(weaker).delete(f"/api/v1/bindings/{binding.pk}/")
    assert refused.status_code == 403, refused.content
    assert Binding.objects.filter(pk=binding.pk).exists()
    assert _denied(restricted.dan, tenant)

    stronger = holding(
        tenant, "sam", ["getBinding", "deleteBinding"], ["binding:*"], extra=("platform-user",)
    )
    response = api(stronger).delete(f"/api/v1/bindings/{binding.pk}/")
    assert response.status_code == 204, response.content
    assert not Binding.objects.filter(pk=binding.pk).exists()
    assert not _denied(restricted.dan, tenant)


def test_a_deny_still_imposed_another_way_is_not_lifted(api, tenant, tenant_admin, restrict_dan):
    """The guard compares what dan holds before and after: leaving one of two groups that
    both deny the same thing lifts nothing, so it is allowed (and the deny stays)."""
    restricted = restrict_dan("group")
    twin = GroupFactory(tenant=tenant, name="restricted-too")
    twin.members.add(restricted.dan)
    bind(twin, restricted.deny.name)
    response = api(restricted.dan).patch("/api/v1/groups/restricted/", {"members": []})
    assert response.status_code == 200, response.content
    assert not restricted.group.members.filter(pk=restricted.dan.pk).exists()
    assert _denied(restricted.dan, tenant)


# -- sign-in lockout ------------------------------------------------------------------------------
def test_lockout_counts_one_account_whatever_name_form_is_typed(client, member, settings):
    """Issue 8, low: ``bob``, ``acme/bob`` and ``ACME/Bob`` are one account, so five failures
    spread over the three spellings lock it (before, each spelling had its own five)."""
    assert settings.PORTAL_LOGIN_MAX_FAILURES == 5
    for name in ("bob", "bob", "acme/bob", "acme/bob"):
        page = client.post("/login/", {"username": name, "password": "wrong"})
        assert "Wrong tenant/username or password" in page.content.decode()
    # The fifth failure, whichever spelling, reaches the one account's limit and says so.
    fifth = client.post("/login/", {"username": "ACME/Bob", "password": "wrong"})
    assert "Too many failed sign-ins for this account" in fifth.content.decode()
    locked = client.post("/login/", {"username": "acme/bob", "password": PASSWORD})
    assert "Too many failed sign-ins" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    bare = client.post("/login/", {"username": "bob", "password": PASSWORD})
    assert "Too many failed sign-ins" in bare.content.decode()
    assert "_auth_user_id" not in client.session


def test_lockout_of_one_account_leaves_a_namesake_elsewhere_alone(client, member, other_tenant):
    """An ambiguous bare name counts under the name, not against either account."""
    UserFactory(tenant=other_tenant, username="bob")
    for _ in range(5):
        client.post("/login/", {"username": "bob", "password": "wrong"})
    assert client.post("/login/", {"username": "acme/bob", "password": PASSWORD}).status_code == 302
    client.logout()
    assert (
        client.post("/login/", {"username": "globex/bob", "password": PASSWORD}).status_code == 302
    )


# -- kubeconfig keys reach their cluster only (live portal) --------------------------------------
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("live_state")
def test_a_kubeconfig_key_works_only_for_kubectl_on_its_cluster(
    portal, live_cluster, tenant, member, cluster, tmp_path
):
    """Issue 8, low: the kubeconfig key reached the whole REST API. Now: kubectl on its
    cluster works; the REST API (``/api/v1/me/``, minting keys) is a 403 saying why;
    another cluster of the same tenant, which the user may use with a general key, is a 403
    Status at the proxy; its own kubeconfig endpoint mints a key no longer-lived than it."""
    other = cluster_services.import_cluster(
        actor=member,
        tenant=tenant,
        display_name="staging",
        spec=k8s.Connection(
            server=live_cluster.url, token=live_cluster.token, ca_data=live_cluster.ca_data
        ),
    )
    text, token = fetch_kubeconfig(portal, member, cluster, expires_in="2h")
    stored = APIKey.objects.get(prefix=token.split("_")[1])
    assert stored.cluster == cluster

    kubectl = Kubectl(text, tmp_path / "bob", token)
    assert '"gitVersion"' in kubectl("get", "--raw", "/version").stdout

    def call(method, path, key, **kwargs):
        return requests.request(
            method,
            f"{portal.url}{path}",
            headers={"Authorization": f"Bearer {key}"},
            verify=portal.ca_file,
            timeout=10,
            **kwargs,
        )

    me = call("GET", "/api/v1/me/", token)
    assert me.status_code == 403, me.text
    assert me.json()["code"] == "api_key_limited_to_cluster"
    assert cluster.name in me.json()["detail"]
    minted = call("POST", "/api/v1/api-keys/", token, json={"expires_in": "1h"})
    assert minted.status_code == 403, minted.text

    elsewhere = call("GET", f"/k8s/clusters/{other.name}/api/v1/namespaces", token)
    assert elsewhere.status_code == 403, elsewhere.text
    status = elsewhere.json()
    assert status["kind"] == "Status" and status["code"] == 403
    assert f"issued for cluster {cluster.name} only" in status["message"]
    _, general = make_api_key(member)
    assert call("GET", f"/k8s/clusters/{other.name}/api/v1/namespaces", general).status_code == 200

    other_kubeconfig = call("POST", f"/api/v1/clusters/{other.name}/kubeconfig", token)
    assert other_kubeconfig.status_code == 403, other_kubeconfig.text
    again = call("POST", f"/api/v1/clusters/{cluster.name}/kubeconfig", token, json={})
    assert again.status_code == 200, again.text
    child = authenticate_api_key(
        yaml.safe_load(again.json()["kubeconfig"])["users"][0]["user"]["token"]
    )
    assert child.cluster == cluster and child.expires_at <= stored.expires_at
