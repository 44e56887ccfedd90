"""The decision layer itself: SQL restriction, project domains, guardian grants, caching."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from guardian.shortcuts import assign_perm

from apps.accounts.models import User
from apps.authz import can_any, check, restrict
from apps.authz.enforcer import forget_all, index_for_tenant
from apps.authz.models import Binding, Policy
from tests.conftest import PROJECT
from tests.factories import UserFactory, bind

pytestmark = pytest.mark.django_db


def grant(tenant, user, statements, name="custom"):
    policy = Policy.objects.create(tenant=tenant, name=name, statements=statements)
    return Binding.objects.create(tenant=tenant, user=user, policy=policy)


def test_restrict_filters_lists_in_sql_by_resource_pattern(tenant):
    for name in ("build-1", "build-2", "deploy-1"):
        UserFactory(tenant=tenant, username=name)
    limited = UserFactory(tenant=tenant, username="limited")
    grant(
        tenant,
        limited,
        [
            {"actions": ["list*"], "resources": ["user:build-*"], "effect": "allow"},
            {"actions": ["listUsers"], "resources": ["user:build-2"], "effect": "deny"},
        ],
    )
    queryset = restrict(User.objects.filter(tenant=tenant), limited, "listUsers")
    with CaptureQueriesContext(connection) as ctx:
        names = sorted(queryset.values_list("username", flat=True))
    # build-1 by pattern, build-2 denied, "limited" itself by self-service.
    assert names == ["build-1", "limited"]
    assert len(ctx.captured_queries) == 1
    assert "~*" in ctx.captured_queries[0]["sql"] or "REGEXP" in ctx.captured_queries[0]["sql"]


def test_matching_is_case_insensitive(tenant):
    user = UserFactory(tenant=tenant, username="casey")
    grant(tenant, user, [{"actions": ["GETCLUSTER"], "resources": ["Cluster:Prod"]}])
    assert check(user, "getCluster", "cluster:prod", tenant=tenant)


def test_project_bindings_apply_only_in_their_project(project_member, tenant):
    resource = "cluster:c1/namespace:web/deployment:api"
    assert check(project_member, "updateDeployment", resource, tenant=tenant, project=PROJECT)
    assert not check(project_member, "updateDeployment", resource, tenant=tenant)
    assert not check(
        project_member, "updateDeployment", resource, tenant=tenant, project="prj-other"
    )
    # project-member does not manage the project's membership.
    assert not check(project_member, "createBinding", "binding:*", tenant=tenant, project=PROJECT)


def test_platform_bindings_apply_in_every_project(member, tenant):
    assert check(
        member, "getPod", "cluster:c/namespace:n/pod:p", tenant=tenant, project="prj-anything"
    )


@pytest.mark.parametrize(
    ("persona", "project", "allowed"),
    [
        ("project_owner", PROJECT, {"getPod", "deletePod", "createBinding"}),
        ("project_member", PROJECT, {"getPod", "deletePod"}),
        ("project_viewer", PROJECT, {"getPod"}),
        ("viewer", PROJECT, set()),
        ("member", None, {"getPod", "deletePod"}),
    ],
)
def test_persona_matrix(request, tenant, persona, project, allowed):
    user = request.getfixturevalue(persona)
    for action in ("getPod", "deletePod", "createBinding"):
        resource = "binding:*" if action == "createBinding" else "cluster:c/namespace:n/pod:p"
        decision = check(user, action, resource, tenant=tenant, project=project)
        assert decision.allowed is (action in allowed), (persona, action, decision.reason)


def test_other_tenant_resources_are_never_allowed(tenant_admin, other_tenant):
    decision = check(tenant_admin, "getUser", "user:mallory", tenant=other_tenant)
    assert not decision
    assert "outside your tenant" in decision.reason


def test_guardian_object_grant_is_honoured_and_deny_still_wins(tenant, viewer, member):
    target = UserFactory(tenant=tenant, username="target")
    assert not check(viewer, "getUser", target.authz_resource, tenant=tenant, obj=target)
    assign_perm("accounts.view_user", viewer, target)
    assert check(viewer, "getUser", target.authz_resource, tenant=tenant, obj=target)
    assert can_any(viewer, "listUsers")
    visible = restrict(User.objects.filter(tenant=tenant), viewer, "listUsers")
    assert set(visible.values_list("username", flat=True)) == {"vic", "target"}
    grant(
        tenant,
        viewer,
        [{"actions": ["getUser"], "resources": ["user:target"], "effect": "deny"}],
        name="deny-target",
    )
    assert not check(viewer, "getUser", target.authz_resource, tenant=tenant, obj=target)


def test_guardian_grant_via_the_api(api, tenant, viewer):
    target = UserFactory(tenant=tenant, username="target")
    client = api(viewer)
    assert client.get("/api/v1/users/target/").status_code == 404
    assign_perm("accounts.view_user", viewer, target)
    assert client.get("/api/v1/users/target/").status_code == 200
    assert client.patch("/api/v1/users/target/", {"display_name": "x"}).status_code == 403


def test_index_is_built_once_per_version_and_decisions_are_cached(tenant, member):
    forget_all()
    member = User.objects.select_related("tenant").get(pk=member.pk)
    with CaptureQueriesContext(connection) as first:
        check(member, "getPod", "cluster:c/namespace:n/pod:p", tenant=tenant)
    with CaptureQueriesContext(connection) as second:
        for _ in range(100):
            check(member, "getPod", "cluster:c/namespace:n/pod:p", tenant=tenant)
    assert 0 < len(first.captured_queries) <= 7  # rules (5) and project ownership (2)
    assert len(second.captured_queries) == 0
    index = index_for_tenant(member.tenant)
    bind(member, "audit-read")
    member = User.objects.select_related("tenant").get(pk=member.pk)
    assert index_for_tenant(member.tenant) is not index


def test_admin_site_respects_the_policy_layer(client, tenant, member, tenant_admin):
    """platform-user may use the admin (is_staff) but not manage policies or bindings."""
    member.is_staff = True
    member.save()
    client.force_login(member)
    assert client.get("/admin/authz/policy/").status_code == 200  # may read
    assert client.get("/admin/authz/binding/add/").status_code == 403
    client.force_login(tenant_admin)
    assert client.get("/admin/authz/binding/add/").status_code == 200


def test_admin_group_membership_goes_through_the_escalation_guard(client, tenant, member):
    """A staff user allowed to edit groups cannot add themselves to an administrators group
    through the admin either."""
    from apps.accounts.models import Group

    admins = Group.objects.create(tenant=tenant, name="admins")
    bind(admins, "administrator")
    grant(tenant, member, [{"actions": ["*Group*"], "resources": ["group:*"]}], "groups")
    member.is_staff = True
    member.save()
    client.force_login(member)
    response = client.post(
        f"/admin/accounts/group/{admins.pk}/change/",
        {
            "name": "admins",
            "display_name": "",
            "description": "",
            "source": "local",
            "members": [member.pk],
        },
    )
    assert response.status_code == 403
    assert not admins.members.filter(pk=member.pk).exists()
