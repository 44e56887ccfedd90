"""Identity providers: who vouches for a user, and how the portal asks them.

One module per provider type (``ldap``, ``oidc``; ``local`` needs none), each offering the
same functions, reached through :func:`module_for`:

- ``test_connection(provider) -> probe.Report`` — the "test connection" action: every step
  (DNS, TCP, TLS, bind/search or discovery/JWKS) with what exactly failed;
- ``revalidate(provider, users) -> None`` — ask the directory whether each user still exists
  and is enabled, and record the answer with ``provisioning.set_directory_state`` (the
  beat task ``apps.accounts.tasks.revalidate_directory_users`` calls it);
- ``sync(provider) -> dict`` (LDAP only) — the on-demand sync of every user's groups and
  presence; returns a report stored in ``IdentityProvider.last_sync``.

What is common to every directory — creating the user in the right tenant on first sign-in,
refusing to take over someone else's account, mirroring groups, administrator groups, losing
access when the directory drops someone — lives once, in ``provisioning``.
"""

from __future__ import annotations

from importlib import import_module

from ..choices import ProviderType

_MODULES = {
    ProviderType.LDAP: "apps.accounts.identity.ldap",
    ProviderType.OIDC: "apps.accounts.identity.oidc",
}


def module_for(provider_type: str):
    """The module implementing ``provider_type``, or None for local accounts."""
    path = _MODULES.get(provider_type)
    return import_module(path) if path else None
