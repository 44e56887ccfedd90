"""PUT and the patch formats, server-side apply, subresources, quota admission, tables."""

from __future__ import annotations

import json

import pytest
from kubernetes import client

from apps.sandbox.kubesim import patch as patch_helpers

from .conftest import deployment, raw, wait_for


def two_containers(name: str) -> dict:
    body = deployment(name, replicas=0)
    body["spec"]["template"]["spec"]["containers"] = [
        {"name": "app", "image": "nginx:1.27", "env": [{"name": "A", "value": "1"}]},
        {"name": "side", "image": "busybox:1.37"},
    ]
    return body


def test_strategic_merge_patch_merges_lists_by_key(apps_api, namespace):
    apps_api.create_namespaced_deployment(namespace, two_containers("smp"))
    patched = apps_api.patch_namespaced_deployment(
        "smp",
        namespace,
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.28"}]}}}},
    )
    containers = {c.name: c for c in patched.spec.template.spec.containers}
    assert containers["app"].image == "nginx:1.28" and containers["app"].env[0].value == "1"
    assert containers["side"].image == "busybox:1.37"
    removed = apps_api.patch_namespaced_deployment(
        "smp",
        namespace,
        {"spec": {"template": {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}}},
    )
    assert [c.name for c in removed.spec.template.spec.containers] == ["app"]


def test_merge_patch_replaces_lists_and_null_deletes(api, namespace, apps_api):
    apps_api.create_namespaced_deployment(namespace, two_containers("mp"))
    resp = raw(
        api,
        "PATCH",
        f"/apis/apps/v1/namespaces/{namespace}/deployments/mp",
        headers={"Content-Type": "application/merge-patch+json"},
        body={
            "metadata": {"labels": {"app": None, "x": "y"}},
            "spec": {"template": {"spec": {"containers": [{"name": "only", "image": "nginx"}]}}},
        },
    )
    assert resp.status == 200
    assert resp.json["metadata"]["labels"] == {"x": "y"}
    assert [c["name"] for c in resp.json["spec"]["template"]["spec"]["containers"]] == ["only"]


def test_json_patch_and_failed_test_op(api, core, namespace):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "jp"}, "data": {"a": "1"}})
    out = core.patch_namespaced_config_map(
        "jp",
        namespace,
        [
            {"op": "test", "path": "/data/a", "value": "1"},
            {"op": "add", "path": "/data/b", "value": "2"},
            {"op": "remove", "path": "/data/a"},
        ],
    )
    assert out.data == {"b": "2"}
    resp = raw(
        api,
        "PATCH",
        f"/api/v1/namespaces/{namespace}/configmaps/jp",
        headers={"Content-Type": "application/json-patch+json"},
        body=[{"op": "test", "path": "/data/b", "value": "nope"}],
    )
    assert resp.status == 422 and resp.json["reason"] == "Invalid"


def test_server_side_apply_create_update_conflict_force(api, namespace, apps_api):
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/ssa"
    body = deployment("ssa", replicas=1)
    apply_headers = {"Content-Type": "application/apply-patch+yaml"}
    resp = raw(
        api, "PATCH", path, body=body, headers=apply_headers, query=[("fieldManager", "alice")]
    )
    assert resp.status == 201
    managers = {m["manager"]: m for m in resp.json["metadata"]["managedFields"]}
    assert managers["alice"]["operation"] == "Apply"
    assert "f:replicas" in managers["alice"]["fieldsV1"]["f:spec"]
    apps_api.patch_namespaced_deployment_scale(
        "ssa", namespace, {"spec": {"replicas": 3}}, field_manager="scaler"
    )
    body["spec"]["replicas"] = 2
    resp = raw(
        api, "PATCH", path, body=body, headers=apply_headers, query=[("fieldManager", "alice")]
    )
    assert resp.status == 409 and resp.json["reason"] == "Conflict"
    assert (
        'conflict with "scaler"' in resp.json["message"]
        and ".spec.replicas" in resp.json["message"]
    )
    resp = raw(
        api,
        "PATCH",
        path,
        body=body,
        headers=apply_headers,
        query=[("fieldManager", "alice"), ("force", "true")],
    )
    assert resp.status == 200 and resp.json["spec"]["replicas"] == 2
    body["metadata"]["labels"] = {"app": "ssa"}
    del body["spec"]["template"]["spec"]["containers"][0]["image"]
    resp = raw(
        api,
        "PATCH",
        path,
        body={**body, "metadata": {"name": "ssa", "annotations": {"a": "b"}}},
        headers=apply_headers,
        query=[("fieldManager", "bob")],
    )
    assert resp.status == 200 and resp.json["metadata"]["annotations"]["a"] == "b"


def test_apply_requires_field_manager(api, namespace):
    resp = raw(
        api,
        "PATCH",
        f"/api/v1/namespaces/{namespace}/configmaps/x",
        headers={"Content-Type": "application/apply-patch+yaml"},
        body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
    )
    assert resp.status == 400


def test_scale_subresource(apps_api, namespace):
    apps_api.create_namespaced_deployment(namespace, deployment("sc", replicas=1))
    scale = apps_api.read_namespaced_deployment_scale("sc", namespace)
    assert scale.spec.replicas == 1 and scale.kind == "Scale"
    apps_api.patch_namespaced_deployment_scale("sc", namespace, {"spec": {"replicas": 4}})
    assert apps_api.read_namespaced_deployment("sc", namespace).spec.replicas == 4
    for _ in range(5):  # read-modify-write races the controller: retry on 409, as clients do
        scale = apps_api.read_namespaced_deployment_scale("sc", namespace)
        scale.spec.replicas = 2
        try:
            apps_api.replace_namespaced_deployment_scale("sc", namespace, scale)
            break
        except client.ApiException as exc:
            assert exc.status == 409
    assert apps_api.read_namespaced_deployment("sc", namespace).spec.replicas == 2


@pytest.mark.cluster_options(controller=False)
def test_status_subresource_separates_spec_and_status(apps_api, namespace):
    apps_api.create_namespaced_deployment(namespace, deployment("st", replicas=1))
    apps_api.patch_namespaced_deployment_status("st", namespace, {"status": {"replicas": 7}})
    live = apps_api.read_namespaced_deployment("st", namespace)
    assert live.status.replicas == 7 and live.metadata.generation == 1
    apps_api.patch_namespaced_deployment("st", namespace, {"status": {"replicas": 1}})
    assert apps_api.read_namespaced_deployment("st", namespace).status.replicas == 7


def test_resource_quota_rejects_with_real_message(core, namespace):
    core.create_namespaced_resource_quota(
        namespace,
        {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "1", "requests.cpu": "500m"}}},
    )
    spec = {
        "containers": [{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "300m"}}}]
    }
    core.create_namespaced_pod(namespace, {"metadata": {"name": "p1"}, "spec": spec})
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_pod(namespace, {"metadata": {"name": "p2"}, "spec": spec})
    assert err.value.status == 403
    assert json.loads(err.value.body)["message"] == (
        'pods "p2" is forbidden: exceeded quota: q, requested: pods=1,requests.cpu=300m, '
        "used: pods=1,requests.cpu=300m, limited: pods=1,requests.cpu=500m"
    )
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_pod(
            namespace,
            {"metadata": {"name": "p3"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
        )
    assert (
        "failed quota: q: must specify requests.cpu for: c" in json.loads(err.value.body)["message"]
    )
    quota = wait_for(
        lambda: (
            (q := core.read_namespaced_resource_quota("q", namespace)).status
            and q.status.used
            and q
        ),
        "quota status",
    )
    assert quota.status.used == {"pods": "1", "requests.cpu": "300m"}


def test_limit_range_defaults_fill_in_what_containers_leave_out(core, namespace):
    """LimitRanger: Container defaults apply before the quota judges the pod, so a pod that
    names no requests is admitted by a quota on requests.cpu; what a container sets stays."""
    core.create_namespaced_resource_quota(
        namespace, {"metadata": {"name": "q"}, "spec": {"hard": {"requests.cpu": "1"}}}
    )
    core.create_namespaced_limit_range(
        namespace,
        {
            "metadata": {"name": "defaults"},
            "spec": {
                "limits": [
                    {
                        "type": "Container",
                        "default": {"cpu": "500m", "memory": "512Mi"},
                        "defaultRequest": {"cpu": "100m"},
                    }
                ]
            },
        },
    )
    bare = {"containers": [{"name": "c", "image": "nginx"}]}
    pod = core.create_namespaced_pod(namespace, {"metadata": {"name": "bare"}, "spec": bare})
    resources = pod.spec.containers[0].resources
    assert resources.requests == {"cpu": "100m"}
    assert resources.limits == {"cpu": "500m", "memory": "512Mi"}
    own = {
        "containers": [{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "200m"}}}]
    }
    pod = core.create_namespaced_pod(namespace, {"metadata": {"name": "own"}, "spec": own})
    assert pod.spec.containers[0].resources.requests == {"cpu": "200m"}


def test_table_output_has_real_columns(api, core, namespace):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "tbl"}, "data": {"a": "1"}})
    resp = raw(
        api,
        "GET",
        f"/api/v1/namespaces/{namespace}/configmaps",
        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"},
    )
    table = resp.json
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
    row = next(r for r in table["rows"] if r["cells"][0] == "tbl")
    assert row["cells"][1] == 1
    assert row["object"]["kind"] == "PartialObjectMetadata"
    resp = raw(
        api,
        "GET",
        "/api/v1/nodes",
        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
    )
    assert [c["name"] for c in resp.json["columnDefinitions"]][:5] == [
        "Name",
        "Status",
        "Roles",
        "Age",
        "Version",
    ]


def test_merge_patch_helper_follows_rfc7386():
    doc = {"a": "b", "c": {"d": "e", "f": "g"}}
    assert patch_helpers.merge_patch(doc, {"a": "z", "c": {"f": None}}) == {
        "a": "z",
        "c": {"d": "e"},
    }
    assert patch_helpers.merge_patch({"a": [1]}, {"a": [2]}) == {"a": [2]}


def test_strategic_merge_helper_directives():
    schema = {"$ref": "#/$defs/io.k8s.api.core.v1.PodSpec"}
    spec = {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}
    out = patch_helpers.strategic_merge(
        spec,
        {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [{"name": "a", "image": "z"}],
        },
        schema,
    )
    assert [(c["name"], c["image"]) for c in out["containers"]] == [("b", "y"), ("a", "z")]
    out = patch_helpers.strategic_merge(
        {"containers": [{"name": "a"}]},
        {"containers": [{"$patch": "replace"}, {"name": "n"}]},
        schema,
    )
    assert out["containers"] == [{"name": "n"}]
