"""The API groups a 1.37 server serves, in legacy and aggregated discovery, as kubectl and the
official client read them."""

from __future__ import annotations

import pytest
import yaml
from kubernetes import client

from apps.core import kubeproto

from .conftest import raw

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
NEW_GROUP_VERSIONS = {
    "authentication.k8s.io/v1",
    "authorization.k8s.io/v1",
    "autoscaling/v1",
    "autoscaling/v2",
    "scheduling.k8s.io/v1",
    "discovery.k8s.io/v1",
    "events.k8s.io/v1",
    "coordination.k8s.io/v1",
}


def test_kubectl_api_versions_lists_the_groups(kubectl):
    versions = set(kubectl("api-versions").stdout.split())
    assert NEW_GROUP_VERSIONS <= versions
    assert "v1" in versions and "apps/v1" in versions


def test_kubectl_api_resources_shows_the_kinds(kubectl):
    lines = kubectl("api-resources").stdout.splitlines()
    assert lines[0].split() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    rows = {tuple(line.split()) for line in lines[1:]}
    for expected in [
        ("priorityclasses", "pc", "scheduling.k8s.io/v1", "false", "PriorityClass"),
        ("endpointslices", "discovery.k8s.io/v1", "true", "EndpointSlice"),
        ("events", "ev", "events.k8s.io/v1", "true", "Event"),
        ("events", "ev", "v1", "true", "Event"),
        ("leases", "coordination.k8s.io/v1", "true", "Lease"),
        ("horizontalpodautoscalers", "hpa", "autoscaling/v2", "true", "HorizontalPodAutoscaler"),
        ("selfsubjectreviews", "authentication.k8s.io/v1", "false", "SelfSubjectReview"),
        ("tokenreviews", "authentication.k8s.io/v1", "false", "TokenReview"),
        ("selfsubjectaccessreviews", "authorization.k8s.io/v1", "false", "SelfSubjectAccessReview"),
        ("selfsubjectrulesreviews", "authorization.k8s.io/v1", "false", "SelfSubjectRulesReview"),
        ("subjectaccessreviews", "authorization.k8s.io/v1", "false", "SubjectAccessReview"),
        (
            "localsubjectaccessreviews",
            "authorization.k8s.io/v1",
            "true",
            "LocalSubjectAccessReview",
        ),
    ]:
        assert expected in rows, expected


def test_kubectl_reads_aggregated_discovery_in_two_requests(kubectl):
    """kubectl 1.37 asks /api and /apis for apidiscovery.k8s.io/v2 and, answered, fetches no
    per-group-version document."""
    proc = kubectl("api-resources", "-v=6")
    gets = [line for line in proc.stderr.splitlines() if '"GET"' in line or "GET " in line]
    urls = [line.split("url=")[1].split()[0].strip('"') for line in gets if "url=" in line]
    paths = [u.split("://", 1)[1].split("/", 1)[1].split("?")[0] for u in urls]
    assert sorted(p.rsplit("/", 1)[-1] for p in paths) == ["api", "apis"], paths


def _aggregated(api, path: str) -> dict:
    resp = raw(api, "GET", path, headers={"Accept": f"{AGGREGATED},application/json"})
    assert resp.status == 200
    assert resp.headers["Content-Type"] == AGGREGATED
    doc = resp.json
    assert (doc["kind"], doc["apiVersion"]) == ("APIGroupDiscoveryList", "apidiscovery.k8s.io/v2")
    return doc


def _legacy_view(resources: list[dict]) -> dict[str, tuple]:
    """name → (namespaced, kind, verbs, shortNames, categories, singular, subresources)."""
    subs: dict[str, list] = {}
    for r in resources:
        if "/" in r["name"]:
            parent, sub = r["name"].split("/", 1)
            subs.setdefault(parent, []).append((sub, r["kind"], tuple(r["verbs"])))
    return {
        r["name"]: (
            r["namespaced"],
            r["kind"],
            tuple(r["verbs"]),
            tuple(r.get("shortNames") or ()),
            tuple(r.get("categories") or ()),
            r["singularName"],
            tuple(subs.get(r["name"], ())),
        )
        for r in resources
        if "/" not in r["name"]
    }


def _aggregated_view(resources: list[dict]) -> dict[str, tuple]:
    return {
        r["resource"]: (
            r["scope"] == "Namespaced",
            r["responseKind"]["kind"],
            tuple(r["verbs"]),
            tuple(r.get("shortNames") or ()),
            tuple(r.get("categories") or ()),
            r["singularResource"],
            tuple(
                (s["subresource"], s["responseKind"]["kind"], tuple(s["verbs"]))
                for s in r.get("subresources") or ()
            ),
        )
        for r in resources
    }


def test_aggregated_discovery_says_what_legacy_discovery_says(api):
    """One source of truth: every group-version's resources, verbs, scope, names and
    subresources are the same in both forms."""
    core = _aggregated(api, "/api")
    assert len(core["items"]) == 1 and "name" not in core["items"][0]["metadata"]
    groups = _aggregated(api, "/apis")
    legacy_groups = raw(api, "GET", "/apis").json["groups"]
    assert [g["metadata"]["name"] for g in groups["items"]] == [g["name"] for g in legacy_groups]
    checked = 0
    for item, prefix in [(core["items"][0], "/api")] + [(g, "/apis") for g in groups["items"]]:
        group = item["metadata"].get("name")
        for version in item["versions"]:
            assert version["freshness"] == "Current"
            path = f"{prefix}/{group}/{version['version']}" if group else "/api/v1"
            legacy = raw(api, "GET", path).json["resources"]
            assert _aggregated_view(version["resources"]) == _legacy_view(legacy), path
            checked += 1
    assert checked >= 17
    hpa = next(
        r
        for g in groups["items"]
        if g["metadata"]["name"] == "apps"
        for v in g["versions"]
        for r in v["resources"]
        if r["resource"] == "deployments"
    )
    scale = next(s for s in hpa["subresources"] if s["subresource"] == "scale")
    assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}


def test_plain_json_accept_gets_legacy_discovery(api):
    resp = raw(api, "GET", "/apis", headers={"Accept": "application/json"})
    assert resp.json["kind"] == "APIGroupList"
    resp = raw(api, "GET", "/apis", headers={"Accept": f"application/json,{AGGREGATED}"})
    assert resp.json["kind"] == "APIGroupList"


def test_autoscaling_prefers_v2_and_serves_v1(api):
    group = next(
        g for g in client.ApisApi(api).get_api_versions().groups if g.name == "autoscaling"
    )
    assert [v.version for v in group.versions] == ["v2", "v1"]
    assert group.preferred_version.version == "v2"


@pytest.mark.parametrize(
    "path",
    [
        "/apis/authentication.k8s.io/v1",
        "/apis/authorization.k8s.io/v1",
        "/apis/scheduling.k8s.io/v1",
        "/apis/discovery.k8s.io/v1",
        "/apis/events.k8s.io/v1",
        "/apis/autoscaling/v1",
    ],
)
def test_openapi_v3_documents_exist_for_the_groups(api, path):
    index = raw(api, "GET", "/openapi/v3").json["paths"]
    assert path.lstrip("/") in index
    doc = raw(api, "GET", "/openapi/v3" + path).json
    assert doc["paths"], path


@pytest.mark.parametrize("media", ["application/yaml", "application/vnd.kubernetes.protobuf"])
def test_aggregated_discovery_in_other_formats(api, media):
    """The same document in YAML and protobuf, the Content-Type naming the conversion."""
    asked = f"{media};g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    resp = raw(api, "GET", "/apis", headers={"Accept": asked})
    assert resp.status == 200
    assert resp.headers["Content-Type"] == asked
    decoded = (
        yaml.safe_load(resp.data) if media == "application/yaml" else kubeproto.decode(resp.data)
    )
    expected = _aggregated(api, "/apis")
    if media != "application/yaml":  # a null creationTimestamp has no protobuf encoding
        for item in expected["items"]:
            assert item["metadata"].pop("creationTimestamp") is None
    assert decoded == expected
