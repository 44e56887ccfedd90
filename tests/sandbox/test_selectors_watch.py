"""Label/field selectors, limit/continue, and watch semantics."""

from __future__ import annotations

import json
import threading
import time

import pytest
from kubernetes import client, watch

from .conftest import raw


@pytest.fixture
def labelled(core, namespace):
    specs = {
        "a": {"app": "web", "tier": "front"},
        "b": {"app": "web", "tier": "back"},
        "c": {"app": "db"},
        "d": {"app": "cache", "legacy": "yes"},
    }
    for name, labels in specs.items():
        core.create_namespaced_config_map(namespace, {"metadata": {"name": name, "labels": labels}})
    return namespace


@pytest.mark.parametrize(
    "selector,expected",
    [
        ("app=web", ["a", "b"]),
        ("app==web", ["a", "b"]),
        ("app!=web", ["c", "d"]),
        ("app in (db,cache)", ["c", "d"]),
        ("app notin (web)", ["c", "d"]),
        ("tier", ["a", "b"]),
        ("!tier", ["c", "d"]),
        ("app=web,tier!=front", ["b"]),
        ("legacy,app=cache", ["d"]),
    ],
)
def test_label_selectors(core, labelled, selector, expected):
    items = core.list_namespaced_config_map(labelled, label_selector=selector).items
    assert (
        sorted(i.metadata.name for i in items if i.metadata.name != "kube-root-ca.crt") == expected
    )


def test_bad_selector_is_400(core, labelled):
    with pytest.raises(client.ApiException) as err:
        core.list_namespaced_config_map(labelled, label_selector="app in (a")
    assert err.value.status == 400
    with pytest.raises(client.ApiException) as err:
        core.list_namespaced_config_map(labelled, field_selector="data.a=1")
    assert err.value.status == 400
    assert (
        "field label not supported" in json.loads(err.value.body)["message"]
        or "not a known field selector" in json.loads(err.value.body)["message"]
    )


def test_field_selectors(core, labelled):
    items = core.list_namespaced_config_map(labelled, field_selector="metadata.name=c").items
    assert [i.metadata.name for i in items] == ["c"]
    items = core.list_config_map_for_all_namespaces(
        field_selector=f"metadata.namespace={labelled},metadata.name!=a"
    ).items
    assert "a" not in {i.metadata.name for i in items} and "b" in {i.metadata.name for i in items}


def test_limit_and_continue_page_through_in_order(core, namespace):
    for i in range(7):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": f"p{i}"}})
    seen, token, pages = [], None, 0
    while True:
        page = core.list_namespaced_config_map(namespace, limit=3, _continue=token)
        seen += [i.metadata.name for i in page.items]
        pages += 1
        token = page.metadata._continue
        if not token:
            break
        assert page.metadata.remaining_item_count == 8 - len(seen)
    assert seen == sorted(seen) and len(seen) == 8 and pages == 3


@pytest.mark.simulator_only
def test_continue_after_compaction_is_410(cluster, core, namespace):
    for i in range(3):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": f"p{i}"}})
    page = core.list_namespaced_config_map(namespace, limit=1)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "later"}})
    cluster.sim.compact()
    with pytest.raises(client.ApiException) as err:
        core.list_namespaced_config_map(namespace, limit=1, _continue=page.metadata._continue)
    assert err.value.status == 410 and json.loads(err.value.body)["reason"] == "Expired"


def test_watch_sees_added_modified_deleted(core, namespace):
    events = []
    w = watch.Watch()

    def run():
        for event in w.stream(
            core.list_namespaced_config_map, namespace, label_selector="w=1", timeout_seconds=5
        ):
            events.append((event["type"], event["object"].metadata.name))
            if event["type"] == "DELETED":
                w.stop()

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.2)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "x", "labels": {"w": "1"}}})
    core.patch_namespaced_config_map("x", namespace, {"data": {"k": "v"}})
    core.delete_namespaced_config_map("x", namespace)
    thread.join(10)
    assert events == [("ADDED", "x"), ("MODIFIED", "x"), ("DELETED", "x")]


def test_watch_replays_from_resource_version(core, namespace):
    first = core.create_namespaced_config_map(namespace, {"metadata": {"name": "r1"}})
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "r2"}})
    core.patch_namespaced_config_map("r1", namespace, {"data": {"a": "b"}})
    w = watch.Watch()
    got = [
        (e["type"], e["object"].metadata.name)
        for e in w.stream(
            core.list_namespaced_config_map,
            namespace,
            resource_version=first.metadata.resource_version,
            timeout_seconds=1,
        )
    ]
    assert got == [("ADDED", "r2"), ("MODIFIED", "r1")]


def test_watch_without_version_starts_with_synthetic_adds(core, namespace):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "s1"}})
    resp = core.list_namespaced_config_map(
        namespace, watch=True, timeout_seconds=1, _preload_content=False
    )
    lines = [json.loads(line) for line in resp.data.decode().splitlines()]
    assert {("ADDED", e["object"]["metadata"]["name"]) for e in lines} >= {("ADDED", "s1")}


def test_selector_transition_becomes_added_and_deleted(core, namespace):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "t", "labels": {}}})
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    core.patch_namespaced_config_map("t", namespace, {"metadata": {"labels": {"on": "y"}}})
    core.patch_namespaced_config_map("t", namespace, {"metadata": {"labels": {"on": None}}})
    got = [
        e["type"]
        for e in watch.Watch().stream(
            core.list_namespaced_config_map,
            namespace,
            label_selector="on=y",
            resource_version=rv,
            timeout_seconds=1,
        )
    ]
    assert got == ["ADDED", "DELETED"]


@pytest.mark.simulator_only
def test_watch_too_old_version_is_410_gone(cluster, core, namespace):
    first = core.create_namespaced_config_map(namespace, {"metadata": {"name": "old"}})
    core.patch_namespaced_config_map("old", namespace, {"data": {"a": "1"}})
    cluster.sim.compact()
    with pytest.raises(client.ApiException) as err:
        for _ in watch.Watch().stream(
            core.list_namespaced_config_map,
            namespace,
            resource_version=first.metadata.resource_version,
            timeout_seconds=2,
        ):
            pass
    assert err.value.status == 410


def test_watch_timeout_seconds_ends_the_stream(core, namespace):
    started = time.monotonic()
    resp = core.list_namespaced_config_map(
        namespace, watch=True, timeout_seconds=1, resource_version="1", _preload_content=False
    )
    resp.read()
    assert 0.9 <= time.monotonic() - started < 3


@pytest.mark.simulator_only
def test_bookmarks_and_initial_events_end(cluster, api, namespace):
    cluster.sim.call(lambda c: setattr(c, "bookmark_interval", 0.2))
    resp = raw(
        api,
        "GET",
        f"/api/v1/namespaces/{namespace}/configmaps",
        query=[
            ("watch", "1"),
            ("allowWatchBookmarks", "true"),
            ("sendInitialEvents", "true"),
            ("resourceVersionMatch", "NotOlderThan"),
            ("timeoutSeconds", "1"),
        ],
    )
    events = [json.loads(line) for line in resp.data.decode().splitlines()]
    types = [e["type"] for e in events]
    assert types[0] == "ADDED"  # kube-root-ca.crt
    marker = events[types.index("BOOKMARK")]
    assert marker["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert types.count("BOOKMARK") >= 3


def test_watch_streams_event_by_event(api, core, namespace):
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    resp = raw(
        api,
        "GET",
        f"/api/v1/namespaces/{namespace}/configmaps",
        stream=True,
        query=[("watch", "1"), ("resourceVersion", rv), ("timeoutSeconds", "10")],
    )
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "live"}})
    started = time.monotonic()
    line = resp.readline() if hasattr(resp, "readline") else next(resp.stream(1024))
    assert json.loads(line)["object"]["metadata"]["name"] == "live"
    assert time.monotonic() - started < 2  # not buffered until the 10 s timeout
    resp.close()
