"""Property: for any object (with fields the form knows nothing about, anywhere), submitting
its form untouched gives back exactly that object, and changing one shown field changes that
path only. The forms alone, no cluster: many objects per second (the cluster round trips are
in test_config_forms.py)."""

from __future__ import annotations

import base64
import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.console.forms.config import (
    ConfigMapForm,
    HorizontalPodAutoscalerForm,
    NamespaceForm,
    SecretForm,
)
from apps.console.forms.network import IngressForm, ServiceForm

NAME = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)
KEY = st.from_regex(r"[A-Za-z][-._A-Za-z0-9]{0,10}", fullmatch=True)
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)
# Fields the forms do not show, with values of the right type for where they go.
EXTRA = st.dictionaries(
    st.sampled_from(["x-note", "appProtocol", "hint", "extra"]), TEXT, max_size=2
)
ANNOTATIONS = st.dictionaries(KEY, TEXT, max_size=3)
PATH_TYPES = ["Prefix", "Exact", "ImplementationSpecific"]


def post_data(form) -> dict:
    """What a browser submits from the form as rendered (disabled fields are not sent,
    write-only values render empty)."""
    data: dict = {}

    def fields_of(bound_form):
        for name, field in bound_form.fields.items():
            if field.disabled:
                continue
            value = bound_form[name].value()
            value = field.widget.format_value(value)
            if isinstance(value, list):  # a select's chosen values
                value = value[0] if value else ""
            data[bound_form.add_prefix(name)] = "" if value is None else str(value)
        for rows in getattr(bound_form, "rows", {}).values():
            for row in rows.forms:
                fields_of(row)

    fields_of(form)
    return data


def roundtrip(form_class, live: dict, changes: dict | None = None) -> dict:
    page = form_class(live=copy.deepcopy(live))
    data = post_data(page)
    data.update(changes or {})
    form = form_class(data, live=copy.deepcopy(live))
    assert form.is_valid(), (form.errors, [r.errors for g in form.rows.values() for r in g])
    return form.build("web")


def meta(name, annotations):
    out = {"name": name, "namespace": "web", "uid": "u-1", "resourceVersion": "7"}
    if annotations:
        out["annotations"] = annotations
    return out


# -- Service ----------------------------------------------------------------------------------
@st.composite
def services(draw):
    count = draw(st.integers(1, 3))
    names = draw(st.lists(NAME, min_size=count, max_size=count, unique=True))
    kind = draw(st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer"]))
    ports = []
    for index, name in enumerate(names):
        port = {
            "name": name,
            "protocol": draw(st.sampled_from(["TCP", "UDP", "SCTP"])),
            "port": draw(st.integers(1, 65535)),
            "targetPort": draw(st.one_of(st.integers(1, 65535), st.just(f"p{index}"))),
            **draw(EXTRA),
        }
        if kind != "ClusterIP":
            port["nodePort"] = 30000 + index
        ports.append(port)
    spec = {
        "type": kind,
        "sessionAffinity": draw(st.sampled_from(["None", "ClientIP"])),
        "ports": ports,
        "clusterIP": "10.0.0.9",
        **{k: v for k, v in draw(EXTRA).items() if k != "appProtocol"},
    }
    if draw(st.booleans()):
        spec["selector"] = draw(st.dictionaries(NAME, NAME, min_size=1, max_size=3))
    if spec["sessionAffinity"] == "ClientIP" and draw(st.booleans()):
        spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 300}}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(draw(NAME), draw(ANNOTATIONS)),
        "spec": spec,
        "status": {"loadBalancer": {}},
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(services(), st.integers(1, 65535))
def test_service_form_round_trip(live, new_port):
    assert roundtrip(ServiceForm, live) == live
    changed = roundtrip(ServiceForm, live, {"ports-0-port": str(new_port)})
    expected = copy.deepcopy(live)
    expected["spec"]["ports"][0]["port"] = new_port
    assert changed == expected


# -- Ingress ----------------------------------------------------------------------------------
@st.composite
def ingresses(draw):
    rules = []
    for _ in range(draw(st.integers(0, 3))):
        paths = []
        for _ in range(draw(st.integers(1, 3))):
            if draw(st.booleans()):
                port = draw(st.one_of(st.builds(lambda n: {"number": n}, st.integers(1, 65535)),
                                      st.builds(lambda n: {"name": n}, NAME)))  # fmt: skip
                backend = {"service": {"name": draw(NAME), "port": port}}
            else:
                backend = {"resource": {"apiGroup": "x.example.com", "kind": "B",
                                        "name": draw(NAME)}}  # fmt: skip
            paths.append(
                {
                    "path": "/" + draw(NAME),
                    "pathType": draw(
                        st.sampled_from(["Prefix", "Exact", "ImplementationSpecific"])
                    ),
                    "backend": backend,
                    **draw(EXTRA),
                }
            )
        rule = {"http": {"paths": paths}}
        if draw(st.booleans()):
            rule["host"] = f"{draw(NAME)}.example.com"
        rules.append(rule)
    spec: dict = {}
    if rules:
        spec["rules"] = rules
    if draw(st.booleans()):
        spec["ingressClassName"] = draw(NAME)
    if draw(st.booleans()):
        spec["defaultBackend"] = {"service": {"name": draw(NAME), "port": {"number": 80}}}
    if draw(st.booleans()):
        spec["tls"] = [{"hosts": [f"{draw(NAME)}.example.com"], "secretName": draw(NAME),
                        **draw(EXTRA)}]  # fmt: skip
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": meta(draw(NAME), draw(ANNOTATIONS)),
        "spec": spec,
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ingresses())
def test_ingress_form_round_trip(live):
    assert roundtrip(IngressForm, live) == live
    if live["spec"].get("rules"):
        changed = roundtrip(IngressForm, live, {"rules-0-paths-0-path": "/changed"})
        expected = copy.deepcopy(live)
        expected["spec"]["rules"][0]["http"]["paths"][0]["path"] = "/changed"
        assert changed == expected


# -- ConfigMap, Secret, HPA -------------------------------------------------------------------
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(KEY, TEXT, max_size=4),
    st.dictionaries(KEY, st.binary(max_size=8), max_size=2),
    ANNOTATIONS,
    st.booleans(),
)
def test_configmap_form_round_trip(data, binary, annotations, immutable):
    live = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("c", annotations)}
    if data:
        live["data"] = data
    if binary:
        live["binaryData"] = {k: base64.b64encode(v).decode() for k, v in binary.items()}
    if immutable:
        live["immutable"] = False
    assert roundtrip(ConfigMapForm, live) == live


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(KEY, st.binary(max_size=16), min_size=1, max_size=4), ANNOTATIONS)
def test_secret_form_round_trip_never_needs_the_values(values, annotations):
    live = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta("s", annotations),
        "type": "Opaque",
        "data": {k: base64.b64encode(v).decode() for k, v in values.items()},
    }
    page = SecretForm(live=copy.deepcopy(live))
    submitted = post_data(page)
    assert not any(
        v and v in submitted.values() for v in [*live["data"].values(), *map(repr, values.values())]
    )
    assert roundtrip(SecretForm, live) == live


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 50), st.integers(50, 100), st.booleans(), st.booleans(), st.booleans())
def test_hpa_form_round_trip(low, high, cpu, pods_metric, behavior):
    metrics = []
    if pods_metric:
        metrics.append({"type": "Pods", "pods": {"metric": {"name": "qps"},
                        "target": {"type": "AverageValue", "averageValue": "1k"}}})  # fmt: skip
    if cpu:
        metrics.append({"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": 50}}})  # fmt: skip
    spec = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": low,
        "maxReplicas": high,
    }
    if metrics:
        spec["metrics"] = metrics
    if behavior:
        spec["behavior"] = {"scaleDown": {"stabilizationWindowSeconds": 60}}
    live = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta("h", {}),
        "spec": spec,
    }
    assert roundtrip(HorizontalPodAutoscalerForm, live) == live
    changed = roundtrip(HorizontalPodAutoscalerForm, live, {"memory": "70"})
    assert changed["spec"]["metrics"][: len(metrics)] == metrics
    memory = {"type": "Utilization", "averageUtilization": 70}
    added = {"type": "Resource", "resource": {"name": "memory", "target": memory}}
    assert changed["spec"]["metrics"][len(metrics) :] == [added]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(NAME, NAME, max_size=4), st.booleans(), ANNOTATIONS)
def test_namespace_form_round_trip(labels, in_project, annotations):
    labels = {**labels, "kubernetes.io/metadata.name": "team"}
    if in_project:
        labels.update({"tkeportal.io/project": "prj-a", "tkeportal.io/tenant": "acme"})
    live = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {**meta("team", annotations), "labels": labels},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }
    live["metadata"].pop("namespace")
    assert roundtrip(NamespaceForm, live) == live
    changed = roundtrip(NamespaceForm, live, {"labels-99-key": "x-added", "labels-99-value": "y"})
    expected = copy.deepcopy(live)
    expected["metadata"]["labels"]["x-added"] = "y"
    assert changed == expected
