"""Rendering a chart version for a release with the Helm v4 SDK (offline), into the objects
the portal applies: labelled and annotated with the release, placed in its namespace, in Helm's
install order; hooks refused (``test`` hooks left out), ``NOTES.txt`` skipped, values checked
against ``values.schema.json``. See :mod:`apps.charts.releases` for what is done with them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import helm_python
import yaml
from django.core.exceptions import ValidationError

from apps.clusters import resources
from apps.core import safeyaml

from .models import ChartArchive, ChartVersion

MANAGED_BY = "tke-portal"
NAME_ANNOTATION = "meta.helm.sh/release-name"
NAMESPACE_ANNOTATION = "meta.helm.sh/release-namespace"
HOOK_ANNOTATION = "helm.sh/hook"
# Helm's InstallOrder (pkg/release/util/kind_sorter.go); unknown kinds go last.
INSTALL_ORDER = (
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
)
INSTALL_RANK = {kind: index for index, kind in enumerate(INSTALL_ORDER)}
_SCHEMA_LINE = re.compile(r"^- at '(?P<path>[^']*)': (?P<message>.+)$")
_MISSING = re.compile(r"missing propert(?:y|ies) '(?P<name>[^']+)'")


@dataclass
class Rendered:
    """A chart rendered for a release: ``crds`` (from ``crds/``, applied first, never pruned)
    and ``docs`` (the templates' objects, labelled, in install order), with the chart's
    identity for the revision."""

    chart_name: str
    chart_version_name: str
    app_version: str
    crds: list[dict] = field(default_factory=list)
    docs: list[dict] = field(default_factory=list)


def _archive(chart_version: ChartVersion) -> bytes:
    try:
        data = chart_version.archive.data
    except ChartArchive.DoesNotExist:
        raise ValidationError(
            {"chart": f"Chart version {chart_version} has no archive stored."}
        ) from None
    return bytes(data)


def check_values(values) -> dict:
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ValidationError({"values": "A mapping (a JSON object) of chart values."})
    return values


def _schema_error(chart_name: str, exc: helm_python.HelmError) -> ValidationError:
    """The chart's values.schema.json refusal, by field: ``values.replicas``."""
    text = str(exc)
    fields: dict[str, list[str]] = {}
    for line in text.splitlines():
        found = _SCHEMA_LINE.match(line.strip())
        if not found:
            continue
        path = [p for p in found["path"].split("/") if p]
        message = found["message"]
        missing = _MISSING.search(message)
        if missing and not path:
            path = [missing["name"]]
        key = ".".join(["values", *path])
        fields.setdefault(key, []).append(f"{message} (values.schema.json of {chart_name})")
    if not fields:
        fields["values"] = [text.strip()]
    return ValidationError(fields)


def render_chart(
    chart_version: ChartVersion, name: str, namespace: str, values, *, revision: int, upgrade: bool
) -> Rendered:
    values = check_values(values)
    try:
        chart = helm_python.Chart.load_archive(_archive(chart_version))
    except helm_python.HelmError as exc:
        raise ValidationError({"chart": f"The chart archive cannot be loaded: {exc}"}) from None
    with chart:
        metadata = chart.metadata
        chart_name = str(metadata.get("name") or chart_version.chart.name)
        try:
            chart.validate_schema(chart.merge_values(values))
        except helm_python.HelmValuesError as exc:
            raise _schema_error(chart_name, exc) from None
        try:
            manifests = chart.render(
                values,
                name=name,
                namespace=namespace,
                revision=revision,
                is_install=not upgrade,
                is_upgrade=upgrade,
            )
        except helm_python.HelmValuesError as exc:
            raise _schema_error(chart_name, exc) from None
        except helm_python.HelmError as exc:
            raise ValidationError({"chart": f"The chart does not render: {exc}"}) from None
        crd_sources = chart.crds
    rendered = Rendered(
        chart_name=chart_name,
        chart_version_name=str(metadata.get("version") or chart_version.version),
        app_version=str(metadata.get("appVersion") or ""),
    )
    for source in crd_sources:
        where = f"crds/{source.get('filename') or source.get('name')}"
        for doc in _documents(where, source.get("data", "")):
            if doc.get("kind") != "CustomResourceDefinition":
                raise ValidationError(
                    {"chart": f"{where}: only CustomResourceDefinitions belong in crds/."}
                )
            doc.get("metadata", {}).pop("namespace", None)
            rendered.crds.append(doc)
    docs: list[dict] = []
    for path in sorted(manifests):
        if path.endswith("NOTES.txt"):
            continue
        for doc in _documents(path, manifests[path]):
            hook = _hook(doc)
            if hook is not None:
                kinds = {k.strip() for k in hook.split(",")}
                if kinds <= {"test", "test-success", "test-failure"}:
                    continue  # run only by `helm test`, never on install
                raise ValidationError(
                    {
                        "chart": f"{path} is a Helm hook ({HOOK_ANNOTATION}: {hook}); the portal "
                        "does not run hooks, so charts with install, upgrade, rollback or "
                        "delete hooks cannot be installed through it."
                    }
                )
            docs.append(_owned(doc, name, namespace, path))
    docs.sort(key=lambda d: INSTALL_RANK.get(d["kind"], len(INSTALL_RANK)))
    _refuse_duplicates(docs, namespace)
    rendered.docs = docs
    return rendered


def _documents(where: str, text: str) -> list[dict]:
    """The objects of one rendered template (``kind: List`` spread out), shape-checked."""
    out: list[dict] = []
    for doc in safeyaml.load_all(text, field=where):
        if doc is None:
            continue
        items = doc.get("items") if isinstance(doc, dict) and doc.get("kind") == "List" else None
        for item in items if isinstance(items, list) else [doc]:
            errors = resources.object_shape_errors(item, where, identity=True)
            if errors:
                raise ValidationError({"chart": [f"{k}: {v}" for k, v in errors.items()]})
            try:
                resources.kind_of_document(item)
            except ValidationError:
                raise ValidationError(
                    {
                        "chart": f"{where}: {item['apiVersion']}/{item['kind']} is not a kind "
                        "the portal applies."
                    }
                ) from None
            out.append(item)
    return out


def _hook(doc: dict) -> str | None:
    annotations = (doc.get("metadata") or {}).get("annotations") or {}
    hook = annotations.get(HOOK_ANNOTATION)
    return hook if isinstance(hook, str) and hook.strip() else None


def _owned(doc: dict, name: str, namespace: str, where: str) -> dict:
    """The object as the release applies it: in the release's namespace unless cluster-scoped,
    labelled and annotated with the release (Helm's ownership metadata)."""
    kind = resources.kind_of_document(doc)
    meta = doc.setdefault("metadata", {})
    if kind.namespaced:
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    labels = meta.get("labels") or {}
    labels["app.kubernetes.io/managed-by"] = MANAGED_BY
    meta["labels"] = labels
    annotations = meta.get("annotations") or {}
    annotations[NAME_ANNOTATION] = name
    annotations[NAMESPACE_ANNOTATION] = namespace
    meta["annotations"] = annotations
    return doc


def object_key(doc: dict) -> tuple[str, str, str, str]:
    kind = resources.kind_of_document(doc)
    meta = doc.get("metadata") or {}
    return (kind.group, kind.plural, meta.get("namespace") or "", meta["name"])


def object_ident(doc: dict) -> str:
    meta = doc.get("metadata") or {}
    namespace = meta.get("namespace")
    return f"{doc['kind']}/{namespace + '/' if namespace else ''}{meta['name']}"


def _refuse_duplicates(docs: list[dict], namespace: str) -> None:
    seen: set = set()
    for doc in docs:
        key = object_key(doc)
        if key in seen:
            raise ValidationError({"chart": f"{object_ident(doc)} is rendered twice."})
        seen.add(key)


def manifest_text(docs: list[dict]) -> str:
    """Objects as the YAML text a revision stores."""
    return yaml.safe_dump_all(docs, sort_keys=False) if docs else ""


def manifest_documents(text: str) -> list[dict]:
    """The objects of a stored revision manifest."""
    return [d for d in safeyaml.load_all(text, field="manifest") if d] if text else []
