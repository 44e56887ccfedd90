"""The project console: the projects list and a project's page (quotas with usage bars,
namespaces created with quota, deleted and moved, members and roles, the kubeconfig) —
authorized and audited as the REST API does it, against kubesim."""

from __future__ import annotations

import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.sessions import AUTH_TIME, now
from apps.audit.models import AuditEvent
from apps.authz.models import Binding
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from tests.conftest import PROJECT, persona
from tests.console.matrix import ConsoleMatrix
from tests.factories import UserFactory, bind, make_cluster
from tests.projects.namespace_fixtures import *  # noqa: F403  (fixtures: cluster, project, kube)
from tests.projects.namespace_fixtures import HARD, add_row, read

pytestmark = pytest.mark.django_db

# POST-only routes and the tests that cover their authorization (tests/console/test_meta.py).
NOT_PAGES = {
    "console:project-namespace-create": (
        "tests.console.test_projects.test_owner_creates_a_namespace_with_quota"
    ),
    "console:project-namespace-delete": (
        "tests.console.test_projects.test_delete_needs_deleteProjectNamespace"
    ),
    "console:project-namespace-move": (
        "tests.console.test_projects.test_administrator_moves_a_namespace_to_another_project"
    ),
    "console:project-member-add": "tests.console.test_projects.test_members_add_change_remove",
    "console:project-member-update": "tests.console.test_projects.test_members_add_change_remove",
    "console:project-member-remove": (
        "tests.console.test_projects.test_member_actions_are_refused_like_the_api"
    ),
    "console:project-kubeconfig": (
        "tests.console.test_projects.test_kubeconfig_needs_a_recent_sign_in_then_downloads"
    ),
}

HTMX = {"HTTP_HX_REQUEST": "true"}


def page_url(name=PROJECT, tail=""):
    return f"/projects/{name}/{tail}"


def shop(tenant, name=PROJECT, display="Web shop"):
    return Project.objects.create(tenant=tenant, name=name, display_name=display)


def stale(client, user):
    """Signed in long ago (kubeconfig downloads need a recent sign-in; force_login is one)."""
    client.force_login(user)
    session = client.session
    session[AUTH_TIME] = now() - 1800  # past PORTAL_REAUTH_MAX_AGE, within the session
    session.save()


# -- matrices ------------------------------------------------------------------------------------
class TestProjectsMatrix(ConsoleMatrix):
    url = "/projects/"
    expect = 'id="projects"'
    reader = "project_member"

    def make_object(self, tenant):
        return shop(tenant)

    def expect_of_tenant(self, tenant) -> str:
        return "Web shop"


class TestProjectMatrix(ConsoleMatrix):
    url_name = "console:project"
    expect = "Web shop"
    reader = "project_viewer"
    object_page = True

    def url_for(self, tenant) -> str:
        return page_url()

    def make_object(self, tenant):
        return shop(tenant)


# -- pages ---------------------------------------------------------------------------------------
def test_a_business_user_lists_only_their_projects(client, tenant, project_member, member):
    shop(tenant)
    shop(tenant, "prj-secret", "Secret plans")
    client.force_login(project_member)
    page = client.get("/projects/").content.decode()
    assert "Web shop" in page and "Secret plans" not in page
    assert "project-member" in page  # their role
    assert client.get(page_url("prj-secret")).status_code == 404
    # the menu: a Projects entry, and the project console's link to the project page
    assert 'href="/projects/"' in page
    assert f'href="/projects/{PROJECT}/"' in page.split('id="nav-projects"')[1]
    client.force_login(member)  # platform-user lists every project of the tenant
    page = client.get("/projects/").content.decode()
    assert "Web shop" in page and "Secret plans" in page


def test_project_page_shows_quota_bars_namespaces_and_members(
    client, tenant, project_owner, project_member, project, cluster
):
    add_row(project, cluster, "shop", {"requests.cpu": "2", "pods": "10"})
    row = ProjectNamespace.objects.get(namespace="shop")
    row.used = {"requests.cpu": "1", "pods": "5"}
    row.save()
    client.force_login(project_member)
    page = client.get(page_url()).content.decode()
    quotas = page.split('id="project-quotas"')[1].split("</section>")[0]
    assert cluster.name in quotas
    # requests.cpu: 1 of 4 used (25%), 2 allocated; pods 5 of 20
    assert 'aria-valuenow="25"' in quotas and "1 of 4 used" in quotas and "2 allocated" in quotas
    assert "5 of 20 used" in quotas and "8Gi" in quotas
    table = page.split('id="namespaces-table"')[1].split("</table>")[0]
    assert 'data-namespace="shop"' in table
    members = page.split('id="members-table"')[1].split("</table>")[0]
    assert "olga" in members and "pete" in members and "project-owner" in members
    # a member reads, but creates no namespace and manages no member here
    assert 'id="namespace-form"' not in page and 'id="member-form"' not in page
    assert "ns-delete" not in page and "member-remove" not in page
    assert 'id="kubeconfig-form"' in page  # getProjectKubeconfig is a read
    client.force_login(project_owner)
    page = client.get(page_url()).content.decode()
    assert 'id="namespace-form"' in page and 'id="member-form"' in page and "ns-delete" in page


def test_other_tenant_and_other_project_are_404(
    client, tenant, other_tenant, other_user, project_member
):
    shop(tenant)
    shop(tenant, "prj-other", "Other")
    client.force_login(other_user)
    response = client.get(page_url())
    assert response.status_code == 404 and 'id="not-found"' in response.content.decode()
    assert client.post(page_url(tail="members/"), {"name": "x"}).status_code == 404
    client.force_login(project_member)
    assert client.get(page_url("prj-other")).status_code == 404
    assert client.post(page_url("prj-other", "kubeconfig/")).status_code == 404


# -- namespaces ----------------------------------------------------------------------------------
def test_owner_creates_a_namespace_with_quota(
    client, tenant, project_owner, project_viewer, project, cluster, kube,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    core, _ = kube
    body = {
        "cluster": cluster.name,
        "namespace": "shop",
        "hard_cpu": "2",
        "hard_memory": "2Gi",
        "hard_pods": "10",
    }
    # a viewer of the project is refused (the console's 403 without HTMX, the section with
    # a "Why can't I?" link with it), and nothing is made
    client.force_login(project_viewer)
    refused = client.post(page_url(tail="namespaces/"), body)
    assert refused.status_code == 403 and 'id="why-link"' in refused.content.decode()
    inline = client.post(page_url(tail="namespaces/"), body, **HTMX).content.decode()
    assert 'id="namespaces-refused"' in inline and "action=createProjectNamespace" in inline
    assert not ProjectNamespace.objects.exists()
    denied = AuditEvent.objects.filter(action="createProjectNamespace").order_by("created_at")
    assert [e.outcome for e in denied] == ["denied", "denied"]

    client.force_login(project_owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(page_url(tail="namespaces/"), body, **HTMX)
    assert response.status_code == 200
    section = response.content.decode()
    assert section.startswith('<section class="mb-4" aria-labelledby="namespaces-heading"')
    assert 'data-namespace="shop"' in section and "being created" in section
    assert 'id="project-quotas" hx-swap-oob="true"' in section  # the bars follow
    row = ProjectNamespace.objects.get(cluster=cluster, namespace="shop")
    assert row.hard == {"requests.cpu": "2", "requests.memory": "2Gi", "pods": "10"}
    assert row.phase == "Available"
    quota = read(core.read_namespaced_resource_quota, "tkeportal-quota", "shop")
    assert quota["spec"]["hard"] == {"requests.cpu": "2", "requests.memory": "2Gi", "pods": "10"}
    event = AuditEvent.objects.get(action="createProjectNamespace", outcome="success")
    assert event.user == project_owner and event.channel == "console"
    assert event.resource == f"project:{PROJECT}/cluster:{cluster.name}/namespace:shop"
    assert event.tenant == tenant


def test_namespace_form_errors_are_next_to_their_field(client, project_owner, project, cluster):
    client.force_login(project_owner)
    bad_name = client.post(
        page_url(tail="namespaces/"),
        {"cluster": cluster.name, "namespace": "Not_A_Name", "hard_cpu": "1"},
        **HTMX,
    ).content.decode()
    assert 'id="ns-name-error"' in bad_name and 'value="Not_A_Name"' in bad_name
    too_big = client.post(
        page_url(tail="namespaces/"),
        {"cluster": cluster.name, "namespace": "big", "hard_cpu": "64"},
        **HTMX,
    ).content.decode()
    assert 'id="ns-hard-error"' in too_big and "requests.cpu" in too_big
    assert 'value="64"' in too_big  # nothing typed is lost
    assert not ProjectNamespace.objects.exists()
    event = AuditEvent.objects.filter(action="createProjectNamespace").latest("created_at")
    assert event.outcome == "failure"


def test_delete_needs_deleteProjectNamespace(
    client, project_member, project_owner, project, cluster, django_capture_on_commit_callbacks
):
    add_row(project, cluster, "shop", {"pods": "1"})
    client.force_login(project_member)
    url = page_url(tail=f"namespaces/{cluster.name}/shop/delete/")
    assert client.post(url).status_code == 403
    assert client.post(page_url(tail=f"namespaces/{cluster.name}/nope/delete/")).status_code == 404
    assert ProjectNamespace.objects.get(namespace="shop").phase == "Available"
    client.force_login(project_owner)
    with django_capture_on_commit_callbacks(execute=False):
        section = client.post(url, **HTMX).content.decode()
    assert "being deleted" in section
    assert ProjectNamespace.objects.get(namespace="shop").phase == "Terminating"
    event = AuditEvent.objects.filter(action="deleteProjectNamespace").latest("created_at")
    assert event.outcome == "success" and event.user == project_owner


def test_administrator_moves_a_namespace_to_another_project(
    client, tenant, tenant_admin, project_owner, project, cluster,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    other = Project.objects.create(tenant=tenant, name="prj-other", display_name="Other")
    ProjectCluster.objects.create(project=other, cluster=cluster, hard=dict(HARD))
    add_row(project, cluster, "shop", {"requests.cpu": "1", "requests.memory": "1Gi", "pods": "5"})
    url = page_url(tail=f"namespaces/{cluster.name}/shop/move/")
    # the project owner may not see prj-other: not offered, and refused by name if posted
    client.force_login(project_owner)
    assert "ns-move" not in client.get(page_url()).content.decode()
    answer = client.post(url, {"destination": "prj-other"}, **HTMX).content.decode()
    assert "No project named prj-other" in answer
    assert ProjectNamespace.objects.get(namespace="shop").project == project

    client.force_login(tenant_admin)
    page = client.get(page_url()).content.decode()
    assert 'option value="prj-other"' in page.split("ns-move")[1]
    with django_capture_on_commit_callbacks(execute=True):
        section = client.post(url, {"destination": "prj-other"}, **HTMX).content.decode()
    assert "moving to Other" in section and 'data-namespace="shop"' not in section
    row = ProjectNamespace.objects.get(namespace="shop")
    assert row.project == other
    event = AuditEvent.objects.filter(action="moveProjectNamespace").latest("created_at")
    assert event.outcome == "success"
    assert event.resource == f"project:{PROJECT}/cluster:{cluster.name}/namespace:shop"


# -- members -------------------------------------------------------------------------------------
def test_members_add_change_remove(client, tenant, project_owner, project):
    UserFactory(tenant=tenant, username="dev")
    client.force_login(project_owner)
    body = {"kind": "user", "name": "dev", "roles": "project-viewer"}
    section = client.post(page_url(tail="members/"), body, **HTMX).content.decode()
    assert 'data-member="dev"' in section and "project-viewer" in section
    assert Binding.objects.filter(domain=PROJECT, user__username="dev").count() == 1
    section = client.post(
        page_url(tail="members/dev/"), {"roles": "project-member"}, **HTMX
    ).content.decode()
    dev = section.split('data-member="dev"')[1].split("</tr>")[0]
    assert "project-member</span>" in dev and "project-viewer</span>" not in dev
    assert list(
        Binding.objects.filter(domain=PROJECT, user__username="dev").values_list(
            "policy__name", flat=True
        )
    ) == ["project-member"]
    section = client.post(page_url(tail="members/dev/remove/"), **HTMX).content.decode()
    assert 'data-member="dev"' not in section
    assert not Binding.objects.filter(domain=PROJECT, user__username="dev").exists()
    actions = list(
        AuditEvent.objects.filter(action__endswith="ProjectMember")
        .order_by("created_at")
        .values_list("action", "resource", "outcome")
    )
    assert actions == [
        ("createProjectMember", f"project:{PROJECT}/member:dev", "success"),
        ("updateProjectMember", f"project:{PROJECT}/member:dev", "success"),
        ("deleteProjectMember", f"project:{PROJECT}/member:dev", "success"),
    ]
    # an unknown user is an error next to the name
    section = client.post(
        page_url(tail="members/"), {"kind": "user", "name": "ghost", "roles": "project-member"},
        **HTMX,
    ).content.decode()  # fmt: skip
    assert 'id="member-name-error"' in section and "ghost" in section


def test_member_actions_are_refused_like_the_api(
    client, tenant, project_owner, project_member, project
):
    client.force_login(project_member)
    assert client.post(page_url(tail="members/olga/remove/")).status_code == 403
    assert client.post(page_url(tail="members/nobody/remove/")).status_code == 404
    inline = client.post(page_url(tail="members/olga/remove/"), **HTMX).content.decode()
    assert "action=deleteProjectMember" in inline
    # the last owner cannot remove themselves (the service's rule, shown in the section)
    client.force_login(project_owner)
    inline = client.post(page_url(tail="members/olga/remove/"), **HTMX).content.decode()
    assert "without a project-owner" in inline
    assert Binding.objects.filter(domain=PROJECT, user__username="olga").exists()


def _roles_in_db(username):
    return sorted(
        Binding.objects.filter(domain=PROJECT, user__username=username).values_list(
            "policy__name", flat=True
        )
    )


def _row(section, member):
    return section.split(f'data-member="{member}"')[1].split("</tr>")[0]


def _ticked(row):
    """The roles whose checkbox is ticked in a member's row."""
    return sorted(
        part.split('value="')[1].split('"')[0]
        for part in row.split('type="checkbox"')[1:]
        if " checked" in part.split(">")[0]
    )


def test_a_member_with_two_roles_shows_both(client, tenant, project_owner, project):
    dev = persona(tenant, "dev", "project-viewer", PROJECT)
    bind(dev, "project-member", PROJECT)
    client.force_login(project_owner)
    dev = _row(client.get(page_url()).content.decode(), "dev")
    assert "project-member</span>" in dev and "project-viewer</span>" in dev
    # each role a checkbox with its label, both held ones ticked, the owner role not
    assert _ticked(dev) == ["project-member", "project-viewer"]
    assert dev.count('type="checkbox"') == 3 and dev.count('class="form-check-label') == 3
    assert "project-owner" in dev and "<legend" in dev


def test_changing_roles_in_the_console_is_what_the_api_does(
    client, api, tenant, project_owner, project
):
    """The same changes, one member through the console and one through the API, end in the
    same bindings, the same answer and the same audit rows."""
    for name in ("dev", "ops"):
        persona(tenant, name, "project-viewer", PROJECT)
    client.force_login(project_owner)
    rest = api(project_owner)
    for roles in (["project-member", "project-viewer"], ["project-member"], ["project-viewer"]):
        section = client.post(
            page_url(tail="members/dev/"), {"roles": roles}, **HTMX
        ).content.decode()
        answer = rest.put(f"/api/v1/projects/{PROJECT}/members/ops/", {"roles": roles})
        assert answer.status_code == 200, answer.content
        assert _roles_in_db("dev") == _roles_in_db("ops") == sorted(roles)
        assert _ticked(_row(section, "dev")) == answer.json()["roles"] == sorted(roles)
    events = {
        name: list(
            AuditEvent.objects.filter(resource=f"project:{PROJECT}/member:{name}")
            .order_by("created_at")
            .values_list("action", "outcome")
        )
        for name in ("dev", "ops")
    }
    assert events["dev"] == events["ops"] == [("updateProjectMember", "success")] * 3


def test_a_refused_escalation_changes_nothing(
    client, tenant, project_owner, project_member, project
):
    from apps.authz.services import create_policy

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
    dev = persona(tenant, "dev", "project-viewer", PROJECT)
    bind(dev, "project-member", PROJECT)
    client.force_login(boss)
    # the boss may change roles, but not to one granting more than they hold; dropping
    # project-member in the same request does not happen either
    body = {"roles": ["project-viewer", "super-project"]}
    section = client.post(page_url(tail="members/dev/"), body, **HTMX).content.decode()
    assert 'id="members-refused"' in section and "do not hold" in section
    assert _roles_in_db("dev") == ["project-member", "project-viewer"]
    assert _ticked(_row(section, "dev")) == ["project-member", "project-viewer"]
    assert client.post(page_url(tail="members/dev/"), body).status_code == 403
    assert _roles_in_db("dev") == ["project-member", "project-viewer"]
    # a project member cannot make themselves owner, nor a newcomer one
    client.force_login(project_member)
    refused = client.post(page_url(tail="members/pete/"), {"roles": ["project-owner"]})
    assert refused.status_code == 403
    assert _roles_in_db("pete") == ["project-member"]
    outcomes = list(
        AuditEvent.objects.filter(action="updateProjectMember").values_list("outcome", flat=True)
    )
    assert outcomes == ["denied"] * 3


# -- kubeconfig ----------------------------------------------------------------------------------
def test_kubeconfig_needs_a_recent_sign_in_then_downloads(
    client, tenant, project_member, project, cluster
):
    add_row(project, cluster, "shop", {})
    stale(client, project_member)
    response = client.post(page_url(tail="kubeconfig/"), {"expires_in": "1h"})
    assert response.status_code == 302
    assert response["Location"].startswith("/reauth/?next=")
    assert f"projects%2F{PROJECT}" in response["Location"]
    assert AuditEvent.objects.get(action="getProjectKubeconfig").outcome == "denied"

    client.force_login(project_member)  # signed in just now
    response = client.post(page_url(tail="kubeconfig/"), {"expires_in": "1h"})
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Disposition"] == f'attachment; filename="kubeconfig-{PROJECT}.yaml"'
    config = yaml.safe_load(response.content)
    (context,) = config["contexts"]
    assert context["name"] == cluster.name and context["context"]["namespace"] == "shop"
    assert config["clusters"][0]["cluster"]["server"].endswith(f"/k8s/clusters/{cluster.name}")
    key = project_member.api_keys.get()
    assert key.cluster == cluster
    assert 3500 < (key.expires_at - key.created_at).total_seconds() <= 3600
    events = AuditEvent.objects.filter(action="getProjectKubeconfig").order_by("created_at")
    assert [e.outcome for e in events] == ["denied", "success"]


def test_kubeconfig_refused_without_getProjectKubeconfig(client, tenant, project):
    from apps.authz.services import create_policy

    no_config = create_policy(
        actor=None,
        tenant=tenant,
        name="no-kubeconfig",
        scope="project",
        statements=[
            {"actions": ["get*", "list*"], "resources": ["*"], "effect": "allow"},
            {"actions": ["getProjectKubeconfig"], "resources": ["*"], "effect": "deny"},
        ],
    )
    cora = persona(tenant, "cora", no_config.name, PROJECT)
    client.force_login(cora)
    assert 'id="kubeconfig-form"' not in client.get(page_url()).content.decode()
    refused = client.post(page_url(tail="kubeconfig/"))
    assert refused.status_code == 403 and "getProjectKubeconfig" in refused.content.decode()
    assert not cora.api_keys.exists()


# -- queries -------------------------------------------------------------------------------------
def test_projects_list_queries_do_not_grow_with_projects(client, tenant, tenant_admin):
    one = make_cluster(tenant, "one")
    shop(tenant)
    client.force_login(tenant_admin)
    client.get("/projects/")
    with CaptureQueriesContext(connection) as few:
        client.get("/projects/")
    for i in range(6):
        p = shop(tenant, f"prj-more{i}", f"More {i}")
        ProjectCluster.objects.create(project=p, cluster=one, hard={"pods": "1"})
    client.get("/projects/")  # the policy index is rebuilt once after the changes
    with CaptureQueriesContext(connection) as many:
        page = client.get("/projects/").content.decode()
    assert page.count("More ") == 6
    assert len(many.captured_queries) <= len(few.captured_queries)


def test_project_page_queries_do_not_grow_with_namespaces_or_members(
    client, tenant, tenant_admin, project, cluster
):
    add_row(project, cluster, "ns0", {"pods": "1"})
    client.force_login(tenant_admin)
    client.get(page_url())
    with CaptureQueriesContext(connection) as few:
        client.get(page_url())
    for i in range(1, 8):
        add_row(project, cluster, f"ns{i}", {"pods": "1"})
        persona(tenant, f"user{i}", "project-member", PROJECT)
    client.get(page_url())  # the policy index is rebuilt once after the new bindings
    with CaptureQueriesContext(connection) as many:
        page = client.get(page_url()).content.decode()
    assert page.count("data-namespace=") == 8 and page.count("data-member=") == 7
    assert len(many.captured_queries) <= len(few.captured_queries)


def test_project_page_queries_do_not_grow_with_clusters(client, tenant, tenant_admin, project):
    """The quota section: one project on 1 cluster, then on 6 (each with a namespace and a
    sub-project's share) — the same number of queries."""
    add_row(project, project.clusters.get().cluster, "ns0", {"pods": "1"})
    kid = shop(tenant, "prj-kid", "Kid")
    kid.parent = project
    kid.save()
    client.force_login(tenant_admin)
    client.get(page_url())
    with CaptureQueriesContext(connection) as few:
        page = client.get(page_url()).content.decode()
    assert page.count('class="card mb-2 project-quota"') == 1
    for i in range(5):
        extra = make_cluster(tenant, f"extra{i}")
        ProjectCluster.objects.create(project=project, cluster=extra, hard={"pods": "10"})
        ProjectCluster.objects.create(project=kid, cluster=extra, hard={"pods": "2"})
        add_row(project, extra, f"ns-extra{i}", {"pods": str(i + 1)})
    client.get(page_url())
    with CaptureQueriesContext(connection) as many:
        page = client.get(page_url()).content.decode()
    assert page.count('class="card mb-2 project-quota"') == 6
    # extra4: 5 pods to a namespace + 2 to the sub-project, of 10
    assert "7 allocated" in page
    assert len(many.captured_queries) <= len(few.captured_queries), [
        q["sql"] for q in many.captured_queries
    ]


def test_a_member_is_added_with_several_roles(client, tenant, project_owner, project):
    UserFactory(tenant=tenant, username="dev")
    client.force_login(project_owner)
    form = client.get(page_url()).content.decode().split('id="member-form"')[1]
    assert _ticked(form) == ["project-member"]  # the default a newcomer gets
    body = {"kind": "user", "name": "dev", "roles": ["project-member", "project-viewer"]}
    section = client.post(page_url(tail="members/"), body, **HTMX).content.decode()
    assert _ticked(_row(section, "dev")) == ["project-member", "project-viewer"]
    assert _roles_in_db("dev") == ["project-member", "project-viewer"]
    # a refused form keeps what was ticked
    body = {"kind": "user", "name": "ghost", "roles": ["project-viewer"]}
    section = client.post(page_url(tail="members/"), body, **HTMX).content.decode()
    assert _ticked(section.split('id="member-form"')[1]) == ["project-viewer"]
