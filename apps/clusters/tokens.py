"""Secrets that are service account tokens: a write of one is ``createServiceAccountToken``.

A Secret of type ``kubernetes.io/service-account-token`` whose annotation
``kubernetes.io/service-account.name`` names a service account is filled in by the cluster's
token controller with a token of that account that never expires (Kubernetes' documented way
to make a "long-lived API token"). Writing such a Secret is therefore minting a token, which
the portal grants apart from writing Secrets (area ``clusteraccess``, DESIGN.md: service
account tokens are never reachable through a generic grant); the portal's credential would
otherwise mint it for anyone who may create Secrets. One rule for every door that writes
Secrets (the kubectl proxy, the REST resource API, apply).
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
        hit = "service-account" in text or TOKEN_TYPE in text
        return "*" if hit else None
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


def token_denial(user, cluster, namespace: str | None, doc) -> str | None:
    """Why ``user`` may not write this Secret body in ``namespace`` of ``cluster`` (it asks
    for a service account token they may not mint), or None."""
    account = service_account_of(doc)
    if account is None:
        return None
    resource = f"cluster:{cluster.name}/namespace:{namespace or '*'}/serviceaccount:{account}"
    judge = check_collection if account == "*" or not namespace else check
    decision = judge(user, "createServiceAccountToken", resource, tenant=cluster.tenant)
    if decision:
        return None
    return (
        f"a Secret of type {TOKEN_TYPE} (or annotated {NAME_ANNOTATION}) has the cluster mint "
        f"a service account token: that needs createServiceAccountToken on {resource} "
        f"({decision.reason})"
    )
