"""``manage.py registry_config``: the registry's rootcertbundle is the certificate of the key
tokens are signed with, and the configuration points at the token service."""

from __future__ import annotations

import io

import pytest
import yaml
from cryptography import x509
from django.core.management import call_command

from apps.registry.token import libtrust_kid, signing_key

pytestmark = pytest.mark.django_db


def test_registry_config_writes_the_signing_certificate(tmp_path, settings):
    settings.REGISTRY_TOKEN_SERVICE = "svc"
    settings.REGISTRY_TOKEN_ISSUER = "iss"
    bundle = tmp_path / "certs" / "root.pem"
    out = io.StringIO()
    call_command(
        "registry_config",
        certbundle=str(bundle),
        realm="https://portal.test/registry/token",
        listen="127.0.0.1:5999",
        storage=str(tmp_path / "data"),
        stdout=out,
    )
    config = yaml.safe_load(out.getvalue())
    assert config["auth"]["token"] == {
        "realm": "https://portal.test/registry/token",
        "service": "svc",
        "issuer": "iss",
        "rootcertbundle": str(bundle.resolve()),
    }
    assert config["http"]["addr"] == "127.0.0.1:5999"
    assert config["storage"]["filesystem"]["rootdirectory"] == str((tmp_path / "data").resolve())
    cert = x509.load_pem_x509_certificate(bundle.read_bytes())
    assert libtrust_kid(cert.public_key()) == signing_key().kid
    assert "PRIVATE" not in bundle.read_text()


def test_notifications_endpoint_carries_the_shared_secret(tmp_path, settings):
    settings.REGISTRY_EVENTS_SECRET = "s3cret"
    out = io.StringIO()
    call_command(
        "registry_config",
        certbundle=str(tmp_path / "root.pem"),
        realm="https://portal.test/registry/token",
        stdout=out,
    )
    endpoint = yaml.safe_load(out.getvalue())["notifications"]["endpoints"][0]
    assert endpoint["url"] == "https://portal.test/registry/events"
    assert endpoint["headers"] == {"Authorization": ["Bearer s3cret"]}
    assert endpoint["timeout"] == "15s" and endpoint["threshold"] == 3
    assert endpoint["backoff"] == "2s"
    other = io.StringIO()
    call_command(
        "registry_config",
        certbundle=str(tmp_path / "root.pem"),
        realm="https://portal.test/registry/token",
        events_url="https://portal.internal:8443/registry/events",
        stdout=other,
    )
    config = yaml.safe_load(other.getvalue())
    assert config["notifications"]["endpoints"][0]["url"] == (
        "https://portal.internal:8443/registry/events"
    )
    # without a secret no endpoint is written (the portal would refuse its events)
    settings.REGISTRY_EVENTS_SECRET = ""
    bare = io.StringIO()
    call_command("registry_config", certbundle=str(tmp_path / "root.pem"), stdout=bare)
    assert "notifications" not in yaml.safe_load(bare.getvalue())
