"""The portal's own Helm chart (deploy/helm/tke-portal) installs on the Kubernetes it manages.

Rendered by the real Helm engine (PyPI ``helm-python-sdk``: Helm v4.2 as a library, no helm
binary) with its defaults and with a few sets of values, then applied to a kubesim cluster by the
real kubectl (server-side apply, strict field validation, Helm's order: hooks by weight first)
and read back: every object holds what was rendered, the workloads roll out, the Service selects
the web pods. A real ``helm install --wait`` of the chart completes too.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import uuid
from pathlib import Path

import helm_python as helm
import pytest
import yaml

from tests.live import KUBECTL, wait_for

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "tke-portal"

REQUIRED = {
    "allowedHosts": ["portal.example.com"],
    "secret": {
        "secretKey": "s3cr3t-" + "abcdefghij" * 6,
        "encryptionKeys": "aGVsbG8taGVsbG8taGVsbG8taGVsbG8taGVsbG8tISE=",
        "databaseUrl": "postgres://portal:portal@db.example.com:5432/portal",
        "redisUrl": "redis://redis.example.com:6379/0",
    },
}

# name → (release name, values over the chart's defaults)
VARIANTS = {
    "required-values-only": ("portal", REQUIRED),
    "ingress-tls-existing-secret-no-celery": (
        "edge",
        {
            "allowedHosts": ["portal.example.com", "admin.example.com"],
            "csrfTrustedOrigins": ["https://portal.example.com"],
            "secret": {"existingSecret": "portal-env"},
            "worker": {"enabled": False},
            "beat": {"enabled": False},
            "web": {"replicas": 3, "podDisruptionBudget": {"minAvailable": 2}},
            "config": {"AUDIT_MAX_BODY_CHARS": 4096, "SECURE_HSTS_SECONDS": "600"},
            "ingress": {
                "enabled": True,
                "className": "nginx",
                "annotations": {"nginx.ingress.kubernetes.io/proxy-read-timeout": "3600"},
                "hosts": [
                    {"host": "portal.example.com", "paths": [{"path": "/"}]},
                    {
                        "host": "admin.example.com",
                        "paths": [{"path": "/admin", "pathType": "Exact"}],
                    },
                ],
                "tls": [
                    {"secretName": "portal-tls", "hosts": ["portal.example.com"]},
                ],
            },
        },
    ),
    "scheduling-one-web-replica-no-migrate": (
        "sched",
        {
            **REQUIRED,
            "fullnameOverride": "tke",
            "image": {"repository": "registry.example.com/tke-portal", "tag": "0.2.0"},
            "serviceAccount": {"create": False, "name": "default"},
            "web": {"replicas": 1},
            "migrate": {"enabled": False},
            "nodeSelector": {"kubernetes.io/arch": "amd64"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "portal"}],
            "affinity": {
                "podAntiAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 100,
                            "podAffinityTerm": {
                                "topologyKey": "kubernetes.io/hostname",
                                "labelSelector": {
                                    "matchLabels": {"app.kubernetes.io/component": "web"}
                                },
                            },
                        }
                    ]
                }
            },
            "podAnnotations": {"example.com/team": "platform"},
            "imagePullSecrets": [{"name": "registry"}],
        },
    ),
    # Helm's longest release name (53): the chart's names must still be valid.
    "longest-release-name": ("r" * 53, REQUIRED),
}


@pytest.fixture(scope="module")
def chart():
    with helm.Chart.load(CHART) as loaded:
        yield loaded


def render(chart, values, release, namespace) -> list[tuple[str, dict]]:
    """(template, object) for every object the chart renders, NOTES.txt left out."""
    rendered = chart.render(values, name=release, namespace=namespace, is_install=True)
    objects = []
    for template, text in sorted(rendered.items()):
        if template.endswith("NOTES.txt"):
            continue
        objects += [(template, doc) for doc in yaml.safe_load_all(text) if doc]
    return objects


def hook_weight(obj: dict) -> int | None:
    annotations = obj["metadata"].get("annotations") or {}
    if "helm.sh/hook" not in annotations:
        return None
    return int(annotations.get("helm.sh/hook-weight", "0"))


# -- kubesim and kubectl ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def target(kube_sim, tmp_path_factory):
    """A kubesim cluster with its controller on, and the real kubectl pointed at it."""
    handle = kube_sim.add_cluster(f"ch{uuid.uuid4().hex[:6]}", nodes=2, seed=False)
    home = tmp_path_factory.mktemp("kubectl")
    handle.kubeconfig(home / "kubeconfig")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "KUBECONFIG": str(home / "kubeconfig"),
        "KUBECACHEDIR": str(home / "cache"),
    }

    def kubectl(*args, stdin=None, check=True):
        proc = subprocess.run(
            [KUBECTL, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {proc.stdout}\n{proc.stderr}")
        return proc

    kubectl.handle = handle
    kubectl.kubeconfig = (home / "kubeconfig").read_text()
    yield kubectl
    kube_sim.remove_cluster(handle.name)


def new_namespace(kubectl) -> str:
    name = f"tke-{uuid.uuid4().hex[:6]}"
    manifest = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
    return name


def apply(kubectl, namespace: str, objects: list[dict]):
    """Server-side apply as Helm v4 does (field manager helm), strict field validation."""
    stream = "\n---\n".join(yaml.safe_dump(obj) for obj in objects)
    return kubectl(
        *("apply", "-n", namespace, "--server-side", "--field-manager=helm"),
        *("--validate=strict", "-f", "-"),
        stdin=stream,
    )


def install_in_helm_order(kubectl, namespace: str, objects: list[dict]) -> None:
    hooks = sorted((o for o in objects if hook_weight(o) is not None), key=hook_weight)
    for weight in sorted({hook_weight(o) for o in hooks}):
        apply(kubectl, namespace, [o for o in hooks if hook_weight(o) == weight])
    apply(kubectl, namespace, [o for o in objects if hook_weight(o) is None])


def read_back(kubectl, namespace: str, obj: dict) -> dict:
    group = obj["apiVersion"].rpartition("/")[0]
    resource = obj["kind"].lower() + (f".{group}" if group else "")
    proc = kubectl("get", "-n", namespace, resource, obj["metadata"]["name"], "-o", "json")
    return json.loads(proc.stdout)


def contains(expected, actual, path="") -> list[str]:
    """Where ``actual`` (what the API server stored) lacks what ``expected`` (rendered) says;
    fields the server adds (defaults, status, managed fields) are ignored."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: {actual!r} is not an object"]
        problems = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{path}.{key}: missing")
            else:
                problems += contains(value, actual[key], f"{path}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: {actual!r} is not {expected!r}"]
        return [p for i, e in enumerate(expected) for p in contains(e, actual[i], f"{path}[{i}]")]
    return [] if expected == actual else [f"{path}: {actual!r} != {expected!r}"]


def as_stored(obj: dict) -> dict:
    """What the API server stores for ``obj``: a Secret's stringData lands in data, base64."""
    if obj["kind"] != "Secret" or "stringData" not in obj:
        return obj
    stored = {k: v for k, v in obj.items() if k != "stringData"}
    stored["data"] = {
        key: base64.b64encode(value.encode()).decode() for key, value in obj["stringData"].items()
    }
    return stored


# -- rendering --------------------------------------------------------------------------------
def test_the_chart_lints_clean_for_kubernetes_1_37():
    report = helm.lint(CHART, REQUIRED, strict=True, kube_version="v1.37.0")
    assert report["total_charts_linted"] == 1
    assert report["errors"] == []
    # Severity 1 is informational ("icon is recommended"); nothing at warning or above.
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        ("allowedHosts", "allowedHosts must name at least one host (ALLOWED_HOSTS)"),
        ("secretKey", "secret.secretKey is required (or set secret.existingSecret)"),
        ("encryptionKeys", "secret.encryptionKeys is required (or set secret.existingSecret)"),
        ("databaseUrl", "secret.databaseUrl is required (or set secret.existingSecret)"),
        ("redisUrl", "secret.redisUrl is required (or set secret.existingSecret)"),
    ],
)
def test_a_missing_required_value_fails_the_render_naming_it(chart, drop, message):
    values = json.loads(json.dumps(REQUIRED))
    if drop == "allowedHosts":
        del values["allowedHosts"]
    else:
        del values["secret"][drop]
    with pytest.raises(helm.HelmRenderError) as excinfo:
        chart.render(values, name="portal", namespace="tke")
    assert message in str(excinfo.value)


def test_the_defaults_alone_do_not_render(chart):
    """Production settings need real values: the chart's defaults alone fail the render, at
    the first value a deployment must give."""
    with pytest.raises(helm.HelmRenderError) as excinfo:
        chart.render(None, name="portal", namespace="tke")
    assert str(excinfo.value) == (
        "execution error at (tke-portal/templates/secret.yaml:18:17): "
        "secret.secretKey is required (or set secret.existingSecret)"
    )


def test_redis_is_required_even_without_worker_and_beat(chart):
    """The production settings refuse to start without REDIS_URL, so the chart asks for it
    whether or not the worker and beat run."""
    values = {**REQUIRED, "worker": {"enabled": False}, "beat": {"enabled": False}}
    values["secret"] = {k: v for k, v in REQUIRED["secret"].items() if k != "redisUrl"}
    with pytest.raises(helm.HelmRenderError, match="secret.redisUrl is required"):
        chart.render(values, name="portal", namespace="tke")


def test_the_default_render_runs_web_worker_beat_and_the_migrate_hook(chart):
    objects = {
        (o["kind"], o["metadata"]["name"]) for _, o in render(chart, REQUIRED, "portal", "tke")
    }
    assert objects == {
        ("ConfigMap", "portal-tke-portal"),
        ("Secret", "portal-tke-portal"),
        ("ServiceAccount", "portal-tke-portal"),
        ("Service", "portal-tke-portal"),
        ("Deployment", "portal-tke-portal-web"),
        ("Deployment", "portal-tke-portal-worker"),
        ("Deployment", "portal-tke-portal-beat"),
        ("Job", "portal-tke-portal-migrate"),
        ("PodDisruptionBudget", "portal-tke-portal-web"),
    }


def test_web_pods_spool_audit_rows_on_their_scratch_volume(chart):
    """The proxy's audit spool is on, on the web pods' emptyDir /tmp (the read-only root
    filesystem has nowhere else to write it)."""
    web = next(
        o for _, o in render(chart, REQUIRED, "portal", "tke")
        if (o["kind"], o["metadata"]["name"]) == ("Deployment", "portal-tke-portal-web")
    )  # fmt: skip
    container = web["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["PORTAL_AUDIT_SPOOL_DIR"] == "/tmp/audit-spool"
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in web["spec"]["template"]["spec"]["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


def test_recordings_go_to_the_claim_mounted_in_web_and_worker(chart):
    """With recordings.existingClaim the web pods write recordings to the claim and the worker
    (which purges old ones) mounts it too; without it nothing is mounted and they stay in the
    database."""

    def objects(values):
        return {(o["kind"], o["metadata"]["name"]): o for _, o in render(chart, values, "p", "t")}

    def mounts(deployment):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        return {m["mountPath"]: m["name"] for m in container["volumeMounts"]}

    plain = objects(REQUIRED)
    assert "TERMINAL_RECORDING_DIR" not in plain[("ConfigMap", "p-tke-portal")]["data"]
    assert "/var/lib/tke-portal/recordings" not in mounts(plain[("Deployment", "p-tke-portal-web")])

    values = {**REQUIRED, "recordings": {"existingClaim": "recs", "retentionDays": 30}}
    claimed = objects(values)
    data = claimed[("ConfigMap", "p-tke-portal")]["data"]
    assert data["TERMINAL_RECORDING_DIR"] == "/var/lib/tke-portal/recordings"
    assert data["TERMINAL_RECORDING_RETENTION_DAYS"] == "30"
    for name in ("p-tke-portal-web", "p-tke-portal-worker"):
        deployment = claimed[("Deployment", name)]
        assert mounts(deployment)["/var/lib/tke-portal/recordings"] == "recordings"
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        assert volumes["recordings"]["persistentVolumeClaim"] == {"claimName": "recs"}
    for kind, name in (("Deployment", "p-tke-portal-beat"), ("Job", "p-tke-portal-migrate")):
        volumes = claimed[(kind, name)]["spec"]["template"]["spec"]["volumes"]
        assert [v["name"] for v in volumes] == ["tmp"]  # never holds the claim


# -- applied to kubesim -----------------------------------------------------------------------
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_rendered_manifests_are_accepted_and_stored_as_rendered(chart, target, variant):
    release, values = VARIANTS[variant]
    namespace = new_namespace(target)
    if values["secret"].get("existingSecret"):
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": values["secret"]["existingSecret"]},
            "stringData": {"SECRET_KEY": "x" * 60, "DATABASE_URL": "postgres://d/p"},
        }
        apply(target, namespace, [secret])
    objects = [obj for _, obj in render(chart, values, release, namespace)]
    install_in_helm_order(target, namespace, objects)

    for obj in objects:
        stored = read_back(target, namespace, obj)
        assert contains(as_stored(obj), stored) == [], (obj["kind"], obj["metadata"]["name"])

    deployments = [o for o in objects if o["kind"] == "Deployment"]
    for deployment in deployments:
        name, replicas = deployment["metadata"]["name"], deployment["spec"]["replicas"]

        def available(deployment=deployment, replicas=replicas):
            status = read_back(target, namespace, deployment).get("status") or {}
            return status.get("availableReplicas") == replicas

        wait_for(available, f"deployment {name} to have {replicas} available", timeout=20)

    (service,) = [o for o in objects if o["kind"] == "Service"]
    (web,) = [o for o in deployments if o["metadata"]["name"].endswith("-web")]

    def web_endpoints():
        proc = target(
            "get", "-n", namespace, "endpoints", service["metadata"]["name"], "-o", "json"
        )
        subsets = json.loads(proc.stdout).get("subsets") or []
        return [a for s in subsets for a in s.get("addresses") or []]

    endpoints = wait_for(
        lambda: len(web_endpoints()) == web["spec"]["replicas"] and web_endpoints(),
        "the Service to select every web pod",
        timeout=20,
    )
    pods = json.loads(
        target(
            "get", "-n", namespace, "pods", "-l", "app.kubernetes.io/component=web", "-o", "json"
        ).stdout
    )["items"]
    assert sorted(e["targetRef"]["name"] for e in endpoints) == sorted(
        p["metadata"]["name"] for p in pods
    )


def test_kubesim_refuses_a_job_whose_name_cannot_be_a_label_as_the_api_server_does(target):
    """A Job's pods carry its name as the job-name labels: over 63 characters it is a 422 on
    spec.template.labels (the reason the chart shortens the migrate Job's name)."""
    namespace = new_namespace(target)
    name = "j" * 64
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox:1.37"}],
                }
            }
        },
    }
    proc = target("apply", "-n", namespace, "-f", "-", stdin=json.dumps(job), check=False)
    assert proc.returncode == 1
    assert f'The Job "{name}" is invalid' in proc.stderr
    assert f'spec.template.labels: Invalid value: "{name}": must be no more than 63 characters' in (
        proc.stderr
    )
    job["metadata"]["name"] = "j" * 63
    assert (
        "job.batch/" + "j" * 63 + " created"
        in target("apply", "-n", namespace, "-f", "-", stdin=json.dumps(job)).stdout
    )


def test_helm_installs_the_chart_and_waits_for_it(chart, target):
    """The real Helm install with its default release storage (a Secret per revision):
    hooks (ConfigMap, Secret, ServiceAccount, then the migrate Job, waited for), then the
    release's objects, waited for until ready; uninstall removes them and the release."""
    namespace = f"tke-{uuid.uuid4().hex[:6]}"
    with helm.Config(kubeconfig_content=target.kubeconfig, namespace=namespace) as config:
        release = config.install(
            chart, "portal", REQUIRED, create_namespace=True, wait="watcher", timeout=60
        )
        assert release["status"] == "deployed"
        assert release["revision"] == 1
        stored = json.loads(
            target("get", "-n", namespace, "secrets", "-l", "owner=helm", "-o", "json").stdout
        )
        assert [s["metadata"]["name"] for s in stored["items"]] == ["sh.helm.release.v1.portal.v1"]
        web = read_back(
            target,
            namespace,
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "portal-tke-portal-web"},
            },
        )
        assert web["status"]["availableReplicas"] == 2
        assert web["metadata"]["annotations"]["meta.helm.sh/release-name"] == "portal"
        # The migrate hook ran and, succeeded, was deleted (hook-delete-policy hook-succeeded).
        jobs = json.loads(target("get", "-n", namespace, "jobs", "-o", "json").stdout)["items"]
        assert jobs == []
        config.uninstall("portal", wait="watcher", timeout=60)
        assert config.list(all_states=True) == []
        left = json.loads(
            target("get", "-n", namespace, "deployments,services,configmaps", "-o", "json").stdout
        )["items"]
        # Hooks stay (Helm does not delete hook resources); the release's own objects go.
        assert sorted((o["kind"], o["metadata"]["name"]) for o in left) == [
            ("ConfigMap", "kube-root-ca.crt"),
            ("ConfigMap", "portal-tke-portal"),
        ]
