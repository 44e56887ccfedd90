"""Writes of ordinary kinds that carry a privilege-bearing power, judged as that power too.

The portal talks to a cluster with one powerful credential, so what the cluster does on a
write is done for whoever the portal let write. Two ordinary kinds can be written so that the
cluster hands out what the portal grants apart (area ``clusteraccess``, DESIGN.md):

- a **Secret** of type ``kubernetes.io/service-account-token`` whose annotation
  ``kubernetes.io/service-account.name`` names a service account is filled in by the token
  controller with a token of that account that never expires (Kubernetes' documented
  "long-lived API token"): writing one is ``createServiceAccountToken`` on the account;
- a **Service** with ``spec.externalIPs``, or whose ``status`` (``services/<s>/status``) claims
  ``loadBalancer.ingress`` addresses, has kube-proxy on every node capture the traffic of every
  pod of every project to those addresses (CVE-2020-8554): traffic redirection across
  namespaces, the power of an Endpoints write (CVE-2021-25740), so it is ``createEndpoints``
  in the Service's namespace.

One rule for every door that writes these kinds (the kubectl proxy, the REST resource API,
apply). A JSON patch is judged by what it touches, erring on the side of refusing.
"""

from __future__ import annotations

import json
import re

from apps.authz import check, check_collection

TOKEN_TYPE = "kubernetes.io/service-account-token"  # noqa: S105 (a type name)
NAME_ANNOTATION = "kubernetes.io/service-account.name"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def service_account_of(doc) -> str | None:
    """The service account a Secret body (an object, a merge/apply patch, or a JSON patch)
    would have the cluster mint a token for: its name, ``"*"`` when the body asks for a token
    but the account cannot be read from it, None when the body is not about tokens."""
    if isinstance(doc, list):  # a JSON patch: any operation touching the type or annotation
        text = json.dumps(doc)
        return "*" if "service-account" in text else None
    if not isinstance(doc, dict):
        return None
    metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    annotations = metadata.get("annotations")
    named = annotations.get(NAME_ANNOTATION) if isinstance(annotations, dict) else None
    if doc.get("type") != TOKEN_TYPE and named is None:
        return None
    if isinstance(named, str) and _NAME.match(named):
        return named
    return "*"


def redirects_traffic(doc, subresource: str | None = None) -> str | None:
    """What in a Service body (or patch of it) makes kube-proxy capture others' traffic, or
    None. ``status`` counts only when the write is to the status subresource (elsewhere the
    API server ignores it)."""
    status = subresource == "status"
    if isinstance(doc, list):
        text = json.dumps(doc)
        if "externalIPs" in text:
            return "spec.externalIPs"
        return "status.loadBalancer.ingress" if status and "loadBalancer" in text else None
    if not isinstance(doc, dict):
        return None
    spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
    if spec.get("externalIPs"):
        return "spec.externalIPs"
    state = doc.get("status") if isinstance(doc.get("status"), dict) else {}
    balancer = state.get("loadBalancer") if isinstance(state.get("loadBalancer"), dict) else {}
    if status and balancer.get("ingress"):
        return "status.loadBalancer.ingress"
    return None


def write_denial(user, cluster, kind: str, namespace: str | None, doc, subresource=None):
    """Why ``user`` may not write this body of ``kind`` (``Secret``, ``Service``) in
    ``namespace`` of ``cluster`` — it needs a privilege-bearing action they lack — or None."""
    where = f"cluster:{cluster.name}/namespace:{namespace or '*'}"
    if kind == "Secret":
        account = service_account_of(doc)
        if account is None:
            return None
        action, resource = "createServiceAccountToken", f"{where}/serviceaccount:{account}"
        what = (
            f"a Secret of type {TOKEN_TYPE} (or annotated {NAME_ANNOTATION}) has the cluster "
            "mint a service account token"
        )
    elif kind == "Service":
        field = redirects_traffic(doc, subresource)
        if field is None:
            return None
        action, resource = "createEndpoints", f"{where}/endpoints:*"
        what = (
            f"a Service's {field} has every node capture the traffic of every namespace to "
            "those addresses (traffic redirection, as an Endpoints write)"
        )
    else:
        return None
    judge = check_collection if "*" in resource else check
    decision = judge(user, action, resource, tenant=cluster.tenant)
    if decision:
        return None
    return f"{what}: that needs {action} on {resource} ({decision.reason})"
