"""``GET /api/v1/portal/``: what the console needs to draw its navigation — whether the caller
administers the tenant, and their projects with their roles in each."""

import pytest

from apps.authz.models import Binding
from tests.conftest import PROJECT
from tests.factories import GroupFactory, bind
from tests.projects.test_projects_api import make_project

pytestmark = pytest.mark.django_db

URL = "/api/v1/portal/"


@pytest.fixture
def projects(tenant):
    parent = make_project(tenant, PROJECT, display_name="Test")
    return parent, make_project(tenant, "prj-kid", parent=parent, display_name="Kid")


def test_portal_permissions(anon_client, api, viewer, other_user):
    """Anonymous 401; any signed-in user (a viewer holds nothing else) gets their own answer."""
    response = anon_client.get(URL)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert api(viewer).get(URL).json() == {
        "username": "vic",
        "tenant": "acme",
        "administrator": False,
        "projects": [],
    }
    assert api(other_user).get(URL).status_code == 200
    assert api(viewer).post(URL).status_code == 405


def test_project_members_see_their_projects_and_roles(
    api, projects, project_member, project_owner, tenant
):
    devs = GroupFactory(tenant=tenant, name="devs")
    devs.members.add(project_member)
    bind(devs, "project-viewer", "prj-kid")
    bind(project_member, "project-viewer", PROJECT)
    body = api(project_member).get(URL).json()
    assert body["administrator"] is False
    assert body["projects"] == [
        {
            "name": "prj-kid",
            "display_name": "Kid",
            "roles": ["project-viewer"],
            "parent": PROJECT,
            "phase": "Active",
        },
        {
            "name": PROJECT,
            "display_name": "Test",
            "roles": ["project-member", "project-viewer"],
            "parent": None,
            "phase": "Active",
        },
    ]
    owner = api(project_owner).get(URL).json()["projects"]
    assert [(p["name"], p["roles"]) for p in owner] == [(PROJECT, ["project-owner"])]


def test_administrators_and_platform_users(api, tenant_admin, member, platform_admin, projects):
    assert api(tenant_admin).get(URL).json()["administrator"] is True
    # a platform user sees every project through /projects/, but is a member of none
    body = api(member).get(URL).json()
    assert body["administrator"] is False and body["projects"] == []
    operator = api(platform_admin).get(URL).json()
    assert operator["administrator"] is True and operator["tenant"] is None


def test_other_tenants_projects_never_appear(api, other_user, other_tenant, projects):
    """A binding in another tenant's project domain name shows nothing of it."""
    mine = make_project(other_tenant, "prj-globex")
    Binding.objects.create(
        tenant=other_tenant,
        user=other_user,
        policy=other_user.bindings.first().policy,
        domain=PROJECT,  # same name as acme's project: still not theirs
    )
    bind(other_user, "project-owner", mine.name)
    rows = api(other_user).get(URL).json()["projects"]
    assert [p["name"] for p in rows] == ["prj-globex"]
