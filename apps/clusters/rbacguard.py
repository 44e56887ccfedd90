"""Kubernetes RBAC's escalation check, made by the portal for the portal's user.

The API server lets a user create a Role only with permissions the user holds, and bind only
a role whose permissions the user holds (unless they have ``escalate`` / ``bind``). The portal
talks to clusters with a powerful credential, so the API server judges the portal, never the
user: a project owner could write a Role granting ``delete resourcequotas``, bind it to a
ServiceAccount and delete the quota the platform set on their namespace from inside a pod.
This module makes the same check with the portal's own permissions.

Each (apiGroup, resource[/subresource], verb[, resourceName]) a rule grants is mapped to the
request it allows, and that request to the portal action and resource path the kubectl proxy
would judge it as (:func:`.proxy.mapping.classify` — one mapping for both), in the Role's
namespace: the user must be allowed it there. What the mapping does not know (a wildcard, a
verb such as ``bind``, ``escalate`` or ``impersonate``, a subresource the proxy refuses) is
held only by whoever holds every action on the whole namespace by a platform policy
(:func:`holds_namespace`; platform administrators too) — who passes at once, as before.

Rules that a namespaced binding cannot make effective are skipped: cluster-scoped kinds (a
request on them has no namespace) other than the namespace object itself, and
``nonResourceURLs``.
"""

from __future__ import annotations

import json
import re

from apps.authz.enforcer import check, check_collection, holds
from apps.authz.engine import Statement
from apps.core import bodies

from . import k8s
from .proxy.mapping import BUILTIN, classify
from .proxy.status import Denial

RBAC_GROUP = "rbac.authorization.k8s.io"
GUARDED = frozenset({"roles", "rolebindings"})  # the cluster-wide kinds are platform-only

# verb → (method, acts on one object, query)
_VERBS: dict[str, tuple[str, bool, dict]] = {
    "get": ("GET", True, {}),
    "list": ("GET", False, {}),
    "watch": ("GET", False, {"watch": ["1"]}),
    "create": ("POST", False, {}),
    "update": ("PUT", True, {}),
    "patch": ("PATCH", True, {}),
    "delete": ("DELETE", True, {}),
    "deletecollection": ("DELETE", False, {}),
}
# ``extensions`` is no longer served (Kubernetes 1.22), but the bootstrap roles (view, edit,
# admin) still name it: its plurals are judged as their successors' (never more lenient).
_SUCCESSORS = ("apps", "networking.k8s.io", "policy", "")
# A name the portal may put in a resource path; any other is judged as every name.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,252}$")


class Unreadable(ValueError):
    """Rules (or a roleRef) in a shape the portal cannot judge."""


def holds_namespace(user, cluster_name: str, namespace: str) -> bool:
    """Does ``user`` hold every action on the namespace and all in it, by a platform policy?"""
    root = f"cluster:{cluster_name}/namespace:{namespace}"
    return holds(user, [Statement(("*",), (root, root + "/*"))])


def _strings(rule: dict, key: str) -> list[str]:
    value = rule.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Unreadable(f"rules[].{key} must be a list of strings")
    return value


def _group_of(group: str, plural: str) -> str:
    if group != "extensions":
        return group
    return next((g for g in _SUCCESSORS if (g, plural) in BUILTIN), group)


def _targets(cluster_name: str, namespace: str, group: str, resource: str, verb: str, names):
    """What one granted (group, resource, verb, names) allows, as proxy targets; None in the
    list for what the mapping does not know (held only with the whole namespace)."""
    if "*" in (group, verb) or "*" in resource or verb not in _VERBS:
        return [None]
    plural, _, sub = resource.partition("/")
    group = _group_of(group, plural)
    api = BUILTIN.get((group, plural))
    if api is not None and not api.namespaced and plural != "namespaces":
        return []  # a namespaced binding never grants a cluster-scoped request
    method, one, query = _VERBS[verb]
    prefix = "/api/v1" if not group else f"/apis/{group}/v1"
    if api is not None and api.post_only:
        method, one, sub = "POST", False, ""  # core/v1 bindings: only ever created
    names = [n if _NAME.match(n) else "*" for n in names] or ["*"]
    if plural == "namespaces":
        # A Role in ns grants on the namespace object ns itself, whatever names it lists.
        tail = f"/{sub}" if sub else ""
        return [classify(cluster_name, method, f"{prefix}/namespaces/{namespace}{tail}", {})]
    base = f"{prefix}/namespaces/{namespace}/{plural}"
    if sub:
        return [classify(cluster_name, method, f"{base}/{n}/{sub}", {}) for n in names]
    if one:
        return [classify(cluster_name, method, f"{base}/{n}", query) for n in names]
    if method == "GET" and names != ["*"]:
        return [
            classify(cluster_name, method, base, {**query, "fieldSelector": [f"metadata.name={n}"]})
            for n in names
        ]
    return [classify(cluster_name, method, base, query)]


def _allowed(user, tenant, target) -> bool:
    if target is None:
        return False
    judge = check_collection if "*" in target.resource else check
    return bool(judge(user, target.action, target.resource, tenant=tenant))


def first_missing(user, cluster, namespace: str, rules) -> dict | None:
    """The first granted (group, resource, verb[, names]) of ``rules`` that ``user`` does not
    hold in ``namespace`` of ``cluster``, as a one-of-each rule; None when all are held."""
    if rules is None:
        rules = []
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise Unreadable("rules must be a list of objects")
    if not rules:
        return None
    for rule in rules:
        names = _strings(rule, "resourceNames")
        for group in _strings(rule, "apiGroups"):
            for resource in _strings(rule, "resources"):
                for verb in _strings(rule, "verbs"):
                    targets = _targets(cluster.name, namespace, group, resource, verb, names)
                    if not all(_allowed(user, cluster.tenant, t) for t in targets):
                        missing = {"apiGroups": [group], "resources": [resource]}
                        if names:
                            missing["resourceNames"] = names
                        missing["verbs"] = [verb]
                        return missing
    return None


class RoleMissing(LookupError):
    """A RoleBinding names a role that does not exist. Refused, as the API server refuses it
    to whoever may not ``bind``: the binding would grant whatever that role is given later."""


def referenced_rules(client: k8s.KubeClient, namespace: str, role_ref) -> list:
    """The rules of the role a RoleBinding refers to, read from the cluster."""
    if not isinstance(role_ref, dict):
        raise Unreadable("roleRef must be an object")
    kind, name = role_ref.get("kind"), role_ref.get("name")
    if not isinstance(name, str) or not _NAME.match(name) or kind not in ("Role", "ClusterRole"):
        raise Unreadable("roleRef must name a Role or a ClusterRole")
    base = f"/apis/{RBAC_GROUP}/v1"
    if kind == "Role":
        path, what = f"{base}/namespaces/{namespace}/roles/{name}", "roles"
    else:
        path, what = f"{base}/clusterroles/{name}", "clusterroles"
    try:
        role = client.get(path)
    except k8s.ClusterNotFound:
        raise RoleMissing(f'{what}.{RBAC_GROUP} "{name}" not found') from None
    return role.get("rules") if isinstance(role, dict) else None


def missing_in(user, cluster, client, plural: str, namespace: str, obj) -> dict | None:
    """:func:`first_missing` for a Role (its rules) or a RoleBinding (its role's rules); the
    caller has taken the fast path (:func:`holds_namespace`)."""
    if not isinstance(obj, dict):
        raise Unreadable(f"a {plural} body must be one object")
    if plural == "roles":
        return first_missing(user, cluster, namespace, obj.get("rules"))
    rules = referenced_rules(client, namespace, obj.get("roleRef"))
    return first_missing(user, cluster, namespace, rules)


def refusal(user, plural: str, name: str | None, missing: dict) -> str:
    """The API server's words, naming the first rule the user does not hold."""
    parts = [f"APIGroups:{_list(missing['apiGroups'])}", f"Resources:{_list(missing['resources'])}"]
    if missing.get("resourceNames"):
        parts.append(f"ResourceNames:{_list(missing['resourceNames'])}")
    parts.append(f"Verbs:{_list(missing['verbs'])}")
    held = "is attempting to grant RBAC permissions not currently held: "
    return _forbidden(user, plural, name) + held + "{" + ", ".join(parts) + "}"


def _forbidden(user, plural: str, name: str | None) -> str:
    return f'{plural}.{RBAC_GROUP} "{name or ""}" is forbidden: user "{user.username}" (portal) '


def _name(body: bodies.Body) -> str | None:
    try:
        meta = body.read().get("metadata")
        return meta.get("name") if isinstance(meta, dict) else None
    except (bodies.Unreadable, AttributeError):
        return None


def _list(values) -> str:
    return "[" + " ".join(f'"{v}"' for v in values) + "]"


# -- the kubectl proxy -------------------------------------------------------------------------
def guards(target, method: str) -> bool:
    """Is this proxied request a write of a Role or RoleBinding (judged here)?"""
    return (
        target is not None
        and method in ("POST", "PUT", "PATCH")
        and target.group == RBAC_GROUP
        and target.plural in GUARDED
        and target.namespace is not None
        and target.subresource is None
    )


def judge_proxied(access, canonical, method: str, body: bodies.Body) -> Denial | None:
    """The escalation check of a proxied create, replace or patch (run on a proxy database
    thread). A create or replace is judged on its body; a patch on the object it makes, which
    the cluster computes in a dry run of the same patch (merge, strategic, JSON or apply —
    the portal does not re-implement them)."""
    user, cluster, target = access.user, access.cluster, access.target
    if holds_namespace(user, cluster.name, target.namespace):
        return None
    try:
        with k8s.client(cluster.pk, access.conn) as client:
            if method == "PATCH":
                obj = _dry_run_patch(client, canonical, body)
            else:
                obj = body.read()
            missing = missing_in(user, cluster, client, target.plural, target.namespace, obj)
    except (bodies.Unreadable, Unreadable) as exc:
        return Denial(
            422,
            f"the portal could not read this {target.plural} body, so cannot check the "
            f"permissions it grants: {exc}",
        )
    except RoleMissing as exc:
        said = f"may not bind a role that does not exist: {exc}"
        return Denial(403, _forbidden(user, target.plural, target.name or _name(body)) + said)
    except k8s.ClusterError as exc:
        return Denial(exc.status_code, str(exc.detail))
    if missing is None:
        return None
    name = target.name or _name(body)
    message = refusal(user, target.plural, name, missing)
    return Denial(403, message, {"kind": target.plural, "group": RBAC_GROUP, "name": name or ""})


def _dry_run_patch(client: k8s.KubeClient, canonical, body: bodies.Body):
    value = body.read()
    ctype = body.content_type or "application/json"
    # The client serialises a JSON value itself for +json types; others (apply-patch+yaml)
    # go as text: JSON is YAML.
    payload = value if bodies.media_type(ctype).endswith("json") else json.dumps(value)
    query = {**canonical.query_dict, "dryRun": ["All"]}
    return client.request(
        "PATCH", canonical.encoded_path, query=query, body=payload, content_type=ctype
    )
