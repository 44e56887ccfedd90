"""OpenID Connect identity providers (mozilla-django-oidc, per tenant).

- ``discovery`` — the issuer's discovery document (cached on the row) and its keys;
- ``backend`` — :class:`PortalOIDCBackend`, the code flow with every id_token check and
  provisioning by (provider, ``sub``);
- ``views`` — ``oidc-start`` and ``oidc-callback``;
- ``directory`` — :func:`test_connection` and :func:`revalidate` (refresh grants), the
  functions every provider module offers (``apps.accounts.identity``).
"""

from .backend import PortalOIDCBackend, SignInRefused
from .directory import revalidate, test_connection

__all__ = ["PortalOIDCBackend", "SignInRefused", "revalidate", "test_connection"]
