"""The Kubernetes protobuf codec: round trips, and the bytes real kubectl 1.37 sends.

kubectl's bytes are captured from the simulator's request handler while kubectl creates the
object; the decoded body is compared field by field with kubectl's own JSON for the same
command (``--dry-run=client -o json``), and encoding it again must give kubectl's bytes back.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import uuid
from pathlib import Path

import pytest

from apps.core import kubeproto
from apps.core.kubeproto import codec

KUBECTL = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "kubectl")


class BodyCapture:
    """Every request body the simulated cluster receives, with its Content-Type."""

    def __init__(self, kube_sim, handle):
        self.api = kube_sim._apis[handle.name]
        self.original = self.api.handle
        self.bodies: list[tuple[str, str, bytes]] = []
        self.lock = threading.Lock()

    async def _capturing(self, http_request, path):
        if http_request.method in ("POST", "PUT"):
            raw = await http_request.read()  # aiohttp keeps it for the handler
            with self.lock:
                self.bodies.append((path, http_request.headers.get("Content-Type", ""), raw))
        return await self.original(http_request, path)

    def __enter__(self):
        self.api.handle = self._capturing
        return self

    def __exit__(self, *exc):
        self.api.handle = self.original


@pytest.fixture
def sim(kube_sim, tmp_path):
    handle = kube_sim.add_cluster(f"kp{uuid.uuid4().hex[:6]}", nodes=1, seed=False)
    handle.kubeconfig(tmp_path / "kubeconfig")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
    }

    def kubectl(*args: str) -> str:
        proc = subprocess.run([KUBECTL, *args], capture_output=True, text=True, env=env, timeout=30)
        assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr}"
        return proc.stdout

    kubectl.env = env
    kubectl("create", "namespace", "kp")
    with BodyCapture(kube_sim, handle) as capture:
        yield kubectl, capture
    kube_sim.remove_cluster(handle.name)


def kubectl_bytes(sim, *create_args: str) -> tuple[bytes, dict]:
    """(the protobuf body kubectl sends for ``create …``, kubectl's JSON of the same object)."""
    kubectl, capture = sim
    cut = create_args.index("--") if "--" in create_args else len(create_args)
    flags = ("--dry-run=client", "-o", "json")
    expected = json.loads(kubectl(*create_args[:cut], *flags, *create_args[cut:]))
    capture.bodies.clear()
    kubectl(*create_args)
    assert len(capture.bodies) == 1, capture.bodies
    _, ctype, raw = capture.bodies[0]
    assert ctype == kubeproto.CONTENT_TYPE
    assert raw.startswith(b"k8s\x00")
    return raw, expected


def assert_kubectl_bytes(sim, *create_args: str) -> dict:
    raw, expected = kubectl_bytes(sim, *create_args)
    decoded = kubeproto.decode(raw)
    assert decoded == expected
    assert kubeproto.encode(decoded) == raw  # field for field, as Go writes them
    return decoded


def test_kubectl_create_namespace_bytes(sim):
    decoded = assert_kubectl_bytes(sim, "create", "namespace", "team-a")
    assert decoded["kind"] == "Namespace" and decoded["metadata"]["name"] == "team-a"


def test_kubectl_create_configmap_bytes(sim):
    decoded = assert_kubectl_bytes(
        sim, "create", "configmap", "cm", "-n", "kp", "--from-literal=b=x y", "--from-literal=a=1"
    )
    assert decoded["data"] == {"a": "1", "b": "x y"}


def test_kubectl_create_secret_generic_bytes(sim):
    decoded = assert_kubectl_bytes(
        sim, "create", "secret", "generic", "s", "-n", "kp", "--from-literal=pw=hunter2"
    )
    assert decoded["data"] == {"pw": "aHVudGVyMg=="}  # bytes on the wire, base64 in JSON
    assert "type" not in decoded  # an empty non-pointer string: omitted, as Go's JSON does


GENERATORS = {
    "deployment": (
        "create deployment web -n kp --image=nginx:1.27 --replicas=0 --port=8080",
        {"spec.replicas": 0, "spec.template.spec.containers.0.ports.0.containerPort": 8080},
    ),
    "secret-docker-registry": (
        "create secret docker-registry reg -n kp --docker-server=r.example "
        "--docker-username=u --docker-password=p",
        {"type": "kubernetes.io/dockerconfigjson"},
    ),
    "service-nodeport": (
        "create service nodeport np -n kp --tcp=80:8080 --node-port=30080",
        {"spec.ports.0.targetPort": 8080, "spec.ports.0.nodePort": 30080},
    ),
    "service-clusterip-headless": (
        "create service clusterip hl -n kp --clusterip=None --tcp=5678:http",
        {"spec.clusterIP": "None", "spec.ports.0.targetPort": "http"},
    ),
    "service-externalname": (
        "create service externalname ext -n kp --external-name=db.example.com",
        {"spec.type": "ExternalName"},
    ),
    "serviceaccount": ("create serviceaccount robot -n kp", {"metadata.name": "robot"}),
    "role": (
        "create role reader -n kp --verb=get,list --resource=pods,deployments.apps",
        {"rules.0.verbs": ["get", "list"]},
    ),
    "clusterrole": (
        "create clusterrole agg --verb=get --non-resource-url=/logs/*",
        {"rules.0.nonResourceURLs": ["/logs/*"]},
    ),
    "rolebinding": (
        "create rolebinding rb -n kp --clusterrole=view --user=alice --serviceaccount=kp:robot",
        {"roleRef.name": "view", "subjects.1.namespace": "kp"},
    ),
    "clusterrolebinding": (
        "create clusterrolebinding crb --clusterrole=view --group=devs",
        {"subjects.0.kind": "Group"},
    ),
    "quota": (
        "create quota q -n kp --hard=cpu=1500m,memory=1Gi,pods=3 --scopes=NotTerminating",
        {"spec.hard.cpu": "1500m", "spec.scopes": ["NotTerminating"]},
    ),
    "pdb": (
        "create pdb budget -n kp --selector=app=web --min-available=50%",
        {"spec.minAvailable": "50%", "spec.selector.matchLabels.app": "web"},
    ),
    "priorityclass": (
        "create priorityclass pc --value=10 --description=important --preemption-policy=Never",
        {"value": 10, "preemptionPolicy": "Never", "description": "important"},
    ),
    "ingress": (
        "create ingress ing -n kp --class=nginx --rule=foo.com/bar*=svc:8080,tls=cert",
        {"spec.rules.0.http.paths.0.backend.service.port.number": 8080},
    ),
    "job": (
        "create job once -n kp --image=busybox -- sh -c exit_3",
        {"spec.template.spec.containers.0.command": ["sh", "-c", "exit 3"]},
    ),
    "cronjob": (
        "create cronjob tick -n kp --image=busybox --schedule=*/5_*_*_*_* -- date",
        {
            "spec.schedule": "*/5 * * * *",
            "spec.jobTemplate.spec.template.spec.restartPolicy": "OnFailure",
        },
    ),
}


def dig(obj, dotted: str):
    for part in dotted.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


@pytest.mark.parametrize("generator", sorted(GENERATORS))
def test_kubectl_create_generator_bytes(sim, generator):
    command, facts = GENERATORS[generator]
    args = [a.replace("_", " ") for a in command.split()]
    decoded = assert_kubectl_bytes(sim, *args)
    for path, value in facts.items():
        assert dig(decoded, path) == value, path


# Commands whose body is checked against known facts (no --dry-run=client JSON to compare
# with, or a group another change adds to the simulator): the body is captured whether or not
# the simulator serves the request.
CAPTURED = {
    "auth-can-i": (
        "auth can-i list pods -n kp",
        "SelfSubjectAccessReview",
        {"spec.resourceAttributes": {"namespace": "kp", "verb": "list", "resource": "pods"}},
    ),
    "auth-can-i-list": (
        "auth can-i --list -n kp",
        "SelfSubjectRulesReview",
        {"spec.namespace": "kp"},
    ),
    "auth-whoami": ("auth whoami", "SelfSubjectReview", {"status.userInfo": {}}),
    "token": (
        "create token robot -n kp --duration=10m --audience=a1",
        "TokenRequest",
        {"spec.audiences": ["a1"], "spec.expirationSeconds": 600},
    ),
    "autoscale": (
        "autoscale deployment web -n kp --min=2 --max=5 --cpu=80%",
        "HorizontalPodAutoscaler",
        {
            "apiVersion": "autoscaling/v2",
            "spec.metrics.0.resource.target": {"type": "Utilization", "averageUtilization": 80},
            "spec.scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
        },
    ),
    "debug-node": (
        "debug node/node-1 --image=busybox -- true",
        "Pod",
        {
            "spec.nodeName": "node-1",
            "spec.hostPID": True,
            "spec.volumes.0": {"name": "host-root", "hostPath": {"path": "/"}},
            "spec.tolerations": [{"operator": "Exists"}],
        },
    ),
}


@pytest.mark.parametrize("command", sorted(CAPTURED))
def test_kubectl_bytes_of_other_commands(sim, command):
    kubectl, capture = sim
    line, kind, facts = CAPTURED[command]
    if command in ("token", "autoscale"):
        kubectl("create", "serviceaccount", "robot", "-n", "kp")
        kubectl("create", "deployment", "web", "-n", "kp", "--image=nginx")
    capture.bodies.clear()
    subprocess.run(
        [KUBECTL, *line.split()], capture_output=True, env=kubectl.env, timeout=30, check=False
    )
    protobuf = [raw for _, ctype, raw in capture.bodies if ctype == kubeproto.CONTENT_TYPE]
    assert protobuf, capture.bodies
    decoded = kubeproto.decode(protobuf[0])
    assert decoded["kind"] == kind
    for path, value in facts.items():
        assert dig(decoded, path) == value, path
    assert kubeproto.encode(decoded) == protobuf[0]


def test_meta_types_round_trip():
    """ObjectMeta with every meta type: Time, MicroTime-free ManagedFields with FieldsV1,
    OwnerReference pointers, maps; plus Quantity, IntOrString and negative ints."""
    pod = {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": "p",
            "namespace": "n",
            "uid": "u-1",
            "resourceVersion": "42",
            "generation": 3,
            "creationTimestamp": "2025-01-02T03:04:05Z",
            "deletionTimestamp": "2025-01-02T03:05:05Z",
            "deletionGracePeriodSeconds": 0,
            "labels": {"b": "2", "a": "1"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "rs",
                    "uid": "u-0",
                    "controller": True,
                    "blockOwnerDeletion": False,
                }
            ],
            "finalizers": ["x/y"],
            "managedFields": [
                {
                    "manager": "kubectl",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": "2025-01-02T03:04:05Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:a": {}}}},
                }
            ],
        },
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "i",
                    "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}},
                    "livenessProbe": {"httpGet": {"path": "/", "port": "http"}},
                    "readinessProbe": {"tcpSocket": {"port": 8080}},
                }
            ],
            "securityContext": {"supplementalGroups": [1, 2, 3], "runAsUser": 0},
            "volumes": [{"name": "d", "emptyDir": {"sizeLimit": "1Gi"}}],
            "priority": -5,
        },
        "status": {},
    }
    again = kubeproto.decode(kubeproto.encode(pod))
    assert again == pod


def test_secret_bytes_time_and_microtime():
    secret = {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {"name": "s"},
        "data": {"bin": "AAEC/w=="},
        "stringData": {"x": "y"},
        "type": "Opaque",
        "immutable": False,
    }
    raw = kubeproto.encode(secret)
    assert b"\x00\x01\x02\xff" in raw  # data travels as bytes, not as base64 text
    assert kubeproto.decode(raw) == secret  # a pointer's false is kept
    lease = {
        "kind": "Lease",
        "apiVersion": "coordination.k8s.io/v1",
        "metadata": {"name": "l"},
        "spec": {"renewTime": "2025-01-02T03:04:05.123456Z", "leaseDurationSeconds": 15},
    }
    assert kubeproto.decode(kubeproto.encode(lease)) == lease


def test_packed_repeated_ints_are_read():
    """proto2 writes repeated ints unpacked, but a packed field must read the same."""
    packed = bytes([0x22, 3, 1, 2, 3])  # field 4 (supplementalGroups), packed varints 1,2,3
    assert codec.decode_message("core/v1.PodSecurityContext", packed) == {
        "supplementalGroups": [1, 2, 3]
    }


def test_list_wrappers_and_status():
    ssar = {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {},
        "spec": {"nonResourceAttributes": {"path": "/x", "verb": "get"}},
        "status": {"allowed": True, "reason": "rbac"},
    }
    assert kubeproto.decode(kubeproto.encode(ssar)) == ssar
    review = {
        "kind": "TokenReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {},
        "spec": {"token": "t"},
        "status": {
            "authenticated": True,
            "user": {"username": "u", "extra": {"scopes": ["a", "b"]}},
        },
    }
    assert kubeproto.decode(kubeproto.encode(review)) == review  # ExtraValue is a JSON list
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "no",
        "reason": "NotFound",
        "code": 404,
        "details": {"name": "x", "kind": "pods"},
    }
    assert kubeproto.decode(kubeproto.encode(status)) == status  # meta kinds in every version


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"kind":"Namespace"}', "prefix is missing"),
        (b"k8s\x00\x0a\x05\x0a\x02v1", "truncated"),
        (b"k8s\x00\x0a\x0a\x0a\x02v1\x12\x04Nope", "no kind 'Nope'"),
    ],
)
def test_bad_bodies_say_what_is_wrong(body, message):
    with pytest.raises(kubeproto.ProtobufError, match=message):
        kubeproto.decode(body)


def test_encoding_names_the_field():
    bad = {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"name": "d"},
        "spec": {"replicas": "three"},
    }
    with pytest.raises(kubeproto.ProtobufError, match=r"spec\.replicas: expected an integer"):
        kubeproto.encode(bad)
    assert not kubeproto.can_encode({"kind": "Widget", "apiVersion": "example.com/v1"})
