"""The project admin writes through the services: the quota inline obeys the API's rules,
deleting a project that owns something is refused, and every change is audited."""

import pytest
from django.test import Client

from apps.audit.models import AuditEvent
from apps.projects.models import Project, ProjectCluster
from tests.conftest import PROJECT
from tests.factories import make_cluster
from tests.projects.test_projects_api import add_namespace, make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(tenant_admin):
    client = Client()
    client.force_login(tenant_admin)
    return client


def form(project_name, display_name, rows, parent=""):
    """The change form's POST: the project's fields and the quota inline's rows."""
    data = {
        "name": project_name,
        "display_name": display_name,
        "description": "",
        "parent": parent,
        "clusters-TOTAL_FORMS": str(len(rows)),
        "clusters-INITIAL_FORMS": "0",
        "namespaces-TOTAL_FORMS": "0",
        "namespaces-INITIAL_FORMS": "0",
    }
    for i, (cluster, hard) in enumerate(rows):
        data[f"clusters-{i}-cluster"] = str(cluster.pk)
        data[f"clusters-{i}-hard"] = hard
    return data


def test_admin_creates_a_project_with_quota_through_the_service(admin_client, tenant):
    one = make_cluster(tenant, "one")
    response = admin_client.post(
        "/admin/projects/project/add/",
        form("prj-adm", "Admin made", [(one, '{"cpu": "4", "nvidia.com/gpu": "1"}')]),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    project = Project.objects.get(name="prj-adm")
    assert project.tenant == tenant
    assert ProjectCluster.objects.get(project=project).hard == {
        "requests.cpu": "4",
        "requests.nvidia.com/gpu": "1",
    }
    event = AuditEvent.objects.get(channel="admin", method="POST")
    assert event.action == "createProject" and event.status_code == 302


def test_admin_quota_is_judged_like_the_api(admin_client, tenant):
    one = make_cluster(tenant, "one")
    parent = make_project(tenant, PROJECT, {one: {"cpu": "4"}})
    kid = make_project(tenant, "prj-kid", {one: {"cpu": "3"}}, parent=parent)
    page = admin_client.post(
        f"/admin/projects/project/{kid.pk}/change/",
        {
            **form("prj-kid", kid.display_name, [(one, '{"cpu": "5"}')], parent=str(parent.pk)),
            "clusters-INITIAL_FORMS": "0",
        },
    )
    assert page.status_code == 200  # the form again, with the reason
    text = page.content.decode()
    assert "requests.cpu: 5 requested, 4 left" in text
    assert ProjectCluster.objects.get(project=kid).hard == {"requests.cpu": "3"}
    bad = admin_client.post(
        f"/admin/projects/project/{kid.pk}/change/",
        form("prj-kid", kid.display_name, [(one, '{"cpu": "lots"}')], parent=str(parent.pk)),
    )
    assert bad.status_code == 200 and "is not a Kubernetes quantity" in bad.content.decode()
    assert AuditEvent.objects.filter(channel="admin", action="updateProject").count() == 2


def test_admin_refuses_to_delete_a_project_that_owns_namespaces(admin_client, tenant):
    one = make_cluster(tenant, "one")
    project = make_project(tenant, PROJECT, {one: {}})
    add_namespace(project, one, "web", {})
    page = admin_client.post(f"/admin/projects/project/{project.pk}/delete/", {"post": "yes"})
    assert page.status_code == 200
    assert f"namespaces {one.name}/web" in page.content.decode()
    assert Project.objects.filter(pk=project.pk).exists()
    empty = make_project(tenant, "prj-empty")
    gone = admin_client.post(f"/admin/projects/project/{empty.pk}/delete/", {"post": "yes"})
    assert gone.status_code == 302
    assert not Project.objects.filter(pk=empty.pk).exists()
    assert AuditEvent.objects.filter(channel="admin", action="deleteProject").count() == 2
