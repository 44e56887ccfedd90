"""CRUD with the real status codes, Status bodies and metadata semantics."""

from __future__ import annotations

import json

import pytest
from kubernetes import client

from .conftest import deployment, make_api, pod, raw, wait_for


def status_of(err: pytest.ExceptionInfo) -> dict:
    return json.loads(err.value.body)


def test_create_returns_201_with_server_metadata(api, namespace):
    resp = raw(
        api,
        "POST",
        f"/api/v1/namespaces/{namespace}/configmaps",
        body={"metadata": {"name": "cfg"}, "data": {"a": "1"}},
    )
    assert resp.status == 201
    meta = resp.json["metadata"]
    assert meta["namespace"] == namespace
    assert meta["uid"] and meta["resourceVersion"] and meta["creationTimestamp"]
    assert resp.json["kind"] == "ConfigMap" and resp.json["apiVersion"] == "v1"


def test_namespace_is_taken_from_the_url(core, namespace):
    created = core.create_namespaced_config_map(namespace, {"metadata": {"name": "x"}})
    assert created.metadata.namespace == namespace
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_config_map(
            namespace, {"metadata": {"name": "y", "namespace": "default"}}
        )
    assert err.value.status == 400
    assert "does not match the namespace" in status_of(err)["message"]


def test_get_missing_is_404_status(core, namespace):
    with pytest.raises(client.ApiException) as err:
        core.read_namespaced_pod("nope", namespace)
    assert err.value.status == 404
    body = status_of(err)
    assert body["kind"] == "Status" and body["reason"] == "NotFound"
    assert body["message"] == 'pods "nope" not found'
    assert body["details"] == {"name": "nope", "kind": "pods"}


def test_create_in_missing_namespace_is_404(core):
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_config_map("no-such-ns", {"metadata": {"name": "x"}})
    assert err.value.status == 404
    assert status_of(err)["message"] == 'namespaces "no-such-ns" not found'


def test_duplicate_create_is_409_already_exists(apps_api, namespace):
    apps_api.create_namespaced_deployment(namespace, deployment("web"))
    with pytest.raises(client.ApiException) as err:
        apps_api.create_namespaced_deployment(namespace, deployment("web"))
    body = status_of(err)
    assert err.value.status == 409 and body["reason"] == "AlreadyExists"
    assert body["message"] == 'deployments.apps "web" already exists'
    assert body["details"] == {"name": "web", "group": "apps", "kind": "deployments"}


def test_stale_resource_version_is_409_conflict(core, namespace):
    cm = core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "c"}, "data": {"k": "1"}}
    )
    stale = cm.metadata.resource_version
    core.patch_namespaced_config_map("c", namespace, {"data": {"k": "2"}})
    body = {"metadata": {"name": "c", "resourceVersion": stale}, "data": {"k": "3"}}
    with pytest.raises(client.ApiException) as err:
        core.replace_namespaced_config_map("c", namespace, body)
    assert err.value.status == 409
    assert status_of(err)["reason"] == "Conflict"
    assert "the object has been modified" in status_of(err)["message"]


def test_invalid_object_is_422_with_causes(core, namespace):
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_pod(
            namespace, {"metadata": {"name": "Bad_Name"}, "spec": {"containers": [{"name": "c"}]}}
        )
    body = status_of(err)
    assert err.value.status == 422 and body["reason"] == "Invalid"
    fields = {c["field"]: c for c in body["details"]["causes"]}
    assert fields["metadata.name"]["reason"] == "FieldValueInvalid"
    assert fields["spec.containers[0].image"]["reason"] == "FieldValueRequired"
    assert body["message"].startswith('Pod "Bad_Name" is invalid: [')


def test_deployment_selector_must_match_template(apps_api, namespace):
    body = deployment("web")
    body["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    with pytest.raises(client.ApiException) as err:
        apps_api.create_namespaced_deployment(namespace, body)
    assert err.value.status == 422
    assert "`selector` does not match template `labels`" in status_of(err)["message"]


def test_wrong_types_and_bad_json_are_400(api, namespace):
    body = deployment("web")
    body["spec"]["replicas"] = "three"
    resp = raw(api, "POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", body=body)
    assert resp.status == 400
    assert "cannot unmarshal string into Go struct field" in resp.json["message"]
    _, url, headers, _, _ = api.param_serialize(
        "POST",
        f"/api/v1/namespaces/{namespace}/configmaps",
        header_params={"Content-Type": "application/json"},
        auth_settings=["BearerToken"],
    )
    resp = api.rest_client.pool_manager.request("POST", url, headers=headers, body=b"{nope")
    assert resp.status == 400 and json.loads(resp.data)["reason"] == "BadRequest"


def test_unknown_fields_strict_is_400_and_warn_adds_warning(api, namespace):
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    body = {"metadata": {"name": "u"}, "data": {}, "bogus": 1}
    resp = raw(api, "POST", path, body=body, query=[("fieldValidation", "Strict")])
    assert resp.status == 400
    assert resp.json["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: '
        'strict decoding error: unknown field "bogus"'
    )
    resp = raw(api, "POST", path, body=body)
    assert resp.status == 201 and "bogus" not in resp.json
    assert resp.headers.get("Warning") == '299 - "unknown field \\"bogus\\""'


def test_unsupported_content_type_is_415(api, namespace):
    for method, path, ctype in (
        ("POST", f"/api/v1/namespaces/{namespace}/configmaps", "text/plain"),
        ("PATCH", f"/api/v1/namespaces/{namespace}/configmaps/x", "application/json"),
    ):
        _, url, headers, _, _ = api.param_serialize(method, path, auth_settings=["BearerToken"])
        headers["Content-Type"] = ctype
        resp = api.rest_client.pool_manager.request(method, url, headers=headers, body=b"{}")
        assert resp.status == 415
        assert json.loads(resp.data)["reason"] == "UnsupportedMediaType"


def test_wrong_token_is_401(cluster, tmp_path):
    config = cluster.kubeconfig.read_text().replace("token: ", "token: wrong")
    bad = tmp_path / "bad.kubeconfig"
    bad.write_text(config)
    with make_api(bad) as api, pytest.raises(client.ApiException) as err:
        client.CoreV1Api(api).list_namespace()
    assert err.value.status == 401
    assert status_of(err) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }


@pytest.mark.simulator_only
def test_restricted_user_is_403(cluster, tmp_path, namespace):
    token = cluster.sim.add_user("viewer", verbs=["get", "list", "watch"])
    path = tmp_path / "viewer.kubeconfig"
    cluster.sim.kubeconfig(path, token=token)
    with make_api(path) as api:
        core = client.CoreV1Api(api)
        core.list_namespaced_pod(namespace)
        with pytest.raises(client.ApiException) as err:
            core.create_namespaced_config_map(namespace, {"metadata": {"name": "x"}})
    assert err.value.status == 403
    assert status_of(err)["message"] == (
        f'configmaps is forbidden: User "viewer" cannot create resource "configmaps" in API '
        f'group "" in the namespace "{namespace}"'
    )


def test_generate_name_and_generation(apps_api, namespace):
    body = deployment("gen")
    body["metadata"] = {"generateName": "gen-", "labels": {"app": "gen"}}
    created = apps_api.create_namespaced_deployment(namespace, body)
    assert created.metadata.name.startswith("gen-") and len(created.metadata.name) == 9
    assert created.metadata.generation == 1
    name = created.metadata.name
    labelled = apps_api.patch_namespaced_deployment(
        name, namespace, {"metadata": {"labels": {"x": "y"}}}
    )
    assert labelled.metadata.generation == 1
    scaled = apps_api.patch_namespaced_deployment(name, namespace, {"spec": {"replicas": 5}})
    assert scaled.metadata.generation == 2


def test_noop_update_keeps_resource_version(core, namespace):
    cm = core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "n"}, "data": {"a": "1"}}
    )
    again = core.replace_namespaced_config_map("n", namespace, cm)
    assert again.metadata.resource_version == cm.metadata.resource_version
    changed = core.patch_namespaced_config_map("n", namespace, {"data": {"a": "2"}})
    assert int(changed.metadata.resource_version) > int(cm.metadata.resource_version)


def test_dry_run_create_update_patch_persist_nothing(core, namespace):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "d"}}, dry_run="All")
    with pytest.raises(client.ApiException):
        core.read_namespaced_config_map("d", namespace)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "d"}, "data": {"a": "1"}})
    out = core.patch_namespaced_config_map("d", namespace, {"data": {"a": "2"}}, dry_run="All")
    assert out.data == {"a": "2"}
    assert core.read_namespaced_config_map("d", namespace).data == {"a": "1"}
    core.delete_namespaced_config_map("d", namespace, dry_run="All")
    assert core.read_namespaced_config_map("d", namespace).data == {"a": "1"}


def test_delete_returns_status_or_object_and_finalizers_hold(core, apps_api, namespace):
    apps_api.create_namespaced_deployment(namespace, deployment("del", replicas=0))
    status = apps_api.delete_namespaced_deployment("del", namespace)
    assert status["kind"] == "Status" and status["status"] == "Success"
    assert status["details"]["name"] == "del" and status["details"]["group"] == "apps"
    core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
    )
    core.delete_namespaced_config_map("held", namespace)
    held = core.read_namespaced_config_map("held", namespace)
    assert held.metadata.deletion_timestamp is not None
    core.patch_namespaced_config_map("held", namespace, {"metadata": {"finalizers": None}})
    with pytest.raises(client.ApiException) as err:
        core.read_namespaced_config_map("held", namespace)
    assert err.value.status == 404


def test_delete_precondition_conflict(core, namespace):
    cm = core.create_namespaced_config_map(namespace, {"metadata": {"name": "p"}})
    with pytest.raises(client.ApiException) as err:
        core.delete_namespaced_config_map(
            "p", namespace, body={"preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}}
        )
    assert err.value.status == 409
    core.delete_namespaced_config_map(
        "p", namespace, body={"preconditions": {"uid": cm.metadata.uid}}
    )


def test_deletecollection_by_label(core, namespace):
    for i, team in enumerate(["a", "a", "b"]):
        core.create_namespaced_config_map(
            namespace, {"metadata": {"name": f"c{i}", "labels": {"team": team}}}
        )
    core.delete_collection_namespaced_config_map(namespace, label_selector="team=a")
    left = core.list_namespaced_config_map(namespace, label_selector="team").items
    assert [c.metadata.name for c in left] == ["c2"]


def test_namespace_deletion_cascades(core, apps_api):
    core.create_namespace({"metadata": {"name": "doomed"}})
    core.create_namespaced_config_map("doomed", {"metadata": {"name": "c"}})
    apps_api.create_namespaced_deployment("doomed", deployment("web", replicas=1))
    ns = core.delete_namespace("doomed")
    assert ns["kind"] == "Namespace" and ns["status"]["phase"] == "Terminating"

    def gone() -> bool:
        try:
            core.read_namespace("doomed")
        except client.ApiException as exc:
            return exc.status == 404
        return False

    wait_for(gone, "namespace removal", timeout=30)
    assert not [
        c
        for c in core.list_config_map_for_all_namespaces().items
        if c.metadata.namespace == "doomed"
    ]


def test_create_in_terminating_namespace_is_forbidden(core):
    core.create_namespace({"metadata": {"name": "closing", "finalizers": ["example.com/x"]}})
    core.create_namespaced_config_map("closing", {"metadata": {"name": "c"}})
    core.delete_namespace("closing")
    assert core.read_namespace("closing").status.phase == "Terminating"
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_config_map("closing", {"metadata": {"name": "late"}})
    assert err.value.status == 403
    assert "because it is being terminated" in status_of(err)["message"]
    wait_for(lambda: not core.list_namespaced_config_map("closing").items, "content purge")
    core.patch_namespace("closing", {"metadata": {"finalizers": None}})
    wait_for(
        lambda: "closing" not in {n.metadata.name for n in core.list_namespace().items},
        "namespace removal",
    )


def test_cluster_scoped_objects_and_pods(core, namespace):
    created = core.create_namespaced_pod(namespace, pod("p1"))
    assert created.spec.restart_policy == "Always" and created.status.phase == "Pending"
    assert created.spec.containers[0].termination_message_path == "/dev/termination-log"
    deleted = core.delete_namespaced_pod("p1", namespace)
    assert deleted.metadata.name == "p1"


def test_secret_string_data_is_merged_into_data(core, namespace):
    """As the API server: stringData is write-only and lands base64-encoded in data."""
    from kubernetes import client as k8s_client

    created = core.create_namespaced_secret(
        namespace,
        k8s_client.V1Secret(
            metadata=k8s_client.V1ObjectMeta(name="s1"), string_data={"password": "hunter2"}
        ),
    )
    assert created.string_data is None
    assert created.data == {"password": "aHVudGVyMg=="}
