"""The synchronous half of a proxied request: who is calling, which cluster, may they.

Run from the ASGI app on the proxy's database threads (:mod:`.db`): one hop per request for
the decision; the audit row is queued (:mod:`apps.audit.writer`), not written on the way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from urllib.parse import unquote

from django.conf import settings
from rest_framework.exceptions import AuthenticationFailed

from apps.accounts.authentication import authenticate_api_key
from apps.audit.choices import Channel
from apps.audit.redaction import redact_body
from apps.audit.services import outcome_for_status
from apps.authz.enforcer import check, check_collection
from apps.clusters import k8s
from apps.clusters.models import Cluster
from apps.clusters.privileged import write_denial
from apps.clusters.services import connection_for
from apps.core import bodies
from apps.projects.access import reach

from .fanout import Spread
from .identity import key_and_cluster
from .mapping import CUSTOM, Target, classify
from .status import Denial

# Request bodies larger than this are described in the audit row, not parsed.
MAX_AUDITED_BODY = 1024 * 1024


@dataclass
class Access:
    """The outcome of authenticating and authorizing one request."""

    user: object = None
    api_key_id: int | None = None
    tenant: object = None
    cluster: Cluster | None = None
    target: Target | None = None
    conn: k8s.Connection | None = None
    denial: Denial | None = None
    # The target is a Secret and the user may not revealSecret on it: values are masked in
    # the answer (get, list, watch, Table, writes' echoes alike).
    mask_secrets: bool = False
    # A list or watch across namespaces the user may make in some namespaces only: answered
    # from those (:mod:`.fanout`) instead of forwarded.
    spread: Spread | None = None

    @property
    def action(self) -> str:
        return self.target.action if self.target else "proxy"

    @property
    def resource(self) -> str:
        if self.target:
            return self.target.resource
        return self.cluster.authz_resource if self.cluster else ""


def not_found(name: str) -> Denial:
    return Denial(
        404,
        f'clusters.portal "{name}" not found',
        {"name": name, "group": "portal", "kind": "clusters"},
    )


def forbidden(user, target: Target, reason: str) -> Denial:
    what = (
        f'{target.qualified_resource} "{target.name}"'
        if target.name
        else (target.qualified_resource or "this cluster")
    )
    message = (
        f'{what} is forbidden: portal user "{user.username}" may not {target.action} on '
        f"{target.resource} ({reason})"
    )
    details = {"kind": target.plural or "clusters", "group": target.group}
    if target.name:
        details["name"] = target.name
    return Denial(403, message, details)


def resolve(
    token: str,
    client_ip: str | None,
    cluster_name: str,
    method: str,
    path: str,
    query: Mapping[str, Sequence[str]],
) -> Access:
    """Authenticate the API key, find the cluster in the key owner's tenant, map the request
    and ask the permission layer. Never raises for a refusal: ``Access.denial`` says why."""
    access = Access()
    try:
        key, cluster = key_and_cluster(token, client_ip, cluster_name)
    except AuthenticationFailed as exc:
        access.denial = Denial(401, str(exc.detail))
        return access
    user = key.user
    access.user, access.api_key_id, access.tenant = user, key.pk, user.tenant
    if not key.allows_cluster(cluster_name):  # a kubeconfig key works for its cluster only
        access.denial = Denial(
            403, f"API key {key.prefix}… was issued for cluster {key.cluster.name} only"
        )
        return access
    # A cluster the user may not even see is answered like an unknown one.
    if cluster is None or not check(
        user, "getCluster", cluster.authz_resource, tenant=cluster.tenant
    ):
        access.denial = not_found(cluster_name)
        return access
    access.cluster, access.tenant = cluster, cluster.tenant
    target = classify(cluster.name, method, path, query)
    if target is None:
        access.denial = Denial(
            403, f"{method} {path} is not available through the portal's kubectl proxy"
        )
        return access
    access.target = target
    if method == "POST" and target.kind in SELF_REVIEWS:
        return access  # answered by the portal for this user (reviews.py), never forwarded
    decision = judge_target(user, target, cluster.tenant)
    if not decision:
        access.spread = spread_for(user, cluster, method, target)
        if access.spread is None:
            access.denial = forbidden(user, target, decision.reason)
            return access
        access.conn = connection_for(cluster)
        return access
    if target.kind == "Secret":
        access.mask_secrets = not check_collection(
            user, "revealSecret", target.resource, tenant=cluster.tenant
        )
    access.conn = connection_for(cluster)
    return access


COLLECTION_VERBS = frozenset({"list", "watch", "deletecollection"})
SELF_REVIEWS = frozenset({"SelfSubjectReview", "SelfSubjectAccessReview", "SelfSubjectRulesReview"})


def judge_target(user, target: Target, tenant, collection: bool | None = None):
    """The permission layer's decision on ``target``. A list, watch or delete-all acts on a
    set (``collection``): a deny on any member refuses it (a create's set is narrowed to the
    body's name once the body is read: judge_create)."""
    if collection is None:
        collection = target.verb in COLLECTION_VERBS
    judge = check_collection if collection else check
    decision = judge(user, target.action, target.resource, tenant=tenant)
    if decision and collection and _custom_across(target):
        # The proxy does not know a CRD's scope: a list across namespaces of a namespaced
        # CRD is also the set …/namespace:*/customresource:…, which a namespace deny meets.
        across = target.resource.replace("/", "/namespace:*/", 1)
        decision = check_collection(user, target.action, across, tenant=tenant)
    return decision


def spread_for(user, cluster: Cluster, method: str, target: Target) -> Spread | None:
    """For a list or watch across namespaces that the platform domain refuses: the
    namespaces the user may make it in (:func:`apps.projects.access.reach`), or None when
    there are none (then it is refused as before). Namespaces themselves are filtered;
    cluster-scoped kinds are never spread (a policy must grant them)."""
    if method != "GET" or target.verb not in ("list", "watch") or target.namespace is not None:
        return None
    if target.kind == "Namespace":
        found = reach(user, cluster, target.action, "")
        return Spread("filter", found.namespaces) if found.namespaces else None
    root = f"cluster:{cluster.name}/"
    if target.resource.startswith(root + "namespace:*/"):
        segment = target.resource[len(root + "namespace:*/") :]
    elif _custom_across(target):
        segment = target.resource[len(root) :]
    else:
        return None  # cluster-scoped
    found = reach(user, cluster, target.action, segment)
    if not found.namespaces:
        return None
    if target.kind != "Secret":
        return Spread("merge", found.namespaces)
    shown = reach(user, cluster, "revealSecret", segment)
    reveal = found.namespaces if shown.everything else shown.namespaces
    return Spread("merge", found.namespaces, frozenset(reveal), secrets=True)


def _custom_across(target: Target) -> bool:
    return target.kind == CUSTOM and target.namespace is None


def judge_create(access: Access, body: bytes | bodies.Body, content_type: str) -> Denial | None:
    """A create is judged on the name the cluster will give the object: ``metadata.name`` of
    the body (JSON, YAML or protobuf). Without one (``generateName``, a body the portal cannot
    read) it is judged as the set of every name, so a deny on any of them refuses it."""
    target = access.target
    name = _body_name(body, content_type)
    if name is not None:
        named = replace(target, resource=target.resource[:-1] + name, name=name)
        decision = check(access.user, named.action, named.resource, tenant=access.tenant)
        access.target = named
    else:
        decision = check_collection(
            access.user, target.action, target.resource, tenant=access.tenant
        )
    if decision:
        return None
    return forbidden(access.user, access.target, decision.reason)


def judge_privileged_write(access: Access, body: bodies.Body) -> Denial | None:
    """A Secret or Service write that has the cluster hand out a privilege-bearing power (a
    service account token, others' traffic) is judged as that power too
    (:mod:`apps.clusters.privileged`)."""
    try:
        doc = body.read()
    except bodies.Unreadable:
        return None  # refused before for a Secret (app.py); the cluster refuses it otherwise
    target = access.target
    reason = write_denial(
        access.user, access.cluster, target.kind, target.namespace, doc, target.subresource
    )
    if reason is None:
        return None
    what = f'{target.plural} "{target.name}"' if target.name else target.plural
    details = {"kind": target.plural, "group": target.group}
    if target.name:
        details["name"] = target.name
    return Denial(
        403,
        f'{what} is forbidden: portal user "{access.user.username}" may not write this '
        f"{target.kind}: {reason}",
        details,
    )


def _body_name(body: bytes | bodies.Body, content_type: str) -> str | None:
    try:
        doc = bodies.read_once(body, content_type)
    except bodies.Unreadable:
        return None
    metadata = doc.get("metadata") if isinstance(doc, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if isinstance(name, str) and _NAME.match(name):
        return name
    return None


# A name the portal may put in a resource path (the API server refuses the others anyway).
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,252}$")


def identify(token: str, client_ip: str | None) -> Access:
    """Only who is calling (for a request refused before it could be mapped): the audit row
    of a malformed request names its author."""
    access = Access()
    try:
        key = authenticate_api_key(token, client_ip)
    except AuthenticationFailed as exc:
        access.denial = Denial(401, str(exc.detail))
        return access
    access.user, access.api_key_id, access.tenant = key.user, key.pk, key.user.tenant
    return access


def audit_row(
    access: Access,
    *,
    method: str,
    path: str,
    status_code: int | None,
    duration_ms: int,
    source_ip: str | None,
    user_agent: str,
    request_id: str,
    created_at,
    body: bytes | bodies.Body = b"",
    content_type: str = "",
    message: str = "",
) -> dict:
    """The ``AuditEvent`` fields of a proxied request (or an exec/attach session opening or
    closing), body redacted: what :class:`apps.audit.writer.AuditWriter` stores. ``body`` may be
    the :class:`bodies.Body` the proxy judged (not read again)."""
    request_body = None
    if body:
        # A patch of a Secret says no kind: the target does. A request refused before it was
        # mapped has no target, so its path decides (any ``secrets`` segment: erring on the
        # side of redacting).
        target = access.target
        secret = (
            target is not None and (target.kind == "Secret" or target.plural == "secrets")
        ) or ("secrets" in unquote(path.split("?", 1)[0]).lower().split("/"))
        if len(body) > MAX_AUDITED_BODY:
            request_body = {"_omitted": f"{len(body)} bytes (too large to keep)"}
        else:
            request_body = redact_body(
                body,
                content_type,
                settings.AUDIT_MAX_BODY_CHARS,
                secret=secret,
            )
    user = access.user
    tenant = access.tenant if access.tenant is not None else getattr(user, "tenant", None)
    return {
        "created_at": created_at,
        "action": access.action[:128],
        "resource": access.resource[:512],
        "user_id": user.pk if user is not None else None,
        "username": str(user) if user is not None else "",
        "tenant_id": tenant.pk if tenant is not None else None,
        "channel": Channel.PROXY,
        "status_code": status_code,
        "outcome": outcome_for_status(status_code),
        "api_key_id": access.api_key_id,
        "source_ip": source_ip,
        "user_agent": user_agent[:512],
        "method": method,
        "path": path[:1024],
        "duration_ms": duration_ms,
        "request_id": request_id,
        "request_body": request_body,
        "message": message[:2000],
    }
