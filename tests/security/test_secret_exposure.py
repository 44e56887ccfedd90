"""Secret values through the kubectl proxy, for users who may read Secrets but not
``revealSecret``.

The review's finding: the REST API masked Secret values but the proxy relayed them on get,
list, watch, ``-o yaml`` and inside kubectl's last-applied annotation. The rule now is one for
every door (``apps/clusters/masking.py``): values masked, keys visible, ``data`` still valid
base64 so typed clients decode it; the proxy asks the cluster for JSON it can rewrite; writing
masked values back is refused. Peers have shipped the same class of leak (Rancher
CVE-2022-21953 / CVE-2023-22649 exposed secret values to users with read access through
other endpoints and logs); this module keeps every read verb covered.
"""

from __future__ import annotations

import base64
import json
import uuid

import pytest
import requests
import yaml

from apps.authz.models import Policy
from apps.clusters.masking import MASK, MASK_B64
from tests.factories import UserFactory, bind
from tests.live import *  # noqa: F403
from tests.live import raw_request

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_state")]

PASSWORD = "hunter2-" + uuid.uuid4().hex[:8]
TOKEN = "tok-" + uuid.uuid4().hex[:8]


def secret_manifest(name: str = "db") -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "labels": {"app": "db"}},
            "type": "Opaque",
            "data": {"password": base64.b64encode(PASSWORD.encode()).decode()},
            "stringData": {"token": TOKEN},
        }
    )


def leaks(text: str) -> bool:
    encoded = [base64.b64encode(v.encode()).decode() for v in (PASSWORD, TOKEN)]
    return any(v in text for v in (PASSWORD, TOKEN, *encoded))


@pytest.fixture
def secret(bob, namespace):
    """Created by a revealer with kubectl apply, so last-applied holds the values too."""
    bob("apply", "-n", namespace, "-f", "-", stdin=secret_manifest())
    live = json.loads(bob("get", "secret", "db", "-n", namespace, "-o", "json").stdout)
    assert leaks(json.dumps(live))  # the revealer sees the real values
    assert "kubectl.kubernetes.io/last-applied-configuration" in live["metadata"]["annotations"]
    return "db"


@pytest.fixture
def rhea(kubectl_as, read_only_user):
    """Reads everything (get*, list*, watch*), reveals nothing."""
    return kubectl_as(read_only_user)


@pytest.fixture
def editor(kubectl_as, tenant):
    """May read and update Secrets, not reveal them."""
    Policy.objects.create(
        tenant=tenant,
        name="secret-editor",
        statements=[
            {
                "actions": ["getCluster", "getClusterKubeconfig", "get*", "list*", "watch*"],
                "resources": ["*"],
                "effect": "allow",
            },
            {"actions": ["updateSecret"], "resources": ["cluster:*"], "effect": "allow"},
        ],
    )
    user = UserFactory(tenant=tenant, username="eddie")
    bind(user, "secret-editor")
    return kubectl_as(user)


def test_get_yaml_and_json_are_masked(rhea, namespace, secret):
    for output in ("yaml", "json"):
        text = rhea("get", "secret", secret, "-n", namespace, "-o", output).stdout
        assert not leaks(text), output
    obj = json.loads(rhea("get", "secret", secret, "-n", namespace, "-o", "json").stdout)
    assert obj["data"] == {"password": MASK_B64, "token": MASK_B64}
    assert base64.b64decode(obj["data"]["password"]).decode() == MASK
    applied = json.loads(
        obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    )
    assert applied["data"] == {"password": MASK_B64}
    assert applied["stringData"] == {"token": MASK}
    assert obj["metadata"]["labels"] == {"app": "db"}  # the rest of the object is intact


def test_list_table_and_describe_are_masked_and_still_work(rhea, namespace, secret):
    listed = rhea("get", "secrets", "-n", namespace, "-o", "json").stdout
    assert not leaks(listed) and '"db"' in listed
    table = rhea("get", "secrets", "-n", namespace).stdout
    assert table.split()[:4] == ["NAME", "TYPE", "DATA", "AGE"] and "db" in table
    described = rhea("describe", "secret", secret, "-n", namespace).stdout
    assert "password:  6 bytes" in described and not leaks(described)


def test_table_with_full_objects_is_masked(portal, cluster, read_only_user, namespace, secret):
    """``includeObject=Object`` puts whole Secrets in the Table rows; metadata-only rows
    still carry the last-applied annotation."""
    from tests.factories import make_api_key

    token = make_api_key(read_only_user)[1]
    for include in ("Object", "Metadata"):
        status, body, _ = raw_request(
            portal,
            "GET",
            f"/k8s/clusters/{cluster.name}/api/v1/namespaces/{namespace}/secrets"
            f"?includeObject={include}",
            token,
            uuid.uuid4().hex,
            headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
        )
        assert status == 200 and body["kind"] == "Table"
        assert body["rows"] and not leaks(json.dumps(body)), include


@pytest.mark.parametrize(
    "headers",
    [
        {"Accept": "application/vnd.kubernetes.protobuf"},
        {"Accept": "application/cbor, application/json"},
        {"Accept": "application/json", "Accept-Encoding": "gzip"},
    ],
)
def test_forms_the_portal_could_not_rewrite_are_not_asked_for(
    portal, cluster, read_only_user, namespace, secret, headers
):
    """Protobuf, CBOR or gzip answers would slip past the masking: the proxy asks the
    cluster for plain JSON whatever the client accepts."""
    from tests.factories import make_api_key

    token = make_api_key(read_only_user)[1]
    status, body, _ = raw_request(
        portal,
        "GET",
        f"/k8s/clusters/{cluster.name}/api/v1/namespaces/{namespace}/secrets/{secret}",
        token,
        uuid.uuid4().hex,
        headers=headers,
    )
    assert status == 200
    assert body["data"]["password"] == MASK_B64 and not leaks(json.dumps(body))


def test_watch_events_are_masked(portal, cluster, bob, read_only_user, namespace, secret):
    from tests.factories import make_api_key

    token = make_api_key(read_only_user)[1]
    response = requests.get(
        f"{portal.url}/k8s/clusters/{cluster.name}/api/v1/namespaces/{namespace}/secrets",
        params={"watch": "true", "timeoutSeconds": "5"},
        headers={"Authorization": f"Bearer {token}"},
        verify=portal.ca_file,
        stream=True,
        timeout=15,
    )
    assert response.status_code == 200
    lines = response.iter_lines()
    first = json.loads(next(lines))
    assert first["type"] == "ADDED" and first["object"]["data"]["password"] == MASK_B64
    bob("label", "secret", secret, "-n", namespace, "tier=backend")
    second = json.loads(next(lines))
    assert second["type"] == "MODIFIED"
    assert second["object"]["metadata"]["labels"]["tier"] == "backend"
    assert not leaks(json.dumps([first, second]))
    response.close()


def test_kubectl_watch_is_masked(rhea, bob, namespace, secret):
    proc = rhea.popen("get", "secret", secret, "-n", namespace, "-w", "-o", "json")
    try:
        # The label must change after the watch has started, or its event is never sent: wait
        # for the watch's first object (the current state) before changing it.
        out = _read_until(
            proc, lambda text: b'"name": "' + secret.encode() in text and text.rstrip()[-1:] == b"}"
        )
        bob("label", "secret", secret, "-n", namespace, "seen=yes")
        out += _read_until(proc, lambda text: b'"seen"' in text)
    finally:
        proc.kill()
        proc.wait()
    assert not leaks(out.decode())


def _read_until(proc, done, timeout: float = 30.0) -> bytes:
    """``proc``'s output until ``done(all read so far)``; fails (not hangs) after ``timeout``
    seconds or when the output ends. Reads the pipe's descriptor directly: a buffered reader
    would hold data that select() no longer sees."""
    import os
    import selectors
    import time

    fd = proc.stdout.fileno()
    out, deadline = b"", time.monotonic() + timeout
    # a selector, not select(): late in a long run descriptors are numbered above 1024
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while not done(out):
            ready = selector.select(max(deadline - time.monotonic(), 0))
            assert ready, f"no watch output within {timeout}s; got {out[-500:]!r}"
            chunk = os.read(fd, 65536)
            assert chunk, "the watch ended"
            out += chunk
    return out


def test_writing_masked_values_back_is_refused(editor, bob, namespace, secret):
    """``get -o yaml | apply`` by someone who cannot reveal would store the mask over the real
    values: refused, and the values survive."""
    dumped = editor("get", "secret", secret, "-n", namespace, "-o", "json").stdout
    proc = editor("replace", "-f", "-", stdin=dumped, check=False)
    assert proc.returncode != 0 and "portal's mask" in proc.stderr
    editor("label", "secret", secret, "-n", namespace, "edited=true")  # a real edit works
    live = json.loads(bob("get", "secret", secret, "-n", namespace, "-o", "json").stdout)
    assert base64.b64decode(live["data"]["password"]).decode() == PASSWORD
    assert live["metadata"]["labels"]["edited"] == "true"


def test_revealer_sees_values_and_reader_cannot_reveal_through_any_verb(
    bob, rhea, namespace, secret
):
    revealed = json.loads(bob("get", "secret", secret, "-n", namespace, "-o", "json").stdout)
    assert base64.b64decode(revealed["data"]["password"]).decode() == PASSWORD
    proc = rhea("delete", "secret", secret, "-n", namespace, check=False)
    assert proc.returncode != 0 and not leaks(proc.stdout + proc.stderr)


def test_head_of_a_secret_is_relayed_as_for_a_revealer(
    portal, cluster, read_only_user, member, namespace, secret
):
    """HEAD has no body to mask: the reader gets the cluster's own answer, as a revealer
    does (not a 502 from a failed rewrite)."""
    from tests.factories import make_api_key

    path = f"/k8s/clusters/{cluster.name}/api/v1/namespaces/{namespace}/secrets/{secret}"
    answers = [
        raw_request(portal, "HEAD", path, make_api_key(user)[1], uuid.uuid4().hex)[:2]
        for user in (read_only_user, member)
    ]
    assert answers[0] == answers[1]
    assert answers[0][0] != 502 and answers[0][1] is None


# -- answer formats the portal cannot mask (kubesim serves YAML and protobuf since issue 9) ---

PROTOBUF = "application/vnd.kubernetes.protobuf"


def portal_get(portal, cluster, user, path, accept, **params):
    from tests.factories import make_api_key

    token = make_api_key(user)[1]
    return requests.get(
        f"{portal.url}/k8s/clusters/{cluster.name}{path}",
        params=params,
        headers={"Authorization": f"Bearer {token}", "Accept": accept},
        verify=portal.ca_file,
        timeout=15,
    )


@pytest.mark.parametrize(
    "accept",
    [
        PROTOBUF,
        "application/yaml",
        f"{PROTOBUF}, application/json",
        "application/yaml, application/json;q=0.5",
    ],
)
@pytest.mark.parametrize("what", ["get", "list"])
def test_yaml_or_protobuf_accept_gets_masked_json(
    portal, cluster, read_only_user, namespace, secret, accept, what
):
    """The cluster would answer these in YAML or protobuf, which the portal cannot rewrite:
    it asks for JSON instead and masks that. The answer says it is JSON (Content-Type), and
    every Kubernetes client reads JSON by that header (YAML readers read it as YAML)."""
    path = f"/api/v1/namespaces/{namespace}/secrets" + (f"/{secret}" if what == "get" else "")
    response = portal_get(portal, cluster, read_only_user, path, accept)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert not leaks(response.text) and not leaks(response.content.decode(errors="replace"))
    body = yaml.safe_load(response.text)  # the same document for a YAML reader
    item = (
        body if what == "get" else next(i for i in body["items"] if i["metadata"]["name"] == secret)
    )
    assert item["data"]["password"] == MASK_B64 and item["metadata"]["labels"] == {"app": "db"}


def test_protobuf_watch_of_secrets_is_masked_json(
    portal, cluster, read_only_user, namespace, secret
):
    from tests.factories import make_api_key

    token = make_api_key(read_only_user)[1]
    response = requests.get(
        f"{portal.url}/k8s/clusters/{cluster.name}/api/v1/namespaces/{namespace}/secrets",
        params={"watch": "true", "timeoutSeconds": "2"},
        headers={"Authorization": f"Bearer {token}", "Accept": PROTOBUF},
        verify=portal.ca_file,
        timeout=15,
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    events = [json.loads(line) for line in response.text.splitlines() if line.strip()]
    assert [e["type"] for e in events] == ["ADDED"]
    assert events[0]["object"]["data"]["password"] == MASK_B64 and not leaks(response.text)


@pytest.fixture
def config_map(bob, namespace):
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}}
    bob("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump({**manifest, "data": {"a": "1"}}))
    return "settings"


@pytest.mark.parametrize("who", ["revealer", "reader"])
def test_other_kinds_come_as_asked(
    portal, cluster, member, read_only_user, namespace, config_map, who
):
    """Masking is for Secrets only: any reader gets a ConfigMap in protobuf or YAML."""
    from apps.core import kubeproto

    user = member if who == "revealer" else read_only_user
    path = f"/api/v1/namespaces/{namespace}/configmaps/{config_map}"
    as_pb = portal_get(portal, cluster, user, path, PROTOBUF)
    assert as_pb.status_code == 200 and as_pb.headers["Content-Type"] == PROTOBUF
    decoded = kubeproto.decode(as_pb.content)
    assert decoded["kind"] == "ConfigMap" and decoded["data"] == {"a": "1"}
    as_yaml = portal_get(portal, cluster, user, path, "application/yaml")
    assert as_yaml.headers["Content-Type"] == "application/yaml"
    assert yaml.safe_load(as_yaml.text)["metadata"]["uid"] == decoded["metadata"]["uid"]


def test_revealer_gets_secrets_in_protobuf_and_yaml(portal, cluster, member, namespace, secret):
    from apps.core import kubeproto

    path = f"/api/v1/namespaces/{namespace}/secrets/{secret}"
    as_pb = portal_get(portal, cluster, member, path, PROTOBUF)
    assert as_pb.headers["Content-Type"] == PROTOBUF
    decoded = kubeproto.decode(as_pb.content)
    assert base64.b64decode(decoded["data"]["password"]).decode() == PASSWORD
    as_yaml = portal_get(portal, cluster, member, path, "application/yaml")
    assert as_yaml.headers["Content-Type"] == "application/yaml"
    assert yaml.safe_load(as_yaml.text)["data"] == decoded["data"]


# -- JSON patches that read values (copy / move / test) --------------------------------------
# The red team: an editor who may update Secrets but not reveal them copied /data/password
# into an annotation and read it back (and ``test`` answered yes/no to guesses).
JSON_PATCH = "application/json-patch+json"
LAST_APPLIED_POINTER = "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration"


@pytest.fixture
def editor_user(editor, tenant):
    from apps.accounts.models import User

    return User.objects.get(tenant=tenant, username="eddie")


def patch_secret(portal, cluster, user, namespace, name, patch):
    from tests.factories import make_api_key
    from tests.live import send_raw

    url = f"/k8s/clusters/{cluster.name}/api/v1/namespaces/{namespace}/secrets/{name}"
    status, _, raw = send_raw(
        portal, "PATCH", url, make_api_key(user)[1], json.dumps(patch).encode(),
        [("Content-Type", JSON_PATCH)],
    )  # fmt: skip
    return status, json.loads(raw)


@pytest.mark.parametrize(
    "op",
    [
        {"op": "copy", "from": "/data/password", "path": "/metadata/annotations/leak"},
        {"op": "copy", "from": "/data", "path": "/metadata/annotations"},
        {"op": "move", "from": "/stringData", "path": "/metadata/labels"},
        {"op": "copy", "from": "/Data/password", "path": "/metadata/annotations/leak"},
        {"op": "copy", "from": LAST_APPLIED_POINTER, "path": "/metadata/annotations/leak"},
        {"op": "copy", "from": "/metadata", "path": "/spec"},
        {"op": "copy", "from": "", "path": "/metadata/annotations/leak"},
        {"op": "test", "path": "/data/password", "value": "d3Jvbmc="},
        {"op": "test", "path": "", "value": {}},
    ],
    ids=lambda op: f"{op['op']}:{op.get('from', op.get('path'))}",
)
def test_json_patch_reading_values_is_refused_without_reveal(
    portal, cluster, bob, editor_user, namespace, secret, op
):
    status, answer = patch_secret(portal, cluster, editor_user, namespace, secret, [op])
    assert status == 403, answer
    assert "holds or contains the Secret's values: that needs revealSecret" in answer["message"]
    live = json.loads(bob("get", "secret", secret, "-n", namespace, "-o", "json").stdout)
    assert "leak" not in (live["metadata"].get("annotations") or {})
    assert base64.b64decode(live["data"]["password"]).decode() == PASSWORD


def test_test_op_is_no_oracle(portal, cluster, editor_user, namespace, secret):
    """A right and a wrong guess get the same refusal."""
    answers = [
        patch_secret(
            portal,
            cluster,
            editor_user,
            namespace,
            secret,
            [
                {
                    "op": "test",
                    "path": "/data/password",
                    "value": base64.b64encode(guess.encode()).decode(),
                }
            ],
        )  # fmt: skip
        for guess in ("wrong", PASSWORD)
    ]
    assert answers[0][0] == answers[1][0] == 403
    assert answers[0][1]["message"] == answers[1][1]["message"]


def test_json_patches_that_read_no_value_still_work(
    portal, cluster, bob, editor_user, member, namespace, secret
):
    """The editor's ordinary patch, and a revealer's copy (they may see the values anyway)."""
    status, answer = patch_secret(
        portal, cluster, editor_user, namespace, secret,
        [{"op": "add", "path": "/metadata/annotations/owner", "value": "eddie"},
         {"op": "copy", "from": "/metadata/labels/app", "path": "/metadata/annotations/app"}],
    )  # fmt: skip
    assert status == 200, answer
    status, answer = patch_secret(
        portal, cluster, member, namespace, secret,
        [{"op": "copy", "from": "/data/password", "path": "/data/again"}],
    )  # fmt: skip
    assert status == 200, answer
    live = json.loads(bob("get", "secret", secret, "-n", namespace, "-o", "json").stdout)
    assert live["metadata"]["annotations"]["owner"] == "eddie"
    assert live["metadata"]["annotations"]["app"] == "db"
    assert base64.b64decode(live["data"]["again"]).decode() == PASSWORD


def test_the_rest_api_relays_no_json_patch_of_a_secret(api, tenant_admin, cluster, namespace):
    """The REST API has no PATCH of an object (only PUT, which is checked for the mask): the
    rule in ``masking.json_patch_reading_secret`` has no second door to guard there."""
    url = f"/api/v1/clusters/{cluster.name}/namespaces/{namespace}/secrets/db/"
    response = api(tenant_admin).patch(
        url,
        [{"op": "copy", "from": "/data/password", "path": "/metadata/annotations/leak"}],
        format="json",
    )
    assert response.status_code == 405, response.content[:300]
