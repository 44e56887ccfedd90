"""``serviceaccounts/token`` (TokenRequest, ``kubectl create token``) and the tokens it mints.

A minted token is a signed JWT whose claims are those of a real bound service-account token
(``iss``, ``sub``, ``aud``, ``exp``, ``iat``, ``nbf``, ``jti`` and the ``kubernetes.io`` claim
naming the service account and any bound Pod, Secret or Node). kubesim accepts it as the service
account's identity (``system:serviceaccount:<ns>:<sa>``, the service-account groups, the
``credential-id`` extra) while it has not expired, its audiences include the API server's, and
the service account — and the bound object, if any — still exists with the same uid. Like a new
service account on a real cluster (no RoleBinding), it may make the self reviews and GET
non-resource URLs, nothing else (kubesim's authorizer has no RBAC evaluation).

Validation follows the API server's token REST storage: expirationSeconds defaults to one hour
and may not be under 10 minutes or over 2^32 seconds; a bound object must be a v1 Pod, Secret or
Node that exists (404 otherwise), and a uid it names must match (409).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .clock import now_iso
from .errors import ApiError, bad_request, conflict, invalid, not_found
from .errors import field_error as fe

if TYPE_CHECKING:
    from aiohttp import web

    from .cluster import Cluster, User
    from .handlers import Request

ISSUER = "https://kubernetes.default.svc.cluster.local"
API_AUDIENCES = (ISSUER,)  # the API server's --api-audiences (kubeadm's default: the issuer)
DEFAULT_SECONDS = 3600
MIN_SECONDS = 600
MAX_SECONDS = 1 << 32
_BINDABLE = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}


@dataclass
class Minted:
    """What kubesim remembers of a token it issued, to authenticate it later."""

    namespace: str
    name: str
    sa_uid: str
    audiences: list[str]
    expires: float
    jti: str
    bound: dict[str, str] | None = None  # {kind, name, uid}
    extra: dict[str, list[str]] = field(default_factory=dict)


class Issuer:
    """The tokens one cluster has minted, and the key it signs them with."""

    def __init__(self) -> None:
        self.key = secrets.token_bytes(32)
        self.kid = hashlib.sha256(self.key).hexdigest()[:43]
        self.minted: dict[str, Minted] = {}

    def sign(self, claims: dict[str, Any]) -> str:
        header = _b64({"alg": "HS256", "kid": self.kid})
        payload = _b64(claims)
        mac = hmac.new(self.key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def _b64(obj: dict[str, Any]) -> str:
    raw = json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def handle(req: Request) -> web.Response:
    """POST ``/api/v1/namespaces/<ns>/serviceaccounts/<sa>/token`` (authorized by the caller)."""
    if req.http.method != "POST":
        raise ApiError(405, "the server does not allow this method on the requested resource")
    body, _ = await req.body()
    return req.respond(mint(req.cluster, req.namespace or "", req.name or "", body), 201)


def mint(cluster: Cluster, namespace: str, name: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or body.get("kind", "TokenRequest") != "TokenRequest":
        raise bad_request("the object provided is unrecognized (must be of type TokenRequest)")
    meta = body.get("metadata") or {}
    if meta.get("name") and meta["name"] != name:
        raise bad_request("name in URL does not match name in TokenRequest body")
    sa = cluster.find("", "serviceaccounts", namespace, name)
    if sa is None:
        raise not_found("", "serviceaccounts", name)
    spec = dict(body.get("spec") or {})
    seconds = spec.get("expirationSeconds")
    seconds = DEFAULT_SECONDS if seconds is None else seconds
    errors = []
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        errors.append(fe("spec.expirationSeconds", "Invalid", "must be an integer", seconds))
    elif seconds < MIN_SECONDS:
        errors.append(
            fe(
                "spec.expirationSeconds",
                "Invalid",
                "may not specify a duration less than 10 minutes",
                seconds,
            )
        )
    elif seconds > MAX_SECONDS:
        errors.append(
            fe(
                "spec.expirationSeconds",
                "Invalid",
                "may not specify a duration larger than 2^32 seconds",
                seconds,
            )
        )
    audiences = spec.get("audiences") or list(API_AUDIENCES)
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        errors.append(fe("spec.audiences", "Invalid", "must be a list of strings", audiences))
    if errors:
        raise invalid("TokenRequest", "authentication.k8s.io", name, errors)
    bound, extra = _bind(cluster, namespace, spec.get("boundObjectRef"))
    issuer = cluster.issuer
    now = int(time.time())
    jti = str(uuid.uuid4())
    sa_meta = sa["metadata"]
    claims: dict[str, Any] = {
        "aud": audiences,
        "exp": now + seconds,
        "iat": now,
        "iss": ISSUER,
        "jti": jti,
        "kubernetes.io": {
            "namespace": namespace,
            "serviceaccount": {"name": name, "uid": sa_meta["uid"]},
            **{k.lower(): v for k, v in (bound or {}).get("claims", {}).items()},
        },
        "nbf": now,
        "sub": f"system:serviceaccount:{namespace}:{name}",
    }
    token = issuer.sign(claims)
    issuer.minted[token] = Minted(
        namespace,
        name,
        sa_meta["uid"],
        list(audiences),
        float(now + seconds),
        jti,
        {k: v for k, v in bound.items() if k != "claims"} if bound else None,
        extra,
    )
    if bound:
        spec["boundObjectRef"] = {
            "kind": bound["kind"],
            "apiVersion": "v1",
            "name": bound["name"],
            "uid": bound["uid"],
        }
    return {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
        "spec": {**spec, "audiences": audiences, "expirationSeconds": seconds},
        "status": {
            "token": token,
            "expirationTimestamp": now_iso(datetime.fromtimestamp(now + seconds, UTC)),
        },
    }


def _bind(
    cluster: Cluster, namespace: str, ref: Any
) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """The bound object (kind, name, uid and the claims it adds) and the user extras it gives."""
    if not ref:
        return None, {}
    if not isinstance(ref, dict):
        raise bad_request("spec.boundObjectRef must be an object")
    kind, api_version = ref.get("kind", ""), ref.get("apiVersion", "")
    plural = _BINDABLE.get(kind)
    if plural is None or api_version != "v1":
        group, _, version = api_version.rpartition("/")
        raise bad_request(f"cannot bind token for object of type {group}/{version}, Kind={kind}")
    name = ref.get("name") or ""
    obj = cluster.find("", plural, None if kind == "Node" else namespace, name)
    if obj is None:
        raise not_found("", plural, name)
    uid = obj["metadata"]["uid"]
    if ref.get("uid") and ref["uid"] != uid:
        raise conflict(
            "",
            kind,
            name,
            f"the UID in the bound object reference ({ref['uid']}) does not match the UID in "
            "record. The object might have been deleted and then recreated",
        )
    claims: dict[str, Any] = {kind: {"name": name, "uid": uid}}
    extra: dict[str, list[str]] = {}
    if kind == "Pod":
        extra = {
            "authentication.kubernetes.io/pod-name": [name],
            "authentication.kubernetes.io/pod-uid": [uid],
        }
        node_name = (obj.get("spec") or {}).get("nodeName")
        node = cluster.find("", "nodes", None, node_name) if node_name else None
        if node is not None:
            node_uid = node["metadata"]["uid"]
            claims["Node"] = {"name": node_name, "uid": node_uid}
            extra["authentication.kubernetes.io/node-name"] = [node_name]
            extra["authentication.kubernetes.io/node-uid"] = [node_uid]
    elif kind == "Node":
        extra = {
            "authentication.kubernetes.io/node-name": [name],
            "authentication.kubernetes.io/node-uid": [uid],
        }
    return {"kind": kind, "name": name, "uid": uid, "claims": claims}, extra


def authenticate(cluster: Cluster, token: str, audiences: tuple[str, ...] = API_AUDIENCES):
    """The user a minted token stands for, or None when it is unknown, expired, meant for
    other audiences, or its service account or bound object is gone (or was recreated)."""
    from .cluster import User  # cluster imports this module

    minted = cluster.issuer.minted.get(token)
    if minted is None or minted.expires <= time.time():
        return None
    if not set(minted.audiences) & set(audiences):
        return None
    sa = cluster.find("", "serviceaccounts", minted.namespace, minted.name)
    if sa is None or sa["metadata"]["uid"] != minted.sa_uid:
        return None
    if minted.bound is not None:
        kind = minted.bound["kind"]
        ns = None if kind == "Node" else minted.namespace
        obj = cluster.find("", _BINDABLE[kind], ns, minted.bound["name"])
        if obj is None or obj["metadata"]["uid"] != minted.bound["uid"]:
            return None
    user: User = User(
        f"system:serviceaccount:{minted.namespace}:{minted.name}",
        ["system:serviceaccounts", f"system:serviceaccounts:{minted.namespace}"]
        + ["system:authenticated"],
        verbs=frozenset(),
        namespaces=None,
        uid=minted.sa_uid,
        extra={"authentication.kubernetes.io/credential-id": [f"JTI={minted.jti}"], **minted.extra},
    )
    return user
