"""Fixtures of the chart tests: chart groups of each visibility in tenant acme (and one of
globex), packaged charts, and a real PGP keyring to sign them with (gpg, as Helm users do)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from apps.charts.choices import ChartVisibility
from apps.charts.models import ChartGroup
from tests.charts.helpers import package_chart


@pytest.fixture
def groups(tenant, other_tenant, member):
    """acme/private (user, owned by nobody in particular), acme/pub (public), globex/team."""
    return SimpleNamespace(
        private=ChartGroup.objects.create(tenant=tenant, name="private"),
        public=ChartGroup.objects.create(
            tenant=tenant, name="pub", visibility=ChartVisibility.PUBLIC
        ),
        theirs=ChartGroup.objects.create(tenant=other_tenant, name="team"),
    )


@pytest.fixture
def demo_chart(tmp_path) -> Path:
    return package_chart(tmp_path, "demo", "0.1.0")


@pytest.fixture(scope="session")
def keyring(tmp_path_factory):
    """(secret keyring, public keyring) of a fresh RSA key, made with gpg."""
    home = tmp_path_factory.mktemp("gnupg")
    os.chmod(home, 0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}

    def gpg(*args, **kwargs):
        return subprocess.run(
            ["gpg", "--batch", *args], env=env, check=True, capture_output=True, **kwargs
        )

    gpg(
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "",
        "--quick-gen-key",
        "Chart Signer <signer@example.test>",
        "rsa2048",
        "sign",
        "never",
    )
    secret, public = home / "secring.gpg", home / "pubring.gpg"
    secret.write_bytes(gpg("--export-secret-keys").stdout)
    public.write_bytes(gpg("--export").stdout)
    return SimpleNamespace(secret=secret, public=public, key="Chart Signer")
