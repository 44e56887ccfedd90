"""Objects for the config and network forms' round trips: each holds many fields its form
does not show, all valid for a 1.37 API server (kubesim validates strictly), and the edit a
test makes through the form, with the paths that edit changes."""

from __future__ import annotations

import base64
import copy
import html.parser

SECRET_VALUES = ("s3cr3t-Passw0rd-xyzzy", "admin-user-plugh", "n3w-T0ken-frobozz")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {
        "name": "shop",
        "labels": {"app": "shop", "tier": "web"},
        "annotations": {"example.com/owner": "team-a", "example.com/note": "keep me"},
    },
    "spec": {
        "type": "NodePort",
        "selector": {"app": "shop"},
        "ports": [
            {
                "name": "http",
                "protocol": "TCP",
                "port": 80,
                "targetPort": 8080,
                "nodePort": 30080,
                "appProtocol": "http",
            },
            {
                "name": "metrics",
                "protocol": "TCP",
                "port": 9090,
                "targetPort": "metrics",
                "nodePort": 30090,
                "appProtocol": "example.com/prometheus",
            },
        ],
        "sessionAffinity": "ClientIP",
        "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 600}},
        "externalTrafficPolicy": "Local",
        "internalTrafficPolicy": "Local",
        "publishNotReadyAddresses": True,
        "ipFamilyPolicy": "SingleStack",
        "ipFamilies": ["IPv4"],
    },
}

INGRESS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {
        "name": "shop",
        "labels": {"app": "shop"},
        "annotations": {"nginx.ingress.kubernetes.io/rewrite-target": "/"},
    },
    "spec": {
        "ingressClassName": "nginx",
        "defaultBackend": {"service": {"name": "shop", "port": {"number": 80}}},
        "rules": [
            {
                "host": "shop.example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "shop", "port": {"number": 80}}},
                        },
                        {
                            "path": "/assets",
                            "pathType": "ImplementationSpecific",
                            "backend": {
                                "resource": {
                                    "apiGroup": "storage.example.com",
                                    "kind": "Bucket",
                                    "name": "assets",
                                }
                            },
                        },
                    ]
                },
            }
        ],
        "tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}],
    },
}

CONFIGMAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {
        "name": "shop-config",
        "labels": {"app": "shop"},
        "annotations": {"example.com/source": "git@example.com:shop/config"},
    },
    "data": {
        "MODE": "fast",
        "app.conf": "listen 80;\nworkers 4;\n",
        "windows.ini": "[section]\r\nkey=value\r\n",
        "padded.txt": "\n  indented\n\n",
        "empty": "",
    },
    "binaryData": {"logo.png": base64.b64encode(b"\x89PNG\r\n\x1a\n\x00binary").decode()},
}

SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {
        "name": "shop-db",
        "labels": {"app": "shop"},
        "annotations": {"example.com/rotated": "2026-01-01"},
    },
    "type": "Opaque",
    "data": {"password": b64(SECRET_VALUES[0]), "username": b64(SECRET_VALUES[1])},
}

NAMESPACE = {
    "apiVersion": "v1",
    "kind": "Namespace",
    "metadata": {
        "name": "shop-staging",
        "labels": {"team": "shop"},
        "annotations": {"scheduler.alpha.kubernetes.io/node-selector": "env=staging"},
    },
}

HPA = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "frontend", "annotations": {"example.com/owner": "team-a"}},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "frontend"},
        "minReplicas": 2,
        "maxReplicas": 5,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 70},
                },
            },
            {
                "type": "Pods",
                "pods": {
                    "metric": {"name": "packets-per-second"},
                    "target": {"type": "AverageValue", "averageValue": "1k"},
                },
            },
        ],
        "behavior": {
            "scaleDown": {
                "stabilizationWindowSeconds": 300,
                "policies": [{"type": "Percent", "value": 10, "periodSeconds": 60}],
            }
        },
    },
}

# kind plural → (object, namespace ("" = cluster-scoped), form edits, paths the edits change)
ROUND_TRIPS = {
    "services": (
        SERVICE,
        "web",
        {"ports-0-port": "8081", "selector-9-key": "tier", "selector-9-value": "web"},
        [("spec", "ports", 0, "port"), ("spec", "selector", "tier")],
    ),
    "ingresses": (
        INGRESS,
        "web",
        {"rules-0-paths-0-path": "/shop", "tls-0-secret_name": "shop-cert"},
        [("spec", "rules", 0, "http", "paths", 0, "path"), ("spec", "tls", 0, "secretName")],
    ),
    "configmaps": (
        CONFIGMAP,
        "web",
        {"entries-0-value": "slow", "entries-7-key": "EXTRA", "entries-7-value": "a\nb"},
        [("data", "MODE"), ("data", "EXTRA")],
    ),
    "secrets": (
        SECRET,
        "web",
        {"entries-5-key": "token", "entries-5-secret_value": SECRET_VALUES[2]},
        [("data", "token")],
    ),
    "namespaces": (
        NAMESPACE,
        "",
        {"labels-4-key": "env", "labels-4-value": "staging"},
        [("metadata", "labels", "env")],
    ),
    "horizontalpodautoscalers": (
        HPA,
        "web",
        {"max_replicas": "8"},
        [("spec", "maxReplicas")],
    ),
}

# What changes without anyone editing (and what a write always moves).
NOISE = ("resourceVersion", "generation", "managedFields")


def without(obj: dict, paths) -> dict:
    """``obj`` without ``paths`` and the noise (status, resourceVersion, …)."""
    out = copy.deepcopy(obj)
    out.pop("status", None)
    for key in NOISE:
        out.get("metadata", {}).pop(key, None)
    for path in paths:
        node = out
        for key in path[:-1]:
            node = node[key]
        if isinstance(node, dict):
            node.pop(path[-1], None)
        else:
            node[path[-1]] = None
    return out


class FormFields(html.parser.HTMLParser):
    """The fields a browser would submit from the page's form that holds ``marker`` (a field
    name), as it was rendered: inputs (checked boxes only), selects (the selected option),
    textareas. Fields inside ``<template>`` (rows to clone) are not part of the form."""

    def __init__(self, marker: str = "basis"):
        super().__init__(convert_charrefs=True)
        self.marker = marker
        self.forms: list[dict] = []
        self.current: dict | None = None
        self.in_template = 0
        self.select: str | None = None
        self.select_first: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "template":
            self.in_template += 1
        if tag == "form":
            self.current = {}
            self.forms.append(self.current)
        if self.current is None or self.in_template:
            return
        name = attrs.get("name")
        if tag == "input" and name and "disabled" not in attrs:
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            if kind in ("submit", "button", "file"):
                return
            self.current[name] = attrs.get("value") or ""
        elif tag == "select" and name and "disabled" not in attrs:
            self.select, self.select_first = name, None
        elif tag == "option" and self.select:
            value = attrs.get("value", "")
            if self.select_first is None:
                self.select_first = value
                self.current.setdefault(self.select, value)
            if "selected" in attrs:
                self.current[self.select] = value
        elif tag == "textarea" and name and "disabled" not in attrs:
            self.textarea = name
            self.current[name] = ""

    def handle_endtag(self, tag):
        if tag == "template":
            self.in_template -= 1
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None
        elif tag == "form":
            self.current = None

    def handle_data(self, data):
        if self.textarea and self.current is not None and not self.in_template:
            self.current[self.textarea] += data

    def fields(self) -> dict:
        for form in self.forms:
            if self.marker in form:
                # A textarea's first newline after the tag is not part of its value.
                return {k: (v[1:] if v.startswith("\n") else v) for k, v in form.items()}
        raise AssertionError(f"no form with a {self.marker!r} field on the page")


def form_fields(page: str, marker: str = "basis") -> dict:
    parser = FormFields(marker)
    parser.feed(page)
    return parser.fields()
