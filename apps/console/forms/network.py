"""Forms for Services and Ingresses (:mod:`.base` says how a form owns its paths).

A Service's ports, an Ingress's rules and paths and its TLS entries are repeating rows that
remember the live item they came from (``origin``): a port's ``appProtocol``, a path's
resource backend or anything else the form does not show comes back with its row.
"""

from __future__ import annotations

import copy
import re

from django import forms
from django.utils.translation import gettext_lazy as _

from .base import ObjectForm, RowForm, by_index, merge_rows, project_rows
from .config import KeyValueRow, mapping_rows, unique_keys
from .registry import register

SERVICE_TYPES = [(t, t) for t in ("ClusterIP", "NodePort", "LoadBalancer")]
PROTOCOLS = [(p, p) for p in ("TCP", "UDP", "SCTP")]
AFFINITIES = [("None", _("None")), ("ClientIP", _("Client IP"))]
PATH_TYPES = [(p, p) for p in ("Prefix", "Exact", "ImplementationSpecific")]
# Fields only a node-facing Service may have (the API server refuses them on a ClusterIP).
NODE_FACING = ("externalTrafficPolicy", "healthCheckNodePort", "allocateLoadBalancerNodePorts")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# An IANA service name (a named port): up to 15 lowercase letters, digits and '-'.
PORT_NAME = re.compile(r"^(?=.*[a-z])[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$")
HOST = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def number_or_name(text: str, what: str):
    """A port given as a number (1–65535) or a name: int, str, or a ValidationError."""
    text = (text or "").strip()
    if not text:
        return None
    if text.isdigit():
        if not 1 <= int(text) <= 65535:
            raise forms.ValidationError(_("A port number from 1 to 65535."))
        return int(text)
    if not PORT_NAME.match(text):
        raise forms.ValidationError(
            _("A port number (1–65535) or the name of %(what)s's port.") % {"what": what}
        )
    return text


# -- Service --------------------------------------------------------------------------------------
class PortRow(RowForm):
    name = forms.CharField(label=_("Name"), required=False, max_length=63)
    protocol = forms.ChoiceField(label=_("Protocol"), choices=PROTOCOLS, initial="TCP")
    port = forms.IntegerField(label=_("Port"), min_value=1, max_value=65535)
    target_port = forms.CharField(label=_("Target port"), required=False, max_length=15)
    node_port = forms.IntegerField(
        label=_("Node port"), required=False, min_value=1, max_value=65535
    )
    significant = ("name", "port", "target_port", "node_port")

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if name and not DNS_LABEL.match(name):
            raise forms.ValidationError(_("Lowercase letters, digits and '-'."))
        return name

    def clean_target_port(self):
        return number_or_name(self.cleaned_data["target_port"], _("a container"))


class ServiceForm(ObjectForm):
    """Type, selector, ports and session affinity; cluster IPs, traffic policies, a port's
    ``appProtocol``, annotations and the rest are kept."""

    kind = "services"
    template_name = "console/forms/config/service.html"
    groups = {"selector": (KeyValueRow, "__i__"), "ports": (PortRow, "__i__")}
    type = forms.ChoiceField(label=_("Type"), choices=SERVICE_TYPES, initial="ClusterIP")
    session_affinity = forms.ChoiceField(
        label=_("Session affinity"), choices=AFFINITIES, initial="None"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A type this form does not offer (ExternalName) stays what it is.
        current = ((self.live or {}).get("spec") or {}).get("type") or "ClusterIP"
        if current not in dict(SERVICE_TYPES):
            self.fields["type"].choices = [*SERVICE_TYPES, (current, current)]

    @classmethod
    def project(cls, obj: dict) -> dict:
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        return {
            "type": spec.get("type") or "ClusterIP",
            "session_affinity": spec.get("sessionAffinity") or "None",
            "selector": mapping_rows(spec.get("selector")),
            "ports": project_rows(
                spec.get("ports"),
                by_index,
                lambda port: {
                    "name": port.get("name", ""),
                    "protocol": port.get("protocol", "TCP"),
                    "port": port.get("port"),
                    "target_port": port.get("targetPort", ""),
                    "node_port": port.get("nodePort"),
                },
            ),
        }

    def blank(self):
        return {
            "type": "ClusterIP",
            "session_affinity": "None",
            "selector": [{}],
            "ports": [{"protocol": "TCP"}],
        }

    def skeleton(self, namespace, name):
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {},
        }

    def is_valid(self) -> bool:
        valid = super().is_valid()
        ok = all([unique_keys(self.rows["selector"]), unique_keys(self.rows["ports"], "name")])
        kind = (getattr(self, "cleaned_data", None) or {}).get("type")
        if not self.rows["ports"].forms and kind != "ExternalName":
            self.top_errors.append(str(_("Ports: a Service needs at least one port.")))
            ok = False
        # Several ports must each be named: the cluster says so, next to the port's name.
        # A node port typed on a ClusterIP Service is dropped (the type says there is none).
        return ok and valid

    def merge_into(self, live, cleaned=None):
        cleaned = cleaned or self.cleaned()
        obj = copy.deepcopy(live)
        kind = cleaned["type"]
        self.set(obj, ("spec", "type"), kind, None, "type")
        affinity = cleaned["session_affinity"]
        self.set(obj, ("spec", "sessionAffinity"), affinity, None, "session_affinity")
        if affinity == "None":
            self.set(obj, ("spec", "sessionAffinityConfig"), None, None, "session_affinity")
        selector = {row["key"]: row["value"] for row in cleaned["selector"]}
        for row in cleaned["selector"]:
            self.own(("spec", "selector", row["key"]), row["_form"], "key")
        self.set(obj, ("spec", "selector"), selector or None)

        def merge_port(base: dict, row: dict, index: int) -> dict:
            where = ("spec", "ports", index)
            for field, key in (
                ("name", "name"),
                ("protocol", "protocol"),
                ("port", "port"),
                ("target_port", "targetPort"),
                ("node_port", "nodePort"),
            ):
                value = row[field]
                if key == "nodePort" and kind == "ClusterIP":
                    value = None
                if value in (None, ""):
                    base.pop(key, None)
                else:
                    base[key] = value
                self.own((*where, key), row["_form"], field)
            return base

        ports = merge_rows(
            (obj.get("spec") or {}).get("ports"), cleaned["ports"], by_index, merge_port
        )
        self.set(obj, ("spec", "ports"), ports or None)
        if kind == "ClusterIP":
            for field in NODE_FACING:
                self.set(obj, ("spec", field), None, None, "type")
        return obj


# -- Ingress --------------------------------------------------------------------------------------
class PathRow(RowForm):
    path = forms.CharField(label=_("Path"), required=False, max_length=1024, initial="/")
    path_type = forms.ChoiceField(label=_("Path type"), choices=PATH_TYPES, initial="Prefix")
    service = forms.CharField(label=_("Service"), required=False, max_length=63)
    port = forms.CharField(label=_("Service port"), required=False, max_length=15)
    significant = ("path", "service", "port")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self["origin"].value() and not self["service"].value():
            # A path whose backend is not a Service (a resource): kept unless one is typed.
            self.fields["service"].widget.attrs["placeholder"] = _("Other backend, kept")

    def clean_path(self):
        path = self.cleaned_data["path"].strip() or "/"
        if not path.startswith("/"):
            raise forms.ValidationError(_("A path starts with '/'."))
        return path

    def clean_service(self):
        service = self.cleaned_data["service"].strip()
        if service and not DNS_LABEL.match(service):
            raise forms.ValidationError(_("A Service name: lowercase letters, digits and '-'."))
        return service

    def clean_port(self):
        return number_or_name(self.cleaned_data["port"], _("the Service"))

    def clean(self):
        cleaned = super().clean()
        service, port = cleaned.get("service"), cleaned.get("port")
        origin = cleaned.get("origin") or ""
        # A path read from the cluster with another backend (a resource) keeps it when its
        # Service fields are left empty; any other path needs a Service and its port.
        if not origin and "service" not in self.errors and not service:
            self.add_error("service", _("Name the Service this path goes to."))
        if service and port is None and "port" not in self.errors:
            self.add_error("port", _("Give the Service's port."))
        if port is not None and not service and "service" not in self.errors:
            self.add_error("service", _("Name the Service this path goes to."))
        return cleaned


class RuleRow(RowForm):
    host = forms.CharField(label=_("Host"), required=False, max_length=253)
    significant = ("host",)
    groups = {"paths": (PathRow, "__p__")}

    def clean_host(self):
        host = self.cleaned_data["host"].strip().lower()
        if host and not HOST.match(host):
            raise forms.ValidationError(
                _("A host name such as shop.example.com or *.example.com, without a port.")
            )
        return host


class TLSRow(RowForm):
    hosts = forms.CharField(label=_("Hosts (comma-separated)"), required=False, max_length=2048)
    secret_name = forms.CharField(label=_("Certificate Secret"), required=False, max_length=253)
    significant = ("hosts", "secret_name")

    def clean_hosts(self):
        hosts = [h.strip().lower() for h in self.cleaned_data["hosts"].split(",") if h.strip()]
        for host in hosts:
            if not HOST.match(host):
                raise forms.ValidationError(_("%(host)s is not a host name.") % {"host": host})
        return hosts

    def clean_secret_name(self):
        name = self.cleaned_data["secret_name"].strip()
        if name and not SECRET_NAME.match(name):
            raise forms.ValidationError(_("A Secret name: lowercase letters, digits, '-', '.'."))
        return name


def _port_text(port) -> str:
    if not isinstance(port, dict):
        return ""
    return str(port["number"]) if "number" in port else str(port.get("name", ""))


def _read_path(item: dict) -> dict:
    service = (item.get("backend") or {}).get("service") or {}
    return {
        "path": item.get("path", ""),
        "path_type": item.get("pathType", "Prefix"),
        "service": service.get("name", ""),
        "port": _port_text(service.get("port")),
    }


class IngressForm(ObjectForm):
    """Class, rules (host and paths to Service backends) and TLS; a default backend, a
    path's resource backend, annotations and the rest are kept."""

    kind = "ingresses"
    template_name = "console/forms/config/ingress.html"
    groups = {"rules": (RuleRow, "__r__"), "tls": (TLSRow, "__t__")}
    ingress_class = forms.CharField(label=_("Ingress class"), required=False, max_length=253)

    @classmethod
    def project(cls, obj: dict) -> dict:
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        return {
            "ingress_class": spec.get("ingressClassName", ""),
            "rules": project_rows(
                spec.get("rules"),
                by_index,
                lambda rule: {
                    "host": rule.get("host", ""),
                    "paths": project_rows(
                        (rule.get("http") or {}).get("paths"), by_index, _read_path
                    ),
                },
            ),
            "tls": project_rows(
                spec.get("tls"),
                by_index,
                lambda entry: {
                    "hosts": ", ".join(entry.get("hosts") or []),
                    "secret_name": entry.get("secretName", ""),
                },
            ),
        }

    def blank(self):
        return {"rules": [{"host": "", "paths": [{"path": "/", "path_type": "Prefix"}]}]}

    def skeleton(self, namespace, name):
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {},
        }

    def clean_ingress_class(self):
        name = self.cleaned_data["ingress_class"].strip()
        if name and not SECRET_NAME.match(name):
            raise forms.ValidationError(_("An IngressClass name: lowercase letters, digits, '-'."))
        return name

    def merge_into(self, live, cleaned=None):
        cleaned = cleaned or self.cleaned()
        obj = copy.deepcopy(live)
        self.set(obj, ("spec", "ingressClassName"), cleaned["ingress_class"] or None, None,
                 "ingress_class")  # fmt: skip

        def merge_rule(base: dict, row: dict, index: int) -> dict:
            where = ("spec", "rules", index)
            if row["host"]:
                base["host"] = row["host"]
            else:
                base.pop("host", None)
            self.own((*where, "host"), row["_form"], "host")
            http = base.get("http") if isinstance(base.get("http"), dict) else {}

            def merge_path(item: dict, path_row: dict, p_index: int) -> dict:
                at = (*where, "http", "paths", p_index)
                form = path_row["_form"]
                item["path"] = path_row["path"]
                item["pathType"] = path_row["path_type"]
                self.own((*at, "path"), form, "path")
                self.own((*at, "pathType"), form, "path_type")
                if path_row["service"]:
                    backend = item.get("backend") if isinstance(item.get("backend"), dict) else {}
                    backend.pop("resource", None)
                    port = path_row["port"]
                    backend["service"] = {
                        "name": path_row["service"],
                        "port": {"number": port} if isinstance(port, int) else {"name": port},
                    }
                    item["backend"] = backend
                    self.own((*at, "backend"), form, "service")
                    self.own((*at, "backend", "service", "port"), form, "port")
                return item

            paths = merge_rows(http.get("paths"), row["paths"], by_index, merge_path)
            if paths:
                base["http"] = {**http, "paths": paths}
            else:
                base.pop("http", None)
            return base

        rules = merge_rows((obj.get("spec") or {}).get("rules"), cleaned["rules"], by_index,
                           merge_rule)  # fmt: skip
        self.set(obj, ("spec", "rules"), rules or None)

        def merge_tls(base: dict, row: dict, index: int) -> dict:
            for field, key in (("hosts", "hosts"), ("secret_name", "secretName")):
                if row[field]:
                    base[key] = row[field]
                else:
                    base.pop(key, None)
                self.own(("spec", "tls", index, key), row["_form"], field)
            return base

        tls = merge_rows((obj.get("spec") or {}).get("tls"), cleaned["tls"], by_index, merge_tls)
        self.set(obj, ("spec", "tls"), tls or None)
        return obj


register("services", ServiceForm)
register("ingresses", IngressForm)
