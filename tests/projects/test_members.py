"""``/api/v1/projects/<p>/members/``: members are bindings in the project's domain, made through
the authz services, so nobody gives a role they do not hold; a project keeps an owner."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEvent
from apps.authz import check
from apps.authz.models import Binding
from apps.authz.services import create_policy
from apps.projects.models import Project
from tests.conftest import PROJECT, persona
from tests.factories import GroupFactory, UserFactory
from tests.matrix import APIMatrix
from tests.projects.test_projects_api import make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def clusters(tenant):
    from tests.factories import make_cluster

    return make_cluster(tenant, "one"), make_cluster(tenant, "two")


MEMBERS = f"/api/v1/projects/{PROJECT}/members/"


def ensure_project(tenant) -> Project:
    name = PROJECT if tenant.slug == "acme" else f"prj-{tenant.slug}"
    return Project.objects.filter(name=name).first() or make_project(tenant, name)


@pytest.fixture
def project(tenant):
    return ensure_project(tenant)


@pytest.fixture
def project_reader(tenant):
    """Sees the project (getProject) and nothing of its membership."""
    policy = create_policy(
        actor=None,
        tenant=tenant,
        name="project-glance",
        scope="project",
        statements=[{"actions": ["getProject"], "resources": ["project:*"], "effect": "allow"}],
    )
    return persona(tenant, "gina", policy.name, PROJECT)


class TestProjectMemberMatrix(APIMatrix):
    list_url = MEMBERS
    reader = "project_viewer"
    writer = "project_owner"
    non_writer = "project_member"
    no_permission = "project_reader"

    def make_object(self, tenant):
        project = ensure_project(tenant)
        user = UserFactory(tenant=tenant)
        Binding.objects.create(
            tenant=tenant,
            user=user,
            policy=tenant_policy(tenant, "project-member"),
            domain=project.name,
        )
        return user

    def lookup(self, obj):
        return obj.username

    def lookup_from_json(self, row):
        return row["id"]

    def create_data(self, tenant):
        UserFactory(tenant=tenant, username="newcomer")
        return {"name": "newcomer", "roles": ["project-member"]}

    def update_data(self, obj):
        return {"roles": ["project-viewer"]}

    @pytest.fixture(autouse=True)
    def _project(self, tenant):
        ensure_project(tenant)


def tenant_policy(tenant, name):
    from apps.authz.models import Policy

    return Policy.objects.get(tenant=tenant, name=name)


def test_members_list_users_and_groups_with_their_roles(
    api, project_owner, project_member, project_viewer, project, tenant
):
    devs = GroupFactory(tenant=tenant, name="devs")
    client = api(project_owner)
    added = client.post(
        MEMBERS, {"kind": "group", "name": "devs", "roles": ["project-viewer", "project-member"]}
    )
    assert added.status_code == 201, added.content
    assert added.json() == {
        "id": "@devs",
        "kind": "group",
        "name": "devs",
        "display_name": "devs",
        "roles": ["project-member", "project-viewer"],
    }
    rows = client.get(MEMBERS).json()["results"]
    assert [(r["id"], r["roles"]) for r in rows] == [
        ("olga", ["project-owner"]),
        ("pete", ["project-member"]),
        ("quinn", ["project-viewer"]),
        ("@devs", ["project-member", "project-viewer"]),
    ]
    assert client.get(f"{MEMBERS}@devs/").json()["name"] == "devs"
    # a member of the group now acts in the project
    dana = UserFactory(tenant=tenant, username="dana")
    devs.members.add(dana)
    assert check(dana, "listProjectMembers", f"project:{PROJECT}/member:*", tenant=tenant)
    assert client.delete(f"{MEMBERS}@devs/").status_code == 204
    assert not Binding.objects.filter(group=devs).exists()
    assert AuditEvent.objects.filter(
        action="createProjectMember", resource=f"project:{PROJECT}/member:@devs", status_code=201
    ).exists()
    assert AuditEvent.objects.filter(
        action="deleteProjectMember", resource=f"project:{PROJECT}/member:@devs", status_code=204
    ).exists()


def test_change_roles_and_audit(api, project_owner, project_member, project):
    client = api(project_owner)
    changed = client.put(f"{MEMBERS}pete/", {"roles": ["project-viewer", "project-owner"]})
    assert changed.status_code == 200, changed.content
    assert changed.json()["roles"] == ["project-owner", "project-viewer"]
    assert set(
        Binding.objects.filter(user=project_member, domain=PROJECT).values_list(
            "policy__name", flat=True
        )
    ) == {"project-owner", "project-viewer"}
    assert AuditEvent.objects.filter(
        action="updateProjectMember", resource=f"project:{PROJECT}/member:pete", status_code=200
    ).exists()


def test_bad_input_names_the_field(api, project_owner, project, tenant, other_tenant):
    UserFactory(tenant=other_tenant, username="stranger")
    create_policy(
        actor=None,
        tenant=tenant,
        name="platform-thing",
        statements=[{"actions": ["getCluster"], "resources": ["*"], "effect": "allow"}],
    )
    client = api(project_owner)
    cases = [
        ({"name": "nobody", "roles": ["project-member"]}, "user"),
        ({"name": "stranger", "roles": ["project-member"]}, "user"),  # another tenant's
        ({"kind": "group", "name": "ghosts", "roles": ["project-member"]}, "group"),
        ({"name": "olga", "roles": []}, "roles"),
        ({"name": "olga", "roles": ["administrator"]}, "roles"),  # platform scope
        ({"name": "olga", "roles": ["platform-thing"]}, "roles"),
        ({"name": "olga", "roles": ["project-member"]}, "user"),  # already a member
        ({"kind": "robot", "name": "olga", "roles": ["project-member"]}, "kind"),
    ]
    for body, field in cases:
        response = client.post(MEMBERS, body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in response.json()["fields"], (body, response.json())
    assert client.put(f"{MEMBERS}olga/", {"roles": ["nope"]}).status_code == 400
    assert client.get(f"{MEMBERS}nobody/").status_code == 404


def test_project_member_cannot_make_themselves_owner(api, project_member, project, tenant):
    client = api(project_member)
    for response in (
        client.put(f"{MEMBERS}pete/", {"roles": ["project-owner"]}),
        client.post(MEMBERS, {"name": "pete", "roles": ["project-owner"]}),
    ):
        assert response.status_code == 403, response.content
    assert list(
        Binding.objects.filter(user=project_member, domain=PROJECT).values_list(
            "policy__name", flat=True
        )
    ) == ["project-member"]


def test_an_owner_cannot_give_a_role_beyond_what_they_hold(api, project_owner, project, tenant):
    """A project-scope policy that reaches outside the project (a platform resource) is
    still judged by what the owner holds: they hold nothing there, so it is refused."""
    create_policy(
        actor=None,
        tenant=tenant,
        name="super-project",
        scope="project",
        statements=[{"actions": ["*"], "resources": ["*"], "effect": "allow"}],
    )
    limited = create_policy(
        actor=None,
        tenant=tenant,
        name="owner-but-no-secrets",
        scope="project",
        statements=[
            {"actions": ["*"], "resources": ["*"], "effect": "allow"},
            {"actions": ["revealSecret"], "resources": ["*"], "effect": "deny"},
        ],
    )
    boss = persona(tenant, "boss", limited.name, PROJECT)
    UserFactory(tenant=tenant, username="newbie")
    refused = api(boss).post(MEMBERS, {"name": "newbie", "roles": ["super-project"]})
    assert refused.status_code == 403, refused.content
    assert "do not hold" in refused.json()["detail"]
    assert not Binding.objects.filter(user__username="newbie").exists()
    # the full owner may
    allowed = api(project_owner).post(MEMBERS, {"name": "newbie", "roles": ["super-project"]})
    assert allowed.status_code == 201, allowed.content


def test_a_project_keeps_an_owner(api, project_owner, member, project):
    client = api(project_owner)
    alone = client.delete(f"{MEMBERS}olga/")
    assert alone.status_code == 403, alone.content
    assert "without a project-owner" in alone.json()["detail"]
    demoted = client.put(f"{MEMBERS}olga/", {"roles": ["project-member"]})
    assert demoted.status_code == 403
    assert Binding.objects.filter(user=project_owner, policy__name="project-owner").exists()
    # With a second owner, the first may step down (and is then a member, no longer owner).
    UserFactory(tenant=project.tenant, username="otto")
    assert client.post(MEMBERS, {"name": "otto", "roles": ["project-owner"]}).status_code == 201
    stepped = client.put(f"{MEMBERS}olga/", {"roles": ["project-member"]})
    assert stepped.status_code == 200, stepped.content
    # Someone who manages projects platform-wide may leave it ownerless (to re-appoint later).
    assert api(member).delete(f"{MEMBERS}otto/").status_code == 204
    assert not Binding.objects.filter(domain=PROJECT, policy__name="project-owner").exists()


def test_a_member_of_project_a_gets_404_for_project_b(api, project_owner, tenant, project):
    other = make_project(tenant, "prj-b")
    UserFactory(tenant=tenant, username="newbie")
    client = api(project_owner)
    theirs = f"/api/v1/projects/{other.name}/members/"
    for response in (
        client.get(theirs),
        client.post(theirs, {"name": "newbie", "roles": ["project-viewer"]}),
        client.get(f"{theirs}olga/"),
    ):
        assert response.status_code == 404, response.content
    assert not Binding.objects.filter(domain="prj-b").exists()


def test_member_list_query_count_is_constant(api, project_owner, project, tenant):
    client = api(project_owner)
    client.get(MEMBERS)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(MEMBERS).status_code == 200
        return len(ctx)

    few = count()
    for i in range(8):
        user = UserFactory(tenant=tenant)
        group = GroupFactory(tenant=tenant, name=f"g{i}")
        for subject in ({"user": user}, {"group": group}):
            Binding.objects.create(
                tenant=tenant,
                policy=tenant_policy(tenant, "project-viewer"),
                domain=PROJECT,
                **subject,
            )
    client.get(MEMBERS)  # the bindings changed the tenant's rules: compile them again
    assert count() == few


def test_a_refused_change_leaves_no_rules_behind(api, project_owner, project, tenant, clusters):
    """A role change refused half-way (the first binding made, the second beyond the actor)
    rolls back; the rules compiled in between must not stay cached as current."""
    from apps.accounts.models import User
    from tests.projects.test_projects_api import add_namespace

    add_namespace(project, clusters[0], "web", {})
    create_policy(
        actor=None,
        tenant=tenant,
        name="super-project",
        scope="project",
        statements=[{"actions": ["*"], "resources": ["*"], "effect": "allow"}],
    )
    limited = create_policy(
        actor=None,
        tenant=tenant,
        name="owner-but-no-secrets",
        scope="project",
        statements=[
            {"actions": ["*"], "resources": ["*"], "effect": "allow"},
            {"actions": ["revealSecret"], "resources": ["*"], "effect": "deny"},
        ],
    )
    glance = create_policy(
        actor=None,
        tenant=tenant,
        name="glance",
        scope="project",
        statements=[{"actions": ["getProject"], "resources": ["project:*"], "effect": "allow"}],
    )
    boss = persona(tenant, "boss", limited.name, PROJECT)
    newbie = persona(tenant, "newbie", glance.name, PROJECT)
    resource = f"cluster:{clusters[0].name}/namespace:web/deployment:api"
    assert not check(newbie, "getDeployment", resource, tenant=tenant)
    # project-viewer is granted first (boss holds it), then super-project is refused.
    refused = api(boss).put(f"{MEMBERS}newbie/", {"roles": ["project-viewer", "super-project"]})
    assert refused.status_code == 403, refused.content
    assert "super-project" in refused.json()["detail"]
    fresh = User.objects.select_related("tenant").get(pk=newbie.pk)
    assert not check(fresh, "getDeployment", resource, tenant=fresh.tenant)
    assert list(Binding.objects.filter(user=newbie).values_list("policy__name", flat=True)) == [
        "glance"
    ]


def test_an_empty_owner_group_is_no_owner(api, project_owner, project, tenant):
    from tests.factories import GroupFactory

    GroupFactory(tenant=tenant, name="ghosts")
    client = api(project_owner)
    added = client.post(MEMBERS, {"kind": "group", "name": "ghosts", "roles": ["project-owner"]})
    assert added.status_code == 201, added.content
    left = client.delete(f"{MEMBERS}olga/")
    assert left.status_code == 403
    assert "without a project-owner" in left.json()["detail"]
    assert Binding.objects.filter(user=project_owner, policy__name="project-owner").exists()
