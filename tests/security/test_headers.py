"""Identity headers at the kubectl proxy: no spelling of an impersonation, remote-user,
forwarding or credential header reaches the cluster.

The proxy strips ``Impersonate-*``, ``X-Remote-*``, ``X-Forwarded-*``, ``Authorization`` and the
like. Servers that map header names to CGI-style variables (WSGI and Django's
``HTTP_X_REMOTE_USER``, Rack, PHP) read ``X_Remote_User`` and ``X-Remote-User`` as one header,
so every name is compared after folding case and ``_``.
Guards against the class of Rancher's impersonation-header advisories (a client-supplied
``Impersonate-*`` header honoured by the cluster behind the portal), here in its underscore
spelling, and identity spoofing through Kubernetes' front-proxy ``X-Remote-*`` headers.
"""

from __future__ import annotations

import http.client
import ssl
import uuid

import pytest

from apps.clusters import k8s
from apps.clusters.proxy.upstream import request_headers
from tests.factories import make_api_key
from tests.live import *  # noqa: F403

# Each a header the proxy must drop, in a spelling that only folding catches.
SMUGGLED = [
    ("Impersonate_User", "system:admin"),
    ("impersonate_group", "system:masters"),
    ("IMPERSONATE_UID", "0"),
    ("Impersonate-Extra_scopes", "cluster-admin"),
    ("Impersonate_Extra_reason", "because"),
    ("X_Remote_User", "system:admin"),
    ("x_remote_group", "system:masters"),
    ("X-Remote_Extra-scopes", "all"),
    ("X_Forwarded_For", "169.254.169.254"),
    ("X_Forwarded_Host", "kubernetes.default.svc"),
    ("X_Real_IP", "169.254.169.254"),
    ("X_Portal_Tenant", "other"),
    ("Proxy_Authorization", "Basic Zm9vOmJhcg=="),
    ("X_Request_ID", "forged"),
    ("Transfer_Encoding", "chunked"),
    ("Content_Length", "5"),
]
CONN = k8s.Connection(name="cls-x", server="https://127.0.0.1:6443", token="cluster-token")


def _folded(name: str) -> str:
    return name.lower().replace("_", "-")


def _forbidden(name: str) -> bool:
    """A header the cluster must not receive from the proxy (its own framing headers and
    request id, spelt with dashes, it may send)."""
    folded = _folded(name)
    if folded.startswith(("impersonate-", "x-remote-", "x-forwarded-", "proxy-")):
        return True
    if folded in ("x-real-ip", "x-portal-tenant"):
        return True
    return "_" in name and folded in ("x-request-id", "transfer-encoding", "content-length")


@pytest.mark.parametrize(("name", "value"), SMUGGLED)
def test_folded_spellings_of_dropped_headers_are_stripped(name, value):
    raw = [(name.encode(), value.encode()), (b"X_Trace_Note", b"kept")]
    out = request_headers(raw, CONN)
    assert [n for n in out if _folded(n) == _folded(name)] == []
    assert out.getall("x_trace_note") == ["kept"]  # underscores as such are not refused


def test_a_declared_hop_by_hop_header_is_dropped_in_any_spelling():
    raw = [(b"Connection", b"X_Secret_Hop"), (b"x-secret-hop", b"1"), (b"X_SECRET_HOP", b"2")]
    out = request_headers(raw, CONN)
    assert [n for n in out if _folded(n) == "x-secret-hop"] == []


def test_the_proxy_sets_its_own_credential_whatever_the_client_sent():
    raw = [(b"AUTHORIZATION", b"Bearer user-key"), (b"authorization", b"Bearer other")]
    out = request_headers(raw, CONN)
    assert out.getall("Authorization") == ["Bearer cluster-token"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("live_state")
def test_underscore_identity_headers_never_reach_the_cluster(
    portal, kube_sim, live_cluster, cluster, member
):
    """A raw request through the live portal carrying every smuggled spelling: the cluster
    receives none of them, the portal's own credential and request id once each, and the
    harmless underscore header the client added (so the recording sees client headers)."""
    _, token = make_api_key(member)
    seen: list[list[tuple[str, str]]] = []
    api = kube_sim._apis[live_cluster.name]
    original = api.handle

    async def recording(http_request, path):
        seen.append(
            [(n.decode("latin-1"), v.decode("latin-1")) for n, v in http_request.raw_headers]
        )
        return await original(http_request, path)

    request_id = uuid.uuid4().hex
    context = ssl.create_default_context(cafile=portal.ca_file)
    host, port = portal.url.removeprefix("https://").split(":")
    conn = http.client.HTTPSConnection(host, int(port), context=context, timeout=15)
    api.handle = recording
    try:
        conn.putrequest("GET", f"/k8s/clusters/{cluster.name}/api/v1/namespaces")
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("X-Request-ID", request_id)
        for name, value in SMUGGLED:
            if _folded(name) not in ("transfer-encoding", "content-length"):  # framing: below
                conn.putheader(name, value)
        conn.putheader("X_Trace_Note", "kept")
        conn.endheaders()
        response = conn.getresponse()
        body = response.read()
    finally:
        api.handle = original
        conn.close()

    assert response.status == 200, body
    assert len(seen) == 1
    received = seen[0]
    assert [(n, v) for n, v in received if _forbidden(n)] == []
    assert [v for n, v in received if _folded(n) == "authorization"] == [
        f"Bearer {live_cluster.token}"
    ]
    assert [v for n, v in received if _folded(n) == "x-request-id"] == [request_id]
    assert [v for n, v in received if _folded(n) == "x-trace-note"] == ["kept"]


# -- single-valued headers sent twice ------------------------------------------------------------
# The portal kept the last Content-Type (a form: the audit row stored the password as a form
# key) while the API server (Go's Header.Get) reads the first (JSON: it created the Secret).
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("live_state")
@pytest.mark.parametrize(
    "headers, named",
    [
        (
            [("Content-Type", "application/json"),
             ("Content-Type", "application/x-www-form-urlencoded")],
            "content-type",
        ),
        (
            [("Content-Type", "application/json"), ("Accept", "application/json"),
             ("Accept", "application/vnd.kubernetes.protobuf")],
            "accept",
        ),
    ],
)  # fmt: skip
def test_a_repeated_single_valued_header_is_refused(
    portal, cluster, bob, member, namespace, recorder, headers, named
):
    import json

    from tests.live import proxy_events, send_raw

    password = "pw-" + uuid.uuid4().hex
    body = json.dumps({"metadata": {"name": "smuggled"}, "stringData": {"x": password}}).encode()
    target = f"/k8s/clusters/{cluster.name}/api/v1/namespaces/{namespace}/secrets"
    recorder.take()
    status, _, raw = send_raw(portal, "POST", target, make_api_key(member)[1], body, headers)
    assert status == 400, raw[:300]
    assert json.loads(raw)["message"] == (
        f"the {named} header is sent more than once: send it once, with one value"
    )
    assert recorder.take() == []  # never reached the cluster
    assert bob("get", "secret", "smuggled", "-n", namespace, check=False).returncode != 0
    row = proxy_events(method="POST", path=target).get()
    assert row.status_code == 400 and password not in json.dumps(row.request_body)
