"""The Docker registry's configuration for this portal's token service (docker/distribution
2.8, Debian's ``docker-registry``): what ``manage.py registry_config`` writes and the test
fixture runs."""

from __future__ import annotations

import secrets

import yaml
from django.conf import settings


def registry_config(
    *,
    listen: str,
    realm: str,
    storage_dir: str,
    certbundle: str,
    log_level: str = "warn",
    events_url: str | None = None,
) -> str:
    """The YAML of a registry on ``listen`` (host:port) storing under ``storage_dir`` and
    trusting tokens from ``realm`` (the portal's ``/registry/token``) signed by the key whose
    certificate is in ``certbundle``, posting its notifications to ``events_url`` (default:
    the realm's ``/registry/events``) with ``REGISTRY_EVENTS_SECRET`` when that is set."""
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
    if settings.REGISTRY_EVENTS_SECRET:
        url = events_url or realm.rsplit("/registry/token", 1)[0] + "/registry/events"
        config["notifications"] = {
            "events": {"includereferences": True},
            "endpoints": [
                {
                    "name": "tke-portal",
                    "url": url,
                    "headers": {"Authorization": [f"Bearer {settings.REGISTRY_EVENTS_SECRET}"]},
                    # The portal reads the pushed manifest before answering: a few requests.
                    "timeout": "15s",
                    # After 3 failures in a row the registry waits 2 s between retries (the
                    # queue is in memory: events are lost if the registry stops meanwhile).
                    "threshold": 3,
                    "backoff": "2s",
                    "ignoredmediatypes": ["application/octet-stream"],
                }
            ],
        }
    return yaml.safe_dump(config, sort_keys=False)
