"""Discovery and OpenAPI, as the official client and kubectl read them."""

from __future__ import annotations

import pytest
from kubernetes import client

from .conftest import raw


def test_version_is_a_complete_versioninfo(api):
    """The strict 37.x client deserialises /version into a full VersionInfo."""
    info = client.VersionApi(api).get_code()
    assert info.major == "1" and info.minor and info.git_version.startswith("v1.")
    assert info.platform and info.go_version and info.build_date and info.compiler == "gc"


@pytest.mark.parametrize(
    "path",
    [
        "/version",
        "/version/",
        "/api",
        "/api/",
        "/api/v1",
        "/api/v1/",
        "/apis",
        "/apis/",
        "/apis/apps",
        "/apis/apps/",
        "/apis/apps/v1",
        "/apis/apps/v1/",
    ],
)
def test_discovery_with_and_without_trailing_slash(api, path):
    resp = raw(api, "GET", path)
    assert resp.status == 200
    assert resp.json


def test_core_and_group_discovery_lists_resources(api):
    core = client.CoreV1Api(api).get_api_resources()
    names = {r.name for r in core.resources}
    assert {
        "pods",
        "pods/log",
        "pods/exec",
        "pods/eviction",
        "namespaces",
        "nodes",
        "services",
        "configmaps",
        "secrets",
        "events",
        "resourcequotas",
    } <= names
    pods = next(r for r in core.resources if r.name == "pods")
    assert pods.namespaced and "watch" in pods.verbs and "po" in pods.short_names
    groups = {g.name: g for g in client.ApisApi(api).get_api_versions().groups}
    for group in (
        "apps",
        "batch",
        "networking.k8s.io",
        "autoscaling",
        "rbac.authorization.k8s.io",
        "storage.k8s.io",
        "apiextensions.k8s.io",
        "metrics.k8s.io",
        "policy",
    ):
        assert group in groups
    assert groups["autoscaling"].preferred_version.version == "v2"
    apps = client.AppsV1Api(api).get_api_resources()
    assert {
        "deployments",
        "deployments/scale",
        "deployments/status",
        "replicasets",
        "statefulsets",
        "daemonsets",
    } <= {r.name for r in apps.resources}


def test_unknown_group_and_resource_are_404(api):
    for path in ("/apis/nope.example.com", "/apis/apps/v9", "/api/v1/widgets"):
        resp = raw(api, "GET", path)
        assert resp.status == 404
        assert resp.json["kind"] == "Status" and resp.json["reason"] == "NotFound"


def test_openapi_v3_index_and_group_document(api):
    resp = raw(api, "GET", "/openapi/v3")
    assert resp.status == 200
    index = resp.json
    assert {"api/v1", "apis/apps/v1", "apis/batch/v1"} <= set(index["paths"])
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    assert "/openapi/v3/apis/apps/v1?hash=" in url
    doc = raw(api, "GET", "/openapi/v3/apis/apps/v1").json
    schema = doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}
    ]
    containers = doc["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"][
        "containers"
    ]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert "fieldValidation" in {p["name"] for p in patch["parameters"]}
    assert "application/strategic-merge-patch+json" in patch["requestBody"]["content"]
