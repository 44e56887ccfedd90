"""Lists at a resourceVersion, as the API server serves them: ``resourceVersionMatch=Exact``
reads the objects as they were at that version (410 Expired once it is compacted),
``NotOlderThan`` the newest state provided it is not older (504 for a version not reached yet),
and every page of a paginated list comes from the snapshot of its first page. Plus the fault
that breaks watch streams already open (one namespace's)."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
import urllib3
from kubernetes import client

from .conftest import raw, wait_for


def _names_and_data(doc: dict) -> dict[str, dict]:
    return {i["metadata"]["name"]: i.get("data") or {} for i in doc["items"]}


def _cm(core: client.CoreV1Api, namespace: str, name: str, value: str = "1"):
    return core.create_namespaced_config_map(
        namespace, {"metadata": {"name": name}, "data": {"v": value}}
    )


def test_exact_list_reads_the_objects_as_they_were(api, core, namespace):
    """Created, changed and deleted after R: the Exact list at R shows none of it."""
    _cm(core, namespace, "kept")
    _cm(core, namespace, "changed")
    _cm(core, namespace, "deleted")
    then = raw(api, "GET", f"/api/v1/namespaces/{namespace}/configmaps").json
    rv = then["metadata"]["resourceVersion"]
    core.patch_namespaced_config_map("changed", namespace, {"data": {"v": "2"}})
    core.delete_namespaced_config_map("deleted", namespace)
    _cm(core, namespace, "added")
    now = raw(api, "GET", f"/api/v1/namespaces/{namespace}/configmaps").json
    assert "added" in _names_and_data(now) and "deleted" not in _names_and_data(now)

    exact = raw(
        api,
        "GET",
        f"/api/v1/namespaces/{namespace}/configmaps",
        query=[("resourceVersion", rv), ("resourceVersionMatch", "Exact")],
    )
    assert exact.status == 200, exact.data
    assert exact.json["metadata"]["resourceVersion"] == rv
    assert _names_and_data(exact.json) == _names_and_data(then)
    assert [i["metadata"]["resourceVersion"] for i in exact.json["items"]] == [
        i["metadata"]["resourceVersion"] for i in then["items"]
    ]


def test_exact_list_in_another_namespace_is_the_same_snapshot(api, core, namespace):
    """The proxy's merge reads each namespace at the first one's resourceVersion."""
    other = core.create_namespace({"metadata": {"name": f"o-{uuid.uuid4().hex[:6]}"}})
    other_ns = other.metadata.name
    try:
        _cm(core, other_ns, "before")
        rv = raw(api, "GET", f"/api/v1/namespaces/{namespace}/configmaps").json["metadata"][
            "resourceVersion"
        ]
        _cm(core, other_ns, "after")
        exact = raw(
            api,
            "GET",
            f"/api/v1/namespaces/{other_ns}/configmaps",
            query=[("resourceVersion", rv), ("resourceVersionMatch", "Exact")],
        ).json
        assert "before" in _names_and_data(exact) and "after" not in _names_and_data(exact)
    finally:
        core.delete_namespace(other_ns)


@pytest.mark.simulator_only
def test_exact_list_below_the_compacted_version_is_410(cluster, api, core, namespace):
    _cm(core, namespace, "a")
    rv = raw(api, "GET", f"/api/v1/namespaces/{namespace}/configmaps").json["metadata"][
        "resourceVersion"
    ]
    _cm(core, namespace, "b")
    cluster.sim.call(lambda c: c.store.compact())
    answer = raw(
        api,
        "GET",
        f"/api/v1/namespaces/{namespace}/configmaps",
        query=[("resourceVersion", rv), ("resourceVersionMatch", "Exact")],
    )
    assert answer.status == 410
    assert answer.json["reason"] == "Expired"
    assert answer.json["message"].startswith(f"too old resource version: {rv} (")


def test_not_older_than_reads_the_newest_and_refuses_the_future(api, core, namespace):
    first = _cm(core, namespace, "a").metadata.resource_version
    _cm(core, namespace, "b")
    answer = raw(
        api,
        "GET",
        f"/api/v1/namespaces/{namespace}/configmaps",
        query=[("resourceVersion", first), ("resourceVersionMatch", "NotOlderThan")],
    )
    assert answer.status == 200
    assert set(_names_and_data(answer.json)) >= {"a", "b"}
    assert int(answer.json["metadata"]["resourceVersion"]) > int(first)
    future = str(int(answer.json["metadata"]["resourceVersion"]) + 1000)
    for match in ("NotOlderThan", "Exact"):
        ahead = raw(
            api,
            "GET",
            f"/api/v1/namespaces/{namespace}/configmaps",
            query=[("resourceVersion", future), ("resourceVersionMatch", match)],
        )
        assert ahead.status == 504, (match, ahead.data)
        assert ahead.json["message"].startswith(f"Too large resource version: {future}")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ([("resourceVersionMatch", "Exact")], "resourceVersionMatch is forbidden unless"),
        ([("resourceVersion", "0"), ("resourceVersionMatch", "Exact")], "forbidden for"),
        ([("resourceVersion", "5"), ("resourceVersionMatch", "Later")], "Unsupported value"),
        ([("continue", "e30"), ("resourceVersion", "5")], "not allowed when using continue"),
        ([("continue", "not-a-token!")], "continue key is not valid"),
    ],
)
def test_list_version_parameters_are_checked(api, namespace, query, message):
    answer = raw(api, "GET", f"/api/v1/namespaces/{namespace}/configmaps", query=query)
    assert answer.status == 400, answer.data
    assert message in answer.json["message"]


def test_pages_of_a_list_come_from_the_first_pages_snapshot(api, core, namespace):
    """Objects created, changed or deleted between two pages do not show in the second."""
    for name in ("a1", "a2", "b1", "b2"):
        _cm(core, namespace, name)
    first = raw(
        api, "GET", f"/api/v1/namespaces/{namespace}/configmaps", query=[("limit", "3")]
    ).json
    token, rv = first["metadata"]["continue"], first["metadata"]["resourceVersion"]
    assert [i["metadata"]["name"] for i in first["items"]] == ["a1", "a2", "b1"]
    core.patch_namespaced_config_map("b2", namespace, {"data": {"v": "changed"}})
    _cm(core, namespace, "c1")
    core.delete_namespaced_config_map("kube-root-ca.crt", namespace)
    second = raw(
        api,
        "GET",
        f"/api/v1/namespaces/{namespace}/configmaps",
        query=[("limit", "3"), ("continue", token)],
    ).json
    assert second["metadata"]["resourceVersion"] == rv
    assert [i["metadata"]["name"] for i in second["items"]] == ["b2", "kube-root-ca.crt"]
    assert second["items"][0]["data"] == {"v": "1"}
    assert "continue" not in second["metadata"] or not second["metadata"]["continue"]


@pytest.mark.simulator_only
def test_cut_watches_breaks_one_namespaces_streams_only(cluster, api, core, namespace):
    other = core.create_namespace({"metadata": {"name": f"w-{uuid.uuid4().hex[:6]}"}}).metadata.name
    rv = raw(api, "GET", f"/api/v1/namespaces/{namespace}/configmaps").json["metadata"][
        "resourceVersion"
    ]
    streams = {
        ns: raw(
            api,
            "GET",
            f"/api/v1/namespaces/{ns}/configmaps",
            query=[("watch", "1"), ("resourceVersion", rv), ("timeoutSeconds", "10")],
            stream=True,
        )
        for ns in (namespace, other)
    }
    seen: dict[str, list] = {namespace: [], other: []}
    ended: dict[str, str] = {}

    def read(ns: str) -> None:
        try:
            for line in streams[ns].stream(amt=None, decode_content=False):
                for part in line.splitlines():
                    if part.strip():
                        seen[ns].append(json.loads(part)["object"]["metadata"]["name"])
                if "two" in seen[ns]:
                    return
            ended[ns] = "clean"
        except (urllib3.exceptions.ProtocolError, urllib3.exceptions.HTTPError):
            ended[ns] = "cut"

    readers = [threading.Thread(target=read, args=(ns,), daemon=True) for ns in streams]
    for reader in readers:
        reader.start()
    _cm(core, namespace, "one")
    _cm(core, other, "one")
    wait_for(lambda: seen[namespace] and seen[other], "both watches to deliver")
    assert cluster.sim.faults.cut_watches(rf"/namespaces/{other}/") == 1
    readers[1].join(5)
    assert ended.get(other) == "cut"
    _cm(core, namespace, "two")
    readers[0].join(5)
    assert "two" in seen[namespace] and namespace not in ended
    for response in streams.values():
        response.close()
    core.delete_namespace(other)
