"""The watch cache's history window (sized like kube-apiserver 1.37's), 410 Gone for versions
that fell out of it, bookmarks through the official Python client, and an informer-style
list-then-watch loop that relists after a 410 and ends up with the server's state.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.core.management.base import CommandError
from kubernetes import client, watch

from apps.sandbox.management.commands.kubesim import parse_seconds


def _churn(core: client.CoreV1Api, namespace: str, name: str, times: int) -> None:
    for i in range(times):
        core.patch_namespaced_config_map(name, namespace, {"data": {"n": str(i)}})


def _watch_types(core: client.CoreV1Api, namespace: str, rv: str) -> list[str]:
    return [
        e["type"]
        for e in watch.Watch().stream(
            core.list_namespaced_config_map, namespace, resource_version=rv, timeout_seconds=1
        )
    ]


def test_default_window_keeps_a_burst_of_events(core, namespace):
    """300 changes within a second: the cache grows past its initial 100 events (they are all
    younger than 75 s), so a watch from before the burst still resumes."""
    first = core.create_namespaced_config_map(namespace, {"metadata": {"name": "busy"}})
    _churn(core, namespace, "busy", 300)
    types = _watch_types(core, namespace, first.metadata.resource_version)
    assert types == ["MODIFIED"] * 300


@pytest.mark.simulator_only
@pytest.mark.cluster_options(watch_history=0.01)
def test_version_older_than_the_window_is_410_gone(core, namespace):
    """A cache full of events older than the window (10 ms here) does not grow: a busy
    resource drops its oldest events, and a watch from before them gets 410 Gone."""
    first = core.create_namespaced_config_map(namespace, {"metadata": {"name": "busy"}})
    old = first.metadata.resource_version
    time.sleep(0.3)
    _churn(core, namespace, "busy", 150)
    with pytest.raises(client.ApiException) as err:
        _watch_types(core, namespace, old)
    assert err.value.status == 410
    found = re.fullmatch(r"Expired: too old resource version: (\d+) \((\d+)\)", err.value.reason)
    assert found is not None, err.value.reason
    assert found.group(1) == old and int(found.group(2)) > int(old)
    recent = core.list_namespaced_config_map(namespace).metadata.resource_version
    core.patch_namespaced_config_map("busy", namespace, {"data": {"n": "last"}})
    assert _watch_types(core, namespace, recent) == ["MODIFIED"]


@pytest.mark.simulator_only
def test_python_client_watch_gets_bookmarks(cluster, core, namespace):
    cluster.sim.call(lambda c: setattr(c, "bookmark_interval", 0.2))
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    made = core.create_namespaced_config_map(namespace, {"metadata": {"name": "marked"}})
    w = watch.Watch()
    events = list(
        w.stream(
            core.list_namespaced_config_map,
            namespace,
            resource_version=rv,
            allow_watch_bookmarks=True,
            timeout_seconds=1,
        )
    )
    types = [e["type"] for e in events]
    assert types[0] == "ADDED" and events[0]["object"].metadata.name == "marked"
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert len(bookmarks) >= 3 and set(types) == {"ADDED", "BOOKMARK"}
    marks = [int(b["raw_object"]["metadata"]["resourceVersion"]) for b in bookmarks]
    assert marks[0] >= int(made.metadata.resource_version)
    assert bookmarks[0]["raw_object"]["kind"] == "ConfigMap"
    assert w.resource_version == str(marks[-1])  # the client resumes from the last bookmark


class Informer:
    """List, then watch from the list's resourceVersion; on 410 Gone, list again."""

    def __init__(self, core: client.CoreV1Api, namespace: str):
        self.core, self.namespace = core, namespace
        self.cache: dict[str, dict[str, str] | None] = {}
        self.relists = 0
        self.rv = self.relist()

    def relist(self) -> str:
        found = self.core.list_namespaced_config_map(self.namespace)
        self.cache = {cm.metadata.name: cm.data for cm in found.items}
        self.relists += 1
        return found.metadata.resource_version

    def watch_once(self) -> None:
        stream = watch.Watch().stream(
            self.core.list_namespaced_config_map,
            self.namespace,
            resource_version=self.rv,
            timeout_seconds=1,
        )
        try:
            for event in stream:
                obj = event["object"]
                if event["type"] == "DELETED":
                    self.cache.pop(obj.metadata.name, None)
                else:
                    self.cache[obj.metadata.name] = obj.data
                self.rv = obj.metadata.resource_version
        except client.ApiException as exc:
            if exc.status != 410:
                raise
            self.rv = self.relist()

    def server_state(self) -> dict[str, Any]:
        items = self.core.list_namespaced_config_map(self.namespace).items
        return {cm.metadata.name: cm.data for cm in items}


@pytest.mark.simulator_only
def test_informer_relists_after_history_is_compacted(cluster, core, namespace):
    informer = Informer(core, namespace)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "a"}, "data": {"v": "1"}})
    informer.watch_once()
    assert informer.cache["a"] == {"v": "1"} and informer.relists == 1
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "b"}, "data": {"v": "2"}})
    core.delete_namespaced_config_map("a", namespace)
    cluster.sim.compact()
    informer.watch_once()  # 410: the changes since its resourceVersion are gone → relist
    assert informer.relists == 2
    assert informer.cache == informer.server_state()
    assert "a" not in informer.cache and informer.cache["b"] == {"v": "2"}
    core.patch_namespaced_config_map("b", namespace, {"data": {"v": "3"}})
    informer.watch_once()  # and it watches on from the relist's version
    assert informer.relists == 2 and informer.cache["b"] == {"v": "3"}


@pytest.mark.simulator_only
@pytest.mark.cluster_options(watch_history=0.01)
def test_informer_relists_after_an_absence_longer_than_the_window(core, namespace):
    informer = Informer(core, namespace)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "busy"}})
    informer.watch_once()
    time.sleep(0.3)
    _churn(core, namespace, "busy", 120)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "late"}})
    informer.watch_once()
    assert informer.relists == 2
    assert informer.cache == informer.server_state()
    assert informer.cache["busy"] == {"n": "119"} and "late" in informer.cache


def test_watch_history_option_is_checked(kubesim):
    with pytest.raises(ValueError, match="watch_history must be positive seconds"):
        kubesim.add_cluster("bad-window", watch_history=0)
    assert parse_seconds("75s") == 75 and parse_seconds("1m30s") == 90
    assert parse_seconds("2") == 2 and parse_seconds("1h") == 3600
    for bad in ("soon", "0s", "5x"):
        with pytest.raises(CommandError, match="--watch-history"):
            parse_seconds(bad)
