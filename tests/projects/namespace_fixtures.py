"""Fixtures for the project namespace tests: a kubesim cluster imported into the tenant, project
``prj-test`` spanning it, and the official Kubernetes client to look at (and tamper with) the
cluster behind the portal's back. Test modules star-import this module for its fixtures."""

from __future__ import annotations

import pytest
from kubernetes import client as kclient

from apps.clusters import k8s, services
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from tests.conftest import PROJECT

__all__ = ["cluster", "kube", "project"]

# prj-test's quota on the cluster.
HARD = {"requests.cpu": "4", "requests.memory": "8Gi", "pods": "20"}


@pytest.fixture
def cluster(tenant, sim_cluster):
    spec = k8s.Connection(
        server=sim_cluster.url, token=sim_cluster.token, ca_data=sim_cluster.ca_data
    )
    return services.import_cluster(actor=None, tenant=tenant, display_name="sim", spec=spec)


@pytest.fixture
def project(tenant, cluster):
    project = Project.objects.create(tenant=tenant, name=PROJECT, display_name="Test")
    ProjectCluster.objects.create(project=project, cluster=cluster, hard=dict(HARD))
    return project


@pytest.fixture
def kube(sim_cluster):
    """(CoreV1Api, AppsV1Api) talking to the simulated cluster directly, not via the portal."""
    config = kclient.Configuration(host=sim_cluster.url)
    config.ssl_ca_cert = sim_cluster.ca_file
    config.api_key = {"authorization": f"Bearer {sim_cluster.token}"}
    config.retries = 0
    with kclient.ApiClient(config) as api_client:
        yield kclient.CoreV1Api(api_client), kclient.AppsV1Api(api_client)


def read(api_call, *args):
    """The object as a plain dict, or None when the cluster answers 404."""
    try:
        obj = api_call(*args)
    except kclient.ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return obj.to_dict()


def add_row(project, cluster, namespace, hard, phase="Available"):
    """A project namespace row as the portal would hold it (no cluster call)."""
    return ProjectNamespace.objects.create(
        tenant=project.tenant,
        project=project,
        cluster=cluster,
        namespace=namespace,
        hard=hard,
        phase=phase,
    )


def url(project_name=PROJECT, cluster=None, namespace=None, tail=""):
    base = f"/api/v1/projects/{project_name}/namespaces/"
    if cluster is not None:
        base += f"{cluster.name}/{namespace}/"
    return base + tail
