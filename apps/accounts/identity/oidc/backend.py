"""The OpenID Connect sign-in backend: mozilla-django-oidc's code flow, per provider, with
the checks the library leaves out.

mozilla-django-oidc reads its settings from ``django.conf.settings`` — one provider per
process. Here every tenant may have its own, so :func:`provider_settings` answers the
library's ``get_settings`` from the provider row, and the backend is built for one provider
at a time (``PortalOIDCBackend(provider)``; Django's own no-argument instance only serves
``get_user``, the per-request re-check of sessions this backend opened).

What we add to the library:

- the id_token's ``iss`` is the configured issuer, ``aud`` holds our client id (``azp`` too
  when there are several audiences), ``exp`` has not passed and ``iat`` is not in the
  future (with :data:`LEEWAY`), the nonce is the one this browser's flow sent; a signature
  is checked against every key of the provider's JWKS that fits the algorithm (providers
  without ``kid`` in their tokens, like oidc-provider-mock, need ``verify_kid`` off);
- users are found by (provider, ``sub``) and never by email: the library's email matching
  would let one tenant's provider sign in as another tenant's user with the same address;
  creating and updating them, groups and administrator status go through
  ``provisioning.provision_user``;
- the username claim, allowed email domains and ``email_verified`` are enforced;
- the refresh token is kept (encrypted) for revalidation, and the RP-initiated logout URL
  is prepared so signing out of the portal also ends the provider's session.

Every refusal raises :class:`SignInRefused` with a message for the sign-in page and the
``auth.login_failed`` audit event.
"""

from __future__ import annotations

import hmac
import time
from urllib.parse import urlencode

import jwt
from django.contrib.auth import get_user_model
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from requests.auth import HTTPBasicAuth

from ...backends import PortalBackendMixin
from ...choices import ProviderType
from ..provisioning import ExternalGroup, Identity, ProvisioningRefused, provision_user
from .discovery import (
    ProviderError,
    discover,
    fetch_jwks,
    http,
    same_issuer,
    signing_keys,
    verify_option,
)

# Clock difference tolerated between the provider and us, in seconds.
LEEWAY = 60
CALLBACK_URL_NAME = "oidc-callback"


class SignInRefused(Exception):
    """An OpenID Connect sign-in the portal refuses; the message says exactly why."""


def token_auth_basic(document: dict) -> bool:
    """Client authentication at the token endpoint: HTTP Basic (the standard's default)
    unless the provider says it only takes the secret in the form body."""
    methods = document.get("token_endpoint_auth_methods_supported")
    if isinstance(methods, list) and methods and "client_secret_basic" not in methods:
        return "client_secret_post" not in methods
    return True


def provider_settings(provider, document: dict) -> dict:
    """mozilla-django-oidc's settings for ``provider`` (its discovery ``document``)."""
    config = provider.config
    return {
        "OIDC_OP_AUTHORIZATION_ENDPOINT": document["authorization_endpoint"],
        "OIDC_OP_TOKEN_ENDPOINT": document["token_endpoint"],
        "OIDC_OP_USER_ENDPOINT": document.get("userinfo_endpoint"),
        "OIDC_OP_JWKS_ENDPOINT": document["jwks_uri"],
        "OIDC_RP_CLIENT_ID": config["client_id"],
        "OIDC_RP_CLIENT_SECRET": provider.secret,
        "OIDC_RP_SIGN_ALGO": config["sign_algo"],
        "OIDC_RP_IDP_SIGN_KEY": None,
        "OIDC_RP_SCOPES": " ".join(config["scopes"]),
        "OIDC_VERIFY_SSL": verify_option(config),
        "OIDC_TIMEOUT": config["timeout"],
        "OIDC_PROXY": None,
        "OIDC_VERIFY_KID": config["verify_kid"],
        "OIDC_USE_NONCE": True,
        "OIDC_USE_PKCE": config["use_pkce"],
        "OIDC_PKCE_CODE_CHALLENGE_METHOD": "S256",
        "OIDC_AUTHENTICATION_CALLBACK_URL": CALLBACK_URL_NAME,
        "OIDC_TOKEN_USE_BASIC_AUTH": token_auth_basic(document),
        "OIDC_ALLOW_UNSECURED_JWT": False,
        "OIDC_STORE_ACCESS_TOKEN": False,
        "OIDC_STORE_ID_TOKEN": False,
        "OIDC_CREATE_USER": True,
        "OIDC_REDIRECT_FIELD_NAME": "next",
        "OIDC_AUTH_REQUEST_EXTRA_PARAMS": {},
    }


def _provider_error_message(provider, exc: Exception) -> str:
    return f"identity provider '{provider.name}' could not be reached: {exc}"


def verify_id_token_claims(
    claims: dict, *, issuer: str, client_id: str, nonce: str | None, now: float
) -> None:
    """The checks of OpenID Connect Core 3.1.3.7 the library does not make. ``nonce`` None:
    a refreshed id_token, which carries no nonce of ours."""
    if not same_issuer(claims.get("iss"), issuer):
        raise SignInRefused(
            f"the id_token was issued by '{claims.get('iss')}', not by the configured issuer "
            f"'{issuer}'"
        )
    audiences = claims.get("aud")
    audiences = [audiences] if isinstance(audiences, str) else audiences
    if not isinstance(audiences, list) or client_id not in audiences:
        raise SignInRefused(
            f"the id_token is meant for {audiences!r}, not for this portal's client id "
            f"'{client_id}'"
        )
    azp = claims.get("azp")
    if len(audiences) > 1 and azp is None:
        raise SignInRefused(
            f"the id_token has several audiences {audiences!r} and does not say which one "
            "it was issued to ('azp')"
        )
    if azp is not None and azp != client_id:
        raise SignInRefused(f"the id_token was issued to {azp!r}, not to '{client_id}'")
    for name in ("exp", "iat"):
        if not isinstance(claims.get(name), int | float) or isinstance(claims[name], bool):
            raise SignInRefused(f"the id_token has no valid '{name}' claim")
    if claims["exp"] + LEEWAY < now:
        expired = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(claims["exp"]))
        raise SignInRefused(f"the id_token expired at {expired}")
    if claims["iat"] - LEEWAY > now:
        raise SignInRefused(
            "the id_token was issued in the future (the provider's clock is ahead of ours)"
        )
    if isinstance(claims.get("nbf"), int | float) and claims["nbf"] - LEEWAY > now:
        raise SignInRefused("the id_token is not valid yet (nbf)")
    if nonce is not None and not hmac.compare_digest(
        str(claims.get("nonce", "")).encode(), nonce.encode()
    ):
        raise SignInRefused("the id_token's nonce is not the one this sign-in sent (replay?)")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise SignInRefused("the id_token has no subject ('sub')")


class PortalOIDCBackend(PortalBackendMixin, OIDCAuthenticationBackend):
    """Sign-in through one tenant's OpenID provider (see the module docstring)."""

    def __init__(self, provider=None, *args, **kwargs):
        # The library's __init__ reads every setting; without a provider (Django's own
        # instance, for get_user) there is nothing to read.
        self.UserModel = get_user_model()
        self.provider = None
        self.token_info: dict = {}
        if provider is not None:
            self.configure(provider)

    def configure(self, provider, document: dict | None = None) -> None:
        self.provider = provider
        try:
            self.document = document or discover(provider)
        except ProviderError as exc:
            raise SignInRefused(_provider_error_message(provider, exc)) from exc
        self._settings = provider_settings(provider, self.document)
        OIDCAuthenticationBackend.__init__(self)
        self.OIDC_VERIFY_KID = self.get_settings("OIDC_VERIFY_KID")

    def get_settings(self, attr, *args):  # the library calls it statically: per provider here
        settings = getattr(self, "_settings", {})
        if attr in settings:
            return settings[attr]
        if args:
            return args[0]
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"OIDC setting {attr} has no per-provider value")

    # -- the code flow ---------------------------------------------------------------------
    def authenticate(self, request, *, oidc_provider=None, nonce=None, code_verifier=None):
        """Exchange the callback's code for tokens at ``oidc_provider`` and return the
        portal user. Only the callback view passes ``oidc_provider``: password sign-ins,
        whose credentials do not bind to this signature, never reach it."""
        if oidc_provider is None or oidc_provider.type != ProviderType.OIDC:
            return None
        if self.provider is None or self.provider.pk != oidc_provider.pk:
            self.configure(oidc_provider)
        if not nonce:
            raise SignInRefused("this sign-in has no nonce: start it again")
        user = super().authenticate(request, nonce=nonce, code_verifier=code_verifier)
        if user is None:  # the library's silent refusals (no code, no id_token)
            raise SignInRefused(
                f"identity provider '{oidc_provider.name}' returned no usable id_token"
            )
        return user

    def get_token(self, payload):
        auth = None
        if self.get_settings("OIDC_TOKEN_USE_BASIC_AUTH"):
            auth = HTTPBasicAuth(payload.pop("client_id"), payload.pop("client_secret"))
        try:
            response = http(
                self.provider, "POST", self.OIDC_OP_TOKEN_ENDPOINT, data=payload, auth=auth
            )
        except ProviderError as exc:
            raise SignInRefused(_provider_error_message(self.provider, exc)) from exc
        self.token_info = token_response(self.provider, response)
        if not self.token_info.get("id_token"):
            raise SignInRefused(f"identity provider '{self.provider.name}' sent no id_token")
        return self.token_info

    def retrieve_matching_jwk(self, token):
        keys = self.candidate_keys(token)
        return jwt.PyJWK(keys[0], algorithm=self.OIDC_RP_SIGN_ALGO)

    def candidate_keys(self, token) -> list[dict]:
        """The provider's keys that may have signed ``token``: its ``kid`` when it has one
        (required when ``verify_kid``), otherwise every key for the algorithm. A key id we
        do not know may mean the provider rotated its keys: discovery and JWKS are read
        again once."""
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        if self.OIDC_VERIFY_KID and not kid:
            raise SignInRefused(
                "the id_token names no signing key ('kid'); turn off verify_kid for this "
                "provider if it never sends one"
            )
        for attempt in range(2):
            try:
                if attempt:
                    self.document = discover(self.provider, refresh=True)
                keys = fetch_jwks(self.provider, self.document)
            except ProviderError as exc:
                raise SignInRefused(_provider_error_message(self.provider, exc)) from exc
            found = signing_keys(keys, self.OIDC_RP_SIGN_ALGO, kid)
            if not found and kid and not self.OIDC_VERIFY_KID:
                found = signing_keys(keys, self.OIDC_RP_SIGN_ALGO)
            if found:
                return found
        which = f"with kid '{kid}' " if kid else ""
        raise SignInRefused(
            f"identity provider '{self.provider.name}' publishes no {self.OIDC_RP_SIGN_ALGO} "
            f"key {which}that could have signed the id_token"
        )

    def verify_token(self, token, **kwargs):
        """Signature, then the claims (see :func:`verify_id_token_claims`)."""
        return verify_id_token(self, token, nonce=kwargs.get("nonce"))

    def store_tokens(self, access_token, id_token):
        """Tokens are not kept in the session; the refresh token goes to the user row once
        we know who it belongs to (``get_or_create_user``)."""

    def get_userinfo(self, access_token, id_token, payload):
        """The id_token's claims, completed by the userinfo endpoint when the provider has
        one (some put groups or email only there); its ``sub`` must be the token's."""
        claims = dict(payload)
        if not self.OIDC_OP_USER_ENDPOINT or not access_token:
            return claims
        try:
            response = http(
                self.provider,
                "GET",
                self.OIDC_OP_USER_ENDPOINT,
                headers={"Authorization": f"Bearer {access_token}"},
            )
        except ProviderError as exc:
            raise SignInRefused(_provider_error_message(self.provider, exc)) from exc
        if response.status_code != 200:
            raise SignInRefused(
                f"identity provider '{self.provider.name}': userinfo answered HTTP "
                f"{response.status_code}"
            )
        if response.headers.get("content-type", "").lower().startswith("application/jwt"):
            return claims  # a signed userinfo: the id_token already says what we need
        try:
            info = response.json()
        except ValueError as exc:
            raise SignInRefused(
                f"identity provider '{self.provider.name}': userinfo is not JSON"
            ) from exc
        if not isinstance(info, dict) or info.get("sub") != payload["sub"]:
            raise SignInRefused("the userinfo answer is about another subject than the id_token")
        for name, value in info.items():
            if name not in ("sub", "iss", "aud", "exp", "iat", "nonce", "azp"):
                claims[name] = value
        return claims

    def get_or_create_user(self, access_token, id_token, payload):
        claims = self.get_userinfo(access_token, id_token, payload)
        identity = identity_from_claims(self.provider, claims)
        try:
            user = provision_user(self.provider, identity, request=self.request)
        except ProvisioningRefused as exc:
            raise SignInRefused(str(exc)) from exc
        refresh_token = self.token_info.get("refresh_token")
        if refresh_token:
            type(user).objects.filter(pk=user.pk).update(directory_grant=refresh_token)
            user.directory_grant = refresh_token
        user.oidc_end_session_url = end_session_url(
            self.provider, self.document, id_token, self.request
        )
        return user


def token_response(provider, response) -> dict:
    """The token endpoint's JSON answer, or SignInRefused naming the provider's error."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code == 200 and isinstance(data, dict):
        return data
    if isinstance(data, dict) and data.get("error"):
        detail = str(data["error"])
        if data.get("error_description"):
            detail += f": {data['error_description']}"
    else:
        detail = f"HTTP {response.status_code}"
    raise SignInRefused(f"identity provider '{provider.name}' refused the token request ({detail})")


def verify_id_token(backend: PortalOIDCBackend, token: str, *, nonce: str | None) -> dict:
    """Verify ``token``'s signature with the provider's keys and its claims; the claims."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise SignInRefused(f"the id_token is not a valid JWT: {exc}") from exc
    alg = header.get("alg")
    if alg != backend.OIDC_RP_SIGN_ALGO:
        raise SignInRefused(
            f"the id_token is signed with {alg!r}; this provider is configured for "
            f"{backend.OIDC_RP_SIGN_ALGO}"
        )
    claims = None
    for key in backend.candidate_keys(token):
        try:
            claims = jwt.decode(
                token,
                jwt.PyJWK(key, algorithm=alg),
                algorithms=[alg],
                # Time, issuer and audience are checked below, with our messages.
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
            break
        except jwt.InvalidSignatureError:
            continue
        except (jwt.InvalidTokenError, jwt.PyJWKError) as exc:
            raise SignInRefused(f"the id_token was refused: {exc}") from exc
    if claims is None:
        raise SignInRefused("the id_token's signature does not verify with the provider's keys")
    verify_id_token_claims(
        claims,
        issuer=backend.provider.config["issuer"],
        client_id=backend.OIDC_RP_CLIENT_ID,
        nonce=nonce,
        now=time.time(),
    )
    return claims


def groups_from_claims(config: dict, claims: dict) -> list[ExternalGroup]:
    """The groups claim as ExternalGroups: a list of names (or one name); Keycloak-style
    paths keep their full value as the id and their last segment as the name."""
    name = config.get("groups_claim")
    if not name:
        return []
    value = claims.get(name) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    groups = []
    for item in value:
        if isinstance(item, str) and item.strip():
            groups.append(ExternalGroup(external_id=item, name=item.rstrip("/").rsplit("/", 1)[-1]))
    return groups


def identity_from_claims(provider, claims: dict) -> Identity:
    """What the provider vouched for, checked against the provider's config."""
    config = provider.config
    claim = config["username_claim"]
    username = claims.get(claim)
    if not isinstance(username, str) or not username.strip():
        raise SignInRefused(
            f"identity provider '{provider.name}' sent no '{claim}' claim, which this "
            "provider's config (username_claim) names as the portal username"
        )
    email = claims.get("email") if isinstance(claims.get("email"), str) else ""
    verified = claims.get("email_verified")
    unverified = verified is False or (isinstance(verified, str) and verified.lower() == "false")
    allowed = [d.lower().lstrip("@") for d in config.get("allowed_email_domains") or []]
    if allowed:
        domain = email.rsplit("@", 1)[-1].lower() if "@" in email else ""
        if not email:
            raise SignInRefused(
                f"identity provider '{provider.name}' sent no email; only addresses in "
                f"{', '.join(allowed)} may sign in"
            )
        if unverified:
            raise SignInRefused(f"the email address '{email}' is not verified at the provider")
        if domain not in allowed:
            raise SignInRefused(
                f"the email address '{email}' is not in an allowed domain ({', '.join(allowed)})"
            )
    display_name = claims.get("name") or " ".join(
        str(claims[part]) for part in ("given_name", "family_name") if claims.get(part)
    )
    return Identity(
        username=username.strip(),
        external_id=claims["sub"],
        email="" if unverified else email,
        display_name=str(display_name or ""),
        phone=str(claims.get("phone_number") or ""),
        groups=groups_from_claims(config, claims),
    )


def end_session_url(provider, document: dict, id_token: str, request) -> str:
    """RP-initiated logout: where signing out of the portal sends the browser so the
    provider's session ends too ('' when the provider has no end_session_endpoint or the
    config turns it off). The provider sends the browser back to our sign-in page."""
    endpoint = document.get("end_session_endpoint")
    if not provider.config.get("end_session", True) or not endpoint:
        return ""
    query = urlencode(
        {
            "id_token_hint": id_token,
            "post_logout_redirect_uri": request.build_absolute_uri(reverse("login")),
            "client_id": provider.config["client_id"],
        }
    )
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"
