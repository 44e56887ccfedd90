"""fieldValidation (kubectl --validate): unknown and duplicate fields are warned about, refused or
ignored exactly as a 1.37 API server words it."""

from __future__ import annotations

import json

from kubernetes import client

from .conftest import raw, to_yaml

CM = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "cfg"},
    "data": {"a": "1"},
    "foo": "bar",
}
DEPLOY_UNKNOWN = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "replicas": 1,
        "foo": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx", "bogus": True}]},
        },
    },
}


def test_validate_warn_prints_the_servers_warning_and_drops_the_field(kubectl, core, namespace):
    proc = kubectl(
        "apply", "--validate=warn", "-n", namespace, "-f", "-", stdin=to_yaml(DEPLOY_UNKNOWN)
    )
    assert proc.stdout.strip() == "deployment.apps/web created"
    assert proc.stderr.splitlines() == [
        'Warning: unknown field "spec.foo"',
        'Warning: unknown field "spec.template.spec.containers[0].bogus"',
    ]
    stored = json.loads(kubectl("get", "deploy", "web", "-n", namespace, "-o", "json").stdout)
    assert "foo" not in stored["spec"]
    assert "bogus" not in stored["spec"]["template"]["spec"]["containers"][0]


def test_validate_strict_refuses_a_create_with_the_real_message(kubectl, namespace):
    proc = kubectl(
        "create", "--validate=strict", "-n", namespace, "-f", "-", stdin=to_yaml(CM), check=False
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        'Error from server (BadRequest): error when creating "STDIN": ConfigMap in version "v1" '
        'cannot be handled as a ConfigMap: strict decoding error: unknown field "foo"'
    )
    assert kubectl("get", "cm", "cfg", "-n", namespace, check=False).returncode == 1


def test_validate_strict_refuses_a_patch_as_invalid(kubectl, namespace):
    valid = {k: v for k, v in CM.items() if k != "foo"}
    kubectl("apply", "-n", namespace, "-f", "-", stdin=to_yaml(valid))
    proc = kubectl(
        "apply", "--validate=strict", "-n", namespace, "-f", "-", stdin=to_yaml(CM), check=False
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith('The request is invalid: patch: Invalid value: "map[')
    assert proc.stderr.rstrip().endswith('": strict decoding error: unknown field "foo"')


def test_validate_ignore_is_silent(kubectl, namespace):
    proc = kubectl("apply", "--validate=ignore", "-n", namespace, "-f", "-", stdin=to_yaml(CM))
    assert proc.stdout.strip() == "configmap/cfg created"
    assert proc.stderr == ""


def _post(api, namespace: str, body: bytes, validation: str | None):
    _, url, headers, _, _ = api.param_serialize(
        "POST",
        f"/api/v1/namespaces/{namespace}/configmaps",
        query_params=[("fieldValidation", validation)] if validation else [],
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        auth_settings=["BearerToken"],
    )
    return api.rest_client.pool_manager.request("POST", url, headers=headers, body=body)


DUPLICATED = (
    b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d1","name":"d2"},'
    b'"data":{"a":"1","a":"2"},"dta":{}}'
)


def test_duplicate_fields_warn_by_default_and_under_warn(api, namespace):
    for validation, name in ((None, "d2"), ("Warn", "d2")):
        resp = _post(api, namespace, DUPLICATED, validation)
        assert resp.status == 201, resp.data
        assert resp.headers.getlist("Warning") == [
            '299 - "duplicate field \\"metadata.name\\""',
            '299 - "duplicate field \\"data.a\\""',
            '299 - "unknown field \\"dta\\""',
        ]
        stored = json.loads(resp.data)
        assert (stored["metadata"]["name"], stored["data"]) == (name, {"a": "2"})
        client.CoreV1Api(api).delete_namespaced_config_map(name, namespace)


def test_duplicate_fields_strict_is_400(api, namespace):
    resp = _post(api, namespace, DUPLICATED, "Strict")
    assert resp.status == 400
    status = json.loads(resp.data)
    assert (status["reason"], status["message"]) == (
        "BadRequest",
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
        'duplicate field "metadata.name", duplicate field "data.a"',
    )


def test_duplicate_fields_ignore_is_silent(api, namespace):
    resp = _post(api, namespace, DUPLICATED, "Ignore")
    assert resp.status == 201
    assert resp.headers.getlist("Warning") == []


def test_strict_merge_patch_is_422_naming_the_patch(api, namespace):
    client.CoreV1Api(api).create_namespaced_config_map(namespace, {"metadata": {"name": "p"}})
    resp = raw(
        api,
        "PATCH",
        f"/api/v1/namespaces/{namespace}/configmaps/p",
        body={"data": {"k": "v"}, "bogus": 1},
        query=[("fieldValidation", "Strict")],
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert resp.status == 422
    status = resp.json
    assert status["reason"] == "Invalid"
    assert status["message"] == (
        ' "" is invalid: patch: Invalid value: "map[bogus:1 data:map[k:v]]": '
        'strict decoding error: unknown field "bogus"'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "map[bogus:1 data:map[k:v]]": strict decoding error: '
            'unknown field "bogus"',
            "field": "patch",
        }
    ]
