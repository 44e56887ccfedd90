"""Answer formats chosen from the Accept header as kube-apiserver 1.37 chooses them: JSON,
YAML or protobuf (``k8s\\0`` envelope) for objects, lists, discovery and Status errors; Table
in JSON/YAML only; custom resources never as protobuf; CBOR not offered (feature gate off);
q-values and ``*/*`` honoured; protobuf watches as length-prefixed ``WatchEvent`` frames.

Every protobuf answer is read back with :mod:`apps.core.kubeproto` and compared with the JSON
answer for the same object."""

from __future__ import annotations

import json
import struct
import subprocess

import pytest
import yaml
from kubernetes import client

from apps.core import kubeproto

from .conftest import deployment, pod, raw, wait_for

PB = "application/vnd.kubernetes.protobuf"
TABLE = "as=Table;v=v1;g=meta.k8s.io"
ALL_TYPES = "application/json, application/yaml, application/vnd.kubernetes.protobuf"
WIDGETS = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}


@pytest.fixture
def objects(core, apps_api, namespace):
    """A pod and a Deployment; the pod running, so its container statuses are on the wire
    (``lastState``, a struct and never null, is in both encodings)."""
    core.create_namespaced_pod(namespace, pod("web"))
    apps_api.create_namespaced_deployment(namespace, deployment("api", replicas=1))
    wait_for(
        lambda: core.read_namespaced_pod("web", namespace).status.container_statuses,
        "web running",
    )
    return namespace


def get(api, path, accept):
    path, _, query = path.partition("?")
    pairs = [tuple(p.split("=", 1)) for p in query.split("&") if p]
    return raw(api, "GET", path, headers={"Accept": accept}, query=pairs)


def ctype(resp) -> str:
    return resp.headers["Content-Type"]


def same_moment(api, path, accept):
    """(JSON answer, answer in ``accept``) of the same state: the controller keeps changing
    Deployments, so retry until the JSON before and after agree."""
    for _ in range(20):
        before, other, after = (
            get(api, path, a) for a in ("application/json", accept, "application/json")
        )
        if before.data == after.data:
            return before, other
    raise AssertionError(f"{path} never held still")


def comparable(value):
    """Protobuf has no null: a zero time (JSON ``null``) and an absent one read the same to
    every client. List items carry no kind/apiVersion on the wire (nor in a real server's
    JSON; kubesim's JSON adds them)."""
    if isinstance(value, dict):
        out = {k: comparable(v) for k, v in value.items() if v is not None}
        for item in out.get("items") or []:
            if isinstance(item, dict):
                item.pop("kind", None), item.pop("apiVersion", None)
        return out
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/namespaces/{ns}/pods/web",
        "/apis/apps/v1/namespaces/{ns}/deployments/api",
        "/api/v1/namespaces/{ns}/pods",
        "/apis/apps/v1/namespaces/{ns}/deployments",
        "/api/v1/namespaces/{ns}/configmaps/kube-root-ca.crt",
    ],
)
def test_protobuf_answer_is_the_json_answer(api, objects, path):
    path = path.format(ns=objects)
    as_json, as_pb = same_moment(api, path, PB)
    assert as_json.status == as_pb.status == 200
    assert ctype(as_pb) == PB and as_pb.data.startswith(kubeproto.MAGIC)
    decoded = kubeproto.decode(as_pb.data)
    assert comparable(decoded) == comparable(as_json.json)
    assert decoded["kind"] in ("Pod", "Deployment", "PodList", "DeploymentList", "ConfigMap")


def test_a_list_in_protobuf_has_every_item(api, objects):
    path = f"/api/v1/namespaces/{objects}/pods?labelSelector=app=web"
    listed = kubeproto.decode(get(api, path, PB).data)
    assert listed["kind"] == "PodList" and listed["apiVersion"] == "v1"
    assert [p["metadata"]["name"] for p in listed["items"]] == ["web"]
    assert listed["items"][0]["spec"]["containers"][0]["image"] == "busybox:1.37"
    assert int(listed["metadata"]["resourceVersion"]) > 0


def test_status_404_in_protobuf_and_yaml(api, namespace):
    path = f"/api/v1/namespaces/{namespace}/pods/missing"
    as_json = get(api, path, "application/json")
    as_pb = get(api, path, PB)
    as_yaml = get(api, path, "application/yaml")
    assert as_json.status == as_pb.status == as_yaml.status == 404
    assert ctype(as_pb) == PB and ctype(as_yaml) == "application/yaml"
    status = kubeproto.decode(as_pb.data)
    assert status == as_json.json
    assert status["kind"] == "Status" and status["reason"] == "NotFound"
    assert status["message"] == 'pods "missing" not found'
    assert status["details"] == {"name": "missing", "kind": "pods"}
    assert yaml.safe_load(as_yaml.data) == as_json.json


@pytest.mark.parametrize(
    "path",
    ["/api/v1/namespaces/{ns}/pods/web", "/apis/apps/v1/namespaces/{ns}/deployments"],
)
def test_yaml_answer_is_the_json_answer(api, objects, path):
    path = path.format(ns=objects)
    as_json, as_yaml = same_moment(api, path, "application/yaml")
    assert as_yaml.status == 200 and ctype(as_yaml) == "application/yaml"
    assert not as_yaml.data.lstrip().startswith(b"{")  # block YAML, not JSON
    assert yaml.safe_load(as_yaml.data) == as_json.json


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("", "application/json"),
        ("*/*", "application/json"),
        ("application/*", "application/json"),
        ("application/yaml;q=0.5, application/json;q=0.9", "application/json"),
        ("application/json;q=0.1, application/yaml", "application/yaml"),
        ("application/json;q=0, */*", "application/yaml"),
        ("*/*;q=0.8, application/yaml", "application/yaml"),
        (f"{PB}, */*", PB),
        (f"{PB};q=0.5, application/json", "application/json"),
        ("text/html, application/xhtml+xml, */*;q=0.8", "application/json"),
        ("application/cbor, application/json", "application/json"),
        ("application/json;stream=watch", "application/json"),
    ],
)
def test_accept_order_and_q_values(api, objects, accept, expected):
    resp = get(api, f"/api/v1/namespaces/{objects}/pods/web", accept)
    assert resp.status == 200 and ctype(resp) == expected


@pytest.mark.parametrize(
    "accept",
    ["application/cbor", "text/plain", "application/json;q=0", "application/yaml;stream=watch"],
)
def test_nothing_acceptable_is_406_listing_what_is(api, objects, accept):
    resp = get(api, f"/api/v1/namespaces/{objects}/pods/web", accept)
    assert resp.status == 406 and ctype(resp) == "application/json"
    assert resp.json["reason"] == "NotAcceptable" and resp.json["code"] == 406
    assert resp.json["message"] == f"only the following media types are accepted: {ALL_TYPES}"


def test_406_comes_before_a_create(api, core, namespace):
    resp = raw(
        api,
        "POST",
        f"/api/v1/namespaces/{namespace}/configmaps",
        body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "never"}},
        headers={"Accept": "application/cbor"},
    )
    assert resp.status == 406
    assert [c.metadata.name for c in core.list_namespaced_config_map(namespace).items] == [
        "kube-root-ca.crt"
    ]


def test_created_object_answered_in_protobuf(api, namespace):
    resp = raw(
        api,
        "POST",
        f"/api/v1/namespaces/{namespace}/configmaps",
        body={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c"},
            "data": {"a": "1"},
        },
        headers={"Accept": f"{PB}, application/json"},
    )
    assert resp.status == 201 and ctype(resp) == PB
    created = kubeproto.decode(resp.data)
    assert created["data"] == {"a": "1"} and created["metadata"]["uid"]


def test_table_is_json_or_yaml_never_protobuf(api, objects):
    path = f"/api/v1/namespaces/{objects}/pods?labelSelector=app=web"
    both = get(api, path, f"{PB};{TABLE}, application/json;{TABLE}, application/json")
    assert ctype(both) == "application/json" and both.json["kind"] == "Table"
    assert [r["cells"][0] for r in both.json["rows"]] == ["web"]
    as_yaml = yaml.safe_load(get(api, path, f"application/yaml;{TABLE}").data)
    assert as_yaml["kind"] == "Table" and as_yaml["columnDefinitions"][0]["name"] == "Name"
    only_pb = get(api, path, f"{PB};{TABLE}")
    assert only_pb.status == 406 and ctype(only_pb) == "application/json"
    assert only_pb.json["message"] == f"only the following media types are accepted: {ALL_TYPES}"
    fallback = get(api, path, f"{PB};{TABLE}, {PB}")  # the plain list, as protobuf
    assert kubeproto.decode(fallback.data)["kind"] == "PodList"


def test_metadata_client_gets_protobuf_partial_objects(api, objects):
    """The header client-go's metadata client sends for lists and gets."""
    for kind, path in (
        ("PartialObjectMetadataList", f"/api/v1/namespaces/{objects}/pods?labelSelector=app=web"),
        ("PartialObjectMetadata", f"/api/v1/namespaces/{objects}/pods/web"),
    ):
        params = f"as={kind};g=meta.k8s.io;v=v1"
        resp = get(api, path, f"{PB};{params}, application/json;{params}, application/json")
        assert resp.status == 200 and ctype(resp) == PB
        decoded = kubeproto.decode(resp.data)
        assert decoded["kind"] == kind and decoded["apiVersion"] == "meta.k8s.io/v1"
        items = decoded.get("items", [decoded])
        assert [i["metadata"]["name"] for i in items] == ["web"]
        assert "spec" not in items[0] and items[0]["metadata"]["uid"]


def test_partial_object_on_a_list_is_refused_as_a_real_server_does(api, objects):
    resp = get(
        api,
        f"/api/v1/namespaces/{objects}/pods",
        "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
    )
    assert resp.status == 406
    assert resp.json["message"] == (
        "you requested PartialObjectMetadata, but the requested object is a list (*v1.PodList)"
    )


@pytest.fixture
def widget(api, namespace):
    client.ApiextensionsV1Api(api).create_custom_resource_definition(WIDGETS)
    custom = client.CustomObjectsApi(api)
    body = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    wait_for(
        lambda: _try_create(custom, namespace, body),
        "the Widget CRD to serve",
    )
    return namespace


def _try_create(custom, namespace, body):
    try:
        return custom.create_namespaced_custom_object(
            "example.com", "v1", namespace, "widgets", body
        )
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def test_custom_resource_in_protobuf_only_is_406_in_protobuf(api, widget):
    path = f"/apis/example.com/v1/namespaces/{widget}/widgets/w"
    resp = get(api, path, PB)
    assert resp.status == 406
    # the Status itself is protobuf: errors are negotiated without the endpoint's limits
    assert ctype(resp) == PB
    status = kubeproto.decode(resp.data)
    assert status["reason"] == "NotAcceptable" and status["code"] == 406
    assert status["message"] == f"only the following media types are accepted: {ALL_TYPES}"
    with_json = get(api, path, f"{PB}, application/json")
    assert ctype(with_json) == "application/json" and with_json.json["kind"] == "Widget"
    as_yaml = yaml.safe_load(get(api, path, "application/yaml").data)
    assert as_yaml["kind"] == "Widget" and as_yaml["metadata"]["name"] == "w"
    listed = get(api, f"/apis/example.com/v1/namespaces/{widget}/widgets", PB)
    assert listed.status == 406


def test_discovery_documents_in_protobuf(api):
    for path in ("/api", "/api/v1", "/apis", "/apis/apps/v1"):
        as_pb = get(api, path, f"{PB}, application/json")
        assert ctype(as_pb) == PB, path
        assert kubeproto.decode(as_pb.data) == get(api, path, "application/json").json, path


def _frames(stream) -> list[dict]:
    data, frames = stream.read(), []
    while data:
        (size,) = struct.unpack(">I", data[:4])
        frames.append(kubeproto.decode_message("meta/v1.WatchEvent", data[4 : 4 + size]))
        data = data[4 + size :]
    return frames


def test_protobuf_watch_is_length_prefixed_watch_events(api, objects):
    resp = raw(
        api,
        "GET",
        f"/api/v1/namespaces/{objects}/pods",
        query=[
            ("watch", "true"),
            ("timeoutSeconds", "1"),
            ("sendInitialEvents", "true"),
            ("labelSelector", "app=web"),
        ],
        headers={"Accept": f"{PB}, application/json"},
        stream=True,
    )
    assert resp.status == 200
    assert resp.headers["Content-Type"] == f"{PB};stream=watch"
    events = _frames(resp)
    assert [e["type"] for e in events][:2] == ["ADDED", "BOOKMARK"]  # then the pod starts
    added = events[0]["object"]
    assert added["kind"] == "Pod" and added["metadata"]["name"] == "web"
    now = get(api, f"/api/v1/namespaces/{objects}/pods/web", "application/json").json
    assert added["metadata"]["uid"] == now["metadata"]["uid"]
    assert added["spec"]["containers"] == comparable(now["spec"]["containers"])
    bookmark = events[1]["object"]["metadata"]
    assert bookmark["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_yaml_watch_is_refused_in_yaml(api, objects):
    resp = raw(
        api,
        "GET",
        f"/api/v1/namespaces/{objects}/pods",
        query=[("watch", "true"), ("timeoutSeconds", "1")],
        headers={"Accept": "application/yaml"},
    )
    assert resp.status == 406 and ctype(resp) == "application/yaml"
    status = yaml.safe_load(resp.data)
    assert status["message"] == (
        "only the following media types are accepted: application/json;stream=watch, "
        f"{PB};stream=watch"
    )


def test_official_client_and_kubectl_read_answers(core, objects, kubectl):
    """The Python client asks for JSON; kubectl -o yaml asks for JSON and prints YAML."""
    assert core.read_namespaced_pod("web", objects).metadata.name == "web"
    printed = yaml.safe_load(kubectl("get", "pod", "web", "-n", objects, "-o", "yaml").stdout)
    assert printed["kind"] == "Pod" and printed["metadata"]["namespace"] == objects
    # kubectl's typed clients ask for protobuf first: it reads the protobuf answer
    made = kubectl("create", "configmap", "pbc", "-n", objects, "--from-literal=k=v", "-o", "json")
    assert json.loads(made.stdout)["data"] == {"k": "v"}


def test_curl_gets_yaml_protobuf_and_pretty_json(cluster, objects):
    """``kubectl get --raw`` cannot set Accept; curl can (and is pretty-printed, as curl is
    by a real server)."""
    handle = cluster.sim
    url = f"{handle.url}/api/v1/namespaces/{objects}/pods/web"

    def curl(accept: str) -> bytes:
        return subprocess.run(
            ["curl", "-sk", "-H", f"Authorization: Bearer {handle.token}", "-H", accept, url],
            check=True,
            capture_output=True,
            timeout=20,
        ).stdout

    as_json = curl("Accept: application/json")
    assert as_json.startswith(b'{\n  "') and b'\n  "kind": "Pod",\n' in as_json  # indented
    assert yaml.safe_load(curl("Accept: application/yaml"))["metadata"]["name"] == "web"
    decoded = kubeproto.decode(curl(f"Accept: {PB}"))
    assert decoded["metadata"]["uid"] == json.loads(as_json)["metadata"]["uid"]
