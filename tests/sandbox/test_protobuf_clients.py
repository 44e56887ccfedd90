"""The kubectl client matrix, each command directly against kubesim and through the portal,
its real output checked and the object read back: every ``kubectl create <generator>`` (sent
by kubectl 1.37 as protobuf), ``create token``, ``autoscale``, ``debug --copy-to``,
``debug node/…``, ``debug --target`` (ephemeral container) and the ``get`` tables of the kinds
kubesim prints."""

from __future__ import annotations

import base64
import json
import re

import pytest

from tests.core.test_kubeproto import GENERATORS, dig
from tests.live import *  # noqa: F403
from tests.live import Kubectl, assert_no_secret_in_audit, proxy_events, wait_for

pytestmark = [pytest.mark.usefixtures("live_state"), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def direct(live_cluster, tmp_path):
    """kubectl straight at the simulated cluster, with its own credentials."""
    path = tmp_path / "direct.kubeconfig"
    live_cluster.kubeconfig(path)
    return Kubectl(path.read_text(), tmp_path / "direct", live_cluster.token)


@pytest.fixture
def admin(kubectl_as, tenant_admin):
    """kubectl through the portal as the tenant administrator (RBAC kinds need the grant)."""
    return kubectl_as(tenant_admin)


CLUSTER_SCOPED = ("clusterrole", "clusterrolebinding", "priorityclass")


def create_and_read(kubectl, namespace: str, generator: str) -> dict:
    command, _ = GENERATORS[generator]
    args = [a.replace("_", " ") for a in command.replace("-n kp", f"-n {namespace}").split()]
    cut = args.index("--") if "--" in args else len(args)
    made = kubectl(*args[:cut], "-o", "name", *args[cut:]).stdout.strip()
    cluster_scoped = made.split("/")[0].split(".")[0] in CLUSTER_SCOPED
    ns = [] if cluster_scoped else ["-n", namespace]
    obj = json.loads(kubectl("get", made, *ns, "-o", "json").stdout)
    if not ns:  # cluster-scoped: the next run creates it again
        kubectl("delete", made)
    return obj


@pytest.mark.parametrize("generator", sorted(GENERATORS))
@pytest.mark.parametrize("via", ["direct", "portal"])
def test_kubectl_create_generator(via, generator, direct, admin, namespace):
    kubectl = direct if via == "direct" else admin
    obj = create_and_read(kubectl, namespace, generator)
    _, facts = GENERATORS[generator]
    for path, value in facts.items():
        assert dig(obj, path) == value, path
    assert obj["metadata"]["uid"] and obj["metadata"]["resourceVersion"]


@pytest.fixture(scope="module")
def tls_pair():
    from apps.sandbox.kubesim.tls import serving_cert

    cert = serving_cert()
    return cert.dir / "tls.crt", cert.dir / "tls.key"


@pytest.mark.parametrize("via", ["direct", "portal"])
def test_create_namespace_secret_and_server_dry_run(via, direct, bob, namespace, tls_pair):
    kubectl = direct if via == "direct" else bob
    name = f"{namespace}-{via}"
    kubectl("create", "namespace", name)
    assert json.loads(kubectl("get", "ns", name, "-o", "json").stdout)["status"] == {
        "phase": "Active"
    }
    dry = kubectl("create", "namespace", f"{name}-dry", "--dry-run=server", "-o", "json")
    assert json.loads(dry.stdout)["metadata"]["name"] == f"{name}-dry"
    missing = kubectl("get", "ns", f"{name}-dry", check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr
    kubectl("create", "secret", "generic", "s", "-n", namespace, "--from-literal=k=v1")
    kubectl(
        "create", "secret", "tls", "t", "-n", namespace,
        f"--cert={tls_pair[0]}", f"--key={tls_pair[1]}",
    )  # fmt: skip
    if via == "direct":
        secret = json.loads(kubectl("get", "secret", "s", "-n", namespace, "-o", "json").stdout)
        assert secret["data"] == {"k": "djE="} and secret["type"] == "Opaque"
    tls = json.loads(kubectl("get", "secret", "t", "-n", namespace, "-o", "json").stdout)
    assert tls["type"] == "kubernetes.io/tls"
    assert set(tls["data"]) == {"tls.crt", "tls.key"}


# -- kubectl create token: a TokenRequest that kubesim then accepts as the service account -------
def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.fixture
def as_token(live_cluster, tmp_path):
    """kubectl straight at the simulated cluster with a bearer token of one's choosing."""

    def make(token: str, home: str) -> Kubectl:
        path = tmp_path / f"{home}.kubeconfig"
        live_cluster.kubeconfig(path, token=token)
        return Kubectl(path.read_text(), tmp_path / home, token)

    return make


def whoami_rows(kubectl) -> dict[str, str]:
    lines = kubectl("auth", "whoami").stdout.splitlines()
    assert lines[0].split() == ["ATTRIBUTE", "VALUE"]
    return dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in lines[1:])


@pytest.mark.parametrize("via", ["direct", "portal"])
def test_kubectl_create_token_is_the_service_accounts_identity(
    via, direct, admin, namespace, as_token
):
    kubectl = direct if via == "direct" else admin
    kubectl("create", "serviceaccount", "robot", "-n", namespace)
    sa_uid = json.loads(kubectl("get", "sa", "robot", "-n", namespace, "-o", "json").stdout)[
        "metadata"
    ]["uid"]
    token = kubectl("create", "token", "robot", "-n", namespace, "--duration=15m").stdout.strip()
    claims = claims_of(token)
    assert claims["sub"] == f"system:serviceaccount:{namespace}:robot"
    assert claims["exp"] - claims["iat"] == 900
    assert claims["aud"] == ["https://kubernetes.default.svc.cluster.local"]
    assert claims["kubernetes.io"] == {
        "namespace": namespace,
        "serviceaccount": {"name": "robot", "uid": sa_uid},
    }
    robot = as_token(token, "robot")
    rows = whoami_rows(robot)
    assert rows["Username"] == f"system:serviceaccount:{namespace}:robot"
    assert rows["UID"] == sa_uid
    assert rows["Groups"] == (
        f"[system:serviceaccounts system:serviceaccounts:{namespace} system:authenticated]"
    )
    assert rows["Extra: authentication.kubernetes.io/credential-id"] == f"[JTI={claims['jti']}]"
    # a new service account, bound to nothing, may not list pods
    refused = robot("get", "pods", "-n", namespace, check=False)
    assert refused.returncode == 1
    assert (
        f'User "system:serviceaccount:{namespace}:robot" cannot list resource "pods"'
        in refused.stderr
    )
    # the TokenReview an in-cluster service would ask knows the token too
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview"}
    review["spec"] = {"token": token}
    reviewed = json.loads(
        direct("create", "-f", "-", "-o", "json", stdin=json.dumps(review)).stdout
    )["status"]
    assert reviewed["authenticated"] is True
    assert reviewed["user"]["username"] == f"system:serviceaccount:{namespace}:robot"
    if via == "portal":
        assert_no_secret_in_audit(token)


@pytest.mark.parametrize("via", ["direct", "portal"])
def test_kubectl_create_token_audiences_and_refusals(via, direct, admin, namespace, as_token):
    kubectl = direct if via == "direct" else admin
    kubectl("create", "serviceaccount", "robot", "-n", namespace)
    request = json.loads(
        kubectl(
            "create", "token", "robot", "-n", namespace,
            "--audience=vault", "--audience=nats", "-o", "json",
        ).stdout
    )  # fmt: skip
    assert request["kind"] == "TokenRequest"
    assert request["spec"]["audiences"] == ["vault", "nats"]
    assert request["spec"]["expirationSeconds"] == 3600  # the server's default
    assert claims_of(request["status"]["token"])["aud"] == ["vault", "nats"]
    # a token for other audiences is not one the API server accepts
    stranger = as_token(request["status"]["token"], "vault")
    assert "Unauthorized" in stranger("auth", "whoami", check=False).stderr
    missing = kubectl("create", "token", "ghost", "-n", namespace, check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        'error: failed to create token: serviceaccounts "ghost" not found'
    )
    short = kubectl("create", "token", "robot", "-n", namespace, "--duration=5m", check=False)
    assert short.stderr.strip() == (
        'error: failed to create token: TokenRequest.authentication.k8s.io "robot" is invalid: '
        "spec.expirationSeconds: Invalid value: 300: may not specify a duration less than "
        "10 minutes"
    )


@pytest.mark.parametrize("via", ["direct", "portal"])
def test_kubectl_create_token_bound_to_a_pod(via, direct, admin, namespace, as_token):
    kubectl = direct if via == "direct" else admin
    kubectl("create", "serviceaccount", "robot", "-n", namespace)
    kubectl("run", "box", "-n", namespace, "--image=busybox", "--", "sleep", "3600")
    kubectl("wait", "-n", namespace, "--for=condition=Ready", "pod/box", "--timeout=20s")
    pod = json.loads(kubectl("get", "pod", "box", "-n", namespace, "-o", "json").stdout)
    bind = ("--bound-object-kind=Pod", "--bound-object-name=box")
    token = kubectl("create", "token", "robot", "-n", namespace, *bind).stdout.strip()
    assert claims_of(token)["kubernetes.io"]["pod"] == {
        "name": "box",
        "uid": pod["metadata"]["uid"],
    }
    robot = as_token(token, "bound")
    rows = whoami_rows(robot)
    assert rows["Extra: authentication.kubernetes.io/pod-name"] == "[box]"
    assert rows["Extra: authentication.kubernetes.io/pod-uid"] == f"[{pod['metadata']['uid']}]"
    assert rows["Extra: authentication.kubernetes.io/node-name"] == f"[{pod['spec']['nodeName']}]"
    wrong_uid = kubectl(
        "create", "token", "robot", "-n", namespace, *bind, "--bound-object-uid=0000", check=False
    )
    assert "the UID in the bound object reference (0000) does not match" in wrong_uid.stderr
    no_pod = kubectl(
        "create", "token", "robot", "-n", namespace,
        "--bound-object-kind=Pod", "--bound-object-name=gone", check=False,
    )  # fmt: skip
    assert no_pod.stderr.strip() == 'error: failed to create token: pods "gone" not found'
    # the token dies with the pod it is bound to
    kubectl("delete", "pod", "box", "-n", namespace, "--grace-period=0", "--force")
    wait_for(lambda: "Unauthorized" in robot("auth", "whoami", check=False).stderr, "token revoked")


def test_create_token_through_the_portal_needs_cluster_access(bob, admin, namespace):
    """Minting a token is privilege-bearing (``createServiceAccountToken``, area
    ``clusteraccess``): the platform user's generic ``cluster`` grant does not reach it."""
    admin("create", "serviceaccount", "robot", "-n", namespace)
    refused = bob("create", "token", "robot", "-n", namespace, check=False)
    assert refused.returncode == 1
    assert 'portal user "bob" may not createServiceAccountToken on cluster:' in refused.stderr
    assert f"/namespace:{namespace}/serviceaccount:robot" in refused.stderr
    event = wait_for(
        lambda: proxy_events(action="createServiceAccountToken", outcome="denied").first(), "audit"
    )
    assert event.status_code == 403
    assert admin("create", "token", "robot", "-n", namespace).stdout.count(".") == 2


# -- kubectl autoscale ---------------------------------------------------------------------------
@pytest.mark.parametrize("via", ["direct", "portal"])
def test_kubectl_autoscale(via, direct, admin, namespace):
    kubectl = direct if via == "direct" else admin
    kubectl("create", "deployment", "web", "-n", namespace, "--image=nginx:1.27")
    made = kubectl(
        "autoscale", "deployment", "web", "-n", namespace, "--min=2", "--max=5", "--cpu=80%"
    )
    assert made.stdout.strip() == "horizontalpodautoscaler.autoscaling/web autoscaled"
    hpa = json.loads(kubectl("get", "hpa", "web", "-n", namespace, "-o", "json").stdout)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 2,
        "maxReplicas": 5,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80},
                },
            }
        ],
    }
    row = kubectl("get", "hpa", "web", "-n", namespace).stdout.splitlines()[1].split()
    assert row[:7] == ["web", "Deployment/web", "cpu:", "<unknown>/80%", "2", "5", "0"]
    # the deprecated flag still makes the same metric
    kubectl("create", "deployment", "api", "-n", namespace, "--image=nginx:1.27")
    kubectl("autoscale", "deployment", "api", "-n", namespace, "--max=3", "--cpu-percent=60")
    v1 = json.loads(
        kubectl(
            "get", "horizontalpodautoscalers.v1.autoscaling", "api", "-n", namespace, "-o", "json"
        ).stdout
    )
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 60
    assert (v1["spec"]["minReplicas"], v1["spec"]["maxReplicas"]) == (1, 3)


# -- kubectl debug -------------------------------------------------------------------------------
DEBUGGER = re.compile(r"Defaulting debug container name to (debugger-\w+)\.")


@pytest.fixture
def debuggee(direct, namespace):
    """A running pod ``box`` (one container, ``box``) to debug."""
    direct("run", "box", "-n", namespace, "--image=busybox", "--", "sleep", "3600")
    direct("wait", "-n", namespace, "--for=condition=Ready", "pod/box", "--timeout=20s")
    return "box"


@pytest.mark.parametrize("via", ["direct", "portal"])
def test_kubectl_debug_copy_to(via, direct, admin, namespace, debuggee):
    kubectl = direct if via == "direct" else admin
    sleep = ("--image=busybox", "--", "sleep", "3600")
    made = kubectl("debug", debuggee, "-n", namespace, "--copy-to=box-copy", *sleep)
    debugger = DEBUGGER.fullmatch(made.stdout.strip()).group(1)
    kubectl(
        "debug", debuggee, "-n", namespace, "--copy-to=box-apart", "--share-processes=false", *sleep
    )
    for name in ("box-copy", "box-apart"):
        kubectl("wait", "-n", namespace, "--for=condition=Ready", f"pod/{name}", "--timeout=20s")
    copy = json.loads(kubectl("get", "pod", "box-copy", "-n", namespace, "-o", "json").stdout)
    assert [c["name"] for c in copy["spec"]["containers"]] == ["box", debugger]
    assert copy["spec"]["containers"][1]["image"] == "busybox"
    assert copy["spec"]["containers"][1]["command"] == ["sleep", "3600"]
    assert copy["spec"]["shareProcessNamespace"] is True  # --share-processes defaults on
    assert [s["ready"] for s in copy["status"]["containerStatuses"]] == [True, True]
    apart = json.loads(kubectl("get", "pod", "box-apart", "-n", namespace, "-o", "json").stdout)
    assert apart["spec"]["shareProcessNamespace"] is False
    table = kubectl("get", "pod", "box-copy", "-n", namespace).stdout.splitlines()
    assert table[1].split()[1:3] == ["2/2", "Running"]


@pytest.mark.parametrize("via", ["direct", "portal"])
def test_kubectl_debug_node(via, direct, admin, namespace, live_cluster):
    kubectl = direct if via == "direct" else admin
    out = kubectl("debug", "node/node-2", "-n", namespace, "--image=busybox", "--", "sleep", "3600")
    found = re.fullmatch(
        r"Creating debugging pod (node-debugger-node-2-\w+) with container debugger on node "
        r"node-2\.\n",
        out.stdout,
    )
    assert found, out.stdout
    name = found.group(1)
    pod = json.loads(kubectl("get", "pod", name, "-n", namespace, "-o", "json").stdout)
    spec = pod["spec"]
    assert spec["nodeName"] == "node-2"
    assert (spec["hostPID"], spec["hostNetwork"], spec["hostIPC"]) == (True, True, True)
    assert spec["volumes"] == [{"name": "host-root", "hostPath": {"path": "/"}}]
    assert spec["containers"][0]["volumeMounts"] == [{"mountPath": "/host", "name": "host-root"}]
    assert spec["containers"][0]["command"] == ["sleep", "3600"]
    assert spec["tolerations"][0] == {"operator": "Exists"}
    assert spec["restartPolicy"] == "Never"
    # the node's kubelet started it, on the node's own network
    node = json.loads(kubectl("get", "node", "node-2", "-o", "json").stdout)
    node_ip = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
    started = wait_for(
        lambda: json.loads(
            kubectl(
                "get", "events", "-n", namespace, "-o", "json",
                f"--field-selector=involvedObject.name={name},reason=Started",
            ).stdout
        )["items"],
        "the Started event",
    )  # fmt: skip
    assert started[0]["source"] == {"component": "kubelet", "host": "node-2"}
    status = json.loads(kubectl("get", "pod", name, "-n", namespace, "-o", "json").stdout)["status"]
    assert status["hostIP"] == status["podIP"] == node_ip


@pytest.mark.parametrize("via", ["direct", "portal"])
def test_kubectl_debug_ephemeral_container(via, direct, admin, namespace, debuggee):
    kubectl = direct if via == "direct" else admin
    out = kubectl(
        "debug", debuggee, "-n", namespace, "--image=busybox", "--target=box",
        "--", "sleep", "3600",
    )  # fmt: skip
    assert out.stdout.startswith('Targeting container "box".')
    debugger = DEBUGGER.search(out.stdout).group(1)
    pod = json.loads(kubectl("get", "pod", debuggee, "-n", namespace, "-o", "json").stdout)
    assert pod["spec"]["ephemeralContainers"] == [
        {
            "name": debugger,
            "image": "busybox",
            "command": ["sleep", "3600"],
            "targetContainerName": "box",
            "resources": {},
            "securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}},
            "terminationMessagePolicy": "File",
        }
    ]


# -- kubectl get through the portal prints what the cluster prints --------------------------------
PRINTED = ("hpa", "sa", "endpoints", "endpointslices", "priorityclass", "leases")
LEASE = """apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: leader}
spec: {holderIdentity: web-1, leaseDurationSeconds: 15}
"""


def _without_age(table: str) -> list[list[str]]:
    lines = table.splitlines()
    header = re.split(r"\s{2,}", lines[0].strip())
    age = header.index("AGE")
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines]
    return [row[:age] + row[age + 1 :] for row in rows]


@pytest.mark.parametrize("kind", PRINTED)
def test_kubectl_get_through_the_portal_prints_the_clusters_table(kind, direct, admin, namespace):
    from tests.sandbox.test_printing import COLUMNS

    direct("create", "deployment", "web", "-n", namespace, "--image=nginx:1.27", "--port=8080")
    direct("expose", "deployment", "web", "-n", namespace, "--port=80", "--target-port=8080")
    direct("autoscale", "deployment", "web", "-n", namespace, "--max=3", "--cpu=50%")
    direct("apply", "-n", namespace, "-f", "-", stdin=LEASE)
    direct("wait", "-n", namespace, "--for=condition=Available", "deploy/web", "--timeout=20s")
    wait_for(
        lambda: ":8080" in direct("get", "endpoints", "web", "-n", namespace).stdout, "endpoints"
    )
    scope = [] if kind == "priorityclass" else ["-n", namespace]
    through = admin("get", kind, *scope).stdout
    assert _without_age(through) == _without_age(direct("get", kind, *scope).stdout)
    header = re.split(r"\s{2,}", through.splitlines()[0].strip())
    plural = {"sa": "serviceaccounts", "priorityclass": "priorityclasses"}.get(kind, kind)
    assert header == COLUMNS[plural][0]
    rows = {row[0]: row for row in _without_age(through)[1:]}
    expected = {
        "hpa": ("web", ["web", "Deployment/web", "cpu: <unknown>/50%", "1", "3", "0"]),
        "sa": ("default", ["default", "0"]),
        "priorityclass": ("system-node-critical", ["system-node-critical", "2000001000", "false"]),
        "leases": ("leader", ["leader", "web-1"]),
    }
    if kind == "endpointslices":
        (row,) = [r for name, r in rows.items() if name.startswith("web-")]
        assert row[1:3] == ["IPv4", "8080"]
        assert re.fullmatch(r"10\.244\.\d+\.\d+", row[3])
    elif kind == "endpoints":
        assert re.fullmatch(r"10\.244\.\d+\.\d+:8080", rows["web"][1])
    else:
        name, row = expected[kind]
        assert rows[name] == row
