"""``kubectl auth whoami`` and ``kubectl auth can-i`` through the portal, answered from the
portal's own policy for the signed-in user (the API key's owner), never from the cluster
credential's rights.

The proxy answers three POSTs itself instead of forwarding them:

* ``authentication.k8s.io`` ``SelfSubjectReview`` — the portal user: username, uid, groups
  (the tenant groups the user is in, plus ``system:authenticated``), tenant and API key in
  ``extra``.
* ``authorization.k8s.io`` ``SelfSubjectAccessReview`` — the verb/resource/namespace/name (or
  non-resource path) is turned into the request it describes and judged exactly as the proxy
  judges that request (:func:`.mapping.classify` + :func:`.access.judge_target`); a request
  without a name asks about every name, so a deny on any of them answers "no".
* ``authorization.k8s.io`` ``SelfSubjectRulesReview`` (``--list``) — every built-in resource,
  verb and subresource the proxy relays, judged the same way in the namespace asked about,
  merged into rules.

What a rule list cannot say (so ``incomplete`` is true and ``evaluationError`` explains):
Kubernetes rules only grant, so a portal *deny* on some names or namespaces can only show as
the rule missing (the verb on every name is not granted) and grants limited to some names are
not listed; custom resources are not enumerated (the portal does not know a cluster's CRDs);
and the answer is the portal's decision, while the cluster may still refuse what its own
credential may not do.

Any user who may see the cluster may ask about themselves, as every authenticated user may in
Kubernetes (``system:basic-user``). Bodies may be JSON, YAML or protobuf; the answer is JSON
unless the client accepts protobuf only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apps.core import bodies, kubeproto

from .access import SELF_REVIEWS, Access, judge_target
from .mapping import BUILTIN, SESSION_SUBRESOURCES, Target, classify
from .status import Denial

KINDS = SELF_REVIEWS
_GROUPS = {
    "SelfSubjectReview": "authentication.k8s.io",
    "SelfSubjectAccessReview": "authorization.k8s.io",
    "SelfSubjectRulesReview": "authorization.k8s.io",
}
_METHODS = {
    "get": "GET",
    "list": "GET",
    "watch": "GET",
    "create": "POST",
    "update": "PUT",
    "patch": "PATCH",
    "delete": "DELETE",
    "deletecollection": "DELETE",
}
_NAMELESS = frozenset({"list", "watch", "deletecollection"})
_DISCOVERY_URLS = ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi/*"]
_DISCOVERY_URLS += ["/readyz", "/version", "/version/"]
INCOMPLETE = (
    "the portal's policy is richer than a rule list: denies on some names or namespaces show "
    "only as a missing rule, grants limited to some names and custom resources are not "
    "listed; ask about one request with kubectl auth can-i <verb> <resource> to be sure"
)


def answers(target: Target | None, method: str) -> bool:
    """Is this request one the portal answers itself?"""
    return target is not None and method == "POST" and target.kind in KINDS


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str
    message: str  # for the audit row


def respond(access: Access, body: bytes | bodies.Body, content_type: str, accept: str) -> Answer:
    """The review's answer (or a Status naming what is wrong with the request). ``body`` may
    be a :class:`bodies.Body` the caller shares with the audit trail (read once)."""
    kind = access.target.kind
    try:
        review = _parse(body, content_type, kind)
        _check_kind(review, kind)
        if kind == "SelfSubjectReview":
            status, message = _whoami(access), "whoami"
        elif kind == "SelfSubjectAccessReview":
            status, message = _access_review(access, review.get("spec"))
        else:
            status, message = _rules_review(access, review.get("spec"))
    except Denial as denial:
        return Answer(denial.code, denial.body, "application/json", denial.message)
    answer = {
        "kind": kind,
        "apiVersion": f"{_GROUPS[kind]}/v1",
        "metadata": {"creationTimestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
        **({"spec": review.get("spec") or {}} if kind != "SelfSubjectReview" else {}),
        "status": status,
    }
    if _protobuf_only(accept) and kubeproto.can_encode(answer):
        raw, ctype = kubeproto.encode(answer), kubeproto.CONTENT_TYPE
    else:
        raw, ctype = json.dumps(answer).encode(), "application/json"
    return Answer(201, raw, ctype, f"answered by the portal: {message}")


def _protobuf_only(accept: str) -> bool:
    types = [part.split(";")[0].strip().lower() for part in accept.split(",") if part.strip()]
    return bool(types) and all(t == kubeproto.CONTENT_TYPE for t in types)


def _parse(body: bytes | bodies.Body, content_type: str, kind: str) -> dict[str, Any]:
    raw = body.raw if isinstance(body, bodies.Body) else body
    if bodies.media_type(content_type) == kubeproto.CONTENT_TYPE:
        _check_envelope(raw, kind)
    try:
        doc = bodies.read_once(body, content_type)
    except bodies.TooLarge as exc:
        raise Denial(413, f"the request body is too large: {exc}") from exc
    except bodies.Unreadable as exc:
        raise Denial(400, f"the request body could not be decoded: {exc}") from exc
    if not isinstance(doc, dict):
        raise Denial(400, "the request body must be an object")
    return doc


def _check_envelope(raw: bytes, kind: str) -> None:
    """A protobuf body says its kind before its object: any other kind than the endpoint's is
    refused unread (the envelope's kind picks the schema, so it would decode anything)."""
    if len(raw) > bodies.MAX_PROTOBUF_BODY:
        raise Denial(
            413,
            f"the request body is too large: {len(raw)} bytes of {kubeproto.CONTENT_TYPE} "
            f"(the API server's limit is {bodies.MAX_PROTOBUF_BODY} bytes)",
        )
    try:
        api_version, given, _ = kubeproto.envelope(raw)
    except kubeproto.ProtobufError as exc:
        raise Denial(400, f"the request body could not be decoded: {exc}") from exc
    expected = f"{_GROUPS[kind]}/v1"
    if given != kind or api_version not in (expected, f"{_GROUPS[kind]}/v1beta1"):
        raise Denial(
            400,
            f"kind: the protobuf body is a {given or 'nameless kind'} of "
            f"{api_version or 'no version'}, this endpoint takes a {kind} of {expected}",
        )


def _check_kind(review: dict[str, Any], kind: str) -> None:
    given = review.get("kind")
    if given not in (None, kind):
        raise Denial(400, f"kind: the body is a {given}, this endpoint takes a {kind}")


# -- whoami ------------------------------------------------------------------------------------
def _whoami(access: Access) -> dict[str, Any]:
    user = access.user
    groups = sorted(user.portal_groups.values_list("name", flat=True))
    extra = {"portal.tke.io/api-key-id": [str(access.api_key_id)]}
    if access.tenant is not None:
        extra["portal.tke.io/tenant"] = [str(access.tenant.slug)]
    return {
        "userInfo": {
            "username": user.username,
            "uid": str(user.pk),
            "groups": [*groups, "system:authenticated"],
            "extra": extra,
        }
    }


# -- can-i -------------------------------------------------------------------------------------
def _field(spec: dict[str, Any], name: str, path: str) -> str:
    value = spec.get(name) or ""
    if not isinstance(value, str):
        raise Denial(422, f"{path}.{name}: Invalid value: must be a string")
    return value


_LABEL = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"
# Each attribute becomes one segment of the path judged: each must be one segment, of the form
# Kubernetes gives it (never '/', '%', '..'), or the question asked is about another request.
_SEGMENTS = {
    "group": (
        re.compile(rf"^(?=.{{0,253}}$)(?:{_LABEL}(?:\.{_LABEL})*)?$"),
        "an API group (a DNS subdomain such as apps or example.com)",
    ),
    "version": (re.compile(rf"^(?:{_LABEL})?$"), "a version (a DNS label such as v1)"),
    "namespace": (re.compile(rf"^(?:{_LABEL})?$"), "a namespace name (a DNS label)"),
    "resource": (
        re.compile(r"^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?$"),
        "a resource such as deployments",
    ),
    "subresource": (
        re.compile(r"^(?:[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)?$"),
        "a subresource such as status",
    ),
    "name": (re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._:@-]{0,252})?$"), "an object name"),
}


def _segment(attrs: dict[str, Any], name: str, path: str) -> str:
    value = _field(attrs, name, path)
    pattern, what = _SEGMENTS[name]
    if not pattern.match(value):
        raise Denial(
            422,
            f"{path}.{name}: Invalid value: {value[:100]!r}: must be {what} "
            "(one path segment: no '/', '%' or '..')",
        )
    return value


def attributes_request(attrs: dict[str, Any]) -> tuple[str, str, dict[str, list[str]]]:
    """The request (method, cluster-relative path, query) that ``resourceAttributes``
    describe. A missing name is ``*``: the question is about every name."""
    path = "spec.resourceAttributes"
    verb = _field(attrs, "verb", path)
    if verb not in _METHODS:
        raise Denial(422, f"{path}.verb: Unsupported value: {verb!r}: the portal judges "
                     f"{', '.join(_METHODS)}")  # fmt: skip
    resource = _field(attrs, "resource", path)
    if not resource or resource == "*":
        raise Denial(422, f"{path}.resource: Required value: name one resource (not *)")
    group, version = _segment(attrs, "group", path), _segment(attrs, "version", path) or "v1"
    resource, sub = _segment(attrs, "resource", path), _segment(attrs, "subresource", path)
    namespace, name = _segment(attrs, "namespace", path), _segment(attrs, "name", path)
    parts = ["api", "v1"] if not group else ["apis", group, version]
    if namespace and resource != "namespaces":
        parts += ["namespaces", namespace]
    parts.append(resource)
    query: dict[str, list[str]] = {}
    if sub:
        parts += [name or "*", sub]
    elif verb in _NAMELESS:
        if name:
            query["fieldSelector"] = [f"metadata.name={name}"]
    elif verb != "create" or name:
        parts.append(name or "*")
    if verb == "watch":
        query["watch"] = ["true"]
    return _METHODS[verb], "/" + "/".join(parts), query


def _access_review(access: Access, spec: Any) -> tuple[dict[str, Any], str]:
    if not isinstance(spec, dict):
        raise Denial(422, "spec: Required value")
    resource_attrs, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if bool(resource_attrs) == bool(non_resource):
        raise Denial(
            422,
            "spec.resourceAttributes: Invalid value: exactly one of nonResourceAttributes or "
            "resourceAttributes must be specified",
        )
    if resource_attrs:
        if not isinstance(resource_attrs, dict):
            raise Denial(422, "spec.resourceAttributes: Invalid value: must be an object")
        method, path, query = attributes_request(resource_attrs)
        asked = (
            f"{resource_attrs.get('verb')} {resource_attrs.get('resource')}"
            + (f"/{resource_attrs['subresource']}" if resource_attrs.get("subresource") else "")
            + (f" {resource_attrs['name']}" if resource_attrs.get("name") else "")
            + (f" in {resource_attrs['namespace']}" if resource_attrs.get("namespace") else "")
        )
    else:
        if not isinstance(non_resource, dict):
            raise Denial(422, "spec.nonResourceAttributes: Invalid value: must be an object")
        verb = _field(non_resource, "verb", "spec.nonResourceAttributes")
        path = _field(non_resource, "path", "spec.nonResourceAttributes")
        method, query, asked = _METHODS.get(verb, verb.upper()), {}, f"{verb} {path}"
    status = decide(access, method, path, query)
    verdict = "allowed" if status["allowed"] else "denied"
    return status, f"can-i {asked}: {verdict}"


def decide(access: Access, method: str, path: str, query: dict[str, list[str]]) -> dict:
    """SubjectAccessReviewStatus for ``method path?query`` as the proxy would judge it."""
    target = classify(access.cluster.name, method, path, query)
    if target is None:
        return {
            "allowed": False,
            "reason": f"{method} {path} is not available through the portal's kubectl proxy",
        }
    decision = judge_target(access.user, target, access.tenant, collection="*" in target.resource)
    status: dict[str, Any] = {"allowed": bool(decision)}
    reason = f"portal policy: {target.action} on {target.resource}: {decision.reason}"
    if not decision and any(m.get("effect") == "deny" for m in decision.matched):
        status["denied"] = True
    status["reason"] = reason
    return status


# -- can-i --list ------------------------------------------------------------------------------
def _rules_review(access: Access, spec: Any) -> tuple[dict[str, Any], str]:
    if not isinstance(spec, dict):
        raise Denial(422, "spec: Required value")
    namespace = spec.get("namespace") or ""
    if not isinstance(namespace, str):
        raise Denial(422, "spec.namespace: Invalid value: must be a string")
    granted: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for (group, plural), api in BUILTIN.items():
        if api.post_only:
            continue
        where = namespace if api.namespaced else ""
        for resource, verbs in _questions(plural, api):
            allowed = tuple(verb for verb in verbs if _may(access, group, resource, verb, where))
            if allowed:
                granted.setdefault((group, allowed), []).append(resource)
    rules = [
        {"verbs": list(verbs), "apiGroups": [group], "resources": sorted(resources)}
        for (group, verbs), resources in sorted(granted.items())
    ]
    discovery = decide(access, "GET", "/version", {})["allowed"]
    non_resource = [{"verbs": ["get"], "nonResourceURLs": _DISCOVERY_URLS}] if discovery else []
    status = {
        "resourceRules": rules,
        "nonResourceRules": non_resource,
        "incomplete": True,
        "evaluationError": INCOMPLETE,
    }
    return status, f"can-i --list in {namespace or 'the cluster scope'}: {len(rules)} rules"


def _questions(plural: str, api) -> list[tuple[str, tuple[str, ...]]]:
    verbs = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
    out = [(plural, verbs)]
    subs = dict.fromkeys(api.subresources)
    if api.kind == "Pod":
        subs.update(dict.fromkeys([*SESSION_SUBRESOURCES, "log"]))
    for sub in subs:
        out.append((f"{plural}/{sub}", ("get", "create", "update", "patch")))
    return out


def _may(access: Access, group: str, resource: str, verb: str, namespace: str) -> bool:
    plural, _, sub = resource.partition("/")
    attrs = {"verb": verb, "group": group, "resource": plural, "subresource": sub}
    attrs["namespace"] = namespace
    method, path, query = attributes_request(attrs)
    target = classify(access.cluster.name, method, path, query)
    if target is None:
        return False
    return bool(judge_target(access.user, target, access.tenant, collection=True))
