"""StatefulSets and DaemonSets keep their history in ControllerRevisions, as the real
controllers do: ``kubectl rollout history/undo`` work on them."""

from __future__ import annotations

import json

from .conftest import deployment, wait_for


def workload(kind: str, name: str, image: str = "nginx:1.27", **spec) -> dict:
    body = deployment(name, replicas=2, image=image)
    body["kind"] = kind
    if kind == "DaemonSet":
        body["spec"].pop("replicas")
    else:
        body["spec"]["serviceName"] = name
    body["spec"].update(spec)
    return body


def revisions(apps_api, namespace, name) -> dict[int, object]:
    out = {}
    for rev in apps_api.list_namespaced_controller_revision(namespace).items:
        refs = rev.metadata.owner_references or []
        if any(r.name == name and r.controller for r in refs):
            out[rev.revision] = rev
    return out


def images(rev) -> list[str]:
    return [c["image"] for c in rev.data["spec"]["template"]["spec"]["containers"]]


def set_image(apps_api, kind, namespace, name, image):
    patch = {"spec": {"template": {"spec": {"containers": [{"name": name, "image": image}]}}}}
    if kind == "StatefulSet":
        apps_api.patch_namespaced_stateful_set(name, namespace, patch)
    else:
        apps_api.patch_namespaced_daemon_set(name, namespace, patch)


def test_statefulset_revisions_follow_the_template(apps_api, core, namespace):
    apps_api.create_namespaced_stateful_set(namespace, workload("StatefulSet", "db"))
    first = wait_for(lambda: revisions(apps_api, namespace, "db").get(1), "revision 1")
    assert first.metadata.name.startswith("db-")
    assert first.kind == "ControllerRevision" and first.api_version == "apps/v1"
    ref = first.metadata.owner_references[0]
    assert (ref.kind, ref.name, ref.controller) == ("StatefulSet", "db", True)
    hash_ = first.metadata.labels["controller-revision-hash"]
    assert first.metadata.name == f"db-{hash_}" and first.metadata.labels["app"] == "db"
    assert first.data["spec"]["template"]["$patch"] == "replace"
    assert images(first) == ["nginx:1.27"]
    wait_for(
        lambda: (
            apps_api.read_namespaced_stateful_set("db", namespace).status.current_revision
            == first.metadata.name
        ),
        "currentRevision",
    )
    set_image(apps_api, "StatefulSet", namespace, "db", "nginx:1.28")
    second = wait_for(lambda: revisions(apps_api, namespace, "db").get(2), "revision 2")
    assert images(second) == ["nginx:1.28"] and second.metadata.name != first.metadata.name
    status = apps_api.read_namespaced_stateful_set("db", namespace).status
    assert status.update_revision == second.metadata.name

    def rolled():
        s = apps_api.read_namespaced_stateful_set("db", namespace).status
        pods = core.list_namespaced_pod(namespace, label_selector="app=db").items
        return (
            s.current_revision == second.metadata.name
            and len(pods) == 2
            and {p.metadata.labels["controller-revision-hash"] for p in pods}
            == {second.metadata.name}
        )

    wait_for(rolled, "pods on revision 2", timeout=20)
    # Back to the first template: the first revision is reused with a new number.
    set_image(apps_api, "StatefulSet", namespace, "db", "nginx:1.27")
    wait_for(lambda: 3 in revisions(apps_api, namespace, "db"), "revision 3")
    history = revisions(apps_api, namespace, "db")
    assert sorted(history) == [2, 3]
    assert history[3].metadata.name == first.metadata.name
    assert history[3].metadata.uid == first.metadata.uid


def test_history_is_pruned_beyond_the_limit(apps_api, namespace):
    body = workload("DaemonSet", "agent", revisionHistoryLimit=1)
    apps_api.create_namespaced_daemon_set(namespace, body)
    wait_for(lambda: revisions(apps_api, namespace, "agent").get(1), "revision 1")
    for n, image in enumerate(["nginx:1.28", "nginx:1.29", "nginx:1.30"], start=2):
        set_image(apps_api, "DaemonSet", namespace, "agent", image)
        wait_for(lambda n=n: n in revisions(apps_api, namespace, "agent"), f"revision {n}")

    def pruned():
        history = revisions(apps_api, namespace, "agent")
        return sorted(history) == [3, 4] and history

    # Once every pod runs the newest template, one old revision is kept besides it (the limit
    # does not count the update revision, nor any revision a live pod still uses).
    history = wait_for(pruned, "old revisions deleted", timeout=30)
    assert images(history[4]) == ["nginx:1.30"]


def test_kubectl_rollout_history_and_undo_statefulset(kubectl, apps_api, namespace):
    apps_api.create_namespaced_stateful_set(namespace, workload("StatefulSet", "web"))
    wait_for(lambda: revisions(apps_api, namespace, "web").get(1), "revision 1")
    kubectl("set", "image", "-n", namespace, "statefulset/web", "web=nginx:1.28")
    wait_for(lambda: revisions(apps_api, namespace, "web").get(2), "revision 2")
    history = kubectl("rollout", "history", "-n", namespace, "statefulset/web").stdout
    lines = [line.split()[0] for line in history.splitlines()[2:] if line.strip()]
    assert lines == ["1", "2"], history
    one = kubectl("rollout", "history", "-n", namespace, "statefulset/web", "--revision=1")
    assert "nginx:1.27" in one.stdout and "nginx:1.28" not in one.stdout
    out = kubectl("rollout", "undo", "-n", namespace, "statefulset/web").stdout
    assert "rolled back" in out
    sts = apps_api.read_namespaced_stateful_set("web", namespace)
    assert sts.spec.template.spec.containers[0].image == "nginx:1.27"
    history = wait_for(lambda: revisions(apps_api, namespace, "web").get(3), "revision 3")
    assert images(history) == ["nginx:1.27"]
    assert sorted(revisions(apps_api, namespace, "web")) == [2, 3]


def test_kubectl_rollout_undo_daemonset_to_revision(kubectl, apps_api, core, namespace):
    apps_api.create_namespaced_daemon_set(namespace, workload("DaemonSet", "agent"))
    first = wait_for(lambda: revisions(apps_api, namespace, "agent").get(1), "revision 1")
    for image in ("nginx:1.28", "nginx:1.29"):
        kubectl("set", "image", "-n", namespace, "daemonset/agent", f"agent={image}")
    wait_for(lambda: revisions(apps_api, namespace, "agent").get(3), "revision 3")
    raw = kubectl("get", "controllerrevisions", "-n", namespace, "-o", "json").stdout
    assert len(json.loads(raw)["items"]) == 3
    out = kubectl("rollout", "undo", "-n", namespace, "daemonset/agent", "--to-revision=1")
    assert "rolled back" in out.stdout
    ds = apps_api.read_namespaced_daemon_set("agent", namespace)
    assert ds.spec.template.spec.containers[0].image == "nginx:1.27"
    latest = wait_for(lambda: revisions(apps_api, namespace, "agent").get(4), "revision 4")
    assert latest.metadata.uid == first.metadata.uid

    def on_first():
        pods = core.list_namespaced_pod(namespace, label_selector="app=agent").items
        return pods and all(
            p.spec.containers[0].image == "nginx:1.27"
            and p.metadata.labels["controller-revision-hash"]
            == first.metadata.labels["controller-revision-hash"]
            for p in pods
        )

    wait_for(on_first, "the daemon pods back on revision 1", timeout=30)


def test_revisions_go_with_their_owner(apps_api, namespace):
    apps_api.create_namespaced_stateful_set(namespace, workload("StatefulSet", "gone"))
    wait_for(lambda: revisions(apps_api, namespace, "gone").get(1), "revision 1")
    apps_api.delete_namespaced_stateful_set("gone", namespace)
    wait_for(
        lambda: not apps_api.list_namespaced_controller_revision(namespace).items,
        "the revisions collected with their StatefulSet",
        timeout=20,
    )


def test_an_orphaned_revision_is_adopted(apps_api, namespace):
    """Deleted with ``--cascade=orphan`` and created again: the same template's revision is
    taken over (not refused as a name clash), keeping its number."""
    apps_api.create_namespaced_daemon_set(namespace, workload("DaemonSet", "again"))
    first = wait_for(lambda: revisions(apps_api, namespace, "again").get(1), "revision 1")
    apps_api.delete_namespaced_daemon_set("again", namespace, propagation_policy="Orphan")

    def orphaned():
        items = apps_api.list_namespaced_controller_revision(namespace).items
        return items and not any(r.controller for r in items[0].metadata.owner_references or [])

    wait_for(orphaned, "the revision orphaned", timeout=20)
    apps_api.create_namespaced_daemon_set(namespace, workload("DaemonSet", "again"))
    adopted = wait_for(lambda: revisions(apps_api, namespace, "again").get(1), "adopted")
    assert adopted.metadata.uid == first.metadata.uid
    owner = apps_api.read_namespaced_daemon_set("again", namespace)
    assert [r.uid for r in adopted.metadata.owner_references if r.controller] == [
        owner.metadata.uid
    ]
