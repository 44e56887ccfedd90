"""Path confusion at the kubectl proxy: the request the cluster receives is the one the portal
authorized.

Guards against the class of Kubernetes CVE-2018-1002105 (a proxy that judged one request and
let the upstream act on another) and against the findings of the outside review: dot segments
(``…/version/../api/v1/secrets``, also ``%2e%2e``/``%2E%2E``/mixed) judged as discovery but
served as a Secret list, ``…/namespaces/dev/../kube-system/…`` writing in another namespace,
and an encoded ``/`` in the cluster segment (``<c>%2Fversion/api/v1/secrets``).

The live tests send raw request lines (http.client does not normalise paths; requests/urllib3
would) to the portal under uvicorn and record what kubesim receives.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from yarl import URL

from apps.audit.models import AuditEvent
from apps.clusters.proxy.canonical import canonicalize
from apps.clusters.proxy.mapping import classify
from apps.clusters.proxy.status import Denial
from tests.factories import make_api_key
from tests.live import *  # noqa: F403
from tests.live import raw_request, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_state")]

SEGMENTS = [
    "api", "apis", "v1", "apps", "namespaces", "default", "kube-system", "pods", "secrets",
    "configmaps", "version", "openapi", "v3", "watch", "log", "exec", "deployments", "x",
    ".", "..", "%2e", "%2E%2e", ".%2E", "%2e.", "%2F", "%2f", "a%2Fb", "%5C", "%5c", "",
    "%", "%zz", "%00", "sec%72ets", "%61pi", "n%20s", "%C3%A9", "%FF", "a;b", ":x", "@",
]  # fmt: skip
KEYS = [
    "watch", "fieldSelector", "labelSelector", "limit", "follow", "Watch", "%77atch",
    "command", "resourceVersion", "field%53elector", "w+atch",
]  # fmt: skip
VALUES = [
    "", "true", "1", "0", "false", "FALSE", "yes", "t", "metadata.name=x",
    "metadata.name%3D%3Dx", "a=b", "%zz", "x%3By", "a+b", "%E2%9C%93",
]  # fmt: skip

raw_paths = st.builds(
    lambda segs, trailing: "/".join(segs) + ("/" if trailing else ""),
    st.lists(st.sampled_from(SEGMENTS), min_size=0, max_size=7),
    st.booleans(),
)
raw_queries = st.builds(
    lambda pairs, sep: sep.join(f"{k}={v}" if v is not None else k for k, v in pairs),
    st.lists(
        st.tuples(st.sampled_from(KEYS), st.one_of(st.none(), st.sampled_from(VALUES))),
        max_size=4,
    ),
    st.sampled_from(["&", "&", "&", ";"]),
)
# Mostly well-formed API paths with a few escaped characters: these reach the cluster, so
# the live property checks forwarding, not only refusals.
_escaped = st.sampled_from(["", "", "", "%61", "%2D"])
plausible_paths = st.builds(
    lambda prefix, ns, plural, name, esc, trailing: (
        "/".join(p for p in (prefix, f"namespaces/{ns}" if ns else "", esc + plural, name) if p)
        + ("/" if trailing else "")
    ),
    st.sampled_from(["api/v1", "apis/apps/v1", "api/v1/watch", "apis/batch/v1"]),
    st.sampled_from([None, "default", "kube-system", "n%2Ds"]),
    st.sampled_from(["pods", "configmaps", "secrets", "deployments", "jobs", "services"]),
    st.sampled_from([None, "x", "a%2Db", "..", "%2e%2e"]),
    _escaped,
    st.booleans(),
)
methods = st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])


def go_parse(target: str) -> tuple[list[str], dict[str, str]]:
    """How an API server written in Go reads a request target: each path segment unescaped,
    the query by url.ParseQuery, and a parameter's first value."""
    path, _, query = target.partition("?")
    segments = [unquote(s) for s in path.strip("/").split("/") if s]
    first: dict[str, str] = {}
    for part in query.split("&") if query else []:
        key, _, value = part.partition("=")
        first.setdefault(unquote(key.replace("+", " ")), unquote(value.replace("+", " ")))
    return segments, first


# -- the invariant, as a property of the parser ---------------------------------------------------
@settings(max_examples=3000, deadline=None, derandomize=True)
@given(method=methods, path=raw_paths, query=raw_queries)
def test_canonical_request_is_what_an_upstream_reads(method, path, query):
    """Whatever the client sends, either the portal refuses it or the forwarded target, read
    the way the API server reads it (and after yarl, which must not touch it), maps to exactly
    the action and resource the portal judged."""
    try:
        canonical = canonicalize(f"/k8s/clusters/cls-a1/{path}", query)
    except Denial as denial:
        assert denial.code == 400
        return
    forwarded = str(URL(f"https://10.0.0.1:6443{canonical.target}", encoded=True))
    assert forwarded == f"https://10.0.0.1:6443{canonical.target}"  # no re-normalisation
    segments, first = go_parse(canonical.target)
    assert segments == list(canonical.segments)
    assert not {".", ".."} & set(segments)
    assert all("/" not in s for s in segments)
    judged_query = {k: v[0] for k, v in canonical.query_dict.items()}
    assert first == judged_query
    judged = classify("cls-a1", method, canonical.path, canonical.query_dict)
    received = classify(
        "cls-a1", method, "/" + "/".join(segments), {k: [v] for k, v in first.items()}
    )
    assert judged == received


@pytest.mark.parametrize(
    "path",
    [
        "version/../api/v1/secrets",
        "version/%2e%2e/api/v1/secrets",
        "version/%2E%2E/api/v1/secrets",
        "version/.%2E/api/v1/secrets",
        "version/%2e./api/v1/secrets",
        "api/v1/namespaces/dev/../kube-system/secrets",
        "api/v1/namespaces/dev/%2e%2e/kube-system/secrets",
        "api/v1/./secrets",
        "api/v1/namespaces/dev%2F..%2Fkube-system/secrets",
        "version%2F..%2Fapi/v1/secrets",
        "api//v1/secrets",
    ],
)
def test_dot_segments_and_encoded_separators_never_parse(path):
    with pytest.raises(Denial) as refused:
        canonicalize(f"/k8s/clusters/cls-a1/{path}", "")
    assert refused.value.code == 400


def test_encoded_slash_in_the_cluster_segment_is_not_a_cluster_name():
    with pytest.raises(Denial) as refused:
        canonicalize("/k8s/clusters/cls-a1%2Fversion/api/v1/secrets", "")
    assert "not a cluster name" in refused.value.message


def test_legitimate_encodings_are_kept_as_one_string():
    """RBAC names carry ':' and a client may escape any character: decoded once, judged once,
    re-encoded the same way for the cluster."""
    canonical = canonicalize(
        "/k8s/clusters/cls-a1/apis/rbac.authorization.k8s.io/v1/clusterroles/system%3Aview/",
        "fieldManager=kubectl%2Dclient&dryRun=All",
    )
    assert canonical.segments[-1] == "system:view"
    assert canonical.target == (
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:view/"
        "?fieldManager=kubectl-client&dryRun=All"
    )


# -- through the live portal -----------------------------------------------------------------------
@pytest.fixture
def admin_token(tenant_admin):
    return make_api_key(tenant_admin)[1]


FINDINGS = [
    ("GET", "version/../api/v1/secrets"),
    ("GET", "version/%2e%2e/api/v1/secrets"),
    ("GET", "version/%2E%2E/api/v1/secrets"),
    ("GET", "version/.%2e/api/v1/secrets"),
    ("POST", "api/v1/namespaces/dev/../kube-system/secrets"),
    ("DELETE", "version/../api/v1/namespaces/kube-system"),
]


@pytest.mark.parametrize(("method", "path"), FINDINGS)
def test_review_findings_are_refused_before_the_cluster(
    portal, cluster, member, recorder, method, path
):
    """The reviewer's requests, as a user who may see the cluster: 400 in Status form, the
    cluster receives nothing, the refusal is audited with its author."""
    _, token = make_api_key(member)
    request_id = uuid.uuid4().hex
    status, body, echoed = raw_request(
        portal, method, f"/k8s/clusters/{cluster.name}/{path}", token, request_id
    )
    assert status == 400
    assert body["kind"] == "Status" and body["code"] == 400
    assert echoed == request_id
    assert recorder.take() == []
    event = wait_for(
        lambda: AuditEvent.objects.filter(request_id=request_id).first(), "the refusal's audit"
    )
    assert event.status_code == 400 and event.user.username == member.username


def test_encoded_slash_in_cluster_name_is_refused_live(portal, cluster, member, recorder):
    _, token = make_api_key(member)
    status, body, _ = raw_request(
        portal,
        "GET",
        f"/k8s/clusters/{cluster.name}%2Fversion/api/v1/secrets",
        token,
        uuid.uuid4().hex,
    )
    assert status == 400 and "not a cluster name" in body["message"]
    assert recorder.take() == []


@pytest.fixture
def cluster_viewer(tenant):
    """May see the cluster and download a kubeconfig, nothing inside it."""
    from apps.authz.models import Policy
    from tests.factories import UserFactory, bind

    Policy.objects.create(
        tenant=tenant,
        name="see-clusters",
        statements=[
            {
                "actions": ["getCluster", "getClusterKubeconfig"],
                "resources": ["cluster:*"],
                "effect": "allow",
            }
        ],
    )
    user = UserFactory(tenant=tenant, username="cleo")
    bind(user, "see-clusters")
    return user


def test_kubectl_raw_with_dot_segments_is_judged_as_what_it_reaches(
    kubectl_as, cluster_viewer, recorder
):
    """kubectl (client-go) cleans ``/version/../api/v1/secrets`` to ``/api/v1/secrets`` before
    sending: the portal judges that path — a user who may only see the cluster is refused, and
    the Secret list never reaches the cluster."""
    kubectl = kubectl_as(cluster_viewer)
    recorder.take()
    proc = kubectl("get", "--raw", "/version/../api/v1/secrets", check=False)
    assert proc.returncode != 0
    assert "may not listSecrets" in proc.stderr
    assert not [r for r in recorder.take() if "secrets" in r["raw"]]
    assert json.loads(kubectl("get", "--raw", "/version").stdout)["major"]


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(["GET", "HEAD"]),
    path=st.one_of(plausible_paths, plausible_paths, raw_paths),
    query=st.one_of(st.just(""), st.just("limit=5"), raw_queries),
)
def test_live_proxy_forwards_exactly_what_it_judged(
    portal, cluster, admin_token, recorder, method, path, query
):
    """Property, end to end: for generated paths, encodings and query strings, each request
    either never reaches the cluster (refused) or reaches it exactly once, with the raw target
    the portal recorded as judged — and kubesim's own reading of it maps to the action and
    resource in the portal's audit row."""
    request_id = uuid.uuid4().hex
    target = f"/k8s/clusters/{cluster.name}/{path}" + (f"?{query}" if query else "")
    status, _body, _ = raw_request(portal, method, target, admin_token, request_id, read=False)
    seen = [r for r in recorder.take() if r["request_id"] == request_id]
    event = wait_for(
        lambda: AuditEvent.objects.filter(request_id=request_id).first(), "the audit row"
    )
    hypothesis_event(f"forwarded, cluster answered {status}" if seen else f"refused {status}")
    if not seen:
        assert status in (400, 403, 404) or status >= 500
        return
    assert len(seen) == 1, seen
    got = seen[0]
    assert got["request_id"] == request_id
    received_target = got["raw"].removeprefix(recorder.prefix)
    assert event.path == f"/k8s/clusters/{cluster.name}{received_target}"
    received = classify(
        cluster.name,
        got["method"],
        got["path"],
        {k: v[:1] for k, v in got["query"].items()},
    )
    assert received is not None
    assert (event.action, event.resource) == (received.action, received.resource)


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ({"name": "victim", "namespace": "ta/../tb"}, "metadata.namespace"),
        ({"name": "x/../../../tb/configmaps/victim", "namespace": "ta"}, "metadata.name"),
        ({"name": "victim#", "namespace": "ta"}, "metadata.name"),
        ({"name": "victim?dryRun=", "namespace": "ta"}, "metadata.name"),
        ({"name": "..", "namespace": "ta"}, "metadata.name"),
        ({"name": "v%2F..", "namespace": "ta"}, "metadata.name"),
        ({"name": "adm*", "namespace": "ta"}, "metadata.name"),
    ],
)
def test_rest_apply_names_cannot_move_the_request(api, member, cluster, recorder, metadata, field):
    """Red-team finding: apply judged ``namespace:ta/../tb`` (matching ``namespace:ta/*``) but
    the client library sent ``/namespaces/tb/…``, and ``name: victim#`` cut ``?dryRun=All``
    off a dry run. Names and namespaces that are not one URL segment are refused, naming the
    field; the cluster receives nothing."""
    manifest = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata})
    recorder.take()
    response = api(member).post(
        f"/api/v1/clusters/{cluster.name}/apply/?dryRun=true",
        {"manifest": manifest},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert f"manifest[0].{field}" in response.json()["fields"]
    assert not [r for r in recorder.take() if "configmaps" in r["raw"]]


def test_rest_apply_default_namespace_is_one_segment(api, member, cluster, recorder):
    manifest = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "v"}})
    recorder.take()
    response = api(member).post(
        f"/api/v1/clusters/{cluster.name}/apply/?dryRun=true",
        {"manifest": manifest, "namespace": "ta/../tb"},
        format="json",
    )
    assert response.status_code == 400 and "namespace" in response.json()["fields"]
    assert not [r for r in recorder.take() if "configmaps" in r["raw"]]


def test_a_wildcard_is_never_a_name_at_the_proxy():
    with pytest.raises(Denial) as refused:
        canonicalize("/k8s/clusters/cls-a1/api/v1/namespaces/web/secrets/%2A", "")
    assert "wildcard" in refused.value.message


# -- can-i attributes that are not one path segment ---------------------------------------
# The red team: can-i joined group/version/namespace/name/resource into the path it judged, so
# version "v1/namespaces/<ns>" asked about one namespace while the answer read "list
# deployments everywhere: yes" — which ``kubectl get deploy -A`` then got refused.
@pytest.fixture
def dina(tenant):
    from apps.authz.models import Policy
    from tests.factories import UserFactory, bind

    Policy.objects.create(
        tenant=tenant,
        name="deny-one-ns",
        statements=[
            {"actions": ["getCluster", "getClusterKubeconfig", "get*", "list*", "watch*"],
             "resources": ["*"], "effect": "allow"},
            {"actions": ["listDeployments"],
             "resources": ["cluster:*/namespace:kube-system/*"], "effect": "deny"},
        ],
    )  # fmt: skip
    user = UserFactory(tenant=tenant, username="dina")
    bind(user, "deny-one-ns")
    return user


def can_i(portal, cluster, user, attrs):
    from tests.live import send_raw

    url = f"/k8s/clusters/{cluster.name}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    body = {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
            "spec": {"resourceAttributes": attrs}}  # fmt: skip
    status, _, raw = send_raw(
        portal, "POST", url, make_api_key(user)[1], json.dumps(body).encode(),
        [("Content-Type", "application/json")],
    )  # fmt: skip
    return status, json.loads(raw)


@pytest.mark.parametrize(
    "field, value",
    [
        ("version", "v1/namespaces/default"),
        ("group", "apps/v1/namespaces/default/x/.."),
        ("name", "x/../y"),
        ("namespace", "default/deployments"),
        ("resource", "deployments/../pods"),
        ("subresource", "status/.."),
        ("name", "a%2Fb"),
        ("version", ".."),
    ],
)
def test_can_i_attributes_must_each_be_one_segment(portal, cluster, dina, field, value):
    attrs = {"verb": "list", "group": "apps", "resource": "deployments", field: value}
    status, answer = can_i(portal, cluster, dina, attrs)
    assert status == 422, answer
    assert answer["message"].startswith(f"spec.resourceAttributes.{field}: Invalid value: ")
    assert "no '/', '%' or '..'" in answer["message"]


def test_can_i_agrees_with_the_proxy_on_a_list_everywhere(portal, cluster, dina, kubectl_as):
    kubectl = kubectl_as(dina)
    assert kubectl("get", "deploy", "-A", check=False).returncode != 0
    status, answer = can_i(
        portal, cluster, dina, {"verb": "list", "group": "apps", "resource": "deployments"}
    )
    assert status == 201 and answer["status"]["allowed"] is False, answer
    status, answer = can_i(
        portal, cluster, dina,
        {"verb": "list", "group": "apps", "resource": "deployments", "namespace": "default"},
    )  # fmt: skip
    assert status == 201 and answer["status"]["allowed"] is True, answer
