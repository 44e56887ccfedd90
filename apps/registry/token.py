"""The Docker Registry v2 token service's core: the signing key, the token, the scopes.

The registry (``auth: token`` in its configuration) trusts tokens signed by the key whose
certificate is its ``rootcertbundle``; it finds the key by the token header's ``kid``, the
libtrust key id of the public key: SHA-256 of the DER SubjectPublicKeyInfo, its first 240 bits
base32-encoded, in twelve groups of four characters joined by ``:``.

Repository names keep tenants apart: ``<tenant>/<namespace>/<repository>``; what a requested
scope is granted is what the permission layer allows (:func:`grant`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum

from apps.authz import check, check_here_or_in_project

from .choices import Visibility
from .models import RegistryNamespace, SigningKey

# docker scope action → portal action (on the repository, or its tags for delete)
ACTIONS = {"pull": "pullRepository", "push": "pushRepository", "delete": "deleteTag"}
CATALOG_ACTION = "listRegistryCatalog"


# -- the key ---------------------------------------------------------------------------------------
def libtrust_kid(public_key) -> str:
    """The libtrust key id of ``public_key`` (what docker distribution matches ``kid`` with)."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def _new_key() -> tuple[str, str, str]:
    """(private key PEM, self-signed certificate PEM, kid) of a fresh P-256 key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tke-portal registry token")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return private_pem, cert_pem, libtrust_kid(key.public_key())


def signing_key() -> SigningKey:
    """The portal's token signing key, generated (and stored encrypted) at first use."""
    row = SigningKey.objects.filter(name="default").first()
    if row is not None:
        return row
    private_pem, cert_pem, kid = _new_key()
    try:
        with transaction.atomic():
            return SigningKey.objects.create(
                name="default", kid=kid, private_key=private_pem, certificate=cert_pem
            )
    except IntegrityError:  # another process made it first: use theirs
        return SigningKey.objects.get(name="default")


# -- scopes ----------------------------------------------------------------------------------------
@dataclass
class Scope:
    """One requested ``type:name:actions`` scope (``repository:acme/team/app:pull,push``)."""

    type: str
    name: str
    actions: list[str] = field(default_factory=list)

    def as_claim(self) -> dict:
        return {"type": self.type, "name": self.name, "actions": self.actions}


def parse_scopes(values: list[str]) -> list[Scope]:
    """Every scope of the (possibly repeated, space-separated) ``scope`` parameters; malformed
    ones are dropped (they are granted nothing). A name may hold ``:`` (a port), so the type is
    before the first colon and the actions after the last."""
    out: list[Scope] = []
    for value in values:
        for item in value.split():
            kind, sep, rest = item.partition(":")
            name, sep2, actions = rest.rpartition(":")
            if not (sep and sep2 and kind and name):
                continue
            wanted = [a for a in actions.split(",") if a]
            out.append(Scope(kind, name, list(dict.fromkeys(wanted))))
    return out


# A repository name as Docker's distribution grammar has it: lowercase path components joined
# by ``/``, each separated inside by ``.``, ``_``, ``__`` or dashes — no ``..``, no ``:``, no
# empty component. Anything else is granted nothing (never judged as some other resource).
COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY_NAME = re.compile(rf"{COMPONENT}(?:/{COMPONENT})*")
MAX_REPOSITORY_NAME = 255


def split_repository(name: str) -> tuple[str, str, str] | None:
    """``acme/team/app`` → ("acme", "team", "app"); None when not tenant/namespace/repo or not
    a valid repository name."""
    if len(name) > MAX_REPOSITORY_NAME or not REPOSITORY_NAME.fullmatch(name):
        return None
    parts = name.split("/", 2)
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1], parts[2]


def _allowed(user, action: str, resource: str, namespace: RegistryNamespace) -> bool:
    return check_here_or_in_project(user, action, resource, namespace)


def namespace_usage(namespace: RegistryNamespace) -> int:
    """Bytes the namespace's repositories take (each image counted whole: layers shared
    between images are counted once per image, an upper bound of the storage)."""
    total = namespace.repositories.aggregate(total=Sum("size"))["total"]
    return int(total or 0)


def quota_refusal(namespace: RegistryNamespace) -> str | None:
    """Why a push to ``namespace`` is refused for its quota, or None."""
    quota = namespace.storage_quota_bytes
    if quota is None:
        return None
    used = namespace_usage(namespace)
    if used < quota:
        return None
    return (
        f"registry namespace {namespace.registry_path()} is over its storage quota: "
        f"{used} bytes used of {quota} allowed; delete tags (then garbage-collect) or raise "
        f"the quota to push again."
    )


def grant(user, scope: Scope, refusals: list[str] | None = None) -> list[str]:
    """The actions of ``scope`` that ``user`` (None: anonymous) is granted: requested ∩
    permitted. Pull: a public namespace, or ``pullRepository``; push: ``pushRepository``,
    while the namespace's usage is under its storage quota (a push permitted but refused for
    the quota is explained in ``refusals``); delete: ``deleteTag``; ``*`` stands for all
    three. The catalog is the platform administrator's (``listRegistryCatalog`` at platform
    level): it lists every tenant."""
    if scope.type == "registry":
        if scope.name == "catalog" and user is not None and check(user, CATALOG_ACTION, "*"):
            return [a for a in scope.actions if a == "*"]
        return []
    if scope.type != "repository":
        return []
    parts = split_repository(scope.name)
    if parts is None:
        return []
    tenant_slug, ns_name, repo = parts
    namespace = (
        RegistryNamespace.objects.select_related("tenant", "project")
        .filter(tenant__slug=tenant_slug, name=ns_name, tenant__is_active=True)
        .first()
    )
    if namespace is None:
        return []
    requested = scope.actions
    if "*" in requested:
        requested = list(ACTIONS)
    resource = f"{namespace.authz_resource}/repository:{repo}"
    granted = []
    for docker_action in requested:
        action = ACTIONS.get(docker_action)
        if action is None:
            continue
        if docker_action == "pull" and namespace.visibility == Visibility.PUBLIC:
            granted.append(docker_action)
        elif user is not None:
            target = f"{resource}/tag:*" if docker_action == "delete" else resource
            if _allowed(user, action, target, namespace):
                refusal = quota_refusal(namespace) if docker_action == "push" else None
                if refusal is None:
                    granted.append(docker_action)
                elif refusals is not None:
                    refusals.append(refusal)
    return granted


# -- the token -------------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(claims: dict, key: SigningKey) -> str:
    """An ES256 JWT of ``claims`` with header ``kid`` = the key's libtrust id."""
    private = serialization.load_pem_private_key(key.private_key.encode(), password=None)
    header = {"typ": "JWT", "alg": "ES256", "kid": key.kid}
    signing_input = (
        _b64(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64(json.dumps(claims, separators=(",", ":")).encode())
    )
    der = private.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return signing_input + "." + _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def issue(subject: str, service: str, access: list[dict]) -> dict:
    """The token service's answer: the signed token and its lifetime."""
    now = int(time.time())
    ttl = settings.REGISTRY_TOKEN_TTL
    claims = {
        "iss": settings.REGISTRY_TOKEN_ISSUER,
        "sub": subject,
        "aud": service,
        "exp": now + ttl,
        "nbf": now - 5,
        "iat": now,
        "jti": secrets.token_hex(16),
        "access": access,
    }
    token = sign(claims, signing_key())
    issued = datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z")
    return {"token": token, "access_token": token, "expires_in": ttl, "issued_at": issued}
