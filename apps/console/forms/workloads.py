"""Forms for Deployment, StatefulSet, DaemonSet, Job and CronJob.

What each owns (everything else of the object is kept, see :mod:`.base`):

- the pod template's containers, matched by name: name, image, command, args, env (literal
  values and ConfigMap/Secret keys; other ``valueFrom`` kinds are kept, not shown), ports,
  cpu/memory requests and limits, liveness/readiness probes (handler, path, port, command,
  initial delay, period), volume mounts;
- its volumes of type configMap, secret, emptyDir and persistentVolumeClaim (others kept);
- the ``kubernetes.io/arch`` and ``nvidia.com/gpu.present`` node selector keys, tolerations;
- per kind: replicas and update strategy; Job completions, parallelism, backoff limit and
  restart policy; CronJob schedule, suspend and concurrency policy.
"""

from __future__ import annotations

import copy
import re

from django import forms
from django.core.exceptions import ValidationError
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from .base import (
    ObjectForm,
    RowForm,
    by_index,
    by_name,
    dotted,
    get_in,
    lines,
    merge_rows,
    project_rows,
    put,
    unlines,
)
from .registry import register

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# Kubernetes' quantity grammar: a number (decimal or with an exponent) and an optional suffix.
QUANTITY = re.compile(
    r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[numkMGTPE]|[KMGTPE]i)?$"
)
INT_OR_PERCENT = re.compile(r"^[0-9]+%?$")
ARCH_KEY = "kubernetes.io/arch"
GPU_KEY = "nvidia.com/gpu.present"
PROBES = (("liveness", "livenessProbe"), ("readiness", "readinessProbe"))
HANDLERS = ("httpGet", "tcpSocket", "exec", "grpc")
VOLUME_SOURCES = {
    "configMap": "name",
    "secret": "secretName",
    "emptyDir": "",
    "persistentVolumeClaim": "claimName",
}


def _quantity(value: str) -> str:
    if value and not QUANTITY.match(value):
        raise ValidationError(_("A quantity such as 250m, 1, 512Mi or 2Gi."))
    return value


def _int_or_string(value: str):
    """A port or surge: a number becomes an int, a name or percentage stays a string."""
    if value in ("", None):
        return None
    return int(value) if str(value).isdigit() else value


def _prune(obj: dict, path: tuple) -> None:
    """Remove the empty mappings left at ``path`` and above (after a value was removed)."""
    for depth in range(len(path), 0, -1):
        value = get_in(obj, path[:depth])
        if value == {}:
            put(obj, path[:depth], None)
        else:
            return


# -- rows ------------------------------------------------------------------------------------------
class EnvForm(RowForm):
    significant = ("name", "value", "ref_name")
    name = forms.CharField(label=_("Variable"), max_length=253)
    source = forms.ChoiceField(
        label=_("Source"),
        choices=[
            ("value", _("Value")),
            ("configMap", _("ConfigMap key")),
            ("secret", _("Secret key")),
        ],
        initial="value",
    )
    value = forms.CharField(label=_("Value"), required=False, strip=False)
    ref_name = forms.CharField(label=_("ConfigMap or Secret"), required=False, max_length=253)
    ref_key = forms.CharField(label=_("Key"), required=False, max_length=253)

    def clean(self):
        data = super().clean()
        if data.get("source") in ("configMap", "secret"):
            for field in ("ref_name", "ref_key"):
                if not data.get(field):
                    self.add_error(field, _("Required for a value from a ConfigMap or Secret."))
        return data


def _env_shown(item: dict) -> bool:
    source = item.get("valueFrom")
    if source is None:
        return True
    return isinstance(source, dict) and list(source) in (["configMapKeyRef"], ["secretKeyRef"])


def _env_read(item: dict) -> dict:
    source = item.get("valueFrom") or {}
    for kind, key in (("configMap", "configMapKeyRef"), ("secret", "secretKeyRef")):
        if key in source:
            ref = source[key] or {}
            return {
                "name": item.get("name", ""),
                "source": kind,
                "ref_name": ref.get("name", ""),
                "ref_key": ref.get("key", ""),
            }
    return {"name": item.get("name", ""), "source": "value", "value": item.get("value", "")}


class PortForm(RowForm):
    significant = ("container_port", "name")
    name = forms.RegexField(label=_("Port name"), regex=DNS_LABEL, max_length=15, required=False)
    container_port = forms.IntegerField(label=_("Container port"), min_value=1, max_value=65535)
    protocol = forms.ChoiceField(
        label=_("Protocol"),
        choices=[("TCP", "TCP"), ("UDP", "UDP"), ("SCTP", "SCTP")],
        initial="TCP",
    )


class MountForm(RowForm):
    significant = ("name", "mount_path")
    name = forms.CharField(label=_("Volume"), max_length=63)
    mount_path = forms.CharField(label=_("Mount path"), max_length=1024)
    sub_path = forms.CharField(label=_("Sub path"), required=False, max_length=1024)
    read_only = forms.BooleanField(label=_("Read only"), required=False)


def _probe_fields(prefix: str, label) -> dict[str, forms.Field]:
    return {
        f"{prefix}_type": forms.ChoiceField(
            label=label,
            required=False,
            choices=[
                ("", _("None")),
                ("httpGet", _("HTTP GET")),
                ("tcpSocket", _("TCP socket")),
                ("exec", _("Command")),
                ("grpc", _("gRPC")),
                ("other", _("Other (kept as it is)")),
            ],
        ),
        f"{prefix}_path": forms.CharField(label=_("Path"), required=False, max_length=1024),
        f"{prefix}_port": forms.CharField(label=_("Port"), required=False, max_length=15),
        f"{prefix}_command": forms.CharField(
            label=_("Command (one argument per line)"),
            required=False,
            widget=forms.Textarea(attrs={"rows": 2}),
        ),
        f"{prefix}_initial_delay": forms.IntegerField(
            label=_("Initial delay (s)"), required=False, min_value=0
        ),
        f"{prefix}_period": forms.IntegerField(label=_("Period (s)"), required=False, min_value=1),
    }


class ContainerForm(RowForm):
    significant = ("name", "image")
    groups = {
        "env": (EnvForm, "__i__"),
        "ports": (PortForm, "__i__"),
        "mounts": (MountForm, "__i__"),
    }

    name = forms.RegexField(
        label=_("Container name"),
        regex=DNS_LABEL,
        max_length=63,
        error_messages={"invalid": _("Lowercase letters, digits and '-'.")},
    )
    image = forms.CharField(label=_("Image"), max_length=1024)
    command = forms.CharField(
        label=_("Command (one argument per line)"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    args = forms.CharField(
        label=_("Arguments (one per line)"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    cpu_request = forms.CharField(label=_("CPU request"), required=False, validators=[_quantity])
    memory_request = forms.CharField(
        label=_("Memory request"), required=False, validators=[_quantity]
    )
    cpu_limit = forms.CharField(label=_("CPU limit"), required=False, validators=[_quantity])
    memory_limit = forms.CharField(label=_("Memory limit"), required=False, validators=[_quantity])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for prefix, label in (
            ("liveness", _("Liveness probe")),
            ("readiness", _("Readiness probe")),
        ):
            self.fields.update(_probe_fields(prefix, label))

    def probe_fields(self):
        """(label, [bound fields]) per probe, for the template."""
        return [
            (
                self[f"{prefix}_type"],
                [
                    self[f"{prefix}_{f}"]
                    for f in ("path", "port", "command", "initial_delay", "period")
                ],
            )
            for prefix, _key in PROBES
        ]

    def resource_fields(self):
        return [self[f] for f in ("cpu_request", "memory_request", "cpu_limit", "memory_limit")]


def _container_read(item: dict) -> dict:
    resources = item.get("resources") or {}
    row = {
        "name": item.get("name", ""),
        "image": item.get("image", ""),
        "command": lines(item.get("command")),
        "args": lines(item.get("args")),
        "cpu_request": (resources.get("requests") or {}).get("cpu", ""),
        "memory_request": (resources.get("requests") or {}).get("memory", ""),
        "cpu_limit": (resources.get("limits") or {}).get("cpu", ""),
        "memory_limit": (resources.get("limits") or {}).get("memory", ""),
        "env": project_rows(item.get("env"), by_name, _env_read, _env_shown),
        "ports": project_rows(
            item.get("ports"),
            by_index,
            lambda p: {
                "name": p.get("name", ""),
                "container_port": p.get("containerPort"),
                "protocol": p.get("protocol", "TCP"),
            },
        ),
        "mounts": project_rows(
            item.get("volumeMounts"),
            by_index,
            lambda m: {
                "name": m.get("name", ""),
                "mount_path": m.get("mountPath", ""),
                "sub_path": m.get("subPath", ""),
                "read_only": bool(m.get("readOnly")),
            },
        ),
    }
    for prefix, key in PROBES:
        probe = item.get(key)
        if not isinstance(probe, dict):
            row[f"{prefix}_type"] = ""
            continue
        handler = next((h for h in HANDLERS if h in probe), "other")
        body = probe.get(handler) or {} if handler != "other" else {}
        row.update(
            {
                f"{prefix}_type": handler,
                f"{prefix}_path": body.get("path", ""),
                f"{prefix}_port": str(body.get("port", "")),
                f"{prefix}_command": lines(body.get("command")),
                f"{prefix}_initial_delay": probe.get("initialDelaySeconds"),
                f"{prefix}_period": probe.get("periodSeconds"),
            }
        )
    return row


class VolumeForm(RowForm):
    significant = ("name", "ref")
    name = forms.RegexField(label=_("Volume name"), regex=DNS_LABEL, max_length=63)
    source = forms.ChoiceField(
        label=_("Type"),
        choices=[
            ("configMap", _("ConfigMap")),
            ("secret", _("Secret")),
            ("emptyDir", _("Empty directory")),
            ("persistentVolumeClaim", _("Persistent volume claim")),
        ],
        initial="configMap",
    )
    ref = forms.CharField(
        label=_("ConfigMap, Secret or claim name"), required=False, max_length=253
    )

    def clean(self):
        data = super().clean()
        if data.get("source") != "emptyDir" and not data.get("ref"):
            self.add_error("ref", _("Name the ConfigMap, Secret or claim."))
        return data


def _volume_shown(item: dict) -> bool:
    sources = [key for key in item if key != "name"]
    return len(sources) == 1 and sources[0] in VOLUME_SOURCES


def _volume_read(item: dict) -> dict:
    source = next(key for key in item if key != "name")
    field = VOLUME_SOURCES[source]
    return {
        "name": item.get("name", ""),
        "source": source,
        "ref": (item.get(source) or {}).get(field, "") if field else "",
    }


class TolerationForm(RowForm):
    significant = ("key", "value", "effect")
    key = forms.CharField(label=_("Key"), required=False, max_length=317)
    operator = forms.ChoiceField(
        label=_("Operator"), choices=[("Equal", "Equal"), ("Exists", "Exists")], initial="Equal"
    )
    value = forms.CharField(label=_("Value"), required=False, max_length=63)
    effect = forms.ChoiceField(
        label=_("Effect"),
        required=False,
        choices=[
            ("", _("Any")),
            ("NoSchedule", "NoSchedule"),
            ("PreferNoSchedule", "PreferNoSchedule"),
            ("NoExecute", "NoExecute"),
        ],
    )


def _toleration_read(item: dict) -> dict:
    return {
        "key": item.get("key", ""),
        "operator": item.get("operator", "Equal"),
        "value": item.get("value", ""),
        "effect": item.get("effect", ""),
    }


# -- the pod template ------------------------------------------------------------------------------
class PodTemplateForm(ObjectForm):
    """What every workload form shows of its pod template (at ``template_path``)."""

    template_name = "console/forms/workload.html"
    template_path: tuple = ("spec", "template")
    api_version = "apps/v1"
    kind_name = ""
    groups = {
        "containers": (ContainerForm, "__c__"),
        "volumes": (VolumeForm, "__i__"),
        "tolerations": (TolerationForm, "__i__"),
    }

    arch = forms.ChoiceField(
        label=_("Node architecture"),
        required=False,
        choices=[("", _("Any")), *((a, a) for a in ("amd64", "arm64", "arm", "ppc64le", "s390x"))],
    )
    gpu = forms.BooleanField(label=_("Only nodes with a GPU"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A node selector value the form does not list is still offered: never refused.
        arch = self.initial.get("arch")
        field = self.fields["arch"]
        if arch and arch not in dict(field.choices):
            field.choices = [*field.choices, (arch, arch)]

    @classmethod
    def done_url(cls, cluster, kind, namespace, name):
        try:
            return reverse(
                "console:workload",
                kwargs={
                    "cluster": cluster,
                    "namespace": namespace,
                    "kind": kind.plural,
                    "name": name,
                },  # fmt: skip
            )
        except NoReverseMatch:
            return super().done_url(cluster, kind, namespace, name)

    # Fields of the kind (shown in the "Workload" fieldset, in this order).
    kind_fields: tuple[str, ...] = ()

    def kind_bound_fields(self):
        return [self[name] for name in self.kind_fields if name in self.fields]

    # -- projection -------------------------------------------------------------------------------
    @classmethod
    def project(cls, obj: dict) -> dict:
        spec = get_in(obj, (*cls.template_path, "spec")) or {}
        selector = spec.get("nodeSelector") or {}
        initial = {
            "containers": project_rows(spec.get("containers"), by_name, _container_read),
            "volumes": project_rows(spec.get("volumes"), by_name, _volume_read, _volume_shown),
            "tolerations": project_rows(spec.get("tolerations"), by_index, _toleration_read),
            "arch": selector.get(ARCH_KEY, ""),
            "gpu": selector.get(GPU_KEY) == "true",
        }
        initial.update(cls.project_kind(obj))
        return initial

    @classmethod
    def project_kind(cls, obj: dict) -> dict:
        return {}

    def blank(self) -> dict:
        return {"containers": [{"name": "app", "image": "", "env": [], "ports": [], "mounts": []}]}

    # -- validation --------------------------------------------------------------------------------
    def clean(self):
        data = super().clean()
        if "containers" in self.rows and not self.rows["containers"].forms:
            raise ValidationError(_("A workload needs at least one container."))
        return data

    # -- merging -----------------------------------------------------------------------------------
    def merge_into(self, live: dict, cleaned: dict | None = None) -> dict:
        cleaned = cleaned if cleaned is not None else self.cleaned()
        obj = copy.deepcopy(live)
        spec = (*self.template_path, "spec")
        pod = get_in(obj, spec)
        if not isinstance(pod, dict):
            put(obj, spec, {})
            pod = get_in(obj, spec)
        pod["containers"] = merge_rows(
            pod.get("containers"),
            cleaned["containers"],
            by_name,
            lambda base, row, i: self._container(base, row, (*spec, "containers", i)),
        )
        self.own((*spec, "containers"), self, "__all__")
        self._list(
            pod,
            spec,
            "volumes",
            merge_rows(
                pod.get("volumes"),
                cleaned["volumes"],
                by_name,
                lambda base, row, i: self._volume(base, row, (*spec, "volumes", i)),
                _volume_shown,
            ),
        )
        self._list(
            pod,
            spec,
            "tolerations",
            merge_rows(
                pod.get("tolerations"),
                cleaned["tolerations"],
                by_index,
                lambda base, row, i: self._toleration(base, row, (*spec, "tolerations", i)),
            ),
        )
        selector = (*spec, "nodeSelector")
        had_selector = bool(pod.get("nodeSelector"))
        self.set(obj, (*selector, ARCH_KEY), cleaned.get("arch") or None, field="arch")
        if cleaned.get("gpu"):
            self.set(obj, (*selector, GPU_KEY), "true", field="gpu")
        elif (pod.get("nodeSelector") or {}).get(GPU_KEY) == "true":
            self.set(obj, (*selector, GPU_KEY), None, field="gpu")
        if had_selector or pod.get("nodeSelector") == {}:
            _prune(obj, selector)
        self.merge_kind(obj, cleaned)
        return obj

    def merge_kind(self, obj: dict, cleaned: dict) -> None:
        """The kind's own fields (replicas, strategy, schedule …)."""

    def _list(self, pod: dict, spec: tuple, key: str, merged: list) -> None:
        if merged or key in pod:
            pod[key] = merged
        self.own((*spec, key), self, "__all__")

    def _container(self, base: dict, row: dict, path: tuple) -> dict:
        form = row["_form"]
        self.own(path, form, "name")
        base["name"] = row["name"]
        self.own((*path, "name"), form, "name")
        base["image"] = row["image"]
        self.own((*path, "image"), form, "image")
        for key in ("command", "args"):
            # One argument per line is exact unless an argument holds a newline: unchanged
            # text keeps the live list as it is.
            if lines(base.get(key)) != (row[key] or "").replace("\r\n", "\n"):
                put(base, (key,), unlines(row[key]) or None)
            self.own((*path, key), form, key)
        base_env = merge_rows(
            base.get("env"),
            row["env"],
            by_name,
            lambda b, r, i: self._env(b, r, (*path, "env", i)),
            _env_shown,
        )
        self._into(base, "env", base_env)
        ports = merge_rows(
            base.get("ports"),
            row["ports"],
            by_index,
            lambda b, r, i: self._port(b, r, (*path, "ports", i)),
        )
        self._into(base, "ports", ports)
        mounts = merge_rows(
            base.get("volumeMounts"),
            row["mounts"],
            by_index,
            lambda b, r, i: self._mount(b, r, (*path, "volumeMounts", i)),
        )
        self._into(base, "volumeMounts", mounts)
        had_resources = "resources" in base
        for section, resource, field in (
            ("requests", "cpu", "cpu_request"),
            ("requests", "memory", "memory_request"),
            ("limits", "cpu", "cpu_limit"),
            ("limits", "memory", "memory_limit"),
        ):
            put(base, ("resources", section, resource), row[field] or None)
            self.own((*path, "resources", section, resource), form, field)
            # the cluster names a resource as a map key: resources.requests[cpu]
            self.paths[f"{dotted((*path, 'resources', section))}[{resource}]"] = (form, field)
            if resource == "cpu":  # "requests: must be less than … limit" names no resource
                self.own((*path, "resources", section), form, field)
            if not row[field]:
                _prune(base, ("resources", section))
        if not had_resources:
            _prune(base, ("resources",))
        for prefix, key in PROBES:
            probe = self._probe(base.get(key), row, prefix, (*path, key))
            put(base, (key,), probe)
        return base

    @staticmethod
    def _into(base: dict, key: str, merged: list) -> None:
        if merged or key in base:
            base[key] = merged

    def _env(self, base: dict, row: dict, path: tuple) -> dict:
        form = row["_form"]
        base["name"] = row["name"]
        self.own(path, form, "name")
        self.own((*path, "name"), form, "name")
        if row["source"] == "value":
            base.pop("valueFrom", None)
            put(base, ("value",), row["value"] or None)
            self.own((*path, "value"), form, "value")
            return base
        key = "configMapKeyRef" if row["source"] == "configMap" else "secretKeyRef"
        base.pop("value", None)
        source = base.get("valueFrom") if isinstance(base.get("valueFrom"), dict) else {}
        ref = source.get(key) if isinstance(source.get(key), dict) else {}
        ref.update(name=row["ref_name"], key=row["ref_key"])
        base["valueFrom"] = {key: ref}
        self.own((*path, "valueFrom", key, "name"), form, "ref_name")
        self.own((*path, "valueFrom", key, "key"), form, "ref_key")
        self.own((*path, "valueFrom"), form, "source")
        return base

    def _port(self, base: dict, row: dict, path: tuple) -> dict:
        form = row["_form"]
        put(base, ("name",), row["name"] or None)
        base["containerPort"] = row["container_port"]
        if row["protocol"] != "TCP" or "protocol" in base:
            base["protocol"] = row["protocol"]
        for key, field in (("name", "name"), ("containerPort", "container_port"),
                           ("protocol", "protocol")):  # fmt: skip
            self.own((*path, key), form, field)
        self.own(path, form, "container_port")
        return base

    def _mount(self, base: dict, row: dict, path: tuple) -> dict:
        form = row["_form"]
        base["name"] = row["name"]
        base["mountPath"] = row["mount_path"]
        put(base, ("subPath",), row["sub_path"] or None)
        if row["read_only"]:
            base["readOnly"] = True
        else:
            base.pop("readOnly", None)
        for key, field in (("name", "name"), ("mountPath", "mount_path"),
                           ("subPath", "sub_path"), ("readOnly", "read_only")):  # fmt: skip
            self.own((*path, key), form, field)
        self.own(path, form, "mount_path")
        return base

    def _probe(self, live_probe, row: dict, prefix: str, path: tuple):
        form = row["_form"]
        kind = row[f"{prefix}_type"]
        self.own(path, form, f"{prefix}_type")
        if kind == "other":
            return copy.deepcopy(live_probe)
        if not kind:
            return None
        probe = copy.deepcopy(live_probe) if isinstance(live_probe, dict) else {}
        for handler in HANDLERS:
            if handler != kind:
                probe.pop(handler, None)
        body = probe.get(kind) if isinstance(probe.get(kind), dict) else {}
        port = _int_or_string(row[f"{prefix}_port"])
        if kind == "httpGet":
            body["path"] = row[f"{prefix}_path"] or "/"
            body["port"] = port
        elif kind in ("tcpSocket", "grpc"):
            body["port"] = port
        else:
            text = row[f"{prefix}_command"] or ""
            if lines(body.get("command")) != text.replace("\r\n", "\n"):
                body["command"] = unlines(text)
        probe[kind] = body
        for key, field in (("path", "path"), ("port", "port"), ("command", "command")):
            self.own((*path, kind, key), form, f"{prefix}_{field}")
        self.own((*path, kind), form, f"{prefix}_type")
        for key, field in (("initialDelaySeconds", "initial_delay"), ("periodSeconds", "period")):
            put(probe, (key,), row[f"{prefix}_{field}"])
            self.own((*path, key), form, f"{prefix}_{field}")
        return probe

    def _volume(self, base: dict, row: dict, path: tuple) -> dict:
        form = row["_form"]
        base["name"] = row["name"]
        source = row["source"]
        for other in VOLUME_SOURCES:
            if other != source:
                base.pop(other, None)
        body = base.get(source) if isinstance(base.get(source), dict) else {}
        field = VOLUME_SOURCES[source]
        if field:
            body[field] = row["ref"]
            self.own((*path, source, field), form, "ref")
        base[source] = body
        self.own(path, form, "name")
        self.own((*path, "name"), form, "name")
        return base

    def _toleration(self, base: dict, row: dict, path: tuple) -> dict:
        form = row["_form"]
        put(base, ("key",), row["key"] or None)
        base["operator"] = row["operator"]
        put(base, ("value",), None if row["operator"] == "Exists" else (row["value"] or None))
        put(base, ("effect",), row["effect"] or None)
        for key in ("key", "operator", "value", "effect"):
            self.own((*path, key), form, key)
        self.own(path, form, "key")
        return base

    # -- creating ----------------------------------------------------------------------------------
    def skeleton(self, namespace: str | None, name: str) -> dict:
        labels = {"app": name}
        return {
            "apiVersion": self.api_version,
            "kind": self.kind_name,
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "spec": {
                "selector": {"matchLabels": dict(labels)},
                "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": []}},
            },
        }

    # -- helpers for the kinds' fields -------------------------------------------------------------
    def _number(self, obj: dict, path: tuple, cleaned: dict, field: str) -> None:
        if field in self.fields:
            self.set(obj, path, cleaned.get(field), field=field)


def _strategy_fields(types, default):
    return forms.ChoiceField(label=_("Update strategy"), choices=types, initial=default)


class DeploymentForm(PodTemplateForm):
    kind_name = "Deployment"
    kind_fields = ("replicas", "strategy", "max_surge", "max_unavailable")
    replicas = forms.IntegerField(label=_("Replicas"), min_value=0, initial=1, required=False)
    strategy = _strategy_fields(
        [("RollingUpdate", _("Rolling update")), ("Recreate", _("Recreate"))], "RollingUpdate"
    )
    max_surge = forms.RegexField(
        label=_("Max surge"),
        regex=INT_OR_PERCENT,
        required=False,
        help_text=_("A number of pods or a percentage"),
    )
    max_unavailable = forms.RegexField(
        label=_("Max unavailable"), regex=INT_OR_PERCENT, required=False
    )

    @classmethod
    def project_kind(cls, obj):
        strategy = get_in(obj, ("spec", "strategy")) or {}
        rolling = strategy.get("rollingUpdate") or {}
        return {
            "replicas": get_in(obj, ("spec", "replicas")),
            "strategy": strategy.get("type", "RollingUpdate"),
            "max_surge": str(rolling.get("maxSurge", "")),
            "max_unavailable": str(rolling.get("maxUnavailable", "")),
        }

    def blank(self):
        return {**super().blank(), "replicas": 1, "strategy": "RollingUpdate"}

    def merge_kind(self, obj, cleaned):
        self._number(obj, ("spec", "replicas"), cleaned, "replicas")
        _rolling(self, obj, cleaned, "strategy", "RollingUpdate",
                 {"maxSurge": "max_surge", "maxUnavailable": "max_unavailable"})  # fmt: skip


def _rolling(form, obj, cleaned, key, rolling_type, fields: dict) -> None:
    """``spec.<key>.type`` and, for a rolling update, its ``rollingUpdate`` fields (any other
    type has none: the API server refuses them)."""
    strategy = ("spec", key)
    form.set(obj, (*strategy, "type"), cleaned[key], field=key)
    form.own(strategy, form, key)
    if cleaned[key] != rolling_type:
        put(obj, (*strategy, "rollingUpdate"), None)
        return
    for name, field in fields.items():
        value = cleaned.get(field)
        form.set(obj, (*strategy, "rollingUpdate", name), _int_or_string(value), field=field)
    _prune(obj, (*strategy, "rollingUpdate"))


class StatefulSetForm(PodTemplateForm):
    kind_name = "StatefulSet"
    kind_fields = ("service_name", "replicas", "update_strategy", "partition")
    service_name = forms.RegexField(
        label=_("Headless service"),
        regex=DNS_LABEL,
        required=False,
        help_text=_("Default: the StatefulSet's name. Cannot be changed later."),
    )
    replicas = forms.IntegerField(label=_("Replicas"), min_value=0, initial=1, required=False)
    update_strategy = _strategy_fields(
        [("RollingUpdate", _("Rolling update")), ("OnDelete", _("On delete"))], "RollingUpdate"
    )
    partition = forms.IntegerField(label=_("Partition"), min_value=0, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.creating:
            del self.fields["service_name"]

    @classmethod
    def project_kind(cls, obj):
        strategy = get_in(obj, ("spec", "updateStrategy")) or {}
        return {
            "replicas": get_in(obj, ("spec", "replicas")),
            "update_strategy": strategy.get("type", "RollingUpdate"),
            "partition": (strategy.get("rollingUpdate") or {}).get("partition"),
        }

    def blank(self):
        return {**super().blank(), "replicas": 1, "update_strategy": "RollingUpdate"}

    def skeleton(self, namespace, name):
        obj = super().skeleton(namespace, name)
        obj["spec"]["serviceName"] = self.cleaned_data.get("service_name") or name
        self.own(("spec", "serviceName"), self, "service_name")
        return obj

    def merge_kind(self, obj, cleaned):
        self._number(obj, ("spec", "replicas"), cleaned, "replicas")
        self.set(obj, ("spec", "updateStrategy", "type"), cleaned["update_strategy"],
                 field="update_strategy")  # fmt: skip
        if cleaned["update_strategy"] == "RollingUpdate":
            self.set(obj, ("spec", "updateStrategy", "rollingUpdate", "partition"),
                     cleaned.get("partition"), field="partition")  # fmt: skip
            _prune(obj, ("spec", "updateStrategy", "rollingUpdate"))
        else:
            put(obj, ("spec", "updateStrategy", "rollingUpdate"), None)


class DaemonSetForm(PodTemplateForm):
    kind_name = "DaemonSet"
    kind_fields = ("update_strategy", "max_unavailable")
    update_strategy = _strategy_fields(
        [("RollingUpdate", _("Rolling update")), ("OnDelete", _("On delete"))], "RollingUpdate"
    )
    max_unavailable = forms.RegexField(
        label=_("Max unavailable"), regex=INT_OR_PERCENT, required=False
    )

    @classmethod
    def project_kind(cls, obj):
        strategy = get_in(obj, ("spec", "updateStrategy")) or {}
        rolling = strategy.get("rollingUpdate") or {}
        return {
            "update_strategy": strategy.get("type", "RollingUpdate"),
            "max_unavailable": str(rolling.get("maxUnavailable", "")),
        }

    def blank(self):
        return {**super().blank(), "update_strategy": "RollingUpdate"}

    def merge_kind(self, obj, cleaned):
        self.set(obj, ("spec", "updateStrategy", "type"), cleaned["update_strategy"],
                 field="update_strategy")  # fmt: skip
        if cleaned["update_strategy"] == "RollingUpdate":
            self.set(obj, ("spec", "updateStrategy", "rollingUpdate", "maxUnavailable"),
                     _int_or_string(cleaned.get("max_unavailable")),
                     field="max_unavailable")  # fmt: skip
            _prune(obj, ("spec", "updateStrategy", "rollingUpdate"))
        else:
            put(obj, ("spec", "updateStrategy", "rollingUpdate"), None)


RESTART_POLICIES = [("Never", _("Never")), ("OnFailure", _("On failure"))]


class JobForm(PodTemplateForm):
    api_version = "batch/v1"
    kind_name = "Job"
    kind_fields = ("completions", "parallelism", "backoff_limit", "restart_policy")
    completions = forms.IntegerField(label=_("Completions"), min_value=1, required=False)
    parallelism = forms.IntegerField(label=_("Parallelism"), min_value=0, required=False)
    backoff_limit = forms.IntegerField(label=_("Backoff limit"), min_value=0, required=False)
    restart_policy = forms.ChoiceField(
        label=_("Restart policy"), choices=RESTART_POLICIES, initial="Never"
    )

    @classmethod
    def project_kind(cls, obj):
        return {
            "completions": get_in(obj, ("spec", "completions")),
            "parallelism": get_in(obj, ("spec", "parallelism")),
            "backoff_limit": get_in(obj, ("spec", "backoffLimit")),
            "restart_policy": get_in(obj, (*cls.template_path, "spec", "restartPolicy"), "Never"),
        }

    def blank(self):
        return {**super().blank(), "restart_policy": "Never"}

    def skeleton(self, namespace, name):
        return {
            "apiVersion": self.api_version,
            "kind": self.kind_name,
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
            "spec": {"template": {"metadata": {"labels": {"app": name}}, "spec": {}}},
        }

    def merge_kind(self, obj, cleaned):
        for key, field in (("completions", "completions"), ("parallelism", "parallelism"),
                           ("backoffLimit", "backoff_limit")):  # fmt: skip
            self._number(obj, ("spec", key), cleaned, field)
        self.set(obj, (*self.template_path, "spec", "restartPolicy"), cleaned["restart_policy"],
                 field="restart_policy")  # fmt: skip


class CronJobForm(PodTemplateForm):
    api_version = "batch/v1"
    kind_name = "CronJob"
    template_path = ("spec", "jobTemplate", "spec", "template")
    kind_fields = ("schedule", "suspend", "concurrency_policy", "restart_policy")
    schedule = forms.CharField(
        label=_("Schedule"), max_length=100, help_text=_("Cron syntax, e.g. */5 * * * *")
    )
    suspend = forms.BooleanField(label=_("Suspended"), required=False)
    concurrency_policy = forms.ChoiceField(
        label=_("Concurrency policy"),
        choices=[("Allow", _("Allow")), ("Forbid", _("Forbid")), ("Replace", _("Replace"))],
        initial="Allow",
    )
    restart_policy = forms.ChoiceField(
        label=_("Restart policy"), choices=RESTART_POLICIES, initial="Never"
    )

    @classmethod
    def project_kind(cls, obj):
        return {
            "schedule": get_in(obj, ("spec", "schedule"), ""),
            "suspend": bool(get_in(obj, ("spec", "suspend"))),
            "concurrency_policy": get_in(obj, ("spec", "concurrencyPolicy"), "Allow"),
            "restart_policy": get_in(obj, (*cls.template_path, "spec", "restartPolicy"), "Never"),
        }

    def blank(self):
        return {
            **super().blank(),
            "schedule": "*/5 * * * *",
            "concurrency_policy": "Allow",
            "restart_policy": "Never",
        }

    def skeleton(self, namespace, name):
        return {
            "apiVersion": self.api_version,
            "kind": self.kind_name,
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
            "spec": {
                "schedule": "",
                "jobTemplate": {
                    "spec": {"template": {"metadata": {"labels": {"app": name}}, "spec": {}}}
                },
            },
        }

    def merge_kind(self, obj, cleaned):
        self.set(obj, ("spec", "schedule"), cleaned["schedule"], field="schedule")
        if cleaned.get("suspend") or "suspend" in (obj.get("spec") or {}):
            self.set(obj, ("spec", "suspend"), bool(cleaned.get("suspend")), field="suspend")
        self.set(obj, ("spec", "concurrencyPolicy"), cleaned["concurrency_policy"],
                 field="concurrency_policy")  # fmt: skip
        self.set(obj, (*self.template_path, "spec", "restartPolicy"), cleaned["restart_policy"],
                 field="restart_policy")  # fmt: skip


register("deployments", DeploymentForm)
register("statefulsets", StatefulSetForm)
register("daemonsets", DaemonSetForm)
register("jobs", JobForm)
register("cronjobs", CronJobForm)
