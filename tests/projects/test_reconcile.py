"""The periodic reconcile against kubesim: drift repaired and recorded, nothing recorded when
there is none, a dead cluster survived with back-off and no duplicates, then recovery."""

from datetime import timedelta

import pytest
from django.utils import timezone
from kubernetes.client import ApiException

from apps.audit.models import AuditEvent
from apps.clusters.models import ClusterOperation
from apps.projects import namespaces, tasks
from apps.projects.models import NamespaceReconcile, ProjectNamespace
from tests.conftest import PROJECT
from tests.projects.namespace_fixtures import *  # noqa: F403  (fixtures: cluster, project, kube)
from tests.projects.namespace_fixtures import read

pytestmark = pytest.mark.django_db

QUOTA = {"requests.cpu": "1", "requests.memory": "1Gi", "pods": "5"}


@pytest.fixture
def shop(project, cluster, django_capture_on_commit_callbacks):
    """Namespace "shop" of prj-test, made on the cluster by the portal."""
    with django_capture_on_commit_callbacks(execute=True):
        namespaces.create_namespace(
            actor=None, project=project, cluster=cluster, namespace="shop", hard=QUOTA
        )
    row = ProjectNamespace.objects.get(namespace="shop")
    assert row.phase == "Available"
    return row


def repairs():
    return ClusterOperation.objects.filter(kind="namespace-reconcile")


def due(cluster):
    """Make the cluster's next reconcile due now (as time passing would)."""
    NamespaceReconcile.objects.filter(cluster=cluster).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def test_namespace_deleted_behind_the_portals_back_is_recreated(shop, cluster, kube):
    core, _ = kube
    core.delete_namespace("shop")
    assert read(core.read_namespace, "shop") is None
    summary = namespaces.reconcile_cluster(cluster, force=True)
    assert list(summary["repaired"]) == ["shop"]
    ns = read(core.read_namespace, "shop")
    assert ns["metadata"]["labels"]["tkeportal.io/project"] == PROJECT
    assert ns["metadata"]["labels"]["tkeportal.io/tenant"] == "acme"
    quota = read(core.read_namespaced_resource_quota, "tkeportal-quota", "shop")
    assert quota["spec"]["hard"] == QUOTA
    assert read(core.read_namespaced_limit_range, "tkeportal-limits", "shop") is not None
    shop.refresh_from_db()
    assert shop.phase == "Available" and shop.reconciled_at is not None
    assert "recreated (it was deleted outside the portal)" in shop.message
    (op,) = repairs()
    assert op.target == "namespace:shop" and op.phase == "Succeeded"
    assert [s["message"] for s in op.steps] == [
        "namespace shop recreated (it was deleted outside the portal)",
        "ResourceQuota tkeportal-quota created",
        "LimitRange tkeportal-limits created",
    ]
    event = AuditEvent.objects.get(action="reconcileProjectNamespace")
    assert event.channel == "task" and event.resource == shop.authz_resource
    assert "recreated" in event.message


def test_edited_quota_and_labels_are_put_back_and_used_refreshed(shop, cluster, kube):
    core, _ = kube
    core.patch_namespaced_resource_quota(
        "tkeportal-quota", "shop", {"spec": {"hard": {"pods": "999", "services": "3"}}}
    )
    core.patch_namespace("shop", {"metadata": {"labels": {"tkeportal.io/project": "prj-evil"}}})
    core.create_namespaced_pod(
        "shop",
        {
            "metadata": {"name": "p"},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "nginx",
                        "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}},
                    }
                ]
            },
        },
    )
    summary = namespaces.reconcile_cluster(cluster, force=True)
    assert summary["repaired"]["shop"] == [
        f"labels tkeportal.io/project={PROJECT} set",
        "ResourceQuota tkeportal-quota hard set back to the portal's (was pods=999, "
        "requests.cpu=1, requests.memory=1Gi, services=3)",
    ]
    quota = read(core.read_namespaced_resource_quota, "tkeportal-quota", "shop")
    assert quota["spec"]["hard"] == QUOTA
    labels = read(core.read_namespace, "shop")["metadata"]["labels"]
    assert labels["tkeportal.io/project"] == PROJECT
    # The next run finds nothing to repair: no new operation, the usage is read.
    summary = namespaces.reconcile_cluster(cluster, force=True)
    assert summary["repaired"] == {} and summary["checked"] == 1
    assert repairs().count() == 1
    shop.refresh_from_db()
    assert shop.message == ""
    assert shop.used["pods"] == "1"
    assert shop.used["requests.cpu"] in ("250m", "0.25")


def test_deleted_quota_and_limit_range_come_back(shop, cluster, kube):
    core, _ = kube
    core.delete_namespaced_resource_quota("tkeportal-quota", "shop")
    core.delete_namespaced_limit_range("tkeportal-limits", "shop")
    summary = namespaces.reconcile_cluster(cluster, force=True)
    assert summary["repaired"]["shop"] == [
        "ResourceQuota tkeportal-quota created",
        "LimitRange tkeportal-limits created",
    ]
    assert read(core.read_namespaced_resource_quota, "tkeportal-quota", "shop") is not None
    assert read(core.read_namespaced_limit_range, "tkeportal-limits", "shop") is not None


def test_down_cluster_backs_off_without_duplicates_then_recovers(
    shop, cluster, kube, sim_cluster, settings
):
    core, _ = kube
    settings.PORTAL_NAMESPACE_RECONCILE_INTERVAL = 60
    settings.PORTAL_NAMESPACE_RECONCILE_MAX_BACKOFF = 200
    core.delete_namespaced_resource_quota("tkeportal-quota", "shop")  # drift made before
    sim_cluster.faults.down()
    started = timezone.now()
    assert tasks.reconcile_cluster_namespaces(cluster.pk) == "failed"
    state = NamespaceReconcile.objects.get(cluster=cluster)
    assert state.failures == 1
    assert timedelta(seconds=59) < state.next_attempt_at - started <= timedelta(seconds=61)
    assert state.leased_until is None
    shop.refresh_from_db()
    assert shop.phase == "Available"  # the row keeps its state …
    assert shop.message.startswith(f"cluster {cluster.name} unreachable")  # … with a message
    # Not due: neither the beat nor a stray task runs it again.
    assert tasks.dispatch_namespace_reconciles() == 0
    assert tasks.reconcile_cluster_namespaces(cluster.pk) == "skipped"
    assert NamespaceReconcile.objects.get(cluster=cluster).failures == 1
    # Due again: still down, the wait doubles, then stops at the maximum.
    waits = []
    for _ in range(3):
        due(cluster)
        assert tasks.dispatch_namespace_reconciles() == 1  # eager: the dispatched task ran
        state = NamespaceReconcile.objects.get(cluster=cluster)
        waits.append(round((state.next_attempt_at - state.last_attempt_at).total_seconds()))
    assert waits == [120, 200, 200]
    assert state.failures == 4 and "4 attempts in a row" in state.message
    assert not repairs().exists()  # nothing recorded while nothing was done
    assert ProjectNamespace.objects.filter(namespace="shop").count() == 1
    sim_cluster.faults.up()
    due(cluster)
    assert tasks.reconcile_cluster_namespaces(cluster.pk) == "reconciled"
    state = NamespaceReconcile.objects.get(cluster=cluster)
    assert state.failures == 0 and state.message == "" and state.last_success_at is not None
    shop.refresh_from_db()
    assert shop.phase == "Available"
    assert shop.message == "Repaired: ResourceQuota tkeportal-quota created."
    assert repairs().count() == 1
    assert read(core.read_namespaced_resource_quota, "tkeportal-quota", "shop") is not None


def test_a_failed_creation_is_resumed_by_the_reconcile(
    project, cluster, sim_cluster, kube, django_capture_on_commit_callbacks
):
    core, _ = kube
    sim_cluster.faults.fail(503, method="POST", path=r"/limitranges$", times=1)
    with django_capture_on_commit_callbacks(execute=True):
        namespaces.create_namespace(
            actor=None, project=project, cluster=cluster, namespace="shop", hard=QUOTA
        )
    row = ProjectNamespace.objects.get(namespace="shop")
    assert row.phase == "Failed"
    namespaces.reconcile_cluster(cluster, force=True)
    row.refresh_from_db()
    assert row.phase == "Available" and row.message == ""
    op = ClusterOperation.objects.get(kind="namespace-create")
    assert op.phase == "Succeeded" and op.attempts == 2
    assert read(core.read_namespaced_limit_range, "tkeportal-limits", "shop") is not None
    assert not repairs().exists()


def test_deletion_against_a_dead_cluster_finishes_after_recovery(
    shop, cluster, sim_cluster, kube, django_capture_on_commit_callbacks
):
    core, _ = kube
    sim_cluster.faults.down()
    with django_capture_on_commit_callbacks(execute=True):
        namespaces.delete_namespace(actor=None, row=shop)
    shop.refresh_from_db()
    assert shop.phase == "Terminating"
    assert "will retry" in shop.message and cluster.name in shop.message
    assert namespaces.reconcile_cluster(cluster, force=True)["failed"]
    assert ProjectNamespace.objects.get(pk=shop.pk).phase == "Terminating"
    sim_cluster.faults.up()
    namespaces.reconcile_cluster(cluster, force=True)
    assert not ProjectNamespace.objects.filter(pk=shop.pk).exists()
    assert read(core.read_namespace, "shop") is None
    ops = ClusterOperation.objects.filter(kind="namespace-delete")
    assert [op.phase for op in ops] == ["Succeeded"]  # the same operation, resumed


def test_a_running_reconcile_holds_a_lease(shop, cluster):
    NamespaceReconcile.objects.create(
        cluster=cluster, leased_until=timezone.now() + timedelta(minutes=1)
    )
    assert namespaces.reconcile_cluster(cluster, force=True) == {"skipped": True}


def test_a_failed_resize_is_finished_after_the_repair(
    shop, cluster, sim_cluster, kube, django_capture_on_commit_callbacks
):
    """The namespace vanished, so the resize failed; the reconcile recreates it with the new
    quota and finishes the resize's own operation rather than leaving it failed."""
    core, _ = kube
    core.delete_namespace("shop")
    bigger = {**QUOTA, "pods": "7"}
    with django_capture_on_commit_callbacks(execute=True):
        namespaces.update_quota(actor=None, row=shop, hard=bigger)
    shop.refresh_from_db()
    assert shop.phase == "Failed"
    resize = ClusterOperation.objects.get(kind="namespace-quota")
    assert resize.phase == "Failed"
    namespaces.reconcile_cluster(cluster, force=True)
    shop.refresh_from_db()
    assert shop.phase == "Available"
    resize.refresh_from_db()
    assert resize.phase == "Succeeded" and resize.attempts == 2
    quota = read(core.read_namespaced_resource_quota, "tkeportal-quota", "shop")
    assert quota["spec"]["hard"]["pods"] == "7"
    assert repairs().count() == 1


def test_pod_security_labels_are_enforced_and_put_back(shop, cluster, kube):
    """A project namespace enforces the baseline Pod Security Standard: no host namespaces,
    hostPath or privileged containers for project members (root on the node otherwise)."""
    core, _ = kube
    labels = read(core.read_namespace, "shop")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    privileged = {
        "metadata": {"name": "root"},
        "spec": {
            "hostPID": True,
            "containers": [
                {
                    "name": "c",
                    "image": "busybox",
                    "securityContext": {"privileged": True},
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                }
            ],
        },
    }
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod("shop", privileged)
    assert refused.value.status == 403
    assert 'violates PodSecurity \\"baseline:latest\\": host namespaces (hostPID=true)' in (
        refused.value.body
    )
    # Lifted behind the portal's back: the reconcile puts the level back.
    core.patch_namespace(
        "shop", {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "privileged"}}}
    )
    summary = namespaces.reconcile_cluster(cluster, force=True)
    assert summary["repaired"]["shop"] == ["labels pod-security.kubernetes.io/enforce=baseline set"]
    with pytest.raises(ApiException):
        core.create_namespaced_pod("shop", privileged)
