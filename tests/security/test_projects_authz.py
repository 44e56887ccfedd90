"""Red team of issue 10 (projects): hostile tenant users against the project API, its admin
and the authorization domains. Each test names the attack; the ones that found a hole carry
the finding in their docstring, the others document a guarantee that held.

Personas (tests/conftest.py): project owner / member / viewer of ``prj-test`` (A), the owner
of another project (B), platform users with narrow custom policies, another tenant's
administrator, anonymous.
"""

from __future__ import annotations

import pytest
from django.test import Client

from apps.authz import check, restrict
from apps.authz.models import Binding
from apps.authz.services import create_policy
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from tests.conftest import PROJECT, persona
from tests.factories import make_cluster
from tests.projects.test_admin import form
from tests.projects.test_projects_api import add_namespace, make_project

pytestmark = pytest.mark.django_db

MEMBERS = f"/api/v1/projects/{PROJECT}/members/"


def narrow(tenant, username, actions, resources=("project:*",), domain="*", **fields):
    """A platform user holding exactly ``actions`` on ``resources`` (a custom policy)."""
    policy = create_policy(
        actor=None,
        tenant=tenant,
        name=f"{username}-policy",
        statements=[{"actions": list(actions), "resources": list(resources), "effect": "allow"}],
        scope="project" if domain != "*" else "platform",
    )
    return persona(tenant, username, policy.name, domain, **fields)


@pytest.fixture
def one(tenant):
    return make_cluster(tenant, "one")


@pytest.fixture
def a(tenant, one):
    return make_project(tenant, PROJECT, {one: {"cpu": "4", "pods": "10"}})


@pytest.fixture
def b(tenant, one):
    return make_project(tenant, "prj-b", {one: {"cpu": "8", "pods": "20"}})


# -- quota: re-parenting and the admin ---------------------------------------------------------
def test_reparenting_is_a_quota_change(api, tenant, one, a, b):
    """Finding: ``updateProject`` alone (rename, describe) could move a project under another
    one — whose quota then pays for it — or out from under its parent, handing the parent's
    quota back while the child keeps its own: a quota change without ``updateProjectQuota``.
    Creating a sub-project likewise gives out the parent's quota."""
    kid = make_project(tenant, "prj-kid", {one: {"cpu": "2", "pods": "5"}}, parent=a)
    editor = narrow(tenant, "ed", ["getProject", "listProjects", "updateProject", "createProject"])
    client = api(editor)
    out = client.patch(f"/api/v1/projects/{kid.name}/", {"parent": None}, format="json")
    assert out.status_code == 403, out.content
    assert "updateProjectQuota" in out.json()["detail"]
    under = client.patch(f"/api/v1/projects/{b.name}/", {"parent": a.name}, format="json")
    assert under.status_code == 403, under.content
    made = client.post(
        "/api/v1/projects/",
        {"display_name": "Squat", "parent": b.name, "clusters": {one.name: {"hard": {"cpu": "8"}}}},
        format="json",
    )
    assert made.status_code == 403, made.content
    assert Project.objects.get(name=kid.name).parent == a
    assert Project.objects.get(name=b.name).parent is None
    assert not Project.objects.filter(display_name="Squat").exists()
    # Renaming stays updateProject's; with the quota right on both sides the move is allowed.
    renamed = client.patch(f"/api/v1/projects/{kid.name}/", {"description": "x"}, format="json")
    assert renamed.status_code == 200, renamed.content
    quota_editor = narrow(
        tenant, "qe", ["getProject", "listProjects", "updateProject", "updateProjectQuota"]
    )
    kid_url = f"/api/v1/projects/{kid.name}/"
    moved = api(quota_editor).patch(kid_url, {"parent": None}, format="json")
    assert moved.status_code == 200, moved.content


def test_admin_quota_inline_needs_update_project_quota(tenant, one, a):
    """Finding: the admin's quota inline was guarded by ``updateProject`` only, so staff who may
    rename a project (and not change its quota, which the API refuses them) raised it."""
    staff = narrow(
        tenant,
        "sam",
        ["getProject", "listProjects", "updateProject"],
        is_staff=True,
    )
    client = Client()
    client.force_login(staff)
    page = client.post(
        f"/admin/projects/project/{a.pk}/change/",
        {
            **form(a.name, "Renamed", [(one, '{"cpu": "400", "pods": "1000"}')]),
            "clusters-INITIAL_FORMS": "0",
        },
    )
    # The rename is theirs to make; the quota rows they posted are ignored (read-only inline).
    assert page.status_code == 302, page.content.decode()[:2000]
    assert Project.objects.get(pk=a.pk).display_name == "Renamed"
    assert ProjectCluster.objects.get(project=a).hard == {"requests.cpu": "4", "pods": "10"}
    assert client.get(f"/admin/projects/project/{a.pk}/change/").status_code == 200


# -- quota: quantities -------------------------------------------------------------------------
def test_quota_quantity_tricks(api, project_owner, tenant, one, a):
    """Finding: a quantity past what a Decimal of 28 digits can divide ("1e1000") reached the
    quota's arithmetic and printing: a 500 on the namespace's resize and on the project's quota
    report. Now refused (400 naming the field) like any quantity Kubernetes could not hold.
    Held: negative amounts, limits.<extended>, an omitted resource the project limits, "1e3"
    and unit tricks are judged by value ("4000m" is 4 cores)."""
    row = add_namespace(a, one, "web", {"cpu": "1", "pods": "2"})
    client = api(project_owner)
    where = f"/api/v1/projects/{PROJECT}/namespaces/{one.name}/web/"
    cases = [
        ({"cpu": "1e1000", "pods": "1"}, "hard.cpu"),
        ({"cpu": "99999999999999999999999999999999999", "pods": "1"}, "hard.cpu"),
        ({"cpu": "-1", "pods": "1"}, "hard.cpu"),
        ({"cpu": "1e3", "pods": "1"}, "hard"),  # 1000 cores
        ({"cpu": "4001m", "pods": "1"}, "hard"),
        ({"cpu": "1", "pods": "1", "limits.nvidia.com/gpu": "1"}, "hard.limits.nvidia.com/gpu"),
        ({"cpu": "1"}, "hard"),  # pods left unlimited while the project limits them
    ]
    for hard, field in cases:
        response = client.patch(where, {"hard": hard}, format="json")
        assert response.status_code == 400, (hard, response.content)
        assert field in response.json()["fields"], (hard, response.json())
    assert ProjectNamespace.objects.get(pk=row.pk).hard == {"requests.cpu": "1", "pods": "2"}
    # the platform side: a project quota too large to count is refused, the report stays 200
    member = persona(tenant, "pm", "platform-user")
    huge = api(member).patch(
        f"/api/v1/projects/{PROJECT}/quota/",
        {"clusters": {one.name: {"hard": {"cpu": "1e100000", "pods": "10"}}}},
        format="json",
    )
    assert huge.status_code == 400, huge.content
    assert f"clusters.{one.name}.hard.cpu" in huge.json()["fields"]
    assert client.get(f"/api/v1/projects/{PROJECT}/quota/").status_code == 200


# -- explicit denies ---------------------------------------------------------------------------
def test_a_deny_bound_in_a_project_domain_holds_in_lists_too(api, tenant, one, a, b):
    """Finding: a deny bound in project A's domain refused ``getProject`` on A (``check`` judges
    A's rows in A's domain) while the lists (``restrict``) still showed A and its namespaces to
    a user reading everything platform-wide: rows a project owns are judged in its domain
    only, in lists as in single checks."""
    add_namespace(a, one, "web", {"cpu": "1", "pods": "1"})
    add_namespace(b, one, "api", {"cpu": "1", "pods": "1"})
    hidden = create_policy(
        actor=None,
        tenant=tenant,
        name="not-project-a",
        scope="project",
        statements=[{"actions": ["*"], "resources": ["*"], "effect": "deny"}],
    )
    auditor = persona(tenant, "dee", "read-only")
    Binding.objects.create(tenant=tenant, user=auditor, policy=hidden, domain=a.name)
    assert not check(auditor, "getProject", a.authz_resource, tenant=tenant)
    assert check(auditor, "getProject", b.authz_resource, tenant=tenant)
    assert [p.name for p in restrict(Project.objects.all(), auditor, "listProjects")] == ["prj-b"]
    client = api(auditor)
    listed = client.get("/api/v1/projects/")
    assert [p["name"] for p in listed.json()["results"]] == ["prj-b"]
    for where in ("", "namespaces/", "quota/", "members/"):
        response = client.get(f"/api/v1/projects/{a.name}/{where}")
        assert response.status_code == 404, (where, response.content)
    assert client.get(f"/api/v1/projects/{b.name}/namespaces/").json()["count"] == 1


# -- attacks that held ---------------------------------------------------------------------------
def test_crafted_urls_and_moves_never_reach_another_project(
    api, tenant, one, a, b, project_owner, other_user, anon_client
):
    """Held: A's owner addressing B's namespace under A's URL or B's is 404 for every route;
    moving into B, which they only view, is 403, into a project they cannot see 400 without
    naming it; another tenant's administrator gets 404 everywhere, anonymous 401."""
    add_namespace(a, one, "web", {"cpu": "1", "pods": "1"})
    theirs = add_namespace(b, one, "api", {"cpu": "1", "pods": "1"})
    client = api(project_owner)
    for project in (a.name, b.name):
        base = f"/api/v1/projects/{project}/namespaces/{one.name}/api/"
        for method, tail in [("get", ""), ("patch", ""), ("delete", ""), ("get", "delete-preview/"),
                             ("post", "move/")]:  # fmt: skip
            body = {"hard": {"cpu": "4", "pods": "10"}, "destination": a.name}
            response = getattr(client, method)(base + tail, body, format="json")
            assert response.status_code == 404, (project, method, tail, response.content)
    assert ProjectNamespace.objects.get(pk=theirs.pk).project == b
    move = f"/api/v1/projects/{a.name}/namespaces/{one.name}/web/move/"
    hidden = client.post(move, {"destination": b.name}, format="json")
    assert hidden.status_code == 400 and hidden.json()["fields"] == {
        "destination": [f"No project named {b.name}."]
    }
    Binding.objects.create(
        tenant=tenant,
        user=project_owner,
        policy=create_policy(
            actor=None,
            tenant=tenant,
            name="b-viewer",
            scope="project",
            statements=[{"actions": ["get*", "list*"], "resources": ["*"], "effect": "allow"}],
        ),  # fmt: skip
        domain=b.name,
    )
    viewed = api(project_owner).post(move, {"destination": b.name}, format="json")
    assert viewed.status_code == 403, viewed.content
    assert ProjectNamespace.objects.get(namespace="web").project == a
    stranger = api(other_user)
    for tail in ("", "quota/", "members/", "namespaces/", f"namespaces/{one.name}/web/"):
        assert stranger.get(f"/api/v1/projects/{a.name}/{tail}").status_code == 404, tail
    assert stranger.post(f"/api/v1/projects/{a.name}/kubeconfig").status_code == 404
    assert anon_client.get(f"/api/v1/projects/{a.name}/").status_code == 401


def test_a_platform_policy_bound_in_a_project_domain_stays_in_the_project(tenant, one, a):
    """Held: ``administrator`` bound in A's domain is A's owner, no more: the cluster, its
    nodes, its namespaces outside A, A's quota and the Namespace objects stay the platform's;
    odd spellings of paths do not smuggle a platform resource into A's domain."""
    add_namespace(a, one, "web", {"cpu": "1", "pods": "1"})
    boss = persona(tenant, "ivan", "administrator", a.name)
    c = one.name
    assert check(boss, "deleteSecret", f"cluster:{c}/namespace:web/secret:x", tenant=tenant)
    assert check(boss, "getPod", f"CLUSTER:{c.upper()}/NAMESPACE:WEB/pod:x", tenant=tenant)
    for action, resource in [
        ("deleteNode", f"cluster:{c}/node:n1"),
        ("updateCluster", f"cluster:{c}"),
        ("getSecret", f"cluster:{c}/namespace:kube-system/secret:x"),
        ("listPods", f"cluster:{c}/namespace:*/pod:*"),
        ("updateNamespace", f"cluster:{c}/namespace:web"),
        ("deleteResourceQuota", f"cluster:{c}/namespace:web/resourcequota:tkeportal-quota"),
        ("updateLimitRange", f"cluster:{c}/namespace:web/limitrange:*"),
        ("updateProjectQuota", a.authz_resource),
        ("deleteProject", a.authz_resource),
        ("createProject", "project:*"),
        ("getSecret", f"cluster:{c}/namespace:web*/secret:x"),
        ("getSecret", f"cluster:{c}/namespace:{a.name}/secret:x"),
        ("createBinding", f"binding:*/project:{a.name}"),
        ("createBinding", "binding:*"),
    ]:
        assert not check(boss, action, resource, tenant=tenant), (action, resource)
