"""kubectl auth whoami / can-i / can-i --list through the portal answer from the portal's own
policy for the signed-in user — and match what the proxy then really allows."""

from __future__ import annotations

import json

import pytest
import requests

from apps.authz.models import Policy
from tests.factories import UserFactory, bind
from tests.live import *  # noqa: F403
from tests.live import proxy_events, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_state")]


@pytest.fixture
def dora(tenant, namespace):
    """May do everything, except delete pods and exec into them in ``namespace``."""
    Policy.objects.create(
        tenant=tenant,
        name="all-but-pods-in-ns",
        statements=[
            {"actions": ["*"], "resources": ["cluster:*"], "effect": "allow"},
            {
                "actions": ["deletePod", "execPod"],
                "resources": [f"cluster:*/namespace:{namespace}/pod:*"],
                "effect": "deny",
            },
        ],
    )
    user = UserFactory(tenant=tenant, username="dora")
    bind(user, "all-but-pods-in-ns")
    return user


def can_i(kubectl, *args) -> tuple[str, int]:
    """kubectl's answer word ("yes"/"no") and exit code; ``can_i.said`` keeps the full line
    ("no - <the portal's reason>")."""
    proc = kubectl("auth", "can-i", *args, check=False)
    can_i.said = proc.stdout.strip()
    return can_i.said.split(" ", 1)[0], proc.returncode


def test_whoami_is_the_portal_user(kubectl_as, member, tenant):
    bob = kubectl_as(member)
    table = bob("auth", "whoami").stdout
    assert table.splitlines()[0].split() == ["ATTRIBUTE", "VALUE"]
    rows = [line.split(None, 1) for line in table.splitlines()[1:]]
    assert ["Username", "bob"] in rows and ["Groups", "[system:authenticated]"] in rows
    info = json.loads(bob("auth", "whoami", "-o", "json").stdout)
    assert info["kind"] == "SelfSubjectReview"
    user = info["status"]["userInfo"]
    assert user["username"] == "bob" and user["uid"] == str(member.pk)
    assert user["groups"] == ["system:authenticated"]
    assert user["extra"]["portal.tke.io/tenant"] == [tenant.slug]
    row = wait_for(lambda: proxy_events(action="createSelfSubjectReview").first(), "audit")
    assert row.status_code == 201 and row.message == "answered by the portal: whoami"


def test_can_i_answers_per_user_and_matches_what_the_proxy_allows(
    kubectl_as, tenant_admin, read_only_user, member, dora, namespace, running_pod, cluster
):
    alice, vic, bob, d = (kubectl_as(u) for u in (tenant_admin, read_only_user, member, dora))
    ns = ["-n", namespace]
    # (the cluster credential may do all of it: the answers differ by portal user only)
    assert can_i(alice, "delete", "pods", *ns) == ("yes", 0)
    assert can_i(vic, "delete", "pods", *ns) == ("no", 1)
    pods = f"cluster:{cluster.name}/namespace:{namespace}/pod:*"
    assert can_i.said == f"no - portal policy: deletePod on {pods}: no policy allows it"
    assert can_i(vic, "get", "pods", *ns) == ("yes", 0)
    assert can_i(d, "delete", "pods", *ns) == ("no", 1)
    assert can_i.said == (
        f"no - portal policy: deletePod on {pods}: explicitly denied by policy all-but-pods-in-ns"
    )
    assert can_i(d, "delete", "pods", "-n", "default") == ("yes", 0)
    assert can_i(d, "delete", f"pod/{running_pod}", *ns) == ("no", 1)
    assert can_i(d, "create", "deployments.apps", *ns) == ("yes", 0)
    assert can_i(bob, "create", "pods/exec", *ns) == ("yes", 0)
    assert can_i(vic, "create", "pods/exec", *ns) == ("no", 1)
    assert can_i(d, "create", "pods", "--subresource=exec", *ns) == ("no", 1)
    assert can_i(d, "delete", "pods", "-A") == ("no", 1)  # a deny on one namespace's pods
    assert can_i(d, "list", "pods", "-A") == ("yes", 0)  # (the deny is not on listing)
    assert can_i(vic, "list", "pods", "-A") == ("yes", 0)

    # ... and the proxy does what the answers said
    assert vic("get", "pods", *ns).returncode == 0
    refused = vic("delete", "pod", running_pod, *ns, "--wait=false", check=False)
    assert refused.returncode != 0 and "Forbidden" in refused.stderr
    refused = vic("exec", *ns, running_pod, "--", "true", check=False)
    assert refused.returncode != 0 and "may not execPod" in refused.stderr
    refused = d("exec", *ns, running_pod, "--", "true", check=False)
    assert refused.returncode != 0 and "may not execPod" in refused.stderr
    assert running_pod in d("get", "pods", "-A").stdout
    refused = d("delete", "pods", "--all", "-A", check=False)
    assert refused.returncode != 0 and "may not deletePod on" in refused.stderr
    assert bob("exec", *ns, running_pod, "--", "echo", "ok").stdout == "ok\n"
    refused = d("delete", "pod", running_pod, *ns, "--wait=false", check=False)
    assert refused.returncode != 0 and "may not deletePod" in refused.stderr
    assert "deleted" in alice("delete", "pod", running_pod, *ns, "--wait=false").stdout

    rows = proxy_events(action="createSelfSubjectAccessReview")
    assert rows.count() == 13 and all(r.status_code == 201 for r in rows)
    assert rows.filter(user__username="dora", message__contains="delete pods in").exists()


def test_can_i_list_derives_rules_from_the_policy(kubectl_as, read_only_user, member, namespace):
    vic, bob = kubectl_as(read_only_user), kubectl_as(member)
    listed = vic("auth", "can-i", "--list", "-n", namespace).stdout
    lines = {line.split()[0]: line for line in listed.splitlines()[1:] if line.strip()}
    assert "[get list watch]" in lines["pods"]
    assert "deployments.apps" in lines and "[get list watch]" in lines["deployments.apps"]
    assert "pods/exec" not in lines
    assert "/version" in listed  # discovery, a non-resource rule
    mine = bob("auth", "can-i", "--list", "-n", namespace).stdout
    assert any(line.split()[0] == "pods/exec" and "create" in line for line in mine.splitlines())


def test_json_review_bodies_and_their_errors(
    portal, kubectl_as, read_only_user, cluster, namespace
):
    token = kubectl_as(read_only_user).token
    base = f"{portal.url}/k8s/clusters/{cluster.name}/apis/authorization.k8s.io/v1"

    def post(path, body):
        return requests.post(
            f"{base}/{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            verify=portal.ca_file,
            timeout=10,
        )

    answer = post(
        "selfsubjectaccessreviews",
        {
            "kind": "SelfSubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "spec": {
                "resourceAttributes": {"verb": "delete", "resource": "pods", "namespace": namespace}
            },
        },
    )
    assert answer.status_code == 201
    status = answer.json()["status"]
    assert status["allowed"] is False
    assert f"deletePod on cluster:{cluster.name}/namespace:{namespace}/pod:*" in status["reason"]
    both = post(
        "selfsubjectaccessreviews",
        {"spec": {"resourceAttributes": {"verb": "get", "resource": "pods"},
                  "nonResourceAttributes": {"verb": "get", "path": "/version"}}},
    )  # fmt: skip
    assert both.status_code == 422 and "exactly one of" in both.json()["message"]
    star = post("selfsubjectaccessreviews", {"spec": {"resourceAttributes": {"verb": "bind"}}})
    assert star.status_code == 422 and "spec.resourceAttributes.verb" in star.json()["message"]
    version = post(
        "selfsubjectaccessreviews",
        {"spec": {"nonResourceAttributes": {"verb": "get", "path": "/version"}}},
    )
    assert version.json()["status"]["allowed"] is True
    metrics = post(
        "selfsubjectaccessreviews",
        {"spec": {"nonResourceAttributes": {"verb": "get", "path": "/metrics"}}},
    )
    assert metrics.json()["status"]["allowed"] is False
    rules = post("selfsubjectrulesreviews", {"spec": {"namespace": namespace}}).json()["status"]
    assert rules["incomplete"] is True and "denies on some names" in rules["evaluationError"]
    pods = [
        r for r in rules["resourceRules"] if r["apiGroups"] == [""] and "pods" in r["resources"]
    ]
    assert len(pods) == 1 and pods[0]["verbs"] == ["get", "list", "watch"]
    wrong = post("selfsubjectaccessreviews", {"kind": "TokenReview", "spec": {}})
    assert wrong.status_code == 400 and wrong.json()["message"].startswith("kind:")
