"""One simulated cluster: its registry, store, users, clock, allocators, events and readers.

Write operations (create/update/patch/delete with admission, validation, garbage collection)
live in :mod:`.ops`, server-side apply in :mod:`.apply`; :class:`Cluster` combines them. Every
method runs on the simulator's event-loop thread.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import collections
import itertools
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from . import priority, quota, schemas, tokens
from .clock import now_iso
from .errors import ApiError, forbidden, gone, not_found
from .faults import Faults
from .logs import LogBook
from .ops import Operations
from .resources import Registry, ResourceType
from .selectors import FieldSelector, LabelSelector
from .store import HISTORY_MAX, HISTORY_WINDOW, Entry, Expired, Store

if TYPE_CHECKING:
    from .controller import Controller

CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted "
    "between the time the first chunk was returned and now may show up in the list."
)
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclass
class User:
    """A bearer-token identity. ``verbs``/``namespaces`` None means unrestricted."""

    name: str
    groups: list[str] = field(default_factory=lambda: ["system:authenticated"])
    verbs: frozenset[str] | None = None
    namespaces: frozenset[str] | None = None
    uid: str = ""  # service-account tokens: the service account's uid
    extra: dict[str, list[str]] = field(default_factory=dict)

    def allows(self, verb: str, namespace: str | None) -> bool:
        if self.verbs is not None and verb not in self.verbs:
            return False
        if self.namespaces is not None and (namespace is None or namespace not in self.namespaces):
            return False
        return True


class Cluster(Operations):
    """State and behaviour of one simulated Kubernetes cluster."""

    def __init__(
        self,
        name: str,
        token: str,
        loop: asyncio.AbstractEventLoop,
        history_size: int = HISTORY_MAX,
        rng_seed: int | None = None,
        watch_history: float = HISTORY_WINDOW,
    ):
        self.name = name
        self.loop = loop
        self.registry = Registry()
        self.store = Store(watch_history, history_size)
        self.users: dict[str, User] = {
            token: User("kubernetes-admin", ["system:masters", "system:authenticated"])
        }
        self.token = token
        self.issuer = tokens.Issuer()  # service-account tokens it minted (TokenRequest)
        self.faults = Faults(self)
        self.logs = LogBook(self)
        # (method, path) of the latest requests that reached this cluster, oldest first: lets a
        # test prove a client was refused before it connected (ClusterHandle.requests).
        self.request_log: collections.deque[tuple[str, str]] = collections.deque(maxlen=1024)
        self.controller: Controller | None = None
        self.shell_fs: dict[tuple[str, str, str], Any] = {}  # container filesystems for exec
        # exec/attach websocket subprotocols served, most preferred first (None: all of them,
        # execws.PROTOCOLS); a test narrows it to play an older API server (v4 only).
        self.exec_protocols: tuple[str, ...] | None = None
        self.bookmark_interval = 5.0  # seconds between watch BOOKMARK events
        self.time_scale = 1.0  # real seconds per simulated second (see clock.py)
        self.rng = random.Random(rng_seed if rng_seed is not None else name)
        self.started = datetime.now(UTC)
        self._service_ips = itertools.count(10)
        self._node_ports = itertools.count(30080)
        self._event_keys: dict[tuple[str, str, str], str] = {}
        self._quota_dirty: set[str] = set()
        self._openapi_cache: dict[tuple[int, str], tuple[dict[str, Any], str]] = {}
        self.store.listeners.append(self._on_change)
        for ns in SYSTEM_NAMESPACES:
            self.create(
                self.rt("", "namespaces"),
                None,
                {"metadata": {"name": ns}},
                manager="kube-apiserver",
            )
        priority.bootstrap(self)

    # ------------------------------------------------------------ lookups

    def rt(self, group: str, plural: str) -> ResourceType:
        found = self.registry.by_plural(group, plural)
        if found is None:
            raise KeyError((group, plural))
        return found

    def get_entry(self, rt: ResourceType, namespace: str | None, name: str) -> Entry:
        entry = self.store.get(rt, namespace or "", name)
        if entry is None:
            raise not_found(rt.group, rt.plural, name)
        return entry

    def find(
        self, group: str, plural: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        """The stored object (read-only) or None."""
        entry = self.store.get(self.rt(group, plural), namespace or "", name)
        return entry.obj if entry else None

    def objects(
        self, group: str, plural: str, namespace: str | None = None
    ) -> list[dict[str, Any]]:
        """Stored objects (read-only), in key order."""
        return [e.obj for e in self.store.kind(self.rt(group, plural)).iter_sorted(namespace)]

    def dependents(self, uid: str, group: str, plural: str) -> list[dict[str, Any]]:
        """Objects of ``group/plural`` whose ownerReferences name ``uid``."""
        out = []
        for g, p, ns, name in self.store.dependents.get(uid, ()):
            if (g, p) == (group, plural):
                found = self.find(g, p, ns, name)
                if found is not None:
                    out.append(found)
        out.sort(key=lambda o: o["metadata"]["name"])
        return out

    # ------------------------------------------------------------ auth

    def add_user(
        self,
        name: str,
        token: str,
        verbs: list[str] | None = None,
        namespaces: list[str] | None = None,
        groups: list[str] | None = None,
    ) -> None:
        self.users[token] = User(
            name,
            groups or ["system:authenticated"],
            frozenset(verbs) if verbs is not None else None,
            frozenset(namespaces) if namespaces is not None else None,
        )

    def authenticate(self, token: str, audiences: tuple[str, ...] = tokens.API_AUDIENCES):
        """The user a bearer token stands for: a configured user, or a minted service-account
        token still valid for one of ``audiences``; None for anything else."""
        return self.users.get(token) or tokens.authenticate(self, token, audiences)

    def authorize(
        self,
        user: User,
        verb: str,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        subresource: str | None = None,
    ) -> None:
        if user.allows(verb, namespace if rt.namespaced else None):
            return
        resource = f"{rt.plural}/{subresource}" if subresource else rt.plural
        scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        raise forbidden(
            rt.group,
            resource,
            name,
            f'User "{user.name}" cannot {verb} resource "{resource}" in API group '
            f'"{rt.group}" {scope}',
        )

    # ------------------------------------------------------------ allocators & helpers

    def new_uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def random_suffix(self, length: int = 5) -> str:
        alphabet = "bcdfghjklmnpqrstvwxz2456789"
        return "".join(self.rng.choice(alphabet) for _ in range(length))

    def allocate_service_ip(self) -> str:
        n = next(self._service_ips)
        return f"10.96.{n // 250}.{n % 250 + 1}"

    def allocate_node_port(self) -> int:
        return next(self._node_ports)

    # ------------------------------------------------------------ reading

    def list_entries(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: LabelSelector,
        fields: FieldSelector,
        limit: int = 0,
        cont: str | None = None,
        at: int | None = None,
    ) -> tuple[list[Entry], str, int | None, int]:
        """Entries matching the selectors, one page; returns (entries, continue, remaining,
        the resourceVersion the page was read at).

        The page is read at resourceVersion ``at`` (None: now) or, for a ``cont`` token, at
        the resourceVersion of the list it continues, so every page of a list comes from one
        snapshot (as etcd serves them); the token carries that resourceVersion on."""
        ks = self.store.kind(rt)
        start = None
        if cont:
            start, at = self._decode_continue(cont, ks)
        rv = self.store.rv if at is None else at
        view = self._view_at(ks, rv, bool(cont))
        pinned = fields.pinned("metadata.name")
        if pinned is not None and not start:
            spaces = [namespace] if namespace is not None else view.namespaces()
            source = [e for ns in spaces if (e := view.get(ns, pinned)) is not None]
        else:
            source = view.iter_sorted(namespace, start)
        out: list[Entry] = []
        filtering = not labels.empty or not fields.empty
        next_token = ""
        remaining = None
        for entry in source:
            if filtering and not (
                labels.matches(entry.meta.get("labels")) and fields.matches(entry.obj)
            ):
                continue
            if limit and len(out) >= limit:
                last = out[-1].meta
                next_token = self._encode_continue(rv, last.get("namespace", ""), last["name"])
                if not filtering:
                    remaining = self._remaining(view, namespace, last)
                break
            out.append(entry)
        return out, next_token, remaining, rv

    @staticmethod
    def _view_at(ks: Any, rv: int, continuing: bool) -> Any:
        try:
            return ks.at(rv)
        except Expired as exc:
            if continuing:
                raise gone(CONTINUE_EXPIRED) from exc
            raise ApiError(410, str(exc), reason="Expired") from exc

    def _remaining(self, ks: Any, namespace: str | None, last: dict[str, Any]) -> int:
        """How many objects follow ``last`` (only reported for unfiltered lists)."""
        after_ns, after_name = last.get("namespace", ""), last["name"]
        count = 0
        for ns in [namespace] if namespace is not None else ks.namespaces():
            if ns < after_ns:
                continue
            names = ks.names(ns)
            count += len(names) - (bisect.bisect_right(names, after_name) if ns == after_ns else 0)
        return count

    def _encode_continue(self, rv: int, namespace: str, name: str) -> str:
        raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": f"{namespace}/{name}\x00"})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def _decode_continue(self, token: str, ks: Any) -> tuple[tuple[str, str], int]:
        """(where the page starts, the resourceVersion of the list it continues)."""
        try:
            padded = token + "=" * (-len(token) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded))
            rv = int(data["rv"])
            namespace, _, name = data["start"].rstrip("\x00").partition("/")
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
            raise ApiError(400, f"continue key is not valid: {exc}") from exc
        if rv > self.store.rv:
            raise ApiError(400, f"continue key is not valid: resource version {rv} is ahead")
        if rv < ks.continue_compacted_rv:
            raise gone(CONTINUE_EXPIRED)
        return (namespace, name), rv

    # ------------------------------------------------------------ events

    def record_event(
        self,
        obj: dict[str, Any],
        etype: str,
        reason: str,
        message: str,
        component: str = "kubesim",
        host: str | None = None,
    ) -> None:
        """Emit (or bump the count of) a core/v1 Event about ``obj``, as components do."""
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"
        key = (meta.get("uid", ""), reason, message)
        rt = self.rt("", "events")
        stamp = now_iso()
        existing = self._event_keys.get(key)
        if existing:
            entry = self.store.get(rt, namespace, existing)
            if entry is not None:
                event = entry.copy()
                event["count"] = event.get("count", 1) + 1
                event["lastTimestamp"] = stamp
                self.store.write(rt, event, entry)
                return
        name = f"{meta['name']}.{self.rng.getrandbits(64):016x}"
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": self.new_uid(),
                "creationTimestamp": stamp,
            },
            "involvedObject": {
                "kind": obj.get("kind"),
                "namespace": meta.get("namespace"),
                "name": meta["name"],
                "uid": meta.get("uid"),
                "apiVersion": obj.get("apiVersion"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "type": etype,
            "count": 1,
            "source": {"component": component, **({"host": host} if host else {})},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": host or "",
        }
        if not meta.get("namespace"):
            event["involvedObject"].pop("namespace")
        self._event_keys[key] = name
        self.store.write(rt, event, None)

    # ------------------------------------------------------------ change hooks

    def _on_change(self, rt: ResourceType, etype: str, entry: Entry, old: Entry | None) -> None:
        namespace = entry.meta.get("namespace")
        if namespace and rt.plural != "events" and rt.key != ("", "resourcequotas"):
            if namespace not in self._quota_dirty:
                quotas = self.store.kind(self.rt("", "resourcequotas")).by_ns.get(namespace)
                if quotas:
                    self._quota_dirty.add(namespace)
                    self.loop.call_soon(self._refresh_quotas, namespace)
        elif rt.key == ("", "resourcequotas") and etype != "DELETED":
            if namespace and namespace not in self._quota_dirty:
                self._quota_dirty.add(namespace)
                self.loop.call_soon(self._refresh_quotas, namespace)
        if self.controller is not None:
            self.controller.notify(rt, etype, entry, old)

    def _refresh_quotas(self, namespace: str) -> None:
        self._quota_dirty.discard(namespace)
        rt = self.rt("", "resourcequotas")
        for entry in list(self.store.kind(rt).by_ns.get(namespace, {}).values()):
            status = quota.status_for(self, entry.obj)
            if entry.obj.get("status") != status:
                obj = entry.copy()
                obj["status"] = status
                self.store.write(rt, obj, entry)

    # ------------------------------------------------------------ control

    def set_node_ready(self, node: str, ready: bool) -> None:
        rt = self.rt("", "nodes")
        entry = self.get_entry(rt, None, node)
        obj = entry.copy()
        stamp = now_iso()
        for cond in obj["status"]["conditions"]:
            if cond["type"] == "Ready":
                cond.update(
                    {
                        "status": "True" if ready else "Unknown",
                        "reason": "KubeletReady" if ready else "NodeStatusUnknown",
                        "message": "kubelet is posting ready status"
                        if ready
                        else "Kubelet stopped posting node status.",
                        "lastTransitionTime": stamp,
                    }
                )
        taints = [
            t
            for t in obj["spec"].get("taints") or []
            if t.get("key") != "node.kubernetes.io/unreachable"
        ]
        if not ready:
            # As the node lifecycle controller: NoSchedule, and NoExecute for taint-based
            # eviction (pods' default toleration lets them stay 300 s).
            taints += [
                {
                    "key": "node.kubernetes.io/unreachable",
                    "effect": "NoSchedule",
                    "timeAdded": stamp,
                },
                {
                    "key": "node.kubernetes.io/unreachable",
                    "effect": "NoExecute",
                    "timeAdded": stamp,
                },
            ]
        if taints:
            obj["spec"]["taints"] = taints
        else:
            obj["spec"].pop("taints", None)
        self.store.write(rt, obj, entry)

    def restart_container(self, namespace: str, pod: str, container: str, times: int = 1) -> int:
        rt = self.rt("", "pods")
        entry = self.get_entry(rt, namespace, pod)
        obj = entry.copy()
        for cs in obj["status"].get("containerStatuses") or []:
            if cs["name"] == container:
                cs["restartCount"] = cs.get("restartCount", 0) + times
                cs["lastState"] = {
                    "terminated": {
                        "exitCode": 137,
                        "reason": "Error",
                        "startedAt": now_iso(),
                        "finishedAt": now_iso(),
                    }
                }
                self.store.write(rt, obj, entry)
                return cs["restartCount"]
        raise ApiError(404, f'container "{container}" not found in pod "{pod}"', "NotFound")

    def set_pod_phase(self, namespace: str, pod: str, phase: str) -> None:
        rt = self.rt("", "pods")
        entry = self.get_entry(rt, namespace, pod)
        obj = entry.copy()
        obj["status"]["phase"] = phase
        if phase != "Running":
            for cond in obj["status"].get("conditions") or []:
                if cond["type"] in ("Ready", "ContainersReady"):
                    cond["status"] = "False"
            for cs in obj["status"].get("containerStatuses") or []:
                cs["ready"] = False
        self.store.write(rt, obj, entry)

    def close_watches(self) -> None:
        """End every open watch (the cluster is going away or being rebuilt)."""
        for ks in self.store.kinds.values():
            for watcher in list(ks.watchers):
                watcher.close()

    # ------------------------------------------------------------ openapi

    def openapi_document(self, group_version: str) -> tuple[dict[str, Any], str] | None:
        """The OpenAPI v3 document of one group-version and its hash (cached)."""
        key = (self.registry.generation, group_version)
        cached = self._openapi_cache.get(key)
        if cached is not None:
            return cached
        group, _, version = group_version.rpartition("/")
        resources = self.registry.in_group_version(group, version)
        if not resources:
            return None
        custom = {rt.schema: rt.crd_schema for rt in resources if rt.custom and rt.crd_schema}
        doc = schemas.openapi_v3_document(resources, custom)
        result = (doc, schemas.doc_hash(doc))
        self._openapi_cache[key] = result
        return result
