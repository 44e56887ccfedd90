"""``authentication.k8s.io`` and ``authorization.k8s.io``: reviews, answered and never stored.

* TokenReview — who a bearer token belongs to (kubesim's token users);
* SelfSubjectReview — who the caller is (``kubectl auth whoami``);
* SelfSubjectAccessReview / SubjectAccessReview / LocalSubjectAccessReview — may a user do
  something (``kubectl auth can-i``);
* SelfSubjectRulesReview — what the caller may do in a namespace (``kubectl auth can-i --list``).

Every answer comes from the one authorizer kubesim enforces (:meth:`.cluster.User.allows`, the
verbs and namespaces a token user was given), so a review never says yes where a request would be
refused. Like a real server's ``system:basic-user`` / ``system:discovery`` roles, every
authenticated user may create self reviews and GET any non-resource URL (kubesim serves
discovery, ``/version`` and health to every authenticated user).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import tokens
from .errors import ApiError, invalid, method_not_allowed
from .errors import field_error as fe

if TYPE_CHECKING:
    from aiohttp import web

    from .cluster import Cluster, User
    from .handlers import Request

# What every authenticated user may do whatever its verbs and namespaces (kubesim lets these
# requests through without asking the authorizer).
SELF_REVIEWS = {
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
    ("authentication.k8s.io", "selfsubjectreviews"),
}
_BASIC_RULES = [
    {
        "verbs": ["create"],
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
    },
    {
        "verbs": ["create"],
        "apiGroups": ["authentication.k8s.io"],
        "resources": ["selfsubjectreviews"],
    },
]


def user_info(user: User) -> dict[str, Any]:
    info: dict[str, Any] = {"username": user.name}
    if user.uid:
        info["uid"] = user.uid
    info["groups"] = list(user.groups)
    if user.extra:
        info["extra"] = {k: list(v) for k, v in user.extra.items()}
    return info


def _unrestricted(user: User) -> bool:
    return user.verbs is None and user.namespaces is None


def allowed(
    cluster: Cluster, user: User, attrs: dict[str, Any] | None, non_resource: dict[str, Any] | None
) -> bool:
    """Whether kubesim would let ``user`` make the request the attributes describe."""
    if non_resource is not None:
        return user.verbs is None or non_resource.get("verb") == "get"
    attrs = attrs or {}
    group, resource = attrs.get("group", ""), attrs.get("resource", "")
    verb = attrs.get("verb", "")
    if (group, resource) in SELF_REVIEWS and verb == "create":
        return True
    # A wildcard resource, or one the server does not know, is judged in the namespace asked.
    rt = cluster.registry.by_plural(group, resource)
    namespaced = rt.namespaced if rt is not None else True
    namespace = (attrs.get("namespace") or None) if namespaced else None
    return user.allows(verb, namespace)


def _subject(cluster: Cluster, spec: dict[str, Any]) -> User:
    """The user a SubjectAccessReview asks about: a known token user by name, else a user
    with only the groups given (unrestricted if one of them is ``system:masters``)."""
    from .cluster import User

    name = spec.get("user") or ""
    for known in cluster.users.values():
        if known.name == name:
            return known
    groups = list(spec.get("groups") or [])
    if "system:masters" in groups:
        return User(name, groups)
    return User(name, groups, frozenset(), frozenset())


def _check_spec(kind: str, spec: dict[str, Any]) -> None:
    has_res = spec.get("resourceAttributes") is not None
    has_non = spec.get("nonResourceAttributes") is not None
    if has_res == has_non:
        raise invalid(
            kind,
            "authorization.k8s.io",
            "",
            [
                fe(
                    "spec.resourceAttributes",
                    "Invalid",
                    "cannot be specified in combination with nonResourceAttributes"
                    if has_res
                    else "exactly one of nonResourceAttributes or resourceAttributes must be "
                    "specified",
                    spec.get("resourceAttributes"),
                )
            ],
        )


def _access_status(cluster: Cluster, user: User, spec: dict[str, Any]) -> dict[str, Any]:
    ok = allowed(cluster, user, spec.get("resourceAttributes"), spec.get("nonResourceAttributes"))
    if ok:
        return {"allowed": True, "reason": "kubesim: allowed by the token user's verbs/namespaces"}
    return {"allowed": False}


def rules(user: User, namespace: str | None) -> dict[str, Any]:
    """SelfSubjectRulesReview status: the rules kubesim applies to ``user`` in ``namespace``."""
    resource_rules: list[dict[str, Any]] = []
    if _unrestricted(user):
        resource_rules.append({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})
    elif user.namespaces is None or namespace in user.namespaces:
        verbs = sorted(user.verbs) if user.verbs is not None else ["*"]
        if verbs:
            resource_rules.append({"verbs": verbs, "apiGroups": ["*"], "resources": ["*"]})
    resource_rules += [dict(r) for r in _BASIC_RULES]
    non_resource = [
        {"verbs": ["*"] if user.verbs is None else ["get"], "nonResourceURLs": ["*"]},
    ]
    return {
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource,
        "incomplete": False,
    }


def _echo(req: Request, body: dict[str, Any], status: dict[str, Any]) -> web.Response:
    rt = req.rt
    meta = dict(body.get("metadata") or {})
    meta["creationTimestamp"] = None
    if rt.namespaced:
        meta["namespace"] = req.namespace
    out = {
        "kind": rt.kind,
        "apiVersion": rt.group_version,
        "metadata": meta,
        **({"spec": body.get("spec") or {}} if rt.kind != "SelfSubjectReview" else {}),
        "status": status,
    }
    return req.respond(out, 201)


async def handle(req: Request) -> web.Response:
    """POST of a review resource (anything else is 405, as on a real server)."""
    rt, cluster, user = req.rt, req.cluster, req.user
    if req.http.method != "POST" or req.name is not None:
        raise method_not_allowed()
    if rt.key not in SELF_REVIEWS:
        cluster.authorize(user, "create", rt, req.namespace, "")
    body, _ = await req.body()
    if not isinstance(body, dict):
        raise ApiError(400, f"Object '{rt.kind}' is missing in '{body!r}'"[:200])
    kind = body.get("kind")
    if kind and kind != rt.kind:
        raise ApiError(
            400, f"the object provided is unrecognized (must be of type {rt.kind}): {kind}"
        )
    spec = body.get("spec") or {}
    if rt.kind == "SelfSubjectReview":
        return _echo(req, body, {"userInfo": user_info(user)})
    if rt.kind == "TokenReview":
        token = spec.get("token") or ""
        if not token:
            raise invalid(rt.kind, rt.group, "", [fe("spec.token", "Required", "")])
        audiences = tuple(spec.get("audiences") or tokens.API_AUDIENCES)
        found = cluster.authenticate(token, audiences)
        if found is None:
            return _echo(req, body, {"user": {}, "error": "invalid bearer token"})
        return _echo(
            req,
            body,
            {"authenticated": True, "user": user_info(found), "audiences": list(audiences)},
        )
    if rt.kind == "SelfSubjectRulesReview":
        namespace = spec.get("namespace") or None
        return _echo(req, body, rules(user, namespace))
    _check_spec(rt.kind, spec)
    if rt.kind == "LocalSubjectAccessReview":
        ns = (spec.get("resourceAttributes") or {}).get("namespace")
        if spec.get("resourceAttributes") is not None and ns != req.namespace:
            raise invalid(
                rt.kind,
                rt.group,
                "",
                [
                    fe(
                        "spec.resourceAttributes.namespace",
                        "Invalid",
                        "must match metadata.namespace",
                        ns,
                    )
                ],
            )
    if rt.kind == "SelfSubjectAccessReview":
        subject = user
    else:
        if not spec.get("user") and not spec.get("groups"):
            raise invalid(
                rt.kind,
                rt.group,
                "",
                [fe("spec.user", "Invalid", "at least one of user or group must be specified", "")],
            )
        subject = _subject(cluster, spec)
    return _echo(req, body, _access_status(cluster, subject, spec))
