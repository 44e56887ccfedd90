"""Parameter confusion at the kubectl proxy: the query the cluster acts on is the one judged.

The outside review's finding: ``?fieldSelector=&fieldSelector=metadata.name=x`` was narrowed
by the proxy to the one pod ``x`` a user may list, while the API server — which reads the
*first* value of a parameter — listed every pod. The same class covers ``watch`` (the API
server treats any value but ``0``/``false``, even an empty one, as true), encoded parameter
names and Go's refusal of ``;`` separators. Same family as Kubernetes CVE-2018-1002105: a
front door and the server behind it reading one request two ways.
"""

from __future__ import annotations

import uuid

import pytest

from apps.authz.models import Policy
from tests.factories import UserFactory, bind, make_api_key
from tests.live import *  # noqa: F403
from tests.live import pod_manifest, raw_request, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_state")]


def policy_user(tenant, username: str, actions: list[str], resources: list[str]):
    """A user who may see clusters and do ``actions`` on ``resources``, nothing else."""
    Policy.objects.create(
        tenant=tenant,
        name=f"only-{username}",
        statements=[
            {
                "actions": ["getCluster", "getClusterKubeconfig"],
                "resources": ["cluster:*"],
                "effect": "allow",
            },
            {"actions": actions, "resources": resources, "effect": "allow"},
        ],
    )
    user = UserFactory(tenant=tenant, username=username)
    bind(user, f"only-{username}")
    return user


@pytest.fixture
def two_pods(bob, namespace):
    for name in ("x", "z"):  # not "y": a YAML 1.1 boolean to kubectl
        bob("apply", "-n", namespace, "-f", "-", stdin=pod_manifest(name))
    return namespace


@pytest.fixture
def only_pod_x(tenant):
    """May list pods only when the list is narrowed to the pod named x."""
    user = policy_user(tenant, "xavier", ["listPods"], ["cluster:*/namespace:*/pod:x"])
    return make_api_key(user)[1]


def get(portal, cluster, token, path_and_query):
    return raw_request(
        portal, "GET", f"/k8s/clusters/{cluster.name}{path_and_query}", token, uuid.uuid4().hex
    )


def test_repeated_field_selector_is_refused_not_misjudged(
    portal, cluster, two_pods, only_pod_x, recorder
):
    """The finding: judged as ``pod:x``, served as every pod. Now refused before the cluster;
    the single-valued narrowing still works and lists only x."""
    base = f"/api/v1/namespaces/{two_pods}/pods"
    recorder.take()
    status, body, _ = get(
        portal, cluster, only_pod_x, f"{base}?fieldSelector=&fieldSelector=metadata.name%3Dx"
    )
    assert status == 400, body
    assert "'fieldSelector' is given more than once" in body["message"]
    assert not [r for r in recorder.take() if "/pods" in r["raw"]]

    status, body, _ = get(portal, cluster, only_pod_x, f"{base}?fieldSelector=metadata.name%3Dx")
    assert status == 200
    assert [p["metadata"]["name"] for p in body["items"]] == ["x"]
    status, body, _ = get(portal, cluster, only_pod_x, f"{base}?fieldSelector=")
    assert status == 403 and "may not listPods" in body["message"]


@pytest.mark.parametrize(
    "query",
    [
        "watch=false&watch=true",
        "labelSelector=app%3Dx&labelSelector=",
        "limit=1&limit=500",
        "fieldSelector=metadata.name%3Dx&%66ieldSelector=",  # the same name, encoded
        "fieldSelector=metadata.name%3Dx;fieldSelector=",  # Go refuses ';'
        "fieldSelector=metadata.name%3Dx&x=%zz",  # Go drops a bad escape, Python keeps it
    ],
)
def test_ambiguous_queries_never_reach_the_cluster(
    portal, cluster, two_pods, only_pod_x, recorder, query
):
    recorder.take()
    status, body, _ = get(
        portal, cluster, only_pod_x, f"/api/v1/namespaces/{two_pods}/pods?{query}"
    )
    assert status == 400 and body["kind"] == "Status"
    assert not [r for r in recorder.take() if "/pods" in r["raw"]]


@pytest.mark.parametrize("value", ["", "yes", "t", "TRUE", "1", "%74rue"])
def test_watch_is_judged_as_the_api_server_reads_it(
    portal, cluster, two_pods, tenant, recorder, value
):
    """Any value of ``watch`` but ``0``/``false`` starts a watch on the API server: a user who
    may list but not watch is refused, and what reaches the cluster is ``watch=true``."""
    token = make_api_key(policy_user(tenant, "lister", ["listPods"], ["cluster:*"]))[1]
    status, body, _ = get(
        portal, cluster, token, f"/api/v1/namespaces/{two_pods}/pods?watch={value}"
    )
    assert status == 403 and "may not watchPods" in body["message"]
    status, body, _ = get(portal, cluster, token, f"/api/v1/namespaces/{two_pods}/pods?watch=0")
    assert status == 200 and body["kind"] == "PodList"
    forwarded = [r for r in recorder.take() if "/pods" in r["raw"]]
    assert [r["query"].get("watch") for r in forwarded] == [["false"]]


def test_encoded_parameter_names_are_read_decoded(portal, cluster, two_pods, tenant):
    """``%77atch`` is ``watch`` to the API server, so it is ``watch`` to the portal too."""
    token = make_api_key(policy_user(tenant, "lister2", ["listPods"], ["cluster:*"]))[1]
    status, body, _ = get(
        portal, cluster, token, f"/api/v1/namespaces/{two_pods}/pods?%77atch=true"
    )
    assert status == 403 and "may not watchPods" in body["message"]


def test_list_parameters_may_repeat(bob, namespace, running_pod, recorder):
    """exec's ``command`` is a list: kubectl repeats it, and that is not ambiguous."""
    recorder.take()
    out = bob("exec", "-n", namespace, running_pod, "--", "echo", "one", "two").stdout
    assert out == "one two\n"
    execs = [r for r in recorder.take() if "/exec" in r["raw"]]
    assert execs and execs[0]["query"]["command"] == ["echo", "one", "two"]


def test_audit_row_records_the_canonical_query(portal, cluster, two_pods, only_pod_x):
    """The audit trail shows what was judged and sent, not the client's spelling."""
    request_id = uuid.uuid4().hex
    status, _, _ = raw_request(
        portal,
        "GET",
        f"/k8s/clusters/{cluster.name}/api/v1/namespaces/{two_pods}/pods"
        "?field%53elector=metadata.name%3Dx",
        only_pod_x,
        request_id,
    )
    assert status == 200
    from apps.audit.models import AuditEvent

    event = wait_for(lambda: AuditEvent.objects.filter(request_id=request_id).first(), "audit")
    assert event.path.endswith("/pods?fieldSelector=metadata.name%3Dx")
    assert event.resource.endswith(f"/namespace:{two_pods}/pod:x")
