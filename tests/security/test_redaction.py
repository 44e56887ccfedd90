"""Audit rows never hold a secret: Secret values sent through the REST apply endpoint (YAML and
JSON manifest strings), kind-less patches of a Secret (merge, strategic, JSON patch) and kubectl
apply / patch through the live proxy (with its last-applied annotation) are redacted before
the row is written — and the rest of each body stays readable, or the trail is worthless.

Each test reads the stored AuditEvent rows: every row is JSON-dumped and searched for each
secret value, plain and base64.

The class: Rancher CVE-2021-36782 (cluster and credential secrets stored in plain text where
low-privileged users could read them) and Kubernetes CVE-2019-11250 (bearer tokens written to
logs at high verbosity): secrets copied into a record that is kept, and read, far more widely
than the Secret itself.

``kubectl create secret generic`` sends protobuf: the proxy reads it with the same body reader
as JSON (apps.core.bodies), so its row is redacted like a JSON one, a create is judged on the
protobuf body's name, and a protobuf Secret carrying the mask back is refused (tested below).
"""

from __future__ import annotations

import base64
import json
import uuid

import pytest
import yaml

from apps.audit.models import AuditEvent
from apps.audit.redaction import LAST_APPLIED, REDACTED, redact_body
from apps.authz.models import Binding, Policy
from apps.clusters import k8s, services
from apps.clusters.masking import MASK_B64
from apps.clusters.proxy.app import _secret_write_denial
from apps.core import bodies, kubeproto
from tests.factories import UserFactory
from tests.live import *  # noqa: F403
from tests.live import proxy_events


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def all_rows_dumped() -> str:
    return json.dumps(list(AuditEvent.objects.values()), default=str)


def assert_absent(*secrets: str) -> None:
    dumped = all_rows_dumped()
    for secret in secrets:
        assert secret not in dumped, f"{secret!r} is stored in an audit row"


def unique(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}"


# -- the REST API (Django test client, a kubesim cluster) ---------------------------------------
@pytest.fixture
def rest_cluster(db, tenant, sim_cluster):
    spec = k8s.Connection(
        server=sim_cluster.url, token=sim_cluster.token, ca_data=sim_cluster.ca_data
    )
    return services.import_cluster(actor=None, tenant=tenant, display_name="red", spec=spec)


def only_row(**filters) -> AuditEvent:
    rows = list(AuditEvent.objects.filter(**filters))
    assert len(rows) == 1, [(r.method, r.path, r.status_code) for r in rows]
    return rows[0]


@pytest.mark.django_db
def test_yaml_manifest_through_apply_stores_no_secret_value(api, tenant_admin, rest_cluster):
    """A YAML manifest string (the apply endpoint's real shape) with a Secret's ``data`` and
    ``stringData``: the stored manifest is the redacted documents, the ConfigMap beside it and
    the Secret's name stay visible."""
    plain, encoded_source = unique("string-data"), unique("data")
    visible = unique("configmap-value")
    manifest = f"""
apiVersion: v1
kind: Secret
metadata:
  name: db-credentials
  labels: {{app: db}}
type: Opaque
data:
  dsn: {b64(encoded_source)}
stringData:
  login: {plain}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: db-settings}}
data:
  mode: {visible}
"""
    AuditEvent.objects.all().delete()
    response = api(tenant_admin).post(
        f"/api/v1/clusters/{rest_cluster.name}/apply/", {"manifest": manifest, "namespace": "web"}
    )
    assert response.status_code == 200, response.content
    assert [r["action"] for r in response.json()["results"]] == ["created", "created"]

    row = only_row(action="applyManifest")
    assert_absent(plain, encoded_source, b64(encoded_source), b64(plain))
    secret_doc, configmap_doc = row.request_body["manifest"]
    assert secret_doc["metadata"] == {"name": "db-credentials", "labels": {"app": "db"}}
    assert secret_doc["data"] == REDACTED and secret_doc["stringData"] == REDACTED
    assert configmap_doc["data"] == {"mode": visible}
    assert row.request_body["namespace"] == "web"


@pytest.mark.django_db
def test_json_manifest_string_with_a_list_and_last_applied(api, tenant_admin, rest_cluster):
    """A JSON manifest string holding ``kind: List``: the Secret item (with kubectl's
    last-applied annotation, the whole Secret again as a JSON string) is redacted, the
    ConfigMap item is not."""
    value, visible = unique("list-secret"), unique("list-visible")
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "from-list"},
        "stringData": {"login": value},
    }
    secret["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(secret)}
    manifest = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "List",
            "items": [
                secret,
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "from-list"},
                    "data": {"note": visible},
                },
            ],
        }
    )
    AuditEvent.objects.all().delete()
    response = api(tenant_admin).post(
        f"/api/v1/clusters/{rest_cluster.name}/apply/", {"manifest": manifest, "namespace": "web"}
    )
    assert response.status_code == 200, response.content

    row = only_row(action="applyManifest")
    assert_absent(value, b64(value))
    (listed,) = row.request_body["manifest"]
    stored_secret, stored_configmap = listed["items"]
    assert stored_secret["metadata"]["annotations"] == {LAST_APPLIED: REDACTED}
    assert stored_secret["metadata"]["name"] == "from-list"
    assert stored_configmap["data"] == {"note": visible}


@pytest.mark.django_db
def test_unparseable_manifest_is_described_never_stored(api, tenant_admin, rest_cluster):
    """A manifest the portal cannot read may still hold a Secret's values: the row describes
    it, the 400 names the field."""
    value = unique("broken")
    manifest = f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData: {{k: {value}\n"
    AuditEvent.objects.all().delete()
    response = api(tenant_admin).post(
        f"/api/v1/clusters/{rest_cluster.name}/apply/", {"manifest": manifest, "namespace": "web"}
    )
    assert response.status_code == 400
    assert "manifest" in response.json()["fields"]
    row = only_row(method="POST")
    assert row.request_body["manifest"] == {
        "_omitted": f"{len(manifest)} characters of unparseable manifest"
    }
    assert_absent(value)


JSON_PATCH_STORED = [
    {"op": "replace", "path": "/data/dsn", "value": REDACTED},
    {"op": "add", "path": "/stringData", "value": REDACTED},
    {"op": "add", "path": "/metadata/labels/tier", "value": "db"},
]
PATCHES = [
    pytest.param(
        "application/merge-patch+json",
        lambda v: {"data": {"dsn": b64(v)}},
        {"data": REDACTED},
        id="merge",
    ),
    pytest.param(
        "application/strategic-merge-patch+json",
        lambda v: {"stringData": {"dsn": v}, "metadata": {"labels": {"tier": "db"}}},
        {"stringData": REDACTED, "metadata": {"labels": {"tier": "db"}}},
        id="strategic",
    ),
    pytest.param(
        "application/json-patch+json",
        lambda v: [
            {"op": "replace", "path": "/data/dsn", "value": b64(v)},
            {"op": "add", "path": "/stringData", "value": {"other": v}},
            {"op": "add", "path": "/metadata/labels/tier", "value": "db"},
        ],
        JSON_PATCH_STORED,
        id="json-patch",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("content_type", "make_body", "stored"), PATCHES)
def test_kind_less_patch_of_a_secret_through_the_rest_api(
    api, tenant_admin, rest_cluster, content_type, make_body, stored
):
    """A patch of a Secret says no ``kind``: the URL (``…/secrets/<name>/``) is what makes its
    values secret. The row is kept (whatever the answer: the REST API has no PATCH of
    objects) with the values redacted and the rest — a label, the JSON patch's ops and
    paths — still readable."""
    value = unique("patched")
    url = f"/api/v1/clusters/{rest_cluster.name}/namespaces/web/secrets/db-credentials/"
    AuditEvent.objects.all().delete()
    api(tenant_admin).generic("PATCH", url, json.dumps(make_body(value)), content_type=content_type)

    row = only_row(method="PATCH")
    assert row.path == url
    assert row.request_body == stored
    assert_absent(value, b64(value))


@pytest.mark.django_db
def test_put_of_a_kind_less_secret_body(api, tenant_admin, rest_cluster):
    """The REST replace of a Secret with a body that names no kind (the endpoint fills it
    in): the row holds the name, not the values."""
    value = unique("replaced")
    base = f"/api/v1/clusters/{rest_cluster.name}/namespaces/web/secrets/"
    client = api(tenant_admin)
    created = client.post(base, {"metadata": {"name": "kindless"}, "stringData": {"a": "b"}})
    assert created.status_code == 201, created.content
    AuditEvent.objects.all().delete()
    response = client.put(
        f"{base}kindless/", {"metadata": {"name": "kindless"}, "stringData": {"a": value}}
    )
    assert response.status_code == 200, response.content
    row = only_row(method="PUT")
    assert row.request_body == {"metadata": {"name": "kindless"}, "stringData": REDACTED}
    assert_absent(value, b64(value))


@pytest.mark.django_db
def test_json_patch_of_a_configmap_stays_readable(api, tenant_admin, rest_cluster):
    """Redaction must not eat everything: the same JSON patch shape on a ConfigMap keeps its
    values."""
    visible = unique("configmap-patch")
    url = f"/api/v1/clusters/{rest_cluster.name}/namespaces/web/configmaps/settings/"
    ops = [{"op": "replace", "path": "/data/mode", "value": visible}]
    AuditEvent.objects.all().delete()
    api(tenant_admin).generic(
        "PATCH", url, json.dumps(ops), content_type="application/json-patch+json"
    )
    assert only_row(method="PATCH").request_body == ops


def test_secret_lists_and_unknown_bodies():
    """A SecretList's items say no kind; a protobuf body that cannot be decoded (this Secret's
    message is cut short) is only described — decodable ones are redacted like JSON."""
    value = unique("listed")
    body = {"kind": "SecretList", "items": [{"metadata": {"name": "a"}, "data": {"k": value}}]}
    cleaned = redact_body(json.dumps(body).encode(), "application/json", 100_000)
    assert cleaned == {
        "kind": "SecretList",
        "items": [{"metadata": {"name": "a"}, "data": REDACTED}],
    }
    protobuf = b"k8s\x00\n\x0c\n\x02v1\x12\x06Secret\x12" + value.encode()
    described = redact_body(protobuf, "application/vnd.kubernetes.protobuf", 100_000)
    assert value not in json.dumps(described) and "_omitted" in described


# -- kubectl through the live proxy -------------------------------------------------------------
live = pytest.mark.usefixtures("live_state")


def secret_manifest(name: str, data_value: str, string_value: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "labels": {"app": "red"}},
            "type": "Opaque",
            "data": {"dsn": b64(data_value)},
            "stringData": {"login": string_value},
        }
    )


@live
@pytest.mark.django_db(transaction=True)
def test_kubectl_apply_twice_and_patches_store_no_secret_value(bob, namespace, cluster):
    """kubectl apply (create, then a patch carrying the last-applied annotation), kubectl
    patch (strategic, merge and JSON patch): the proxy's rows hold none of the values, and
    still name the Secret and keep a ConfigMap's data."""
    first = [unique("apply1-data"), unique("apply1-string")]
    second = [unique("apply2-data"), unique("apply2-string")]
    strategic, merge, json_patch = unique("strategic"), unique("merge"), unique("jsonpatch")
    visible = unique("configmap-visible")
    bob("apply", "-n", namespace, "-f", "-", stdin=secret_manifest("red-secret", *first))
    bob("apply", "-n", namespace, "-f", "-", stdin=secret_manifest("red-secret", *second))
    ops = [{"op": "replace", "path": "/data/dsn", "value": b64(json_patch)}]
    for kind, patch in (
        ("strategic", {"stringData": {"dsn": strategic}}),
        ("merge", {"data": {"dsn": b64(merge)}}),
        ("json", ops),
    ):
        bob(
            "patch",
            "-n",
            namespace,
            "secret",
            "red-secret",
            f"--type={kind}",
            "-p",
            json.dumps(patch),
        )
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "red-visible"},
        "data": {"mode": visible},
    }
    bob("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(configmap))

    writes = [
        e
        for e in proxy_events(method__in=["POST", "PATCH", "PUT"])
        if "/secrets" in e.path and e.request_body
    ]
    # create, the second apply's patch, and the three patches
    assert len(writes) >= 5, [(e.method, e.path) for e in writes]
    assert all(e.status_code and e.status_code < 300 for e in writes)
    assert sum(e.method == "PATCH" for e in writes) >= 4
    secrets = [*first, *second, strategic, merge, json_patch]
    assert_absent(*secrets, *(b64(v) for v in secrets))
    assert any("red-secret" in e.path for e in writes)
    created = next(e for e in writes if e.method == "POST")
    assert created.request_body["metadata"]["name"] == "red-secret"
    assert created.request_body["metadata"]["labels"] == {"app": "red"}
    assert created.request_body["metadata"]["annotations"] == {LAST_APPLIED: REDACTED}
    kept = json.dumps(list(proxy_events(path__contains="configmaps").values("request_body")))
    assert visible in kept


@pytest.mark.parametrize(
    "body",
    [
        # one malformed operation (no "op") beside a real one: still a patch of a Secret
        [{"op": "add", "path": "/data/c", "value": "czNjcjN0"}, {"path": "/x"}],
        [{"path": "/data/c", "value": "czNjcjN0"}],
        # the API server decodes JSON ignoring case: "Data" and "/StringData" are data
        [{"op": "add", "path": "/Data/c", "value": "czNjcjN0"}],
        {"Data": {"c": "czNjcjN0"}},
        {"STRINGDATA": {"c": "s3cr3t"}},
    ],
)
def test_secret_bodies_of_any_shape_are_redacted(body):
    """Red-team finding: a JSON patch with one operation lacking ``op`` was stored whole."""
    stored = redact_body(
        json.dumps(body).encode(), "application/json-patch+json", 10_000, secret=True
    )
    dumped = json.dumps(stored)
    assert "czNjcjN0" not in dumped and "s3cr3t" not in dumped
    assert REDACTED in dumped


# -- protobuf bodies (what kubectl and Helm send for built-in types) ----------------------------
def protobuf_secret(name: str, value: str) -> bytes:
    return kubeproto.encode(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "labels": {"app": "red"}},
            "data": {"dsn": b64(value)},
            "stringData": {"login": value},
        }
    )


def test_protobuf_secret_body_is_redacted_like_json():
    value = unique("protobuf-value")
    stored = redact_body(protobuf_secret("pb", value), kubeproto.CONTENT_TYPE, 100_000)
    assert stored["kind"] == "Secret" and stored["metadata"]["name"] == "pb"
    assert stored["metadata"]["labels"] == {"app": "red"}
    assert stored["data"] == REDACTED and stored["stringData"] == REDACTED
    assert value not in json.dumps(stored) and b64(value) not in json.dumps(stored)


def test_protobuf_secret_carrying_the_mask_is_refused():
    masked = kubeproto.encode(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "m"},
         "data": {"password": MASK_B64}}
    )  # fmt: skip
    denial = _secret_write_denial("PUT", bodies.Body(masked, kubeproto.CONTENT_TYPE))
    assert denial.code == 422 and "portal's mask" in denial.message
    honest = protobuf_secret("m", "real-value")
    assert _secret_write_denial("PUT", bodies.Body(honest, kubeproto.CONTENT_TYPE)) is None


def _split_typemeta_secret(data: dict) -> bytes:
    """A Secret whose envelope sends typeMeta twice, apiVersion in the first and kind in the
    second: Go merges the two (its generated Unmarshal decodes both into one struct)."""
    from apps.core.kubeproto.codec import _put_bytes

    whole = kubeproto.encode(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "m"}, "data": data}
    )
    raw = kubeproto.envelope(whole)[2]
    first, second, out = bytearray(), bytearray(), bytearray(kubeproto.MAGIC)
    _put_bytes(first, 1, b"v1")
    _put_bytes(second, 2, b"Secret")
    _put_bytes(out, 1, bytes(first))
    _put_bytes(out, 1, bytes(second))
    _put_bytes(out, 2, bytes(raw))
    return bytes(out)


def test_protobuf_typemeta_split_in_two_is_merged_as_go_does():
    body = _split_typemeta_secret({"password": MASK_B64})
    decoded = kubeproto.decode(body)
    assert decoded["apiVersion"] == "v1" and decoded["kind"] == "Secret"
    assert decoded["data"] == {"password": MASK_B64}
    denial = _secret_write_denial("PUT", bodies.Body(body, kubeproto.CONTENT_TYPE))
    assert denial.code == 422 and "portal's mask" in denial.message


def test_repeated_embedded_messages_merge_and_scalars_are_last_wins():
    from apps.core.kubeproto.codec import _put_bytes

    meta_a, meta_b = bytearray(), bytearray()
    _put_bytes(meta_a, 1, b"first")  # ObjectMeta.name
    _put_bytes(meta_a, 3, b"ns")  # ObjectMeta.namespace
    _put_bytes(meta_b, 1, b"second")
    raw = bytearray()
    _put_bytes(raw, 1, bytes(meta_a))
    _put_bytes(raw, 1, bytes(meta_b))
    decoded = kubeproto.decode_message("core/v1.ConfigMap", bytes(raw))
    assert decoded["metadata"] == {"name": "second", "namespace": "ns"}


@pytest.mark.parametrize(
    "body, ctype, why",
    [
        (b'{"metadata": {"name": "x"}, "data": ', "application/json", "unparseable"),
        (b"k8s\x00\x0a\x02\xff", kubeproto.CONTENT_TYPE, "truncated"),
        (b"k8s\x00" + b"\x0a\x05\x0a\x03xyz" * 5, kubeproto.CONTENT_TYPE, "'Kind' is missing"),
    ],
)
def test_a_secret_body_the_portal_cannot_read_is_refused(body, ctype, why):
    """Before: the mask check failed open on it (``the cluster refuses it too``) — and a body
    read one way here and another way by Go is exactly how the mask check was bypassed."""
    denial = _secret_write_denial("POST", bodies.Body(body, ctype))
    assert denial is not None and denial.code == 422
    assert "could not read this Secret's body" in denial.message and why in denial.message


def test_a_form_sent_to_a_secret_is_described_never_stored():
    value = unique("form-value")
    raw = json.dumps({"metadata": {"name": "s"}, "stringData": {"x": value}}).encode()
    stored = redact_body(raw, "application/x-www-form-urlencoded", 100_000, secret=True)
    assert stored == {"_omitted": f"{len(raw)} bytes of a form sent to a Secret (not stored)"}


@live
@pytest.mark.django_db(transaction=True)
def test_kubectl_create_secret_generic_protobuf_stores_no_secret_value(bob, namespace, cluster):
    """kubectl sends ``create secret generic`` as protobuf: created, and its audit row names
    the Secret with its values redacted."""
    value = unique("created-by-protobuf")
    bob("create", "secret", "generic", "pb-secret", "-n", namespace, f"--from-literal=k={value}")
    created = [e for e in proxy_events(method="POST") if "/secrets" in e.path]
    assert len(created) == 1 and created[0].status_code == 201
    assert created[0].request_body["kind"] == "Secret"
    assert created[0].request_body["metadata"]["name"] == "pb-secret"
    assert created[0].request_body["data"] == REDACTED
    assert_absent(value, b64(value))
    live_secret = json.loads(
        bob("get", "secret", "pb-secret", "-n", namespace, "-o", "json").stdout
    )
    assert base64.b64decode(live_secret["data"]["k"]).decode() == value


@live
@pytest.mark.django_db(transaction=True)
def test_protobuf_create_is_judged_on_its_body_name(kubectl_as, tenant, namespace, cluster):
    """ConfigMaps allowed, one name denied: kubectl's protobuf create of another name is let
    through (the proxy read the name: an unread one is judged as every name, which the deny
    meets), of the denied name refused."""
    user = UserFactory(tenant=tenant, username="cm-namer")
    policy = Policy.objects.create(
        tenant=tenant,
        name="one-configmap",
        statements=[
            {"actions": ["getClusterKubeconfig"], "resources": ["cluster:*"], "effect": "allow"},
            {"actions": ["get*", "list*", "watch*"], "resources": ["*"], "effect": "allow"},
            {
                "actions": ["createConfigMap"],
                "resources": [f"cluster:*/namespace:{namespace}/configmap:*"],
                "effect": "allow",
            },
            {
                "actions": ["createConfigMap"],
                "resources": [f"cluster:*/namespace:{namespace}/configmap:other"],
                "effect": "deny",
            },
        ],
    )
    Binding.objects.create(tenant=tenant, user=user, policy=policy)
    namer = kubectl_as(user)
    namer("create", "configmap", "granted", "-n", namespace, "--from-literal=a=1")
    refused = namer("create", "configmap", "other", "-n", namespace, check=False)
    assert refused.returncode != 0 and "forbidden" in refused.stderr.lower(), refused.stderr
    assert "configmap:other" in refused.stderr
