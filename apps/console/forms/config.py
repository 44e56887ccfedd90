"""Forms for ConfigMaps, Secrets, Namespaces and HorizontalPodAutoscalers, and the key/value
rows the network forms share (:mod:`.base` says how a form owns its paths).

Each form owns a few paths and nothing else: ``binaryData`` and ``immutable`` of a ConfigMap,
a Secret's annotations, a Namespace's finalizers, an HPA's ``behavior`` and its other metrics
come back exactly as they were.

Secret values are write-only, for everyone: the form lists a Secret's keys and takes new
values; it never puts a value into the page, not even one just typed when the page comes
back with an error (the value fields render empty; a new key then asks for its value again).
A key left blank keeps its value. Switching the form to YAML shows the Secret masked; the
form's ``basis`` (the digest that detects a concurrent change) is keyed for every kind
(``base.digest``), so no plain hash of the values reaches the page.
"""

from __future__ import annotations

import base64
import copy
import re

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.clusters.masking import mask_secrets

from .base import ObjectForm, RowForm
from .registry import register

# Keys of ConfigMaps and Secrets (the API server's IsConfigMapKey).
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
# A label key: an optional DNS-subdomain prefix and '/', then a name of up to 63 characters.
LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
LABEL_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
# Labels the portal keeps on project namespaces, and the one the API server sets: shown,
# never changed through a form (a project namespace is moved through its project).
PORTAL_LABEL_PREFIX = "tkeportal.io/"
NAME_LABEL = "kubernetes.io/metadata.name"


def label_key_error(key: str) -> str | None:
    prefix, slash, name = key.rpartition("/")
    if not LABEL_NAME.match(name):
        return str(
            _(
                "Up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter "
                "or digit, optionally after a prefix such as example.com/."
            )
        )
    if slash and (len(prefix) > 253 or not LABEL_PREFIX.match(prefix)):
        return str(_("The prefix before '/' must be a DNS subdomain, such as example.com."))
    return None


def fixed_label(key: str) -> bool:
    return key.startswith(PORTAL_LABEL_PREFIX) or key == NAME_LABEL


# -- shared rows -----------------------------------------------------------------------------
class KeyValueRow(RowForm):
    """A label or selector entry."""

    key = forms.CharField(label=_("Key"), max_length=317)
    value = forms.CharField(label=_("Value"), required=False, max_length=63)
    significant = ("key", "value")

    def clean_key(self):
        key = self.cleaned_data["key"].strip()
        problem = label_key_error(key)
        if problem:
            raise forms.ValidationError(problem)
        return key

    def clean_value(self):
        value = self.cleaned_data["value"].strip()
        if not LABEL_VALUE.match(value):
            raise forms.ValidationError(
                _(
                    "Up to 63 letters, digits, '-', '_' or '.', starting and ending with a "
                    "letter or digit (or empty)."
                )
            )
        return value


def mapping_rows(mapping, skip=lambda key: False) -> list[dict]:
    """Rows of a string map (labels, a selector, ConfigMap data), each its key as origin."""
    if not isinstance(mapping, dict):
        return []
    return [
        {"key": key, "value": value, "origin": key}
        for key, value in mapping.items()
        if not skip(key)
    ]


def unique_keys(rows, field: str = "key") -> bool:
    """Mark every row whose key an earlier row already has; False when one did."""
    seen, ok = set(), True
    for row in rows:
        key = (getattr(row, "cleaned_data", None) or {}).get(field)
        if not key:
            continue
        if key in seen:
            row.add_error(field, _("The key %(key)s appears twice.") % {"key": key})
            ok = False
        seen.add(key)
    return ok


class ConfigKeyMixin:
    def clean_key(self):
        key = self.cleaned_data["key"].strip()
        if not CONFIG_KEY.match(key):
            raise forms.ValidationError(
                _("Letters, digits, '-', '_' or '.' only, such as app.properties or tls.crt.")
            )
        return key


# -- ConfigMap ---------------------------------------------------------------------------------
class ConfigEntryRow(ConfigKeyMixin, RowForm):
    key = forms.CharField(label=_("Key"), max_length=253)
    value = forms.CharField(
        label=_("Value"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
    )
    significant = ("key", "value")

    def clean_value(self):
        # Browsers send a textarea's lines as CRLF: the cluster gets the lines typed.
        return self.cleaned_data["value"].replace("\r\n", "\n")


class ConfigMapForm(ObjectForm):
    """Key/value ``data`` (multi-line values); ``binaryData`` is listed and kept as it is."""

    kind = "configmaps"
    template_name = "console/forms/config/configmap.html"
    groups = {"entries": (ConfigEntryRow, "__i__")}

    @classmethod
    def project(cls, obj: dict) -> dict:
        return {"entries": mapping_rows(obj.get("data"))}

    def blank(self):
        return {"entries": [{}]}

    def skeleton(self, namespace, name):
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace},
        }

    def is_valid(self) -> bool:
        valid = super().is_valid()
        return unique_keys(self.rows["entries"]) and valid

    def binary_keys(self) -> list[str]:
        return sorted(((self.live or {}).get("binaryData") or {}).keys())

    def merge_into(self, live, cleaned=None):
        cleaned = cleaned or self.cleaned()
        obj = copy.deepcopy(live)
        stored = obj.get("data") if isinstance(obj.get("data"), dict) else {}
        data = {}
        for row in cleaned["entries"]:
            value = row["value"]
            before = stored.get(row.get("origin") or "")
            if isinstance(before, str) and before.replace("\r\n", "\n") == value:
                value = before  # unchanged: its CRLF line ends (a browser sends every line so)
            data[row["key"]] = value
            self.own(("data", row["key"]), row["_form"], "key")
        self.set(obj, ("data",), data or None)
        return obj


# -- Secret -----------------------------------------------------------------------------------
SECRET_TYPES = (
    ("Opaque", "Opaque"),
    ("kubernetes.io/dockerconfigjson", "kubernetes.io/dockerconfigjson"),
    ("kubernetes.io/tls", "kubernetes.io/tls"),
    ("kubernetes.io/basic-auth", "kubernetes.io/basic-auth"),
    ("kubernetes.io/ssh-auth", "kubernetes.io/ssh-auth"),
)


# The keys the API server requires of a Secret of each type.
REQUIRED_KEYS = {
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
}


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value: what is typed goes to the server only."""

    def format_value(self, value):
        return None


class SecretEntryRow(ConfigKeyMixin, RowForm):
    """A key and, optionally, a new value. ``origin`` is the key the row held when the page
    was drawn: left blank, the value stays the one stored under it (a rename keeps it)."""

    key = forms.CharField(label=_("Key"), max_length=253)
    # "secret" in the name: the audit trail redacts any form field so named, whatever door.
    secret_value = forms.CharField(
        label=_("Value"),
        required=False,
        strip=False,
        widget=WriteOnlyTextarea(attrs={"rows": 1, "autocomplete": "off", "spellcheck": "false"}),
    )
    significant = ("key", "secret_value")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self["origin"].value():
            self.fields["secret_value"].widget.attrs["placeholder"] = _("Unchanged (hidden)")

    def clean_secret_value(self):
        return self.cleaned_data["secret_value"].replace("\r\n", "\n")

    def clean(self):
        cleaned = super().clean()
        # A new key needs a value; as the page never holds one, a value typed before the
        # page came back (with an error) must be typed again, never saved as empty.
        if not cleaned.get("origin") and cleaned.get("secret_value") == "":
            self.add_error(
                "secret_value",
                _("Type the value of this new key (typed values are never sent back to the page)."),
            )
        return cleaned


class SecretForm(ObjectForm):
    """The type (on create; the cluster never changes it) and key/values stored as base64
    ``data``. Values are never shown (see the module docstring)."""

    kind = "secrets"
    template_name = "console/forms/config/secret.html"
    groups = {"entries": (SecretEntryRow, "__i__")}
    type = forms.ChoiceField(label=_("Type"), choices=SECRET_TYPES, initial="Opaque")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.creating:
            self.fields["type"].disabled = True
            self.fields["type"].help_text = _("The cluster never changes a Secret's type.")
            # A type this form does not offer still shows as what it is.
            current = (self.live or {}).get("type") or "Opaque"
            if current not in dict(SECRET_TYPES):
                self.fields["type"].choices = [*SECRET_TYPES, (current, current)]

    @classmethod
    def project(cls, obj: dict) -> dict:
        data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
        return {
            "type": obj.get("type") or "Opaque",
            "entries": [{"key": key, "origin": key} for key in data],
        }

    def blank(self):
        return {"type": "Opaque", "entries": [{}]}

    def skeleton(self, namespace, name):
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
        }

    def is_valid(self) -> bool:
        valid = super().is_valid()
        ok = unique_keys(self.rows["entries"])
        kind = (getattr(self, "cleaned_data", None) or {}).get("type") or "Opaque"
        keys = {
            (getattr(row, "cleaned_data", None) or {}).get("key") for row in self.rows["entries"]
        }
        missing = [key for key in REQUIRED_KEYS.get(kind, ()) if key not in keys]
        if missing and "type" in self.fields:
            self.add_error(
                "type" if self.creating else None,
                _("A Secret of type %(type)s needs the keys %(keys)s.")
                % {"type": kind, "keys": ", ".join(missing)},
            )
            ok = False
        return ok and valid

    def build(self, namespace=None):
        obj = super().build(namespace)
        if self.is_bound and self.data.get("action") == "yaml":
            # Switching to YAML shows what build() makes: never with values in it (neither
            # the stored ones nor those just typed). The YAML mode refuses to apply a mask.
            return mask_secrets(obj)
        return obj

    def merge_into(self, live, cleaned=None):
        cleaned = cleaned or self.cleaned()
        obj = copy.deepcopy(live)
        stored = obj.get("data") if isinstance(obj.get("data"), dict) else {}
        data = {}
        for row in cleaned["entries"]:
            origin = row.get("origin") or ""
            if row["secret_value"] == "" and origin in stored:
                data[row["key"]] = stored[origin]
            else:
                data[row["key"]] = base64.b64encode(row["secret_value"].encode()).decode()
            self.own(("data", row["key"]), row["_form"], "key")
        self.set(obj, ("data",), data or None)
        if self.creating:
            self.set(obj, ("type",), cleaned["type"])
        return obj


# -- Namespace ----------------------------------------------------------------------------------
class NamespaceForm(ObjectForm):
    """A cluster namespace: its name and labels (the portal's project labels and the name
    label are shown, never changed here). A project's namespaces, with their quota, are
    created from the project's pages, through the project's quota admission."""

    kind = "namespaces"
    template_name = "console/forms/config/namespace.html"
    groups = {"labels": (KeyValueRow, "__i__")}

    @classmethod
    def project(cls, obj: dict) -> dict:
        labels = (obj.get("metadata") or {}).get("labels")
        return {"labels": mapping_rows(labels, skip=fixed_label)}

    def skeleton(self, namespace, name):
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}

    def fixed_labels(self) -> list[tuple[str, str]]:
        labels = ((self.live or {}).get("metadata") or {}).get("labels") or {}
        return sorted((k, v) for k, v in labels.items() if fixed_label(k))

    def is_valid(self) -> bool:
        valid = super().is_valid()
        ok = unique_keys(self.rows["labels"])
        for row in self.rows["labels"]:
            key = (getattr(row, "cleaned_data", None) or {}).get("key") or ""
            if fixed_label(key):
                row.add_error(
                    "key",
                    _("Labels %(prefix)s… and %(name)s are kept by the portal and the cluster.")
                    % {"prefix": PORTAL_LABEL_PREFIX, "name": NAME_LABEL},
                )
                ok = False
        return ok and valid

    def merge_into(self, live, cleaned=None):
        cleaned = cleaned or self.cleaned()
        obj = copy.deepcopy(live)
        current = (obj.get("metadata") or {}).get("labels") or {}
        labels = {row["key"]: row["value"] for row in cleaned["labels"]}
        for row in cleaned["labels"]:
            self.own(("metadata", "labels", row["key"]), row["_form"], "key")
        labels.update({k: v for k, v in current.items() if fixed_label(k)})
        self.set(obj, ("metadata", "labels"), labels or None)
        return obj


# -- HorizontalPodAutoscaler ----------------------------------------------------------------------
# What an HPA may scale here: kind → (apiVersion, plural in resources.KINDS).
SCALE_TARGETS = {
    "Deployment": ("apps/v1", "deployments"),
    "StatefulSet": ("apps/v1", "statefulsets"),
}


WORKLOAD_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def utilization(metrics, resource: str) -> tuple[int | None, int | None]:
    """(position, averageUtilization) of the Resource metric on ``resource``; the value is
    None when that metric targets something other than a utilization (the form does not
    own it then); (None, None) when there is none."""
    for index, metric in enumerate(metrics if isinstance(metrics, list) else ()):
        if not isinstance(metric, dict) or metric.get("type") != "Resource":
            continue
        body = metric.get("resource") or {}
        if body.get("name") != resource:
            continue
        target = body.get("target") or {}
        if target.get("type") == "Utilization":
            return index, target.get("averageUtilization")
        return index, None
    return None, None


class HorizontalPodAutoscalerForm(ObjectForm):
    """autoscaling/v2: the workload to scale (from the namespace's Deployments and
    StatefulSets), min/max replicas and average CPU / memory utilization targets. Other
    metrics and ``behavior`` stay as they are."""

    kind = "horizontalpodautoscalers"
    template_name = "console/forms/config/hpa.html"
    # "<Kind>/<name>"; the page offers the namespace's workloads (console:config-hpa-targets).
    target = forms.CharField(label=_("Workload to scale"), max_length=300)
    min_replicas = forms.IntegerField(
        label=_("Minimum replicas"), min_value=1, max_value=10000, required=False, initial=1
    )
    max_replicas = forms.IntegerField(label=_("Maximum replicas"), min_value=1, max_value=10000)
    cpu = forms.IntegerField(
        label=_("Target CPU utilization (%)"), min_value=1, max_value=1000, required=False
    )
    memory = forms.IntegerField(
        label=_("Target memory utilization (%)"), min_value=1, max_value=1000, required=False
    )

    def target_choices(self) -> list[tuple[str, str]]:
        """What the workload select holds before the namespace's workloads are loaded: the
        current target (an HPA may wait for a workload that is not there yet)."""
        current = self["target"].value() or ""
        choices = [("", str(_("Choose a workload")))]
        if current:
            choices.append((current, current.replace("/", " ", 1)))
        return choices

    def clean_target(self):
        target = self.cleaned_data["target"].strip()
        if self.live is not None and target == self.project(self.live)["target"]:
            return target  # what it scales now, whatever kind that is (a ReplicaSet, a CR)
        kind, slash, name = target.partition("/")
        if kind not in SCALE_TARGETS or not slash or not WORKLOAD_NAME.match(name):
            raise forms.ValidationError(_("Choose a Deployment or StatefulSet to scale."))
        return target

    @classmethod
    def project(cls, obj: dict) -> dict:
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        ref = spec.get("scaleTargetRef") or {}
        metrics = spec.get("metrics")
        return {
            "target": f"{ref.get('kind', '')}/{ref.get('name', '')}" if ref else "",
            "min_replicas": spec.get("minReplicas"),
            "max_replicas": spec.get("maxReplicas"),
            "cpu": utilization(metrics, "cpu")[1],
            "memory": utilization(metrics, "memory")[1],
        }

    def blank(self):
        return {"min_replicas": 1, "cpu": 80}

    def skeleton(self, namespace, name):
        return {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {},
        }

    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("min_replicas"), cleaned.get("max_replicas")
        if low is not None and high is not None and high < low:
            self.add_error("max_replicas", _("At least the minimum replicas."))
        return cleaned

    def merge_into(self, live, cleaned=None):
        cleaned = cleaned or self.cleaned()
        obj = copy.deepcopy(live)
        kind, _slash, name = cleaned["target"].partition("/")
        ref = (obj.get("spec") or {}).get("scaleTargetRef") or {}
        if kind in SCALE_TARGETS and (ref.get("kind") != kind or not ref.get("apiVersion")):
            self.set(
                obj, ("spec", "scaleTargetRef", "apiVersion"), SCALE_TARGETS[kind][0], None,
                "target",
            )  # fmt: skip
        self.set(obj, ("spec", "scaleTargetRef", "kind"), kind, None, "target")
        self.set(obj, ("spec", "scaleTargetRef", "name"), name, None, "target")
        self.set(obj, ("spec", "minReplicas"), cleaned["min_replicas"], None, "min_replicas")
        self.set(obj, ("spec", "maxReplicas"), cleaned["max_replicas"], None, "max_replicas")
        metrics = copy.deepcopy(obj["spec"].get("metrics"))
        metrics = metrics if isinstance(metrics, list) else []
        for resource in ("cpu", "memory"):
            wanted = cleaned[resource]
            index, current = utilization(metrics, resource)
            if wanted is None:
                if index is not None and current is not None:
                    metrics.pop(index)  # the form's metric, cleared by the user
                continue
            metric = {
                "type": "Resource",
                "resource": {
                    "name": resource,
                    "target": {"type": "Utilization", "averageUtilization": wanted},
                },
            }
            if index is None:
                metrics.append(metric)
            else:
                metrics[index] = metric
        self.set(obj, ("spec", "metrics"), metrics or None)
        for index, metric in enumerate(metrics):
            name_ = ((metric.get("resource") or {}).get("name")) if isinstance(metric, dict) else ""
            if metric.get("type") == "Resource" and name_ in ("cpu", "memory"):
                self.own(("spec", "metrics", index), self, name_)
        return obj


register("configmaps", ConfigMapForm)
register("secrets", SecretForm)
register("namespaces", NamespaceForm)
register("horizontalpodautoscalers", HorizontalPodAutoscalerForm)
