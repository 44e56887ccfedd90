"""authentication.k8s.io and authorization.k8s.io against kubesim: every review answers from the
authorization kubesim enforces, checked against what the same token is actually allowed to do."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from kubernetes import client

from .conftest import KUBECTL, make_api, raw

pytestmark = pytest.mark.simulator_only  # token users are a simulator feature

TEAM_VERBS = ["get", "list", "watch"]


@pytest.fixture
def team(cluster, core, tmp_path):
    """A user limited to get/list/watch in namespace ``team`` (kubeconfig, ApiClient)."""
    core.create_namespace({"metadata": {"name": "team"}})
    core.create_namespace({"metadata": {"name": "other"}})
    token = cluster.sim.add_user("team-dev", verbs=TEAM_VERBS, namespaces=["team"])
    path = tmp_path / "team.kubeconfig"
    cluster.sim.kubeconfig(path, token=token, namespace="team")
    with make_api(path) as api_client:
        yield path, api_client, token


def _kubectl(kubeconfig: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home-team"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "KUBECONFIG": str(kubeconfig),
        "KUBECACHEDIR": str(home / "cache"),
    }
    return subprocess.run(
        [KUBECTL, *args], capture_output=True, text=True, env=env, timeout=30, check=False
    )


def _ssar(api_client, verb: str, resource: str, namespace: str = "", group: str = "") -> bool:
    review = client.AuthorizationV1Api(api_client).create_self_subject_access_review(
        {
            "spec": {
                "resourceAttributes": {
                    "verb": verb,
                    "resource": resource,
                    "group": group,
                    "namespace": namespace,
                }
            }
        }
    )
    assert isinstance(review, client.V1SelfSubjectAccessReview)
    return review.status.allowed


def _really_allowed(api_client, verb: str, namespace: str) -> bool:
    """Whether the request itself goes through (403 is the only refusal expected)."""
    core = client.CoreV1Api(api_client)
    try:
        if verb == "list":
            core.list_namespaced_config_map(namespace)
        elif verb == "create":
            core.create_namespaced_config_map(
                namespace, {"metadata": {"generateName": "probe-"}}, dry_run="All"
            )
        elif verb == "deletecollection":
            core.delete_collection_namespaced_config_map(namespace, dry_run="All")
    except client.ApiException as exc:
        assert exc.status == 403, exc.body
        return False
    return True


def test_self_subject_review_names_the_token_user(api, team):
    _, team_api, _ = team
    me = client.AuthenticationV1Api(team_api).create_self_subject_review({})
    assert me.status.user_info.username == "team-dev"
    assert me.status.user_info.groups == ["system:authenticated"]
    admin = client.AuthenticationV1Api(api).create_self_subject_review({})
    assert admin.status.user_info.username == "kubernetes-admin"
    assert "system:masters" in admin.status.user_info.groups


def test_token_review_knows_the_simulators_tokens(api, team):
    _, team_api, token = team
    authn = client.AuthenticationV1Api(api)
    known = authn.create_token_review({"spec": {"token": token}})
    assert known.status.authenticated is True
    assert known.status.user.username == "team-dev"
    unknown = authn.create_token_review({"spec": {"token": "not-a-token"}})
    assert not unknown.status.authenticated
    assert unknown.status.error == "invalid bearer token"
    with pytest.raises(client.ApiException) as refused:
        client.AuthenticationV1Api(team_api).create_token_review({"spec": {"token": token}})
    assert refused.value.status == 403
    assert json.loads(refused.value.body)["message"] == (
        'tokenreviews.authentication.k8s.io is forbidden: User "team-dev" cannot create '
        'resource "tokenreviews" in API group "authentication.k8s.io" at the cluster scope'
    )


@pytest.mark.parametrize("verb", ["list", "create", "deletecollection"])
@pytest.mark.parametrize("namespace", ["team", "other"])
def test_access_review_answers_what_the_server_enforces(team, verb, namespace):
    _, team_api, _ = team
    said = _ssar(team_api, verb, "configmaps", namespace)
    assert said == _really_allowed(team_api, verb, namespace)
    assert said == (verb == "list" and namespace == "team")


def test_rules_review_lists_the_enforced_rules(team, api):
    _, team_api, _ = team
    authz = client.AuthorizationV1Api(team_api)
    inside = authz.create_self_subject_rules_review({"spec": {"namespace": "team"}}).status
    granted = [r for r in inside.resource_rules if r.resources == ["*"]]
    assert [(r.verbs, r.api_groups) for r in granted] == [(sorted(TEAM_VERBS), ["*"])]
    assert inside.incomplete is False
    outside = authz.create_self_subject_rules_review({"spec": {"namespace": "other"}}).status
    assert not [r for r in outside.resource_rules if r.resources == ["*"]]
    # what every authenticated user keeps: the self reviews, and GET on non-resource URLs
    assert any("selfsubjectaccessreviews" in r.resources for r in outside.resource_rules)
    assert [(r.verbs, r.non_resource_urls) for r in outside.non_resource_rules] == [
        (["get"], ["*"])
    ]
    assert raw(team_api, "GET", "/version").status == 200
    admin = client.AuthorizationV1Api(api).create_self_subject_rules_review(
        {"spec": {"namespace": "other"}}
    )
    assert admin.status.resource_rules[0].verbs == ["*"]


def test_subject_and_local_subject_access_reviews(api, team):
    authz = client.AuthorizationV1Api(api)
    attrs = {"verb": "get", "resource": "pods", "namespace": "team"}
    yes = authz.create_subject_access_review(
        {"spec": {"user": "team-dev", "resourceAttributes": attrs}}
    )
    assert yes.status.allowed is True
    no = authz.create_subject_access_review(
        {"spec": {"user": "team-dev", "resourceAttributes": {**attrs, "verb": "delete"}}}
    )
    assert no.status.allowed is False
    masters = authz.create_subject_access_review(
        {"spec": {"user": "someone", "groups": ["system:masters"], "resourceAttributes": attrs}}
    )
    assert masters.status.allowed is True
    local = authz.create_namespaced_local_subject_access_review(
        "team", {"spec": {"user": "team-dev", "resourceAttributes": attrs}}
    )
    assert local.status.allowed is True and local.metadata.namespace == "team"
    with pytest.raises(client.ApiException) as mismatch:
        authz.create_namespaced_local_subject_access_review(
            "other", {"spec": {"user": "team-dev", "resourceAttributes": attrs}}
        )
    assert mismatch.value.status == 422
    assert (
        "spec.resourceAttributes.namespace: Invalid value"
        in (json.loads(mismatch.value.body)["message"])
    )
    with pytest.raises(client.ApiException) as neither:
        authz.create_self_subject_access_review({"spec": {}})
    assert neither.value.status == 422


def test_kubectl_auth_whoami_and_can_i(team, tmp_path, kubectl):
    path, _, _ = team
    whoami = _kubectl(path, tmp_path, "auth", "whoami")
    assert whoami.returncode == 0, whoami.stderr
    assert whoami.stdout.split() == ["ATTRIBUTE", "VALUE", "Username", "team-dev", "Groups"] + [
        "[system:authenticated]"
    ]
    yes = _kubectl(path, tmp_path, "auth", "can-i", "list", "pods", "-n", "team")
    assert (yes.returncode, yes.stdout.strip()) == (0, "yes")
    no = _kubectl(path, tmp_path, "auth", "can-i", "delete", "pods", "-n", "team")
    assert (no.returncode, no.stdout.strip()) == (1, "no")
    elsewhere = _kubectl(path, tmp_path, "auth", "can-i", "list", "pods", "-n", "other")
    assert elsewhere.stdout.strip() == "no"
    admin = kubectl("auth", "can-i", "delete", "nodes")
    assert admin.stdout.strip() == "yes"


def test_kubectl_auth_can_i_list(team, tmp_path):
    path, _, _ = team
    listing = _kubectl(path, tmp_path, "auth", "can-i", "--list", "-n", "team")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"]
    rows = [line.split() for line in lines[1:]]
    assert ["*.*", "[]", "[]", "[get", "list", "watch]"] in rows
    assert ["[*]", "[]", "[get]"] in rows
    assert ["selfsubjectaccessreviews.authorization.k8s.io", "[]", "[]", "[create]"] in rows
    other = _kubectl(path, tmp_path, "auth", "can-i", "--list", "-n", "other").stdout
    assert "*.*" not in other


def test_refusals_name_the_group_the_client_addressed(team):
    """events.k8s.io events are stored as core events, but a refusal speaks of events.k8s.io."""
    _, team_api, _ = team
    resp = raw(
        team_api,
        "POST",
        "/apis/events.k8s.io/v1/namespaces/team/events",
        body={"metadata": {"name": "e"}},
    )
    assert resp.status == 403
    assert resp.json["message"] == (
        'events.events.k8s.io is forbidden: User "team-dev" cannot create resource "events" '
        'in API group "events.k8s.io" in the namespace "team"'
    )
    assert _ssar(team_api, "create", "events", "team", group="events.k8s.io") is False
