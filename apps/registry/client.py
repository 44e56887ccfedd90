"""The portal's own requests to the Docker registry's API: reading a manifest (and an image's
config) to learn its architectures and size, deleting a manifest.

The portal authenticates with a token it signs for itself (subject :data:`PORTAL_SUBJECT`,
which no user can have: usernames hold no ``@``), scoped to the one repository and action.
Every request is bounded: ``REGISTRY_REQUEST_TIMEOUT`` seconds, manifests and configs of at
most ``REGISTRY_MANIFEST_MAX_BYTES``. A registry that cannot be reached raises
:class:`RegistryUnreachable`; anything else it refuses raises :class:`RegistryError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import requests
from django.conf import settings

from apps.core.errors import PortalError, ServiceUnavailable

from .token import issue

PORTAL_SUBJECT = "@tke-portal"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
MANIFEST_TYPES = INDEX_TYPES | IMAGE_TYPES
# An index names at most this many child manifests the portal reads (attestations included).
MAX_CHILDREN = 32


class RegistryError(PortalError):
    status_code = 502
    default_code = "registry_error"
    default_detail = "The registry refused the request."


class RegistryUnreachable(ServiceUnavailable):
    default_code = "registry_unreachable"
    default_detail = "registry unreachable"


def base_url(hint: str = "") -> str:
    """The registry's API root: ``REGISTRY_URL``, else the scheme and host of ``hint`` (the
    URL a notification event gives)."""
    if settings.REGISTRY_URL:
        return settings.REGISTRY_URL.rstrip("/")
    if hint:
        parts = requests.utils.urlparse(hint)
        if parts.scheme in ("http", "https") and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
    raise RegistryUnreachable(
        "registry unreachable: REGISTRY_URL is not set (where the portal reaches the registry)"
    )


def portal_token(repository: str, actions: list[str]) -> str:
    access = [{"type": "repository", "name": repository, "actions": actions}]
    return issue(PORTAL_SUBJECT, settings.REGISTRY_TOKEN_SERVICE, access)["token"]


def _request(method: str, url: str, *, token: str, accept: str = "", stream: bool = False):
    headers = {"Authorization": f"Bearer {token}"}
    if accept:
        headers["Accept"] = accept
    try:
        return requests.request(
            method,
            url,
            headers=headers,
            timeout=settings.REGISTRY_REQUEST_TIMEOUT,
            stream=stream,
            allow_redirects=True,
        )
    except requests.RequestException as exc:
        raise RegistryUnreachable(f"registry unreachable: {url.split('/v2/')[0]}: {exc}") from exc


def _read_capped(response) -> bytes:
    limit = settings.REGISTRY_MANIFEST_MAX_BYTES
    chunks, total = [], 0
    try:
        for chunk in response.iter_content(64 * 1024):
            total += len(chunk)
            if total > limit:
                raise RegistryError(f"The registry answered more than {limit} bytes.")
            chunks.append(chunk)
    except requests.RequestException as exc:
        raise RegistryUnreachable(f"registry unreachable: {exc}") from exc
    finally:
        response.close()
    return b"".join(chunks)


def _get_json(url: str, token: str, accept: str = "") -> tuple[bytes, dict]:
    response = _request("GET", url, token=token, accept=accept, stream=True)
    if response.status_code != 200:
        response.close()
        raise RegistryError(f"GET {url} answered {response.status_code}.")
    raw = _read_capped(response)
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise RegistryError(f"GET {url} did not answer JSON.") from exc
    if not isinstance(document, dict):
        raise RegistryError(f"GET {url} did not answer a JSON object.")
    return raw, document


@dataclass
class ImageFacts:
    """What the portal learns of a manifest: its bytes with its config's and layers' (for an
    index, its own bytes plus each child image's), and the architectures it runs on."""

    size: int = 0
    architectures: list[str] = field(default_factory=list)


def _sizes(document: dict) -> int:
    config = document.get("config") or {}
    total = int(config.get("size") or 0) if isinstance(config, dict) else 0
    for layer in document.get("layers") or []:
        if isinstance(layer, dict):
            total += int(layer.get("size") or 0)
    return total


def inspect_manifest(repository: str, reference: str, *, hint: str = "") -> ImageFacts:
    """Read ``repository``'s manifest ``reference`` (a digest or tag) from the registry."""
    root = base_url(hint)
    token = portal_token(repository, ["pull"])
    accept = ", ".join(sorted(MANIFEST_TYPES))
    raw, document = _get_json(f"{root}/v2/{repository}/manifests/{reference}", token, accept)
    media_type = document.get("mediaType", "")
    children = document.get("manifests")
    if media_type in INDEX_TYPES or isinstance(children, list):
        facts = ImageFacts(size=len(raw))
        architectures = set()
        for child in (children or [])[:MAX_CHILDREN]:
            if not isinstance(child, dict) or not child.get("digest"):
                continue
            platform = child.get("platform") or {}
            arch = platform.get("architecture") if isinstance(platform, dict) else None
            if arch and arch != "unknown":  # "unknown": attestation manifests (buildx)
                architectures.add(arch)
            child_raw, child_doc = _get_json(
                f"{root}/v2/{repository}/manifests/{child['digest']}", token, accept
            )
            facts.size += len(child_raw) + _sizes(child_doc)
        facts.architectures = sorted(architectures)
        return facts
    facts = ImageFacts(size=len(raw) + _sizes(document))
    config = document.get("config") or {}
    if isinstance(config, dict) and config.get("digest"):
        _, image_config = _get_json(f"{root}/v2/{repository}/blobs/{config['digest']}", token)
        arch = image_config.get("architecture")
        if isinstance(arch, str) and arch:
            facts.architectures = [arch]
    return facts


def delete_manifest(repository: str, digest: str) -> bool:
    """Delete the manifest ``digest`` of ``repository`` (every tag naming it goes with it).
    False when the registry no longer has it."""
    token = portal_token(repository, ["delete"])
    url = f"{base_url()}/v2/{repository}/manifests/{digest}"
    response = _request("DELETE", url, token=token)
    response.close()
    if response.status_code in (200, 202):
        return True
    if response.status_code == 404:
        return False
    raise RegistryError(
        f"The registry refused to delete {repository}@{digest}: HTTP {response.status_code}."
    )
