"""Helm v4 (the real engine: PyPI ``helm-python-sdk``, no helm binary) installs, upgrades, rolls
back and uninstalls a small chart (tests/fixtures/charts/hello) through the portal's kubectl
proxy with a portal API key's kubeconfig — and directly against kubesim — with Helm's default
release storage: one Secret per revision (``sh.helm.release.v1.<release>.v<n>``), which Helm
writes as protobuf. What Helm reports is checked against what kubesim holds, read directly.
"""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from pathlib import Path

import helm_python as helm
import pytest
from kubernetes import client

from tests.live import *  # noqa: F403

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_state")]

CHART = Path(__file__).resolve().parents[1] / "fixtures" / "charts" / "hello"


def release_secrets(sim, namespace: str, release: str) -> dict[int, dict]:
    """revision → (labels, decoded release) of Helm's storage Secrets in kubesim."""
    secrets = client.CoreV1Api(sim).list_namespaced_secret(
        namespace, label_selector=f"owner=helm,name={release}"
    )
    found = {}
    for secret in secrets.items:
        assert secret.type == "helm.sh/release.v1"
        assert secret.metadata.name == (
            f"sh.helm.release.v1.{release}.v{secret.metadata.labels['version']}"
        )
        # data.release: base64 (the Secret's own encoding) of base64 of gzip of the JSON release.
        raw = base64.b64decode(base64.b64decode(secret.data["release"]))
        found[int(secret.metadata.labels["version"])] = {
            "labels": secret.metadata.labels,
            "release": json.loads(gzip.decompress(raw)),
        }
    return found


def page(sim, namespace: str, release: str) -> dict:
    return client.CoreV1Api(sim).read_namespaced_config_map(f"{release}-page", namespace).data


def replicas(sim, namespace: str, release: str) -> int:
    return (
        client.AppsV1Api(sim).read_namespaced_deployment(f"{release}-web", namespace).spec.replicas
    )


def test_install_upgrade_rollback_uninstall_with_secret_storage(kubeconfig, sim, live_cluster):
    namespace = f"helm-{uuid.uuid4().hex[:6]}"
    release = "hello"
    with helm.Config(kubeconfig_content=kubeconfig, namespace=namespace) as cfg:
        # given / when: install
        installed = cfg.install(
            CHART, release, {"message": "one"}, create_namespace=True, wait="watcher", timeout=30
        )
        # then
        assert (installed["revision"], installed["status"]) == (1, "deployed")
        assert "<h1>one</h1>" in installed["manifest"]
        assert page(sim, namespace, release) == {"index.html": "<h1>one</h1>", "revision": "1"}
        assert replicas(sim, namespace, release) == 1
        stored = release_secrets(sim, namespace, release)
        assert sorted(stored) == [1]
        assert stored[1]["labels"]["status"] == "deployed"
        assert stored[1]["release"]["config"] == {"message": "one"}
        assert stored[1]["release"]["chart"]["metadata"]["name"] == "hello"

        # when: upgrade
        upgraded = cfg.upgrade(
            CHART, release, {"message": "two", "replicas": 2}, wait="watcher", timeout=30
        )
        assert (upgraded["revision"], upgraded["status"]) == (2, "deployed")
        assert page(sim, namespace, release) == {"index.html": "<h1>two</h1>", "revision": "2"}
        assert replicas(sim, namespace, release) == 2
        stored = release_secrets(sim, namespace, release)
        assert {v: s["labels"]["status"] for v, s in stored.items()} == {
            1: "superseded",
            2: "deployed",
        }
        assert stored[2]["release"]["config"] == {"message": "two", "replicas": 2}
        assert cfg.get_values(release) == {"message": "two", "replicas": 2}

        # when: rollback to the first revision
        cfg.rollback(release, version=1, wait="watcher", timeout=30)
        history = cfg.history(release)
        assert [(h["revision"], h["status"]) for h in history] == [
            (1, "superseded"),
            (2, "superseded"),
            (3, "deployed"),
        ]
        # A rollback re-applies revision 1's manifest as it was rendered (its .Release.Revision).
        assert page(sim, namespace, release) == {"index.html": "<h1>one</h1>", "revision": "1"}
        assert replicas(sim, namespace, release) == 1
        stored = release_secrets(sim, namespace, release)
        assert {v: s["labels"]["status"] for v, s in stored.items()} == {
            1: "superseded",
            2: "superseded",
            3: "deployed",
        }
        assert stored[3]["release"]["config"] == {"message": "one"}
        assert stored[3]["release"]["info"]["description"] == "Rollback to 1"
        assert [r["name"] for r in cfg.list()] == [release]

        # when: uninstall
        cfg.uninstall(release, wait="watcher", timeout=30)
        assert release_secrets(sim, namespace, release) == {}
        core, apps = client.CoreV1Api(sim), client.AppsV1Api(sim)
        assert [
            c.metadata.name
            for c in core.list_namespaced_config_map(namespace).items
            if c.metadata.name != "kube-root-ca.crt"
        ] == []
        assert apps.list_namespaced_deployment(namespace).items == []
        assert core.list_namespaced_service(namespace).items == []
        assert cfg.list(all_states=True) == []


def test_a_project_member_runs_helm_in_their_namespace_only(
    portal, project_member, cluster, sim, live_cluster
):
    """A business user's everyday Helm: install, upgrade and uninstall in their project's
    namespace through the portal (Helm reads and writes its release Secrets there, so this needs
    the member's revealSecret in that namespace); the same in another project's namespace is
    refused and leaves nothing behind."""
    from apps.projects.models import Project, ProjectCluster, ProjectNamespace
    from tests.conftest import PROJECT
    from tests.live import fetch_kubeconfig

    mine, theirs = (f"{kind}-{uuid.uuid4().hex[:6]}" for kind in ("mine", "theirs"))
    core = client.CoreV1Api(sim)
    project = Project.objects.create(tenant=cluster.tenant, name=PROJECT, display_name="A")
    other = Project.objects.create(tenant=cluster.tenant, name="prj-other", display_name="B")
    for owner, namespace in ((project, mine), (other, theirs)):
        core.create_namespace({"metadata": {"name": namespace}})
        ProjectCluster.objects.create(project=owner, cluster=cluster, hard={})
        ProjectNamespace.objects.create(
            tenant=cluster.tenant,
            project=owner,
            cluster=cluster,
            namespace=namespace,
            phase="Available",
        )
    kubeconfig, _ = fetch_kubeconfig(portal, project_member, cluster)
    release = "hello"
    with helm.Config(kubeconfig_content=kubeconfig, namespace=mine) as cfg:
        installed = cfg.install(CHART, release, {"message": "mine"}, wait="watcher", timeout=30)
        assert (installed["revision"], installed["status"]) == (1, "deployed")
        assert page(sim, mine, release) == {"index.html": "<h1>mine</h1>", "revision": "1"}
        upgraded = cfg.upgrade(CHART, release, {"message": "again"}, wait="watcher", timeout=30)
        assert upgraded["revision"] == 2
        assert sorted(release_secrets(sim, mine, release)) == [1, 2]
        cfg.uninstall(release, wait="watcher", timeout=30)
        assert release_secrets(sim, mine, release) == {}
    with helm.Config(kubeconfig_content=kubeconfig, namespace=theirs) as cfg:
        with pytest.raises(Exception, match="forbidden"):
            cfg.install(CHART, release, {"message": "theirs"}, timeout=30)
    assert release_secrets(sim, theirs, release) == {}
    names = {cm.metadata.name for cm in core.list_namespaced_config_map(theirs).items}
    assert f"{release}-page" not in names
