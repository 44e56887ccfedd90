"""``/api/v1/projects/`` and ``…/<p>/quota/``: the permission matrix, project isolation, quota
arithmetic at project level (parents, several clusters, extended resources), escalation, the
audit trail and the list's query count."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEvent
from apps.authz.models import Binding
from apps.projects import quota, services
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from tests.conftest import PROJECT
from tests.factories import make_cluster
from tests.matrix import APIMatrix

pytestmark = pytest.mark.django_db

GPU = "requests.nvidia.com/gpu"
VCUDA = "requests.tencent.com/vcuda-core"


def make_project(tenant, name=None, clusters=None, parent=None, display_name=None):
    """A project through the service (``clusters``: Cluster → hard)."""
    return services.create_project(
        actor=None,
        tenant=tenant,
        name=name,
        display_name=display_name or name or f"p{Project.objects.count()}",
        parent=parent,
        clusters={c.name: {"hard": hard} for c, hard in (clusters or {}).items()},
    )


def add_namespace(project, cluster, namespace, hard, used=None):
    """A project namespace row as the namespace API stores it (only the bookkeeping the
    project's quota rules read; the Kubernetes side is not needed here)."""
    return ProjectNamespace.objects.create(
        tenant=project.tenant,
        project=project,
        cluster=cluster,
        namespace=namespace,
        hard=quota.normalize(hard),
        used=used or {},
    )


def url(name="", suffix=""):
    return f"/api/v1/projects/{name + '/' if name else ''}{suffix}"


def audited(action: str, resource: str, status_code: int) -> bool:
    return AuditEvent.objects.filter(
        action=action, resource=resource, status_code=status_code, channel="api"
    ).exists()


@pytest.fixture
def clusters(tenant):
    return make_cluster(tenant, "one"), make_cluster(tenant, "two")


@pytest.fixture
def prj(tenant, clusters):
    one, two = clusters
    return make_project(
        tenant,
        PROJECT,
        {one: {"cpu": "8", "memory": "16Gi", GPU: "4"}, two: {"pods": "100", VCUDA: "10"}},
    )


class TestProjectMatrix(APIMatrix):
    list_url = "/api/v1/projects/"
    reader = "member"
    writer = "tenant_admin"
    non_writer = "read_only_user"

    def make_object(self, tenant):
        return make_project(tenant, f"prj-{tenant.slug}-{Project.objects.count()}")

    def lookup(self, obj):
        return obj.name

    def lookup_from_json(self, row):
        return row["name"]

    def create_data(self, tenant):
        return {"display_name": "New one"}

    def update_data(self, obj):
        return {"display_name": "Renamed"}


# -- isolation and roles -----------------------------------------------------------------------
def test_project_member_lists_and_reads_only_their_project(api, project_member, prj, tenant):
    other = make_project(tenant, "prj-other")
    client = api(project_member)
    rows = client.get(url()).json()["results"]
    assert [r["name"] for r in rows] == [PROJECT]
    assert client.get(url(PROJECT)).status_code == 200
    for path in (url(other.name), url(other.name, "quota/"), url(other.name, "members/")):
        response = client.get(path)
        assert response.status_code == 404, (path, response.content)
        assert response.json()["code"] == "not_found"


def test_project_owner_cannot_change_or_delete_the_project_nor_raise_its_quota(
    api, project_owner, prj, clusters
):
    """The project itself and its quota are the platform's (a container write)."""
    client = api(project_owner)
    assert client.get(url(PROJECT, "quota/")).status_code == 200
    raised = client.put(
        url(PROJECT, "quota/"), {"clusters": {clusters[0].name: {"hard": {"cpu": "800"}}}}
    )
    assert raised.status_code == 403, raised.content
    assert "updateProjectQuota" in raised.json()["detail"]
    assert client.patch(url(PROJECT), {"display_name": "Mine"}).status_code == 403
    assert client.delete(url(PROJECT)).status_code == 403
    assert client.post(url(), {"display_name": "Another"}).status_code == 403
    assert ProjectCluster.objects.get(project=prj, cluster=clusters[0]).hard["requests.cpu"] == "8"
    assert audited("updateProjectQuota", f"project:{PROJECT}", 403)


def test_list_filters_by_parent_and_phase(api, member, tenant, prj):
    child = make_project(tenant, "prj-child", parent=prj)
    Project.objects.filter(pk=child.pk).update(phase="Failed")
    client = api(member)
    by_parent = client.get(url(), {"parent": PROJECT}).json()["results"]
    assert [r["name"] for r in by_parent] == ["prj-child"]
    assert by_parent[0]["parent"] == PROJECT
    failed = client.get(url(), {"phase": "Failed"}).json()["results"]
    assert [r["name"] for r in failed] == ["prj-child"]
    top = client.get(url(), {"top": "true"}).json()["results"]
    assert [r["name"] for r in top] == [PROJECT]


def test_list_query_count_is_constant(api, member, tenant, clusters, project_member):
    queries = []

    def count(client):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url(), {"limit": 100})
        assert response.status_code == 200
        queries.append([q["sql"][:150] for q in ctx.captured_queries])
        return len(ctx), len(response.json()["results"])

    make_project(tenant, PROJECT, {clusters[0]: {"pods": "1"}})
    for user in (member, project_member):
        client = api(user)
        client.get(url())  # warm: the tenant's compiled rules
        few = count(client)
        parent = Project.objects.get(name=PROJECT)
        for i in range(6):
            make_project(
                tenant,
                f"prj-n{user.pk}x{i}",
                {c: {"pods": "0"} for c in clusters[:1]},
                parent=parent if i % 2 else None,
            )
            make_project(tenant, f"prj-m{user.pk}x{i}", {c: {} for c in clusters})
        client.get(url())  # new spans changed the tenant's rules: compile them again
        many = count(client)
        assert few[0] == many[0], (user.username, few, many, queries[-1])
    assert count(api(member))[1] > count(api(project_member))[1] == 1


# -- create, update, delete ----------------------------------------------------------------------
def test_create_with_quota_per_cluster_and_generated_name(api, member, clusters):
    one, two = clusters
    response = api(member).post(
        url(),
        {
            "display_name": "Web",
            "clusters": {
                one.name: {"hard": {"cpu": "4", "nvidia.com/gpu": "2"}},
                two.name: {"hard": {"tencent.com/vcuda-core": "50"}},
            },
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"].startswith("prj-") and len(body["name"]) == 12
    # canonical ResourceQuota names; the quantities as given
    assert body["clusters"] == {
        one.name: {"hard": {"requests.cpu": "4", GPU: "2"}},
        two.name: {"hard": {VCUDA: "50"}},
    }
    assert audited("createProject", f"project:{body['name']}", 201)


def test_bad_input_names_the_field(api, member, clusters, other_tenant):
    foreign = make_cluster(other_tenant, "theirs")
    one = clusters[0]
    client = api(member)
    cases = [
        ({"clusters": {one.name: {"hard": {"cpu": "lots"}}}}, f"clusters.{one.name}.hard.cpu"),
        (
            {"clusters": {one.name: {"hard": {"requests.cpu": "-1"}}}},
            f"clusters.{one.name}.hard.requests.cpu",
        ),
        ({"clusters": {one.name: {"hard": {"bananas": "1"}}}}, f"clusters.{one.name}.hard.bananas"),
        ({"clusters": {foreign.name: {"hard": {}}}}, f"clusters.{foreign.name}"),
        ({"clusters": {one.name: {"soft": {}}}}, f"clusters.{one.name}"),
        ({"clusters": ["x"]}, "clusters"),
        ({"name": "Not A Name"}, "name"),
        ({"parent": "prj-nope"}, "parent"),
    ]
    for extra, field in cases:
        response = client.post(url(), {"display_name": "X", **extra}, format="json")
        assert response.status_code == 400, (extra, response.content)
        body = response.json()
        assert body["code"] == "validation_error"
        assert field in body["fields"], (field, body)
    assert not Project.objects.filter(display_name="X").exists()
    make_project(foreign.tenant, "prj-theirs")
    dup = client.post(url(), {"display_name": "Y", "name": "prj-theirs"})
    assert dup.status_code == 400 and "name" in dup.json()["fields"]


def test_name_cannot_change_and_quota_goes_through_its_endpoint(api, member, prj, clusters):
    client = api(member)
    renamed = client.patch(url(PROJECT), {"name": "prj-else"})
    assert renamed.status_code == 400 and "name" in renamed.json()["fields"]
    sneaky = client.patch(url(PROJECT), {"clusters": {}}, format="json")
    assert sneaky.status_code == 400 and "quota/" in sneaky.json()["fields"]["clusters"][0]
    ok = client.patch(url(PROJECT), {"display_name": "Renamed", "description": "d"})
    assert ok.status_code == 200, ok.content
    assert ok.json()["clusters"][clusters[0].name]["hard"]["requests.cpu"] == "8"
    assert audited("updateProject", f"project:{PROJECT}", 200)


def test_delete_refused_while_it_owns_namespaces_or_sub_projects(api, member, prj, clusters):
    child = make_project(prj.tenant, "prj-kid", {clusters[1]: {"pods": "10", VCUDA: "1"}}, prj)
    ns = add_namespace(prj, clusters[0], "web", {"cpu": "1", "memory": "1Gi", GPU: "0"})
    client = api(member)
    refused = client.delete(url(PROJECT))
    assert refused.status_code == 400, refused.content
    detail = refused.json()["detail"]
    assert f"namespaces {clusters[0].name}/web" in detail and "sub-projects prj-kid" in detail
    assert audited("deleteProject", f"project:{PROJECT}", 400)
    ns.delete()
    assert client.delete(url("prj-kid")).status_code == 204
    assert client.delete(url(PROJECT)).status_code == 204
    assert not Project.objects.filter(name__in=[PROJECT, child.name]).exists()


def test_deleting_a_project_deletes_its_bindings(api, member, prj, project_owner, project_member):
    assert Binding.objects.filter(domain=PROJECT).count() == 2
    assert api(member).delete(url(PROJECT)).status_code == 204
    assert not Binding.objects.filter(domain=PROJECT).exists()
    assert Binding.objects.filter(user=member, domain="*").exists()


def test_parent_must_be_same_tenant_and_no_cycles(api, member, tenant, other_tenant, prj):
    theirs = make_project(other_tenant, "prj-theirs")
    child = make_project(tenant, "prj-kid", parent=prj)
    grandchild = make_project(tenant, "prj-grandkid", parent=child)
    client = api(member)
    foreign = client.post(url(), {"display_name": "Z", "parent": theirs.name})
    assert foreign.status_code == 400 and "parent" in foreign.json()["fields"]
    cycle = client.patch(url(PROJECT), {"parent": grandchild.name})
    assert cycle.status_code == 400, cycle.content
    assert "sub-projects" in cycle.json()["fields"]["parent"][0]
    self_parent = client.patch(url(PROJECT), {"parent": PROJECT})
    assert self_parent.status_code == 400
    moved = client.patch(url("prj-grandkid"), {"parent": None}, format="json")
    assert moved.status_code == 200 and moved.json()["parent"] is None


# -- quota -------------------------------------------------------------------------------------
def test_quota_report_per_cluster(api, project_viewer, prj, clusters, tenant):
    one, two = clusters
    make_project(tenant, "prj-kid", {one: {"cpu": "2", "memory": "4Gi", GPU: "1"}}, prj)
    add_namespace(
        prj, one, "web", {"cpu": "1500m", "memory": "2Gi", GPU: "2"}, used={"requests.cpu": "1"}
    )
    add_namespace(prj, one, "db", {"cpu": "1", "memory": "1Gi", GPU: "0"}, used={GPU: "0"})
    response = api(project_viewer).get(url(PROJECT, "quota/"))
    assert response.status_code == 200, response.content
    report = response.json()
    assert report["project"] == PROJECT
    assert report["clusters"][one.name] == {
        "hard": {"requests.cpu": "8", "requests.memory": "16Gi", GPU: "4"},
        "allocated": {"requests.cpu": "4500m", "requests.memory": "7Gi", GPU: "3"},
        "used": {"requests.cpu": "1", GPU: "0"},
        "left": {"requests.cpu": "3500m", "requests.memory": "9Gi", GPU: "1"},
    }
    assert report["clusters"][two.name] == {
        "hard": {"pods": "100", VCUDA: "10"},
        "allocated": {},
        "used": {},
        "left": {"pods": "100", VCUDA: "10"},
    }


def _report_per_cluster_the_slow_way(project) -> dict:
    """The quota report as it was computed before it was batched: ``allocation.allocated`` and
    the namespaces' usage asked cluster by cluster (the reference the batched one must match)."""
    from apps.projects import allocation

    clusters = {}
    for row in project.clusters.select_related("cluster").order_by("cluster__name"):
        given = allocation.allocated(project, row.cluster)
        used = ProjectNamespace.objects.filter(project=project, cluster=row.cluster)
        clusters[row.cluster.name] = {
            "hard": dict(row.hard),
            "allocated": quota.printable(given),
            "used": quota.printable(quota.total(used.values_list("used", flat=True))),
            "left": quota.printable(quota.remaining(row.hard, given)),
        }
    return {"project": project.name, "clusters": clusters}


def test_quota_report_queries_do_not_grow_with_clusters_and_answer_is_unchanged(
    api, project_viewer, prj, clusters, tenant
):
    one, two = clusters
    client = api(project_viewer)
    add_namespace(prj, one, "web", {"cpu": "1", "memory": "1Gi"}, used={"requests.cpu": "1"})
    client.get(url(PROJECT, "quota/"))  # the policy index is built once
    with CaptureQueriesContext(connection) as few:
        response = client.get(url(PROJECT, "quota/"))
    assert response.status_code == 200 and len(response.json()["clusters"]) == 2
    # four more clusters, each with namespaces, usage and a sub-project's share
    kid = make_project(tenant, "prj-kid", {two: {"pods": "10", VCUDA: "1"}}, prj)
    extras = [make_cluster(tenant, f"extra{i}") for i in range(4)]
    for i, extra in enumerate(extras):
        ProjectCluster.objects.create(
            project=prj, cluster=extra, hard={"requests.cpu": str(10 + i), "pods": "50"}
        )
        ProjectCluster.objects.create(project=kid, cluster=extra, hard={"requests.cpu": "2"})
        add_namespace(prj, extra, f"a{i}", {"cpu": f"{i + 1}", "pods": "5"}, {"pods": str(i)})
        add_namespace(prj, extra, f"b{i}", {"cpu": "500m"}, {"requests.cpu": "250m"})
    client.get(url(PROJECT, "quota/"))
    with CaptureQueriesContext(connection) as many:
        response = client.get(url(PROJECT, "quota/"))
    assert response.status_code == 200, response.content
    report = response.json()
    assert len(report["clusters"]) == 6
    assert len(many.captured_queries) <= len(few.captured_queries), [
        q["sql"] for q in many.captured_queries
    ]
    assert report == _report_per_cluster_the_slow_way(prj)
    assert report["clusters"][extras[3].name] == {
        "hard": {"pods": "50", "requests.cpu": "13"},
        "allocated": {"pods": "5", "requests.cpu": "6500m"},
        "used": {"pods": "3", "requests.cpu": "250m"},
        "left": {"pods": "45", "requests.cpu": "6500m"},
    }


def test_sub_project_quota_comes_out_of_the_parents(api, member, prj, clusters, tenant):
    one, two = clusters
    lonely = make_cluster(tenant, "three")
    client = api(member)
    first = client.post(
        url(),
        {
            "display_name": "Kid A",
            "parent": PROJECT,
            "clusters": {one.name: {"hard": {"cpu": "6", "memory": "8Gi", GPU: "3"}}},
        },
        format="json",
    )
    assert first.status_code == 201, first.content
    # Only 2 cpu, 8Gi, 1 GPU left on cluster one: the error says how much of each.
    second = client.post(
        url(),
        {
            "display_name": "Kid B",
            "parent": PROJECT,
            "clusters": {
                one.name: {"hard": {"cpu": "3", "memory": "8Gi", GPU: "2"}},
                two.name: {"hard": {"pods": "10"}},
            },
        },
        format="json",
    )
    assert second.status_code == 400, second.content
    fields = second.json()["fields"]
    message = fields[f"clusters.{one.name}.hard"][0]
    assert "requests.cpu: 3 requested, 2 left" in message
    assert f"{GPU}: 2 requested, 1 left" in message
    assert "requests.memory" not in message  # 8Gi fits exactly
    # The parent limits vcuda-core on cluster two: the child must limit it too.
    assert VCUDA in fields[f"clusters.{two.name}.hard"][0]
    # A cluster the parent does not span.
    third = client.post(
        url(),
        {"display_name": "Kid C", "parent": PROJECT, "clusters": {lonely.name: {"hard": {}}}},
        format="json",
    )
    assert third.status_code == 400
    assert "does not span" in third.json()["fields"][f"clusters.{lonely.name}"][0]
    assert list(Project.objects.filter(parent=prj).values_list("display_name", flat=True)) == [
        "Kid A"
    ]
    # Exactly what is left fits, in other units.
    fits = client.post(
        url(),
        {
            "display_name": "Kid D",
            "parent": PROJECT,
            "clusters": {one.name: {"hard": {"cpu": "2000m", "memory": "8192Mi", GPU: "1"}}},
        },
        format="json",
    )
    assert fits.status_code == 201, fits.content


def test_growing_a_sub_project_is_judged_without_its_old_quota(api, member, prj, clusters):
    one = clusters[0]
    kid = make_project(prj.tenant, "prj-kid", {one: {"cpu": "6", "memory": "1Gi", GPU: "4"}}, prj)
    client = api(member)
    grown = client.patch(
        url(kid.name, "quota/"),
        {"clusters": {one.name: {"hard": {"cpu": "8", "memory": "1Gi", GPU: "4"}}}},
        format="json",
    )
    assert grown.status_code == 200, grown.content
    too_big = client.patch(
        url(kid.name, "quota/"),
        {"clusters": {one.name: {"hard": {"cpu": "9", "memory": "1Gi", GPU: "4"}}}},
        format="json",
    )
    assert too_big.status_code == 400
    assert "requests.cpu: 9 requested, 8 left" in str(too_big.json()["fields"])


def test_lowering_below_what_is_allocated_is_refused_with_numbers(api, member, prj, clusters):
    one, two = clusters
    make_project(prj.tenant, "prj-kid", {one: {"cpu": "3", "memory": "2Gi", GPU: "1"}}, prj)
    add_namespace(prj, one, "web", {"cpu": "2", "memory": "4Gi", GPU: "2"})
    client = api(member)
    lowered = client.patch(
        url(PROJECT, "quota/"),
        {"clusters": {one.name: {"hard": {"cpu": "4", "memory": "16Gi", GPU: "2"}}}},
        format="json",
    )
    assert lowered.status_code == 400, lowered.content
    message = lowered.json()["fields"][f"clusters.{one.name}.hard"][0]
    assert "requests.cpu: 4 asked, 5 allocated" in message
    assert f"{GPU}: 2 asked, 3 allocated" in message
    assert "memory" not in message
    assert audited("updateProjectQuota", f"project:{PROJECT}", 400)
    # Limiting something the namespace and sub-project leave unlimited is refused too.
    new_limit = client.patch(
        url(PROJECT, "quota/"),
        {"clusters": {one.name: {"hard": {"cpu": "8", "memory": "16Gi", GPU: "4", "pods": "9"}}}},
        format="json",
    )
    assert new_limit.status_code == 400
    text = new_limit.json()["fields"][f"clusters.{one.name}.hard"][0]
    assert "pods" in text and "namespace web" in text and "sub-project prj-kid" in text
    # Down to exactly what is allocated is fine; PATCH leaves cluster two alone.
    exact = client.patch(
        url(PROJECT, "quota/"),
        {"clusters": {one.name: {"hard": {"cpu": "5", "memory": "6Gi", GPU: "3"}}}},
        format="json",
    )
    assert exact.status_code == 200, exact.content
    assert exact.json()["clusters"][one.name]["left"] == {
        "requests.cpu": "0",
        "requests.memory": "0",
        GPU: "0",
    }
    assert two.name in exact.json()["clusters"]
    assert audited("updateProjectQuota", f"project:{PROJECT}", 200)


def test_taking_a_cluster_out_is_refused_while_used_there(api, member, prj, clusters):
    one, two = clusters
    make_project(prj.tenant, "prj-kid", {two: {"pods": "1", VCUDA: "1"}}, prj)
    add_namespace(prj, one, "web", {"cpu": "1", "memory": "1Gi", GPU: "1"})
    client = api(member)
    response = client.put(url(PROJECT, "quota/"), {"clusters": {}}, format="json")
    assert response.status_code == 400, response.content
    fields = response.json()["fields"]
    assert "namespaces web" in fields[f"clusters.{one.name}"][0]
    assert "sub-projects prj-kid" in fields[f"clusters.{two.name}"][0]
    assert ProjectCluster.objects.filter(project=prj).count() == 2
    ProjectNamespace.objects.filter(namespace="web").delete()
    only_two = client.put(
        url(PROJECT, "quota/"),
        {"clusters": {two.name: {"hard": {"pods": "100", VCUDA: "10"}}}},
        format="json",
    )
    assert only_two.status_code == 200, only_two.content
    assert list(only_two.json()["clusters"]) == [two.name]


def test_quota_endpoint_permissions(api, anon_client, viewer, other_user, project_member, prj):
    path = url(PROJECT, "quota/")
    assert anon_client.get(path).status_code == 401
    for user in (viewer, other_user):
        assert api(user).get(path).status_code == 404
        assert api(user).put(path, {"clusters": {}}, format="json").status_code == 404
    assert api(project_member).get(path).status_code == 200
    assert api(project_member).put(path, {"clusters": {}}, format="json").status_code == 403
