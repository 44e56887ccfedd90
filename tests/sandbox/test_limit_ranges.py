"""LimitRange as the API server applies it: item defaulting, the LimitRanger admission plugin's
defaults and bounds on pod (and claim) creation with its messages, and ResourceQuota counting
the defaulted values. Written against the official client, as for a real cluster."""

from __future__ import annotations

import json

import pytest
from kubernetes import client

from .conftest import wait_for


def _limit_range(core, namespace, *items, name="limits"):
    return core.create_namespaced_limit_range(
        namespace, {"metadata": {"name": name}, "spec": {"limits": list(items)}}
    )


def _pod(name, *containers, init=()):
    spec = {"containers": list(containers)}
    if init:
        spec["initContainers"] = list(init)
    return {"metadata": {"name": name}, "spec": spec}


def _container(name="c", requests=None, limits=None):
    resources = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return {"name": name, "image": "nginx", "resources": resources}


def _refusal(call):
    with pytest.raises(client.ApiException) as err:
        call()
    assert err.value.status == 403, err.value.body
    return json.loads(err.value.body)["message"]


def test_limit_range_items_are_defaulted(core, namespace):
    """default from max, defaultRequest from default then from min (SetDefaults_LimitRangeItem);
    items of other types are stored as sent."""
    stored = _limit_range(
        core,
        namespace,
        {"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}},
        {"type": "Pod", "max": {"cpu": "4"}},
    )
    container, pod = stored.spec.limits
    assert container.default == {"cpu": "2"}
    assert container.default_request == {"cpu": "2", "memory": "64Mi"}
    assert pod.default is None and pod.default_request is None


def test_containers_get_the_namespace_defaults_and_the_annotation(core, namespace):
    _limit_range(
        core,
        namespace,
        {
            "type": "Container",
            "default": {"cpu": "500m", "memory": "256Mi"},
            "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
        },
    )
    created = core.create_namespaced_pod(
        namespace,
        _pod(
            "p",
            _container("app"),
            _container("side", requests={"cpu": "50m"}, limits={"memory": "64Mi"}),
            init=[_container("setup")],
        ),
    )
    app, side = created.spec.containers
    assert app.resources.requests == {"cpu": "100m", "memory": "128Mi"}
    assert app.resources.limits == {"cpu": "500m", "memory": "256Mi"}
    # Given values stay; a limit without a request gave the request first (pod defaulting).
    assert side.resources.requests == {"cpu": "50m", "memory": "64Mi"}
    assert side.resources.limits == {"cpu": "500m", "memory": "64Mi"}
    assert created.spec.init_containers[0].resources.limits == {"cpu": "500m", "memory": "256Mi"}
    assert created.metadata.annotations["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for init container setup; "
        "cpu, memory limit for init container setup; "
        "cpu, memory request for container app; cpu, memory limit for container app; "
        "cpu limit for container side"
    )
    assert created.status.qos_class == "Burstable"
    # Without a LimitRange nothing is added.
    other = f"{namespace}-bare"
    core.create_namespace({"metadata": {"name": other}})
    try:
        bare = core.create_namespaced_pod(other, _pod("p", _container("app")))
        assert not bare.spec.containers[0].resources.requests
        assert "kubernetes.io/limit-ranger" not in (bare.metadata.annotations or {})
    finally:
        core.delete_namespace(other)


def test_container_bounds_are_enforced_with_the_plugins_messages(core, namespace):
    _limit_range(
        core,
        namespace,
        {
            "type": "Container",
            "max": {"cpu": "1"},
            "min": {"cpu": "100m"},
            "maxLimitRequestRatio": {"cpu": "4"},
            "default": {"cpu": "500m"},
            "defaultRequest": {"cpu": "200m"},
        },
    )
    too_big = _refusal(
        lambda: core.create_namespaced_pod(
            namespace, _pod("big", _container(requests={"cpu": "1"}, limits={"cpu": "2"}))
        )
    )
    assert (
        too_big == 'pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2'
    )
    too_small = _refusal(
        lambda: core.create_namespaced_pod(
            namespace, _pod("small", _container(requests={"cpu": "50m"}, limits={"cpu": "100m"}))
        )
    )
    assert too_small == (
        'pods "small" is forbidden: minimum cpu usage per Container is 100m, but request is 50m'
    )
    ratio = _refusal(
        lambda: core.create_namespaced_pod(
            namespace, _pod("ratio", _container(requests={"cpu": "100m"}, limits={"cpu": "1"}))
        )
    )
    assert ratio == (
        'pods "ratio" is forbidden: cpu max limit to request ratio per Container is 4, '
        "but provided ratio is 10.000000"
    )
    # Two violations in one pod come together.
    both = _refusal(
        lambda: core.create_namespaced_pod(
            namespace,
            _pod(
                "both",
                _container("a", requests={"cpu": "50m"}, limits={"cpu": "100m"}),
                _container("b", requests={"cpu": "1"}, limits={"cpu": "2"}),
            ),
        )
    )
    assert both == (
        'pods "both" is forbidden: [minimum cpu usage per Container is 100m, but request is 50m, '
        "maximum cpu usage per Container is 1, but limit is 2]"
    )
    # A container that gave nothing gets the defaults, which are within the bounds.
    fine = core.create_namespaced_pod(namespace, _pod("fine", _container()))
    assert fine.spec.containers[0].resources.limits == {"cpu": "500m"}
    assert [p.metadata.name for p in core.list_namespaced_pod(namespace).items] == ["fine"]


def test_pod_bounds_sum_the_containers(core, namespace):
    _limit_range(core, namespace, {"type": "Pod", "max": {"memory": "1Gi"}})
    message = _refusal(
        lambda: core.create_namespaced_pod(
            namespace,
            _pod(
                "pair",
                _container("a", limits={"memory": "768Mi"}),
                _container("b", limits={"memory": "512Mi"}),
            ),
        )
    )
    assert message == (
        'pods "pair" is forbidden: maximum memory usage per Pod is 1Gi, but limit is 1280Mi'
    )
    core.create_namespaced_pod(namespace, _pod("one", _container("a", limits={"memory": "1Gi"})))


def test_claim_bounds(core, namespace):
    _limit_range(
        core,
        namespace,
        {"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "10Gi"}},
    )

    def claim(name, size):
        return core.create_namespaced_persistent_volume_claim(
            namespace,
            {
                "metadata": {"name": name},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": size}},
                },
            },
        )

    assert _refusal(lambda: claim("tiny", "500Mi")) == (
        'persistentvolumeclaims "tiny" is forbidden: minimum storage usage per '
        "PersistentVolumeClaim is 1Gi, but request is 500Mi"
    )
    assert _refusal(lambda: claim("huge", "20Gi")) == (
        'persistentvolumeclaims "huge" is forbidden: maximum storage usage per '
        "PersistentVolumeClaim is 10Gi, but request is 20Gi"
    )
    assert claim("right", "5Gi").spec.resources.requests == {"storage": "5Gi"}


def test_resource_quota_counts_the_defaulted_values(core, namespace):
    """A quota on requests.cpu/limits.memory obliges every container to give them — unless the
    namespace's LimitRange defaults them; the quota then charges the defaults."""
    core.create_namespaced_resource_quota(
        namespace,
        {
            "metadata": {"name": "q"},
            "spec": {"hard": {"requests.cpu": "500m", "limits.memory": "1Gi"}},
        },
    )
    _limit_range(
        core,
        namespace,
        {
            "type": "Container",
            "default": {"memory": "512Mi"},
            "defaultRequest": {"cpu": "200m"},
        },
    )
    core.create_namespaced_pod(namespace, _pod("p1", _container()))
    core.create_namespaced_pod(namespace, _pod("p2", _container()))
    message = _refusal(lambda: core.create_namespaced_pod(namespace, _pod("p3", _container())))
    assert message == (
        'pods "p3" is forbidden: exceeded quota: q, requested: limits.memory=512Mi,'
        "requests.cpu=200m, used: limits.memory=1Gi,requests.cpu=400m, limited: "
        "limits.memory=1Gi,requests.cpu=500m"
    )
    quota = wait_for(
        lambda: (
            (q := core.read_namespaced_resource_quota("q", namespace)).status
            and q.status.used
            and q.status.used.get("requests.cpu") == "400m"
            and q
        ),
        "quota status",
    )
    assert quota.status.used == {"limits.memory": "1Gi", "requests.cpu": "400m"}
