"""Project namespaces against kubesim: created labelled with their ResourceQuota and LimitRange,
resized, deleted after a preview, imported and moved between projects, with the refusals, a
failed step resumed, and a dead cluster answered with 503."""

import pytest
from kubernetes.client import ApiException

from apps.audit.models import AuditEvent
from apps.authz import check
from apps.clusters.models import ClusterOperation
from apps.projects import namespaces
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from apps.projects.tasks import run_namespace_operation
from tests.conftest import PROJECT
from tests.factories import bind
from tests.projects.namespace_fixtures import *  # noqa: F403  (fixtures: cluster, project, kube)
from tests.projects.namespace_fixtures import add_row, read, url

pytestmark = pytest.mark.django_db

LABELS = {"tkeportal.io/tenant": "acme", "tkeportal.io/project": PROJECT}


def create(client, cluster, name="shop", hard=None, capture=None):
    body = {
        "cluster": cluster.name,
        "namespace": name,
        "hard": hard or {"cpu": "2", "memory": "2Gi", "pods": "10"},
    }
    with capture(execute=True):
        return client.post(url(), body, format="json")


def steps(op):
    return [(s["name"], s["status"]) for s in op.steps]


def test_create_makes_labelled_namespace_with_quota_and_limit_range(
    api, project_owner, project, cluster, kube, django_capture_on_commit_callbacks
):
    core, _ = kube
    response = create(api(project_owner), cluster, capture=django_capture_on_commit_callbacks)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["phase"] == "Pending"  # the answer is given before the task runs
    assert body["hard"] == {"requests.cpu": "2", "requests.memory": "2Gi", "pods": "10"}
    row = ProjectNamespace.objects.get(cluster=cluster, namespace="shop")
    assert row.phase == "Available" and row.message == ""
    ns = read(core.read_namespace, "shop")
    assert ns["metadata"]["labels"]["tkeportal.io/tenant"] == "acme"
    assert ns["metadata"]["labels"]["tkeportal.io/project"] == PROJECT
    quota = read(core.read_namespaced_resource_quota, "tkeportal-quota", "shop")
    assert quota["spec"]["hard"] == {"requests.cpu": "2", "requests.memory": "2Gi", "pods": "10"}
    limits = read(core.read_namespaced_limit_range, "tkeportal-limits", "shop")
    (item,) = limits["spec"]["limits"]
    assert item["type"] == "Container"
    assert item["default_request"] == {"cpu": "100m", "memory": "128Mi"}
    assert item["default"] == {"cpu": "500m", "memory": "512Mi"}
    op = ClusterOperation.objects.get(cluster=cluster, kind="namespace-create")
    assert op.target == "namespace:shop" and op.phase == "Succeeded"
    assert steps(op) == [
        ("EnsureNamespace", "True"),
        ("EnsureResourceQuota", "True"),
        ("EnsureLimitRange", "True"),
    ]
    event = AuditEvent.objects.get(action="createProjectNamespace")
    assert event.outcome == "success" and event.user == project_owner
    assert event.resource == f"project:{PROJECT}/cluster:{cluster.name}/namespace:shop"


def test_create_refuses_a_namespace_that_exists_on_the_cluster(
    api, project_owner, project, cluster, django_capture_on_commit_callbacks
):
    """The seeded namespace "web" is not silently adopted: that is an import."""
    response = create(
        api(project_owner), cluster, name="web", capture=django_capture_on_commit_callbacks
    )
    assert response.status_code == 400
    assert "import it" in response.json()["fields"]["namespace"][0]
    assert not ProjectNamespace.objects.exists()


def test_create_refuses_a_namespace_another_project_owns(
    api, tenant_admin, tenant, project, cluster, django_capture_on_commit_callbacks
):
    other = Project.objects.create(tenant=tenant, name="prj-other", display_name="Other")
    ProjectCluster.objects.create(project=other, cluster=cluster, hard={})
    add_row(other, cluster, "shop", {})
    response = create(api(tenant_admin), cluster, capture=django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert "already belongs to a project" in response.json()["fields"]["namespace"][0]


def test_create_with_bad_input_names_the_field(api, project_owner, project, cluster):
    client = api(project_owner)
    bad_name = client.post(url(), {"cluster": cluster.name, "namespace": "Shop_1", "hard": {}})
    assert bad_name.status_code == 400 and "namespace" in bad_name.json()["fields"]
    bad_hard = client.post(
        url(), {"cluster": cluster.name, "namespace": "shop", "hard": {"cpu": "lots"}}
    )
    assert bad_hard.status_code == 400
    assert "hard.cpu" in bad_hard.json()["fields"], bad_hard.json()
    unknown = client.post(url(), {"cluster": "cls-nothere", "namespace": "shop", "hard": {}})
    assert unknown.status_code == 400 and "cluster" in unknown.json()["fields"]
    assert not ProjectNamespace.objects.exists()


def test_create_on_a_cluster_the_project_does_not_span_is_refused(
    api, tenant_admin, project, cluster
):
    ProjectCluster.objects.filter(project=project).delete()
    response = api(tenant_admin).post(
        url(), {"cluster": cluster.name, "namespace": "shop", "hard": {}}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["fields"]["cluster"] == [
        f"Project {PROJECT} does not span cluster {cluster.name}."
    ]
    assert not ProjectNamespace.objects.exists()


def test_dead_cluster_is_503_not_500(api, project_owner, project, cluster, sim_cluster):
    row = add_row(project, cluster, "shop", {"pods": "1"})
    sim_cluster.faults.down()
    client = api(project_owner)
    created = client.post(
        url(),
        {
            "cluster": cluster.name,
            "namespace": "other",
            "hard": {"cpu": "1", "memory": "1Gi", "pods": "1"},
        },
        format="json",
    )
    assert created.status_code == 503, created.content
    assert created.json()["code"] == "cluster_unreachable"
    assert f"Cluster {cluster.name} is unreachable" in created.json()["detail"]
    preview = client.get(url(cluster=cluster, namespace=row.namespace, tail="delete-preview/"))
    assert preview.status_code == 503
    assert cluster.name in preview.json()["detail"]
    assert ProjectNamespace.objects.count() == 1


def test_failed_step_fails_the_row_and_a_rerun_repeats_only_missing_steps(
    api, project_owner, project, cluster, sim_cluster, kube, django_capture_on_commit_callbacks
):
    core, _ = kube
    rule = sim_cluster.faults.fail(500, method="POST", path=r"/resourcequotas$", times=1)
    create(api(project_owner), cluster, capture=django_capture_on_commit_callbacks)
    assert rule.hits == 1
    row = ProjectNamespace.objects.get(namespace="shop")
    assert row.phase == "Failed"
    assert cluster.name in row.message
    op = ClusterOperation.objects.get(kind="namespace-create")
    assert op.phase == "Failed"
    assert steps(op) == [("EnsureNamespace", "True"), ("EnsureResourceQuota", "False")]
    first = op.steps[0]["time"]
    # Re-running the same operation resumes it.
    assert run_namespace_operation(op.pk) == "Succeeded"
    op.refresh_from_db()
    assert op.steps[0]["time"] == first  # EnsureNamespace was not repeated
    assert steps(op) == [
        ("EnsureNamespace", "True"),
        ("EnsureResourceQuota", "True"),
        ("EnsureLimitRange", "True"),
    ]
    assert op.attempts == 2
    row.refresh_from_db()
    assert row.phase == "Available" and row.message == ""
    assert read(core.read_namespaced_resource_quota, "tkeportal-quota", "shop") is not None
    assert run_namespace_operation(op.pk) == "nothing to do"


def test_resize_updates_the_resource_quota_and_limit_range(
    api, project_owner, project, cluster, kube, django_capture_on_commit_callbacks
):
    core, _ = kube
    client = api(project_owner)
    create(client, cluster, capture=django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.patch(
            url(cluster=cluster, namespace="shop"),
            {"hard": {"cpu": "4", "memory": "6Gi", "pods": "12"}},
            format="json",
        )
    assert response.status_code == 200, response.content
    quota = read(core.read_namespaced_resource_quota, "tkeportal-quota", "shop")
    assert quota["spec"]["hard"] == {"requests.cpu": "4", "requests.memory": "6Gi", "pods": "12"}
    # Only pods limited: no LimitRange needed any more, and it is removed.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.patch(
            url(cluster=cluster, namespace="shop"), {"hard": {"pods": "12"}}, format="json"
        )
    # prj-test limits cpu and memory: a namespace must set a quota for each.
    assert response.status_code == 400
    assert "set a quota for each" in response.json()["fields"]["hard"][0]
    ops = ClusterOperation.objects.filter(kind="namespace-quota")
    assert [op.phase for op in ops] == ["Succeeded"]
    assert AuditEvent.objects.filter(action="updateProjectNamespace").count() == 2


def test_limit_range_goes_when_the_quota_no_longer_limits_cpu_or_memory(
    project, cluster, kube, django_capture_on_commit_callbacks
):
    core, _ = kube
    ProjectCluster.objects.filter(project=project).update(hard={"pods": "20"})
    with django_capture_on_commit_callbacks(execute=True):
        row = namespaces.create_namespace(
            actor=None,
            project=project,
            cluster=cluster,
            namespace="shop",
            hard={"pods": "5", "limits.cpu": "50m"},
        )
    limits = read(core.read_namespaced_limit_range, "tkeportal-limits", "shop")
    (item,) = limits["spec"]["limits"]
    # Capped by the namespace's own quota: 50m of cpu limits in all.
    assert item["default"] == {"cpu": "50m"} and item["default_request"] == {"cpu": "50m"}
    with django_capture_on_commit_callbacks(execute=True):
        namespaces.update_quota(actor=None, row=row, hard={"pods": "5"})
    assert read(core.read_namespaced_limit_range, "tkeportal-limits", "shop") is None
    row.refresh_from_db()
    assert row.phase == "Available"


def test_delete_preview_lists_what_will_go_then_delete_removes_namespace_and_row(
    api, tenant_admin, project_owner, project, cluster, kube, django_capture_on_commit_callbacks
):
    core, _ = kube
    client = api(tenant_admin)  # importing takes a namespace over: a platform action
    with django_capture_on_commit_callbacks(execute=True):
        imported = client.post(
            url(tail="import/"),
            {
                "cluster": cluster.name,
                "namespace": "web",
                "hard": {"cpu": "2", "memory": "4Gi", "pods": "10"},
            },
            format="json",
        )
    assert imported.status_code == 201, imported.content
    core.create_namespaced_secret("web", {"metadata": {"name": "token"}, "stringData": {"a": "b"}})
    core.create_namespaced_persistent_volume_claim(
        "web",
        {
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )
    preview = client.get(url(cluster=cluster, namespace="web", tail="delete-preview/"))
    assert preview.status_code == 200, preview.content
    body = preview.json()
    assert body["exists"] is True and body["phase"] == "Active"
    assert body["labels"]["tkeportal.io/project"] == PROJECT
    # The seeded namespace: deployments frontend and api, services frontend and api, the
    # configmaps frontend-config and kube-root-ca.crt; plus what this test added.
    assert body["contents"] == {
        "workloads": {
            "deployments": 2,
            "statefulsets": 0,
            "daemonsets": 0,
            "jobs": 0,
            "cronjobs": 0,
        },
        "pods": 0,
        "services": 2,
        "configmaps": 2,
        "secrets": 1,
        "persistentvolumeclaims": 1,
    }
    assert body["released_quota"] == {"requests.cpu": "2", "requests.memory": "4Gi", "pods": "10"}
    with django_capture_on_commit_callbacks(execute=True):
        deleted = client.delete(url(cluster=cluster, namespace="web"))
    assert deleted.status_code == 202, deleted.content
    assert deleted.json()["phase"] == "Terminating"
    assert read(core.read_namespace, "web") is None
    assert not ProjectNamespace.objects.filter(namespace="web").exists()
    op = ClusterOperation.objects.get(kind="namespace-delete")
    assert op.phase == "Succeeded"
    assert steps(op) == [("DeleteNamespace", "True"), ("EnsureNamespaceGone", "True")]
    assert AuditEvent.objects.get(action="deleteProjectNamespace").status_code == 202


def test_import_takes_the_existing_quota_when_it_fits_and_refuses_otherwise(
    api, tenant_admin, project_owner, project, cluster, kube, django_capture_on_commit_callbacks
):
    core, _ = kube
    client = api(tenant_admin)  # importing takes a namespace over: a platform action
    # "web" carries web-quota (8 cpu, 16Gi, 50 pods): more than prj-test has (4, 8Gi, 20).
    too_big = client.post(url(tail="import/"), {"cluster": cluster.name, "namespace": "web"})
    assert too_big.status_code == 400
    message = too_big.json()["fields"]["hard"][0]
    assert "requests.cpu: 8 requested, 4 left" in message
    assert "pods: 50 requested, 20 left" in message
    missing = client.post(url(tail="import/"), {"cluster": cluster.name, "namespace": "nope"})
    assert (
        missing.status_code == 400
        and "create it instead" in missing.json()["fields"]["namespace"][0]
    )
    core.create_namespace({"metadata": {"name": "legacy", "labels": {"team": "x"}}})
    core.create_namespaced_resource_quota(
        "legacy",
        {
            "metadata": {"name": "old"},
            "spec": {"hard": {"requests.cpu": "1", "requests.memory": "1Gi", "pods": "4"}},
        },
    )
    with django_capture_on_commit_callbacks(execute=True):
        imported = client.post(
            url(tail="import/"), {"cluster": cluster.name, "namespace": "legacy"}
        )
    assert imported.status_code == 201, imported.content
    row = ProjectNamespace.objects.get(namespace="legacy")
    assert row.hard == {"requests.cpu": "1", "requests.memory": "1Gi", "pods": "4"}
    assert row.phase == "Available"
    labels = read(core.read_namespace, "legacy")["metadata"]["labels"]
    assert {k: labels.get(k) for k in (*LABELS, "team")} == {**LABELS, "team": "x"}
    ours = read(core.read_namespaced_resource_quota, "tkeportal-quota", "legacy")
    assert ours["spec"]["hard"] == row.hard
    assert read(core.read_namespaced_limit_range, "tkeportal-limits", "legacy") is not None
    op = ClusterOperation.objects.get(kind="namespace-import")
    assert op.phase == "Succeeded"
    again = client.post(url(tail="import/"), {"cluster": cluster.name, "namespace": "legacy"})
    assert again.status_code == 400
    assert "already belongs" in again.json()["fields"]["namespace"][0]
    assert AuditEvent.objects.filter(action="importProjectNamespace").count() == 4


@pytest.fixture
def destination(tenant, cluster):
    other = Project.objects.create(tenant=tenant, name="prj-other", display_name="Other")
    ProjectCluster.objects.create(
        project=other,
        cluster=cluster,
        hard={"requests.cpu": "2", "requests.memory": "4Gi", "pods": "10"},
    )
    return other


def test_move_relabels_and_records_the_emigration_steps(
    api, tenant_admin, project, destination, cluster, kube, django_capture_on_commit_callbacks
):
    core, _ = kube
    client = api(tenant_admin)
    create(client, cluster, capture=django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        moved = client.post(
            url(cluster=cluster, namespace="shop", tail="move/"), {"destination": "prj-other"}
        )
    assert moved.status_code == 200, moved.content
    assert moved.json()["project"] == "prj-other"
    row = ProjectNamespace.objects.get(namespace="shop")
    assert row.project == destination and row.phase == "Available"
    labels = read(core.read_namespace, "shop")["metadata"]["labels"]
    assert labels["tkeportal.io/project"] == "prj-other"
    op = ClusterOperation.objects.get(kind="namespace-move")
    assert op.phase == "Succeeded"
    assert op.steps[0]["message"] == f"held by {PROJECT}"
    assert op.steps[2]["message"] == "owned by prj-other"
    assert [s["name"] for s in op.steps] == [
        "OldOneLocked",
        "OldOneDetached",
        "NewOneCreated",
        "EnsureNamespace",
        "Finished",
    ]
    # The source's quota is free again, the destination's taken.
    assert client.get(url(cluster=cluster, namespace="shop")).status_code == 404
    assert client.get(url("prj-other", cluster, "shop")).status_code == 200


def test_move_refusals(
    api,
    tenant_admin,
    project_owner,
    project_member,
    tenant,
    other_tenant,
    project,
    destination,
    cluster,
    django_capture_on_commit_callbacks,
):
    admin = api(tenant_admin)
    create(
        admin,
        cluster,
        hard={"cpu": "3", "memory": "1Gi", "pods": "1"},
        capture=django_capture_on_commit_callbacks,
    )
    move = url(cluster=cluster, namespace="shop", tail="move/")
    # No room: 3 cpu asked, 2 left in prj-other.
    full = admin.post(move, {"destination": "prj-other"})
    assert full.status_code == 400
    assert "requests.cpu: 3 requested, 2 left" in full.json()["fields"]["destination"][0]
    # Not spanning the cluster.
    lonely = Project.objects.create(tenant=tenant, name="prj-lonely", display_name="Lonely")
    refused = admin.post(move, {"destination": lonely.name})
    assert (
        refused.status_code == 400 and "does not span" in refused.json()["fields"]["destination"][0]
    )
    # Same project, unknown project, another tenant's project: all "no such" or "already".
    assert admin.post(move, {"destination": PROJECT}).status_code == 400
    assert admin.post(move, {"destination": "prj-nothere"}).status_code == 400
    Project.objects.create(tenant=other_tenant, name="prj-theirs", display_name="Theirs")
    theirs = admin.post(move, {"destination": "prj-theirs"})
    assert (
        theirs.status_code == 400
        and "No project named" in theirs.json()["fields"]["destination"][0]
    )
    # The source's owner sees prj-other but may not create in it: 403.
    bind(project_owner, "project-viewer", "prj-other")
    denied = api(project_owner).post(move, {"destination": "prj-other"})
    assert denied.status_code == 403
    assert "prj-other" in denied.json()["detail"]
    # A member of the source may not move out of it.
    bind(project_member, "project-owner", "prj-other")
    assert api(project_member).post(move, {"destination": "prj-other"}).status_code == 403
    row = ProjectNamespace.objects.get(namespace="shop")
    assert row.project == project
    assert not ClusterOperation.objects.filter(kind="namespace-move").exists()


def test_a_pod_without_requests_is_admitted_thanks_to_the_limit_range(
    project, cluster, kube, django_capture_on_commit_callbacks
):
    """The quota limits cpu and memory, which makes Kubernetes refuse pods that name no
    requests; the LimitRange's defaults are what lets them in, and the quota counts them."""
    core, _ = kube
    with django_capture_on_commit_callbacks(execute=True):
        namespaces.create_namespace(
            actor=None,
            project=project,
            cluster=cluster,
            namespace="shop",
            hard={"cpu": "1", "memory": "1Gi", "pods": "5"},
        )
    bare = {"metadata": {"name": "bare"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    pod = core.create_namespaced_pod("shop", bare)
    assert pod.spec.containers[0].resources.requests == {"cpu": "100m", "memory": "128Mi"}
    core.delete_namespaced_limit_range("tkeportal-limits", "shop")
    with pytest.raises(ApiException, match="must specify") as refused:
        core.create_namespaced_pod("shop", {**bare, "metadata": {"name": "bare2"}})
    assert refused.value.status == 403


def test_a_creation_that_finds_someone_elses_namespace_gives_it_up(
    api, project_owner, project, cluster, kube, django_capture_on_commit_callbacks
):
    """Red team: the namespace did not exist when the owner asked for it, and was made by
    someone else before the task ran (a queue backlog, a cluster down for a while). The refused
    creation used to leave a Failed row behind — and with it the project's ownership of that
    namespace (its owner could read its Secrets through the portal) and a delete that deleted
    it from the cluster. Now the row goes; the namespace stays as it was."""
    core, _ = kube
    client = api(project_owner)
    hard = {"cpu": "1", "memory": "1Gi", "pods": "2"}
    body = {"cluster": cluster.name, "namespace": "squat", "hard": hard}
    made = client.post(url(), body, format="json")  # the task is not run yet (no capture)
    assert made.status_code == 201, made.content
    core.create_namespace({"metadata": {"name": "squat", "labels": {"team": "payments"}}})
    core.create_namespaced_secret("squat", {"metadata": {"name": "db"}, "stringData": {"a": "b"}})
    secret = f"cluster:{cluster.name}/namespace:squat/secret:db"
    op = ClusterOperation.objects.get(kind="namespace-create", target="namespace:squat")
    run_namespace_operation(op.pk)
    op.refresh_from_db()
    assert op.phase == "Failed" and "import it instead" in op.message
    assert not ProjectNamespace.objects.filter(namespace="squat").exists()
    owner = project_owner.__class__.objects.select_related("tenant").get(pk=project_owner.pk)
    assert not check(owner, "getSecret", secret, tenant=owner.tenant)
    labels = read(core.read_namespace, "squat")["metadata"]["labels"]
    assert labels["team"] == "payments" and "tkeportal.io/project" not in labels
    assert client.get(url(cluster=cluster, namespace="squat")).status_code == 404


def test_deleting_a_row_never_deletes_a_namespace_the_project_does_not_hold(
    api, project_owner, project, cluster, kube, django_capture_on_commit_callbacks
):
    """Red team: a row whose namespace on the cluster is not labelled as the project's (left by
    an older version, or relabelled by the platform) is removed without deleting the cluster's
    namespace: the portal deletes only what it made or took over."""
    core, _ = kube
    core.create_namespace({"metadata": {"name": "theirs", "labels": {"team": "payments"}}})
    add_row(project, cluster, "theirs", {"requests.cpu": "1", "pods": "2"}, phase="Failed")
    with django_capture_on_commit_callbacks(execute=True):
        deleted = api(project_owner).delete(url(cluster=cluster, namespace="theirs"))
    assert deleted.status_code == 202, deleted.content
    assert read(core.read_namespace, "theirs") is not None
    assert not ProjectNamespace.objects.filter(namespace="theirs").exists()
    op = ClusterOperation.objects.get(kind="namespace-delete")
    assert op.phase == "Succeeded", op.message
    assert "not deleted" in op.steps[0]["message"]
