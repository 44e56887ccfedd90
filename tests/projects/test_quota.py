"""Quota admission of project namespaces: never past the project's quota on a cluster, clusters
independent, a sub-project's quota taken from its parent's, extended resources, resizing
judged without the namespace's own old size, and the error naming what is left."""

import pytest
from django.core.exceptions import ValidationError

from apps.projects import allocation, namespaces
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from tests.conftest import PROJECT
from tests.factories import make_cluster
from tests.projects.namespace_fixtures import *  # noqa: F403  (fixtures: cluster, project, kube)
from tests.projects.namespace_fixtures import add_row, url

pytestmark = pytest.mark.django_db


def fields(exc_info) -> dict:
    return exc_info.value.message_dict


def test_namespace_quotas_never_sum_past_the_projects_through_the_api(
    api, project_owner, project, cluster
):
    client = api(project_owner)
    first = client.post(
        url(),
        {
            "cluster": cluster.name,
            "namespace": "one",
            "hard": {"cpu": "3", "memory": "6Gi", "pods": "15"},
        },
        format="json",
    )
    assert first.status_code == 201, first.content
    second = client.post(
        url(),
        {
            "cluster": cluster.name,
            "namespace": "two",
            "hard": {"cpu": "2", "memory": "2Gi", "pods": "5"},
        },
        format="json",
    )
    assert second.status_code == 400
    body = second.json()
    assert body["code"] == "validation_error"
    assert body["fields"]["hard"] == [
        f"does not fit in what project {PROJECT} has left on cluster {cluster.name}: "
        "requests.cpu: 2 requested, 1 left"
    ]
    fits = client.post(
        url(),
        {
            "cluster": cluster.name,
            "namespace": "two",
            "hard": {"cpu": "1", "memory": "2Gi", "pods": "5"},
        },
        format="json",
    )
    assert fits.status_code == 201, fits.content
    assert allocation.left(project, cluster) == {
        "requests.cpu": 0,
        "requests.memory": 0,
        "pods": 0,
    }


@pytest.fixture
def offline(tenant):
    """Two clusters the tests never call (resizing talks to the cluster only in the task)."""
    a, b = make_cluster(tenant, "a"), make_cluster(tenant, "b")
    project = Project.objects.create(tenant=tenant, name=PROJECT, display_name="Test")
    for c in (a, b):
        ProjectCluster.objects.create(
            project=project, cluster=c, hard={"requests.cpu": "4", "pods": "10"}
        )
    return project, a, b


def test_clusters_are_independent_and_resizing_excludes_itself(offline):
    project, a, b = offline
    on_a = add_row(project, a, "web", {"requests.cpu": "3", "pods": "8"})
    add_row(project, b, "web", {"requests.cpu": "4", "pods": "10"})  # all of b
    # a still has 1 cpu and 2 pods left, whatever b holds.
    assert allocation.left(project, a) == {"requests.cpu": 1, "pods": 2}
    # Growing web on a to the whole of a fits: its own 3 cpu are not counted twice.
    namespaces.update_quota(actor=None, row=on_a, hard={"cpu": "4", "pods": "10"})
    on_a.refresh_from_db()
    assert on_a.hard == {"requests.cpu": "4", "pods": "10"}
    with pytest.raises(ValidationError) as refused:
        namespaces.update_quota(actor=None, row=on_a, hard={"cpu": "5", "pods": "10"})
    assert fields(refused)["hard"] == [
        f"does not fit in what project {PROJECT} has left on cluster {a.name}: "
        "requests.cpu: 5 requested, 4 left"
    ]
    on_a.refresh_from_db()
    assert on_a.hard == {"requests.cpu": "4", "pods": "10"}


def test_a_sub_projects_quota_comes_out_of_its_parents(offline, tenant):
    parent, a, _ = offline
    child = Project.objects.create(
        tenant=tenant, name="prj-child", display_name="Child", parent=parent
    )
    ProjectCluster.objects.create(project=child, cluster=a, hard={"requests.cpu": "1", "pods": "6"})
    row = add_row(parent, a, "web", {"requests.cpu": "1", "pods": "1"})
    with pytest.raises(ValidationError) as refused:
        namespaces.update_quota(actor=None, row=row, hard={"requests.cpu": "1", "pods": "5"})
    assert "pods: 5 requested, 4 left" in fields(refused)["hard"][0]
    namespaces.update_quota(actor=None, row=row, hard={"requests.cpu": "3", "pods": "4"})
    # The child's own namespaces are judged against the child's quota, not the parent's.
    child_row = add_row(child, a, "batch", {"requests.cpu": "1", "pods": "1"})
    with pytest.raises(ValidationError) as refused:
        namespaces.update_quota(actor=None, row=child_row, hard={"requests.cpu": "2", "pods": "1"})
    assert (
        f"project prj-child has left on cluster {a.name}: requests.cpu: 2 requested, 1 left"
        in fields(refused)["hard"][0]
    )


def test_extended_resources_are_quota_like_any_other(offline):
    project, a, _ = offline
    ProjectCluster.objects.filter(project=project, cluster=a).update(
        hard={
            "requests.cpu": "4",
            "pods": "10",
            "requests.nvidia.com/gpu": "2",
            "requests.tencent.com/vcuda-core": "100",
        }
    )
    row = add_row(project, a, "train", {})
    namespaces.update_quota(
        actor=None,
        row=row,
        hard={"cpu": "1", "pods": "1", "nvidia.com/gpu": "2", "tencent.com/vcuda-core": "60"},
    )
    row.refresh_from_db()
    # Bare extended names become the ResourceQuota's requests.<name>.
    assert row.hard == {
        "requests.cpu": "1",
        "pods": "1",
        "requests.nvidia.com/gpu": "2",
        "requests.tencent.com/vcuda-core": "60",
    }
    other = add_row(project, a, "infer", {})
    with pytest.raises(ValidationError) as refused:
        namespaces.update_quota(
            actor=None,
            row=other,
            hard={"cpu": "1", "pods": "1", "nvidia.com/gpu": "1", "tencent.com/vcuda-core": "50"},
        )
    message = fields(refused)["hard"][0]
    assert "requests.nvidia.com/gpu: 1 requested, 0 left" in message
    assert "requests.tencent.com/vcuda-core: 50 requested, 40 left" in message
    # Leaving out a resource the project limits is refused too (it could take all of it).
    with pytest.raises(ValidationError) as refused:
        namespaces.update_quota(actor=None, row=other, hard={"cpu": "1", "pods": "1"})
    assert "set a quota for each" in fields(refused)["hard"][0]
    assert "requests.nvidia.com/gpu 0" in fields(refused)["hard"][0]


def test_a_lowered_project_quota_refuses_growth_but_allows_shrinking(offline):
    project, a, _ = offline
    row = add_row(project, a, "web", {"requests.cpu": "4", "pods": "10"})
    ProjectCluster.objects.filter(project=project, cluster=a).update(
        hard={"requests.cpu": "2", "pods": "10"}
    )
    with pytest.raises(ValidationError):
        namespaces.update_quota(actor=None, row=row, hard={"requests.cpu": "3", "pods": "10"})
    namespaces.update_quota(actor=None, row=row, hard={"requests.cpu": "2", "pods": "10"})
    assert ProjectNamespace.objects.get(pk=row.pk).hard["requests.cpu"] == "2"


def test_a_terminating_namespace_cannot_be_resized(offline):
    project, a, _ = offline
    row = add_row(project, a, "web", {"requests.cpu": "1", "pods": "1"}, phase="Terminating")
    with pytest.raises(ValidationError) as refused:
        namespaces.update_quota(actor=None, row=row, hard={"requests.cpu": "1", "pods": "2"})
    assert "being deleted" in fields(refused)["namespace"][0]
