"""Permission matrix of /api/v1/projects/<p>/namespaces/ (tests/matrix.py), the other
endpoints' permissions, and the list's constant query count."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEvent
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from tests.conftest import PROJECT, persona
from tests.factories import make_cluster
from tests.matrix import APIMatrix
from tests.projects.namespace_fixtures import *  # noqa: F403  (fixtures: cluster, project, kube)
from tests.projects.namespace_fixtures import add_row, url

pytestmark = pytest.mark.django_db

HARD = {"requests.cpu": "4", "requests.memory": "8Gi", "pods": "20"}
SMALL = {"requests.cpu": "1", "requests.memory": "1Gi", "pods": "2"}


def offline_row(tenant, namespace=None):
    """A project namespace on a cluster nobody calls; prj-test in acme, prj-<slug> elsewhere."""
    name = PROJECT if tenant.slug == "acme" else f"prj-{tenant.slug}"
    project, _ = Project.objects.get_or_create(
        tenant=tenant, name=name, defaults={"display_name": name}
    )
    pc = ProjectCluster.objects.filter(project=project).select_related("cluster").first()
    if pc is None:
        pc = ProjectCluster.objects.create(
            project=project, cluster=make_cluster(tenant, f"{name}-c"), hard={}
        )
    namespace = namespace or f"ns{ProjectNamespace.objects.count()}"
    return add_row(project, pc.cluster, namespace, dict(SMALL))


class TestProjectNamespaceMatrix(APIMatrix):
    """Project owners (and platform users) manage the project's namespaces; members and
    viewers of the project read them; a login-only user gets 403; other tenants 404."""

    list_url = url()
    reader = "project_viewer"
    writer = "project_owner"
    non_writer = "project_member"

    def make_object(self, tenant):
        return offline_row(tenant)

    def lookup(self, obj):
        return f"{obj.cluster.name}/{obj.namespace}"

    def lookup_from_json(self, row):
        return f"{row['cluster']}/{row['namespace']}"

    def create_data(self, tenant):
        return {"cluster": "cls-none", "namespace": "new", "hard": dict(SMALL)}

    def update_data(self, obj):
        return {"hard": {"requests.cpu": "2", "requests.memory": "1Gi", "pods": "2"}}

    def test_writer_creates_updates_deletes(
        self, api, project_owner, project, cluster, kube, django_capture_on_commit_callbacks
    ):
        """Against kubesim: 201 Pending, 200 resized, 202 Terminating, then gone (404)."""
        core, _ = kube
        client = api(project_owner)
        with django_capture_on_commit_callbacks(execute=True):
            created = client.post(
                url(), {"cluster": cluster.name, "namespace": "shop", "hard": SMALL}, format="json"
            )
        assert created.status_code == 201, created.content
        detail = url(cluster=cluster, namespace="shop")
        assert client.get(detail).json()["phase"] == "Available"
        with django_capture_on_commit_callbacks(execute=True):
            updated = client.patch(detail, self.update_data(None), format="json")
        assert updated.status_code == 200, updated.content
        assert updated.json()["hard"]["requests.cpu"] == "2"
        with django_capture_on_commit_callbacks(execute=True):
            deleted = client.delete(detail)
        assert deleted.status_code == 202, deleted.content
        assert client.get(detail).status_code == 404
        actions = list(
            AuditEvent.objects.filter(user=project_owner)
            .order_by("id")
            .values_list("action", "status_code")
        )
        assert actions == [
            ("createProjectNamespace", 201),
            ("updateProjectNamespace", 200),
            ("deleteProjectNamespace", 202),
        ]

    def test_owner_of_another_project_sees_nothing_of_this_one(self, api, tenant):
        obj = offline_row(tenant)
        outsider = persona(tenant, "olaf", "project-owner", "prj-elsewhere")
        client = api(outsider)
        assert client.get(self.list_url).status_code == 404  # the project is not theirs
        assert client.get(self.detail_url(obj)).status_code == 404
        assert client.delete(self.detail_url(obj)).status_code == 404

    def test_list_query_count_is_constant(self, api, project_viewer, tenant):
        client = api(project_viewer)
        offline_row(tenant)
        client.get(self.list_url)  # warm the authorization index
        with CaptureQueriesContext(connection) as few:
            assert len(client.get(self.list_url).json()["results"]) == 1
        for _ in range(9):
            offline_row(tenant)
        client.get(self.list_url)  # new owners recompiled the tenant's rules: warm again
        with CaptureQueriesContext(connection) as many:
            assert len(client.get(self.list_url).json()["results"]) == 10
        assert len(many) == len(few)


def test_other_doors_permissions(api, tenant, project_member, project_viewer, viewer, member):
    row = offline_row(tenant, "web")
    detail = url(cluster=row.cluster, namespace="web")
    body = {"cluster": row.cluster.name, "namespace": "legacy"}
    for user in (project_member, project_viewer, viewer):
        client = api(user)
        assert client.post(url(tail="import/"), body).status_code == 403
        moved = client.post(f"{detail}move/", {"destination": "prj-x"})
        assert moved.status_code == (404 if user is viewer else 403)
    # A viewer of the project may see the delete preview's door (the cluster is not
    # reachable here: 503, not 403); a login-only user may not see the namespace at all.
    assert api(project_viewer).get(f"{detail}delete-preview/").status_code == 503
    assert api(viewer).get(f"{detail}delete-preview/").status_code == 404
    # A platform user (projects area) may import.
    assert api(member).post(url(tail="import/"), body).status_code == 503


def test_unknown_or_foreign_project_is_404(api, tenant_admin, other_tenant):
    offline_row(other_tenant)
    client = api(tenant_admin)
    assert client.get(url("prj-nothere")).status_code == 404
    assert client.get(url("prj-globex")).status_code == 404
    created = client.post(url("prj-globex"), {"cluster": "cls-x", "namespace": "a"})
    assert created.status_code == 404


def test_a_project_owner_cannot_import_an_existing_namespace(api, tenant, project_owner, member):
    """Import takes over what the namespace holds (kube-system's service account tokens, say):
    a project owner, who may create new namespaces in the project, may not take one over."""
    row = offline_row(tenant, "web")
    body = {"cluster": row.cluster.name, "namespace": "kube-system"}
    refused = api(project_owner).post(url(tail="import/"), body)
    assert refused.status_code == 403
    assert "updateNamespace on cluster:" in refused.json()["detail"]
    assert not ProjectNamespace.objects.filter(namespace="kube-system").exists()
    # A platform user may (the cluster is not reachable in this test: 503 past authorization).
    assert api(member).post(url(tail="import/"), body).status_code == 503
