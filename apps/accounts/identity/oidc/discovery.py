"""Talking to an OpenID provider over HTTP: its discovery document and its signing keys.

Every request goes out with the provider's own TLS settings (``config.ca_cert`` /
``verify_tls``) and timeout — mozilla-django-oidc's settings are process-wide, ours are per
provider. The discovery document is cached on the row (``IdentityProvider.discovery``:
``{"issuer", "fetched_at", "document"}``) and fetched again when it is older than
:data:`MAX_AGE`, when the configured issuer changed, or when a caller found it stale (a
signing key it does not list, an endpoint that moved).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time

import requests

from ..probe import describe_os_error

WELL_KNOWN = "/.well-known/openid-configuration"
MAX_AGE = 3600
REQUIRED_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri")
# Key types able to verify each signing algorithm the config offers.
KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC"}


class ProviderError(Exception):
    """The provider could not be asked, or answered nonsense; the message says which URL and
    exactly what went wrong (shown to users and in "test connection")."""


def verify_option(config: dict) -> bool | str:
    """``requests``' ``verify``: False, True (system CAs) or the path of a CA bundle file
    holding ``config.ca_cert`` (requests wants a file; written once per distinct bundle)."""
    if not config.get("verify_tls", True):
        return False
    pem = (config.get("ca_cert") or "").strip()
    if not pem:
        return True
    digest = hashlib.sha256(pem.encode()).hexdigest()[:24]
    path = os.path.join(tempfile.gettempdir(), f"tkeportal-oidc-ca-{digest}.pem")
    if not os.path.exists(path):
        fd, partial = tempfile.mkstemp(dir=tempfile.gettempdir(), suffix=".pem")
        with os.fdopen(fd, "w") as handle:
            handle.write(pem + "\n")
        os.replace(partial, path)  # atomic: concurrent writers leave one complete file
    return path


_SOCKET_MODULES = ("builtins", "socket", "ssl")


def _root_os_error(exc: BaseException) -> OSError | None:
    """The socket-level error under requests' and urllib3's wrappers, if any."""
    seen, queue = set(), [exc]
    while queue:
        current = queue.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        # requests' own exceptions are OSErrors too: only the socket layer's count.
        if isinstance(current, OSError) and type(current).__module__ in _SOCKET_MODULES:
            return current
        queue += [getattr(current, "reason", None), current.__cause__, current.__context__]
        queue += [arg for arg in current.args if isinstance(arg, BaseException)]
    return None


def describe_request_error(url: str, exc: requests.RequestException) -> str:
    """``http://idp/...: connection refused`` rather than urllib3's nested repr."""
    root = _root_os_error(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        text = f"TLS failed: {describe_os_error(root) if root else exc}"
    elif isinstance(exc, requests.Timeout):
        text = "timed out"
    elif root is not None:
        text = describe_os_error(root)
    else:
        text = str(exc) or type(exc).__name__
    return f"{url}: {text}"


def http(provider, method: str, url: str, **kwargs) -> requests.Response:
    """One request to the provider with its TLS settings and timeout; ProviderError when
    nothing came back."""
    config = provider.config or {}
    timeout = kwargs.pop("timeout", config.get("timeout", 5))
    kwargs.setdefault("verify", verify_option(config))
    try:
        return requests.request(method, url, allow_redirects=False, timeout=timeout, **kwargs)
    except requests.RequestException as exc:
        raise ProviderError(describe_request_error(url, exc)) from exc


def _json(response: requests.Response, url: str) -> dict:
    if response.status_code != 200:
        raise ProviderError(f"{url} answered HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError as exc:
        raise ProviderError(f"{url} did not answer JSON") from exc
    if not isinstance(data, dict):
        raise ProviderError(f"{url} did not answer a JSON object")
    return data


def same_issuer(a: str, b: str) -> bool:
    """The configured issuer is stored without a trailing slash; some providers publish
    theirs with one (``https://tenant.auth0.com/``). Otherwise exactly equal."""
    return isinstance(a, str) and isinstance(b, str) and a.rstrip("/") == b.rstrip("/")


def fetch_discovery(provider) -> dict:
    """The issuer's discovery document, checked: it names the configured issuer and has
    the endpoints the code flow needs. Raises ProviderError."""
    issuer = provider.config["issuer"]
    url = issuer.rstrip("/") + WELL_KNOWN
    document = _json(http(provider, "GET", url), url)
    if not same_issuer(document.get("issuer"), issuer):
        raise ProviderError(
            f"the discovery document at {url} names issuer '{document.get('issuer')}', "
            f"but the configured issuer is '{issuer}'"
        )
    missing = [name for name in REQUIRED_ENDPOINTS if not document.get(name)]
    if missing:
        raise ProviderError(f"the discovery document at {url} has no {', '.join(missing)}")
    return document


def discover(provider, *, refresh: bool = False) -> dict:
    """The discovery document, from the row's cache unless it is older than MAX_AGE, was
    fetched for another issuer, or ``refresh`` is asked. A fresh fetch is saved on the row."""
    cached = provider.discovery or {}
    fresh = (
        not refresh
        and cached.get("document")
        and cached.get("issuer") == provider.config["issuer"]
        and time.time() - float(cached.get("fetched_at", 0)) < MAX_AGE
    )
    if fresh:
        return cached["document"]
    document = fetch_discovery(provider)
    provider.discovery = {
        "issuer": provider.config["issuer"],
        "fetched_at": time.time(),
        "document": document,
    }
    type(provider).objects.filter(pk=provider.pk).update(discovery=provider.discovery)
    return document


def fetch_jwks(provider, document: dict) -> list[dict]:
    """The provider's published keys (JWK dicts). Raises ProviderError."""
    url = document["jwks_uri"]
    keys = _json(http(provider, "GET", url), url).get("keys")
    if not isinstance(keys, list):
        raise ProviderError(f"{url} has no 'keys' list")
    return [key for key in keys if isinstance(key, dict)]


def signing_keys(keys: list[dict], alg: str, kid: str | None = None) -> list[dict]:
    """The keys able to verify a signature made with ``alg`` (and, when ``kid`` is given,
    carrying that key id): right key type, not an encryption key, no other ``alg``."""
    kty = KEY_TYPES.get(alg[:2])
    return [
        key
        for key in keys
        if key.get("kty") == kty
        and key.get("use", "sig") == "sig"
        and key.get("alg", alg) == alg
        and (kid is None or key.get("kid") == kid)
    ]


def check_signing_algorithm(document: dict, alg: str) -> None:
    offered = document.get("id_token_signing_alg_values_supported")
    if isinstance(offered, list) and offered and alg not in offered:
        raise ProviderError(
            f"the provider signs id_tokens with {', '.join(map(str, offered))}; "
            f"config sign_algo is {alg}"
        )
