"""DELETE: preconditions, graceful deletion of pods (see :mod:`..graceful`), finalizers and
``deletionTimestamp``, garbage collection through ownerReferences (Background / Foreground /
Orphan), namespace termination, deletecollection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import crds, graceful
from ..clock import now_iso
from ..errors import conflict

if TYPE_CHECKING:
    from ..resources import ResourceType
    from ..store import Entry

# Kinds whose DELETE answers with the deleted object rather than a Status (ReturnDeletedObject).
_RETURN_DELETED = {
    ("", "pods"),
    ("", "services"),
    ("", "serviceaccounts"),
    ("", "persistentvolumes"),
    ("", "persistentvolumeclaims"),
    ("", "resourcequotas"),
    ("storage.k8s.io", "storageclasses"),
}


class Deletes:
    """DELETE and garbage collection (mixin of :class:`~..cluster.Cluster`)."""

    # ------------------------------------------------------------ delete

    def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        *,
        propagation: str | None = None,
        preconditions: dict[str, Any] | None = None,
        dry_run: bool = False,
        grace: int | None = None,
    ) -> dict[str, Any]:
        """Delete; returns the response body (the object for pods, else a Status).

        Pods are deleted gracefully (see :mod:`.graceful`): ``grace`` (DeleteOptions
        ``gracePeriodSeconds``) or the pod's ``terminationGracePeriodSeconds``."""
        entry = self.get_entry(rt, namespace, name)
        meta = entry.meta
        for key in ("uid", "resourceVersion"):
            want = (preconditions or {}).get(key)
            if want and want != meta.get(key):
                label = "UID" if key == "uid" else "ResourceVersion"
                raise conflict(
                    rt.group,
                    rt.plural,
                    name,
                    f"Precondition failed: {label} in precondition: {want}, "
                    f"{label} in object meta: {meta.get(key)}",
                )
        if rt.key == ("", "namespaces"):
            return self._terminate_namespace(rt, entry, dry_run)
        if dry_run:
            return self._deleted_body(rt, entry.obj)
        if rt.key == ("", "pods"):
            period = graceful.period(self, entry.obj, grace)
            if meta.get("deletionTimestamp"):
                return graceful.shorten(self, rt, entry, period)
            if period > 0:
                return graceful.begin(self, rt, entry, period)
        if meta.get("deletionTimestamp"):
            return entry.obj
        if (
            meta.get("finalizers")
            or propagation == "Foreground"
            and self.store.dependents.get(meta["uid"])
        ):
            obj = entry.copy()
            obj["metadata"]["deletionTimestamp"] = now_iso()
            obj["metadata"]["deletionGracePeriodSeconds"] = 0
            if propagation == "Foreground" and not meta.get("finalizers"):
                obj["metadata"]["finalizers"] = ["foregroundDeletion"]
                stored = self.store.write(rt, obj, entry)
                self._collect(meta["uid"], "Foreground")
                self.loop.call_soon(self._finish_foreground, rt, namespace, name)
                return stored.obj
            return self.store.write(rt, obj, entry).obj
        gone = self.store.remove(rt, entry)
        self._after_delete(rt, gone, propagation or "Background")
        return self._deleted_body(rt, gone.obj)

    def _finish_foreground(self, rt: ResourceType, namespace: str | None, name: str) -> None:
        entry = self.store.get(rt, namespace or "", name)
        if entry is None:
            return
        if self.store.dependents.get(entry.meta["uid"]):
            self.loop.call_later(0.01, self._finish_foreground, rt, namespace, name)
            return
        obj = entry.copy()
        obj["metadata"]["finalizers"] = [
            f for f in obj["metadata"].get("finalizers", []) if f != "foregroundDeletion"
        ]
        entry = self.store.write(rt, obj, entry)
        if not obj["metadata"]["finalizers"]:
            self.store.remove(rt, entry)

    def _deleted_body(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        if rt.key in _RETURN_DELETED:
            return obj
        details = {
            "name": obj["metadata"]["name"],
            "kind": rt.plural,
            "uid": obj["metadata"].get("uid"),
        }
        if rt.group:
            details["group"] = rt.group
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details,
        }

    def _after_delete(self, rt: ResourceType, gone: Entry, propagation: str) -> None:
        uid = gone.meta.get("uid")
        if uid and uid in self.store.dependents:
            if propagation == "Orphan":
                self._orphan(uid)
            else:
                self.loop.call_soon(self._collect, uid, propagation)
        if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            crds.remove(self, gone)
        elif rt.key == ("", "pods"):
            self.forget_pod(gone.meta.get("namespace", ""), gone.meta["name"])

    def forget_pod(self, namespace: str, name: str) -> None:
        """Drop a deleted pod's logs and container filesystems."""
        self.logs.forget(namespace, name)
        for key in [k for k in self.shell_fs if k[0] == namespace and k[1] == name]:
            del self.shell_fs[key]

    def _collect(self, uid: str, propagation: str) -> None:
        for group, plural, ns, name in sorted(self.store.dependents.get(uid, ())):
            rt = self.registry.by_plural(group, plural)
            if rt is None or self.store.get(rt, ns, name) is None:
                continue
            self.delete(rt, ns or None, name, propagation=propagation)

    def _orphan(self, uid: str) -> None:
        for group, plural, ns, name in sorted(self.store.dependents.get(uid, ())):
            rt = self.registry.by_plural(group, plural)
            entry = self.store.get(rt, ns, name) if rt else None
            if rt is None or entry is None:
                continue
            obj = entry.copy()
            obj["metadata"]["ownerReferences"] = [
                r for r in obj["metadata"].get("ownerReferences", []) if r.get("uid") != uid
            ]
            if not obj["metadata"]["ownerReferences"]:
                del obj["metadata"]["ownerReferences"]
            self.store.write(rt, obj, entry)

    def _terminate_namespace(self, rt: ResourceType, entry: Entry, dry_run: bool) -> dict[str, Any]:
        obj = entry.copy()
        if dry_run or obj["metadata"].get("deletionTimestamp"):
            return obj
        obj["metadata"]["deletionTimestamp"] = now_iso()
        obj["metadata"]["deletionGracePeriodSeconds"] = 0
        obj.setdefault("status", {})["phase"] = "Terminating"
        stored = self.store.write(rt, obj, entry)
        self.loop.call_soon(self._purge_namespace, obj["metadata"]["name"])
        return stored.obj

    def _purge_namespace(self, namespace: str) -> None:
        """The namespace controller: delete everything inside, then the namespace itself."""
        for ks in list(self.store.kinds.values()):
            if not ks.rt.namespaced:
                continue
            for entry in list(ks.by_ns.get(namespace, {}).values()):
                current = ks.get(namespace, entry.meta["name"])
                if current is not None:
                    gone = self.store.remove(ks.rt, current)
                    if ks.rt.key == ("", "pods"):
                        self.forget_pod(namespace, gone.meta["name"])
        ns_rt = self.rt("", "namespaces")
        entry = self.store.get(ns_rt, "", namespace)
        if entry is None:
            return
        if entry.meta.get("finalizers"):
            # Content is gone; the namespace waits for its metadata finalizers to be removed.
            obj = entry.copy()
            obj["spec"]["finalizers"] = []
            self.store.write(ns_rt, obj, entry)
            return
        self.store.remove(ns_rt, entry)

    def delete_collection(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: Any,
        fields: Any,
        *,
        propagation: str | None = None,
        dry_run: bool = False,
        grace: int | None = None,
    ) -> dict[str, Any]:
        entries, _, _, _ = self.list_entries(rt, namespace, labels, fields)
        items = []
        for entry in entries:
            if self.store.get(rt, namespace or "", entry.meta["name"]) is None:
                continue
            self.delete(
                rt,
                entry.meta.get("namespace"),
                entry.meta["name"],
                propagation=propagation,
                dry_run=dry_run,
                grace=grace,
            )
            items.append(entry.obj)
        return {
            "kind": rt.list_kind,
            "apiVersion": rt.group_version,
            "metadata": {"resourceVersion": str(self.store.rv)},
            "items": items,
        }
