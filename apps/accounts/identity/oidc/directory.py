"""What the portal asks an OpenID provider outside of a sign-in: "test connection" and
revalidation of its users.

Revalidation uses the refresh token kept from each user's last sign-in
(``User.directory_grant``, encrypted): the provider refusing it with ``invalid_grant``
means the grant was revoked or the user disabled or deleted there, and the user loses
access at once (sessions and API keys ask ``User.vouched_for``). Users without a stored
grant (the provider issues no refresh tokens) cannot be re-checked: the portal trusts their
last sign-in for ``PORTAL_OIDC_UNVERIFIED_MAX_AGE`` only (``User.directory_refusal``: their
sessions and API keys stop after it until they sign in through the provider again), and
their groups change at their next sign-in.

Some providers bind refresh tokens to their own session (Keycloak's "SSO Session Idle"):
request the ``offline_access`` scope there, or an idle user reads as disabled until they
sign in again.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.db import transaction
from requests.auth import HTTPBasicAuth

from ...choices import DirectoryState
from ...models import User
from .. import probe
from ..provisioning import ProvisioningRefused, set_directory_state, sync_groups
from .backend import (
    PortalOIDCBackend,
    SignInRefused,
    groups_from_claims,
    token_auth_basic,
    verify_id_token,
)
from .discovery import (
    ProviderError,
    check_signing_algorithm,
    discover,
    fetch_jwks,
    http,
    signing_keys,
)


def test_connection(provider) -> probe.Report:
    """dns → tcp → tls (https) → discovery (issuer matches, endpoints present) → jwks (a key
    for ``sign_algo``). Stops at the first failing step, which says exactly why."""
    report = probe.Report()
    config = provider.config
    timeout = config.get("timeout", 5)
    try:
        host, port, scheme = report.run(
            "url", lambda: probe.host_port(config["issuer"], {"http": 80, "https": 443})
        )
        report.steps.pop()  # only a step when it fails (validation makes that rare)
        probe.check_dns(report, host, port)
        probe.check_tcp(report, host, port, timeout)
        if scheme == "https":
            probe.check_tls(
                report,
                host,
                port,
                timeout,
                config.get("ca_cert", ""),
                config.get("verify_tls", True),
            )
        document = report.run("discovery", lambda: _discovery(provider))
        report.steps[-1].detail = _describe_discovery(document)
        report.run("jwks", lambda: _jwks(provider, document))
    except probe.Stop:
        pass
    return report


def _discovery(provider) -> dict:
    try:
        document = discover(provider, refresh=True)
        check_signing_algorithm(document, provider.config["sign_algo"])
    except ProviderError as exc:
        raise probe.StepFailed(str(exc)) from exc
    return document


def _describe_discovery(document: dict) -> str:
    extras = [name for name in ("userinfo_endpoint", "end_session_endpoint") if document.get(name)]
    return f"issuer {document['issuer']}; authorization, token and jwks endpoints" + (
        f", {', '.join(extras)}" if extras else ""
    )


def _jwks(provider, document) -> str:
    alg = provider.config["sign_algo"]
    try:
        keys = fetch_jwks(provider, document)
    except ProviderError as exc:
        raise probe.StepFailed(str(exc)) from exc
    usable = signing_keys(keys, alg)
    if not usable:
        raise probe.StepFailed(
            f"{document['jwks_uri']} has {len(keys)} key(s), none usable for {alg}"
        )
    return f"{len(keys)} key(s), {len(usable)} usable for {alg}"


def revalidate(provider, users) -> None:
    """Ask the provider about each user through their refresh grant (module docstring)."""
    try:
        document = discover(provider)
    except ProviderError as exc:
        for user in users:
            set_directory_state(user, DirectoryState.UNREACHABLE, detail=str(exc))
        return
    for user in users:
        if user.identity_provider_id != provider.pk:
            continue
        if not user.directory_grant:
            # Nothing to ask with (users_due leaves them out): their check time stays their
            # last sign-in, which bounds their access (User.directory_refusal).
            continue
        _revalidate_user(provider, document, user)


def _revalidate_user(provider, document, user) -> None:
    config = provider.config
    data = {"grant_type": "refresh_token", "refresh_token": user.directory_grant}
    auth = None
    if token_auth_basic(document):
        auth = HTTPBasicAuth(config["client_id"], provider.secret)
    else:
        data.update(client_id=config["client_id"], client_secret=provider.secret)
    endpoint = document["token_endpoint"]
    try:
        response = http(provider, "POST", endpoint, data=data, auth=auth)
    except ProviderError as exc:
        set_directory_state(user, DirectoryState.UNREACHABLE, detail=str(exc))
        return
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    answer = answer if isinstance(answer, dict) else {}
    if response.status_code == 400 and answer.get("error") == "invalid_grant":
        reason = answer.get("error_description") or "invalid_grant"
        set_directory_state(
            user,
            DirectoryState.DISABLED,
            detail=f"identity provider '{provider.name}' refused the user's refresh grant "
            f"({reason}): revoked, or the user is disabled there",
        )
        return
    if response.status_code != 200:
        host = urlsplit(endpoint).netloc
        set_directory_state(
            user,
            DirectoryState.UNREACHABLE,
            detail=f"token endpoint at {host} answered HTTP {response.status_code} "
            f"{answer.get('error', '')}".strip(),
        )
        return
    with transaction.atomic():
        if answer.get("refresh_token"):
            User.objects.filter(pk=user.pk).update(directory_grant=answer["refresh_token"])
            user.directory_grant = answer["refresh_token"]
        if answer.get("id_token"):
            _refresh_groups(provider, document, user, answer["id_token"])
        set_directory_state(user, DirectoryState.PRESENT)


def _refresh_groups(provider, document, user, id_token: str) -> None:
    """A refreshed id_token (verified like a sign-in's, but without a nonce) about the same
    subject brings the user's current groups."""
    backend = PortalOIDCBackend()
    try:
        backend.configure(provider, document)
        claims = verify_id_token(backend, id_token, nonce=None)
    except SignInRefused:
        return  # the grant itself was accepted: presence is known, groups stay as they are
    if claims.get("sub") != user.external_id:
        return
    if provider.config.get("groups_claim") and provider.config["groups_claim"] in claims:
        try:
            sync_groups(provider, user, groups_from_claims(provider.config, claims))
        except ProvisioningRefused:
            return  # too many groups: presence is known, groups stay as they are
