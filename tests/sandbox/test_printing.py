"""Server-side printing: ``kubectl get`` columns for every kind kubectl shows, as a 1.37 API
server's printers (``pkg/printers/internalversion``) declare them, plus the cells whose format
is easy to get wrong."""

from __future__ import annotations

import json

import pytest

from .conftest import raw, to_yaml, wait_for

# kind (as kubectl names it) → (plain columns, -o wide columns), from the real printers.
COLUMNS = {
    "hpa": (["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"], None),
    "serviceaccounts": (["NAME", "SECRETS", "AGE"], None),
    "endpoints": (["NAME", "ENDPOINTS", "AGE"], None),
    "endpointslices": (["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"], None),
    "priorityclasses": (
        ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE"],
        ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"],
    ),
    "leases": (["NAME", "HOLDER", "AGE"], None),
    "pdb": (["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"], None),
    "ingresses": (["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"], None),
    "cronjobs": (
        ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"],
        [
            "NAME",
            "SCHEDULE",
            "TIMEZONE",
            "SUSPEND",
            "ACTIVE",
            "LAST SCHEDULE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR",
        ],
    ),
    "jobs": (
        ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
        ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"],
    ),
    "resourcequotas": (["NAME", "REQUEST", "LIMIT", "AGE"], None),
    "roles": (["NAME", "CREATED AT"], None),
    "clusterroles": (["NAME", "CREATED AT"], None),
    "rolebindings": (
        ["NAME", "ROLE", "AGE"],
        ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"],
    ),
    "clusterrolebindings": (
        ["NAME", "ROLE", "AGE"],
        ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"],
    ),
    "storageclasses": (
        [
            "NAME",
            "PROVISIONER",
            "RECLAIMPOLICY",
            "VOLUMEBINDINGMODE",
            "ALLOWVOLUMEEXPANSION",
            "AGE",
        ],
        None,
    ),
    "persistentvolumes": (
        [
            "NAME",
            "CAPACITY",
            "ACCESS MODES",
            "RECLAIM POLICY",
            "STATUS",
            "CLAIM",
            "STORAGECLASS",
            "VOLUMEATTRIBUTESCLASS",
            "REASON",
            "AGE",
        ],
        None,
    ),
    "persistentvolumeclaims": (
        [
            "NAME",
            "STATUS",
            "VOLUME",
            "CAPACITY",
            "ACCESS MODES",
            "STORAGECLASS",
            "VOLUMEATTRIBUTESCLASS",
            "AGE",
        ],
        None,
    ),
    "events": (
        ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        [
            "LAST SEEN",
            "TYPE",
            "REASON",
            "OBJECT",
            "SUBOBJECT",
            "SOURCE",
            "MESSAGE",
            "FIRST SEEN",
            "COUNT",
            "NAME",
        ],
    ),
    "networkpolicies": (["NAME", "POD-SELECTOR", "AGE"], None),
    "ingressclasses": (["NAME", "CONTROLLER", "PARAMETERS", "AGE"], None),
    "controllerrevisions": (["NAME", "CONTROLLER", "REVISION", "AGE"], None),
}

OBJECTS = [
    {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 3,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 50},
                    },
                },
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": "qps"},
                        "target": {"type": "AverageValue", "averageValue": "10"},
                    },
                },
                {
                    "type": "Resource",
                    "resource": {
                        "name": "memory",
                        "target": {"type": "AverageValue", "averageValue": "1Gi"},
                    },
                },
            ],
        },
    },
    {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "p"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
    },
    {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "i"},
        "spec": {
            "rules": [{"host": "a.example.com"}, {"http": {"paths": []}}],
            "tls": [{"hosts": ["a.example.com"]}],
        },
    },
    {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "c"},
        "spec": {
            "schedule": "*/5 * * * *",
            "suspend": True,
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "c", "image": "busybox"}],
                        }
                    }
                }
            },
        },
    },
    {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j"},
        "spec": {
            "suspend": True,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "j", "image": "busybox"}],
                }
            },
        },
    },
    {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "q"},
        "spec": {"hard": {"pods": "10", "requests.cpu": "2", "limits.memory": "4Gi"}},
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "r"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "rb"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
        "subjects": [
            {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"},
            {"kind": "ServiceAccount", "name": "default", "namespace": "NS"},
        ],
    },
    {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "claim"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    },
    {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "np"},
        "spec": {"podSelector": {}},
    },
    {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    },
    {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {"name": "ds-1"},
        "revision": 1,
        "data": {},
    },
    {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "web.1"},
        "involvedObject": {"kind": "Service", "name": "web", "namespace": "NS"},
        "reason": "Tested",
        "message": "printed",
        "type": "Normal",
        "source": {"component": "tester"},
    },
]
CLUSTER_OBJECTS = [
    {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": "fast",
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": "example.com/fast",
        "allowVolumeExpansion": True,
    },
    {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": "pv1"},
        "spec": {
            "capacity": {"storage": "5Gi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "hostPath": {"path": "/tmp/pv1"},
        },
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "printing-reader"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "printing-readers"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "printing-reader",
        },
        "subjects": [{"kind": "Group", "name": "readers", "apiGroup": "rbac.authorization.k8s.io"}],
    },
    {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": "nginx"},
        "spec": {
            "controller": "k8s.io/ingress-nginx",
            "parameters": {"apiGroup": "example.com", "kind": "Params", "name": "p"},
        },
    },
]


@pytest.fixture
def populated(kubectl, namespace, cluster):
    docs = json.loads(json.dumps(OBJECTS).replace('"NS"', json.dumps(namespace)))
    kubectl("apply", "-n", namespace, "-f", "-", stdin=to_yaml(*docs))
    kubectl("apply", "-f", "-", stdin=to_yaml(*CLUSTER_OBJECTS))
    yield namespace
    kubectl("delete", "-f", "-", stdin=to_yaml(*CLUSTER_OBJECTS), check=False)


def _table(kubectl, *args: str) -> list[str]:
    return kubectl("get", *args).stdout.splitlines()


def _header(line: str) -> list[str]:
    """Column names (kubectl separates columns by at least 3 spaces)."""
    return [c.strip() for c in line.split("   ") if c.strip()]


@pytest.mark.parametrize("kind", sorted(COLUMNS))
def test_kubectl_get_columns_are_the_real_servers(kubectl, populated, kind):
    plain, wide = COLUMNS[kind]
    lines = wait_for(lambda: (t := _table(kubectl, kind, "-A")) and len(t) > 1 and t, kind)
    assert _without_namespace(_header(lines[0])) == plain
    if wide is not None:
        wide_lines = _table(kubectl, kind, "-A", "-o", "wide")
        assert _without_namespace(_header(wide_lines[0])) == wide


def _without_namespace(header: list[str]) -> list[str]:
    return header[1:] if header[0] == "NAMESPACE" else header


def _row(kubectl, namespace: str, kind: str, name: str) -> list[str]:
    lines = _table(kubectl, kind, name, "-n", namespace)
    header = lines[0]
    starts = [header.index(col) for col in _header(header)]
    ends = [*starts[1:], None]
    return [lines[1][a:b].strip() for a, b in zip(starts, ends, strict=True)]


def test_cells_are_formatted_as_the_real_printers(kubectl, populated):
    ns = populated
    assert _row(kubectl, ns, "hpa", "h")[1:6] == [
        "Deployment/web",
        "cpu: <unknown>/50%, <unknown>/10 + 1 more...",
        "1",
        "3",
        "0",
    ]
    assert _row(kubectl, ns, "pdb", "p")[1:4] == ["1", "N/A", "0"]
    assert _row(kubectl, ns, "ingress", "i")[1:5] == ["<none>", "a.example.com", "", "80, 443"]
    assert _row(kubectl, ns, "cronjob", "c")[1:6] == [
        "*/5 * * * *",
        "<none>",
        "True",
        "0",
        "<none>",
    ]
    job = wait_for(lambda: (r := _row(kubectl, ns, "job", "j"))[1] == "Suspended" and r, "job")
    assert job[1:3] == ["Suspended", "0/1"]
    quota = wait_for(
        lambda: (r := _row(kubectl, ns, "quota", "q"))[1].startswith("pods: 0/10") and r, "quota"
    )
    assert quota[1:3] == ["pods: 0/10, requests.cpu: 0/2", "limits.memory: 0/4Gi"]
    assert _row(kubectl, ns, "rolebinding", "rb")[1] == "Role/r"
    wide = _table(kubectl, "rolebinding", "rb", "-n", ns, "-o", "wide")[1]
    assert wide.split()[-2:] == ["alice", f"{ns}/default"]
    assert _row(kubectl, ns, "pvc", "claim")[1:3] == ["Pending", ""]
    assert _row(kubectl, ns, "netpol", "np")[1] == "<none>"
    sc = _table(kubectl, "storageclass", "fast")[1].split()
    assert sc[:6] == ["fast", "(default)", "example.com/fast", "Delete", "Immediate", "true"]
    pv = _table(kubectl, "pv", "pv1")[1].split()
    assert pv[:4] == ["pv1", "5Gi", "RWO,RWX", "Retain"]
    ic = _table(kubectl, "ingressclass", "nginx")[1].split()
    assert ic[:3] == ["nginx", "k8s.io/ingress-nginx", "Params.example.com/p"]


def test_table_column_definitions_match_the_printers(api, populated):
    """Types and priorities too (what clients other than kubectl read)."""
    table = raw(
        api,
        "GET",
        "/apis/scheduling.k8s.io/v1/priorityclasses",
        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
    ).json
    assert [(c["name"], c["type"], c["priority"]) for c in table["columnDefinitions"]] == [
        ("Name", "string", 0),
        ("Value", "integer", 0),
        ("Global-Default", "boolean", 0),
        ("Age", "string", 0),
        ("PreemptionPolicy", "string", 1),
    ]
    events = raw(
        api,
        "GET",
        "/api/v1/events",
        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
    ).json
    assert events["columnDefinitions"][0]["name"] == "Last Seen"
    last = events["columnDefinitions"][-1]
    assert (last["name"], last["type"], last["format"], last["priority"]) == (
        "Name",
        "string",
        "name",
        1,
    )
