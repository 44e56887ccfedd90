"""kubesim's state on disk, so the demo survives a restart of ``make run``: every stored object
of every cluster (uids, labels, status and all), written atomically to one JSON file
(``var/kubesim-state.json`` under ``make run``) while running and on shutdown, and put back
into freshly made clusters of the same names when kubesim starts again. Delete the file to
start from the seeded demo again.

What is kept is the object store (the "etcd"); the watch history, container filesystems, logs
and tokens are not (clients relist; the portal is reconnected with the new token by
``seeddemo``). Restored objects get new resourceVersions above the saved ones.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import crds
from .store import iter_key_order

if TYPE_CHECKING:
    from .cluster import Cluster

FORMAT = 1
# Restored first: namespaces hold everything else; CRDs make their custom resources servable.
FIRST = (("", "namespaces"), ("apiextensions.k8s.io", "customresourcedefinitions"))


def dump_cluster(cluster: Cluster) -> dict[str, Any]:
    kinds = []
    for (group, plural), ks in sorted(cluster.store.kinds.items()):
        objects = [entry.obj for entry in iter_key_order(ks, None)]
        if objects:
            kinds.append({"group": group, "plural": plural, "objects": objects})
    return {"name": cluster.name, "rv": cluster.store.rv, "kinds": kinds}


def restore_cluster(cluster: Cluster, data: dict[str, Any]) -> int:
    """Put the saved objects into ``cluster`` (made without seed data); returns how many.
    Runs synchronously on the simulator's loop thread, so its controllers see the whole
    state at once before they act on any of it."""
    store = cluster.store
    store.rv = max(store.rv, int(data.get("rv") or 0))
    kinds = sorted(
        data.get("kinds") or [],
        key=lambda k: (
            FIRST.index((k["group"], k["plural"]))
            if (k["group"], k["plural"]) in FIRST
            else len(FIRST)
        ),
    )
    count = 0
    for kind in kinds:
        rt = cluster.registry.by_plural(kind["group"], kind["plural"])
        if rt is None:
            continue  # a custom resource whose definition was not saved
        for obj in kind["objects"]:
            meta = obj["metadata"]
            old = store.get(rt, meta.get("namespace", ""), meta["name"])
            entry = store.write(rt, json.loads(json.dumps(obj)), old)
            if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
                crds.establish(cluster, entry)
            count += 1
    return count


def save(clusters: list[Cluster], path: Path) -> None:
    """Write every cluster's state to ``path`` atomically (a crash leaves the previous file)."""
    body = {"format": FORMAT, "clusters": {c.name: dump_cluster(c) for c in clusters}}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(body, out, separators=(",", ":"))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: Path) -> dict[str, dict[str, Any]]:
    """Saved clusters by name; empty when there is no file, or one this version cannot read
    (the demo then starts from its seed)."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        return {}
    clusters = body.get("clusters")
    return clusters if isinstance(clusters, dict) else {}
