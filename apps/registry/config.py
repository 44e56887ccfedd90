"""The Docker registry's configuration for this portal's token service (docker/distribution
2.8, Debian's ``docker-registry``): what ``manage.py registry_config`` writes and the test
fixture runs."""

from __future__ import annotations

import secrets

import yaml
from django.conf import settings


def registry_config(
    *, listen: str, realm: str, storage_dir: str, certbundle: str, log_level: str = "warn"
) -> str:
    """The YAML of a registry on ``listen`` (host:port) storing under ``storage_dir`` and
    trusting tokens from ``realm`` (the portal's ``/registry/token``) signed by the key whose
    certificate is in ``certbundle``."""
    config = {
        "version": 0.1,
        "log": {"level": log_level, "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": storage_dir},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {"addr": listen, "secret": secrets.token_urlsafe(32)},
        "auth": {
            "token": {
                "realm": realm,
                "service": settings.REGISTRY_TOKEN_SERVICE,
                "issuer": settings.REGISTRY_TOKEN_ISSUER,
                "rootcertbundle": certbundle,
            }
        },
    }
    return yaml.safe_dump(config, sort_keys=False)
