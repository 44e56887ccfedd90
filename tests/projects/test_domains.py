"""Every namespace-scoped decision is made in the domain of the project owning the namespace;
a cluster is readable to the members of the projects that span it (apps.authz.engine.Ownership)."""

import pytest

from apps.authz import can_any, check, check_collection, restrict
from apps.authz.engine import Ownership
from apps.clusters.models import Cluster
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from tests.conftest import PROJECT
from tests.factories import UserFactory, bind

pytestmark = pytest.mark.django_db


def test_ownership_maps_paths_to_domains():
    own = Ownership({("c1", "web"): "prj-a", ("c1", "db"): "prj-b"}, {"c1": ["prj-a", "prj-b"]})
    assert own.domain_of("cluster:c1/namespace:web/pod:x", "getpod") == "prj-a"
    assert own.domain_of("cluster:c1/namespace:db/secret:s", "deletesecret") == "prj-b"
    assert own.domain_of("cluster:c2/namespace:web/pod:x", "getpod") is None
    assert own.domain_of("cluster:c1/namespace:*/pod:*", "listpods") is None
    assert own.domain_of("cluster:c1/node:n1", "getnode") is None
    # The Namespace object itself: read in the project, changed by the platform.
    assert own.domain_of("cluster:c1/namespace:web", "getnamespace") == "prj-a"
    assert own.domain_of("cluster:c1/namespace:web", "deletenamespace") is None
    # What holds the namespace to its quota: read in the project, changed by the platform.
    assert own.domain_of("cluster:c1/namespace:web/resourcequota:q", "getresourcequota") == "prj-a"
    assert own.domain_of("cluster:c1/namespace:web/resourcequota:q", "deleteresourcequota") is None
    assert own.domain_of("cluster:c1/namespace:web/limitrange:l", "patchlimitrange") is None
    assert own.domain_of("project:prj-a", "getproject") == "prj-a"
    assert own.domain_of("project:prj-a", "updateproject") is None
    assert own.domain_of("project:prj-a/member:bob", "createprojectmember") == "prj-a"
    assert own.domain_of("project:prj-zzz/member:bob", "createprojectmember") is None
    assert own.spanning("cluster:c1", "getcluster") == {"prj-a", "prj-b"}
    assert own.spanning("cluster:c1", "updatecluster") == frozenset()
    assert own.namespaces_of("c1", ["prj-a"]) == ["web"]


@pytest.fixture
def two_projects(tenant):
    cluster = Cluster.objects.create(tenant=tenant, display_name="one", server="https://c1:6443")
    a = Project.objects.create(tenant=tenant, name=PROJECT, display_name="A")
    b = Project.objects.create(tenant=tenant, name="prj-other", display_name="B")
    for project, ns in ((a, "web"), (b, "db")):
        ProjectCluster.objects.create(project=project, cluster=cluster, hard={"pods": "10"})
        ProjectNamespace.objects.create(
            tenant=tenant, project=project, cluster=cluster, namespace=ns
        )
    return cluster


def test_project_member_acts_only_in_its_projects_namespaces(tenant, project_member, two_projects):
    c = two_projects.name
    assert check(
        project_member,
        "updateDeployment",
        f"cluster:{c}/namespace:web/deployment:api",
        tenant=tenant,
    )
    assert not check(
        project_member, "getDeployment", f"cluster:{c}/namespace:db/deployment:api", tenant=tenant
    )
    assert not check(project_member, "getPod", f"cluster:{c}/namespace:free/pod:p", tenant=tenant)
    # A list across namespaces is the platform's question; cluster-scoped kinds stay hidden.
    assert not check_collection(
        project_member, "listPods", f"cluster:{c}/namespace:*/pod:*", tenant=tenant
    )
    assert not check(project_member, "getNode", f"cluster:{c}/node:n1", tenant=tenant)
    # The Namespace object: readable, not deletable outside the project API.
    assert check(project_member, "getNamespace", f"cluster:{c}/namespace:web", tenant=tenant)
    assert not check(project_member, "deleteNamespace", f"cluster:{c}/namespace:web", tenant=tenant)
    quota = f"cluster:{c}/namespace:web/resourcequota:tkeportal-quota"
    assert check(project_member, "getResourceQuota", quota, tenant=tenant)
    assert not check(project_member, "updateResourceQuota", quota, tenant=tenant)


def test_cluster_is_visible_to_members_of_projects_spanning_it(
    tenant, project_member, two_projects
):
    lonely = Cluster.objects.create(tenant=tenant, display_name="two", server="https://c2:6443")
    decision = check(project_member, "getCluster", two_projects.authz_resource, tenant=tenant)
    assert decision and PROJECT in decision.reason
    assert not check(project_member, "getCluster", lonely.authz_resource, tenant=tenant)
    assert not check(project_member, "updateCluster", two_projects.authz_resource, tenant=tenant)
    assert can_any(project_member, "listClusters", model=Cluster)
    names = set(
        restrict(Cluster.objects.all(), project_member, "listClusters").values_list(
            "name", flat=True
        )
    )
    assert names == {two_projects.name}
    assert set(
        restrict(Project.objects.all(), project_member, "listProjects").values_list(
            "name", flat=True
        )
    ) == {PROJECT}


def test_ownership_changes_take_effect_at_once(tenant, two_projects):
    alice = UserFactory(tenant=tenant, username="alice")
    bind(alice, "project-member", "prj-other")
    resource = f"cluster:{two_projects.name}/namespace:web/pod:p"
    assert not check(alice, "getPod", resource, tenant=tenant)
    row = ProjectNamespace.objects.get(namespace="web")
    row.project = Project.objects.get(name="prj-other")
    row.save()
    alice.tenant.refresh_from_db()
    assert check(alice, "getPod", resource, tenant=alice.tenant)


def test_reach_lists_only_the_namespaces_of_the_users_projects(
    tenant, project_member, member, two_projects
):
    from apps.projects.access import reach

    ProjectNamespace.objects.create(
        tenant=tenant,
        project=Project.objects.get(name=PROJECT),
        cluster=two_projects,
        namespace="api",
    )
    mine = reach(project_member, two_projects, "listPods", "pod:*")
    assert not mine.everything and mine.namespaces == ("api", "web")
    assert reach(project_member, two_projects, "listNamespaces", "").namespaces == ("api", "web")
    assert reach(member, two_projects, "listPods", "pod:*").everything
    # A deny on one namespace drops that one only.
    from apps.authz.models import Binding, Policy

    deny = Policy.objects.create(
        tenant=tenant,
        name="no-api",
        scope="project",
        statements=[
            {"actions": ["*"], "resources": ["cluster:*/namespace:api/*"], "effect": "deny"}
        ],
    )
    Binding.objects.create(tenant=tenant, user=project_member, policy=deny, domain=PROJECT)
    project_member.tenant.refresh_from_db()
    assert reach(project_member, two_projects, "listPods", "pod:*").namespaces == ("web",)
