"""Pod Security admission: namespaces choose a level per mode with labels; pods are refused
(enforce) or warned about (warn) with the API server's messages; workload templates only warn
and their controllers' pod creations fail as FailedCreate events. Runs against a real cluster
too (KUBE_TEST_TARGET)."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException

from .conftest import deployment, pod, to_yaml, wait_for

PSA = "pod-security.kubernetes.io/"


def label(core, namespace: str, **modes: str) -> None:
    core.patch_namespace(
        namespace,
        {"metadata": {"labels": {PSA + k.replace("_", "-"): v for k, v in modes.items()}}},
    )


def node_debugger(name: str) -> dict:
    """What `kubectl debug node/n1 --profile=sysadmin` creates."""
    body = pod(name)
    spec = body["spec"]
    spec.update(hostPID=True, hostNetwork=True, hostIPC=True)
    spec["volumes"] = [{"name": "host-root", "hostPath": {"path": "/"}}]
    container = spec["containers"][0]
    container["securityContext"] = {"privileged": True}
    container["volumeMounts"] = [{"name": "host-root", "mountPath": "/host"}]
    return body


def test_no_label_is_privileged(core, namespace):
    created = core.create_namespaced_pod(namespace, node_debugger("root"))
    assert created.spec.host_pid is True


def test_baseline_enforce_refuses_host_access_with_every_reason(core, namespace):
    label(core, namespace, enforce="baseline")
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod(namespace, node_debugger("root"))
    assert caught.value.status == 403
    message = caught.value.body
    container = node_debugger("root")["spec"]["containers"][0]["name"]
    assert (
        f'pods \\"root\\" is forbidden: violates PodSecurity \\"baseline:latest\\": '
        "host namespaces (hostNetwork=true, hostPID=true, hostIPC=true), "
        'hostPath volumes (volume \\"host-root\\"), '
        f'privileged (container \\"{container}\\" must not set securityContext.privileged=true)'
    ) in message
    with pytest.raises(ApiException):
        core.read_namespaced_pod("root", namespace)
    # An ordinary pod is admitted.
    assert core.create_namespaced_pod(namespace, pod("plain")).metadata.name == "plain"


def test_restricted_lists_restricted_reasons_after_baseline(core, namespace):
    label(core, namespace, enforce="restricted", enforce_version="v1.30")
    body = pod("app")
    name = body["spec"]["containers"][0]["name"]
    body["spec"]["containers"][0]["securityContext"] = {"capabilities": {"add": ["SYS_ADMIN"]}}
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod(namespace, body)
    text = caught.value.body
    assert 'violates PodSecurity \\"restricted:v1.30\\": allowPrivilegeEscalation != false' in text
    assert (
        f'unrestricted capabilities (container \\"{name}\\" must set '
        'securityContext.capabilities.drop=[\\"ALL\\"]; '
        f'container \\"{name}\\" must not include \\"SYS_ADMIN\\" in '
        "securityContext.capabilities.add)"
    ) in text
    assert "non-default capabilities" not in text  # overridden by the restricted check
    assert text.index("unrestricted capabilities") < text.index("runAsNonRoot != true")
    compliant = pod("ok")
    compliant["spec"]["securityContext"] = {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    compliant["spec"]["containers"][0]["securityContext"] = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    assert core.create_namespaced_pod(namespace, compliant).metadata.name == "ok"


def test_warn_mode_admits_with_a_warning(kubectl, core, namespace):
    label(core, namespace, warn="baseline")
    out = kubectl("apply", "-n", namespace, "-f", "-", stdin=to_yaml(node_debugger("w")))
    assert 'Warning: would violate PodSecurity "baseline:latest": host namespaces' in out.stderr
    assert core.read_namespaced_pod("w", namespace).spec.host_network is True


def test_workload_templates_warn_and_their_pods_fail_to_create(kubectl, core, namespace):
    label(core, namespace, enforce="baseline")
    manifest = deployment("priv", replicas=1)
    manifest["spec"]["template"]["spec"]["hostPID"] = True
    out = kubectl("apply", "-n", namespace, "-f", "-", stdin=to_yaml(manifest))
    assert "deployment.apps/priv created" in out.stdout
    assert (
        'would violate PodSecurity "baseline:latest": host namespaces (hostPID=true)' in out.stderr
    )

    def failed_create():
        events = core.list_namespaced_event(namespace).items
        return [
            e for e in events if e.reason == "FailedCreate" and "violates PodSecurity" in e.message
        ]

    events = wait_for(failed_create, "a FailedCreate event", timeout=20)
    assert (
        events
        and 'violates PodSecurity "baseline:latest": host namespaces (hostPID=true)'
        in events[0].message
    )
    assert core.list_namespaced_pod(namespace).items == []


def test_ephemeral_debug_container_is_judged(core, namespace):
    created = core.create_namespaced_pod(namespace, pod("target"))
    label(core, namespace, enforce="baseline")
    body = {
        "spec": {
            "ephemeralContainers": [
                {
                    "name": "debugger",
                    "image": "busybox",
                    "securityContext": {"privileged": True},
                }
            ]
        }
    }
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_pod_ephemeralcontainers("target", namespace, body)
    assert caught.value.status == 403
    assert (
        'privileged (container \\"debugger\\" must not set securityContext.privileged=true)'
        in caught.value.body
    )
    assert not core.read_namespaced_pod("target", namespace).spec.ephemeral_containers
    assert created.metadata.name == "target"
