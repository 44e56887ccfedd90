"""skopeo against a real docker-registry whose token service is the live portal: API keys of
two tenants, public and private namespaces, an expired key (tests/fixtures/registry.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from apps.accounts.models import APIKey
from apps.audit.models import AuditEvent
from apps.registry.choices import Visibility
from apps.registry.models import RegistryNamespace
from tests.factories import make_api_key
from tests.fixtures.registry import oci_image
from tests.live import portal  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def image(tmp_path):
    layout = tmp_path / "image"
    digest = oci_image(layout, "v1")
    return layout, digest


@pytest.fixture
def spaces(tenant, other_tenant):
    return {
        "acme": RegistryNamespace.objects.create(tenant=tenant, name="team"),
        "acme-public": RegistryNamespace.objects.create(
            tenant=tenant, name="pub", visibility=Visibility.PUBLIC
        ),
        "globex": RegistryNamespace.objects.create(tenant=other_tenant, name="team"),
    }


def _ok(result):
    assert result.returncode == 0, result.stderr
    return result


def _refused(result):
    assert result.returncode != 0, result.stdout
    text = result.stderr.lower()
    assert "unauthorized" in text or "denied" in text or "authentication required" in text, (
        result.stderr
    )
    return result


def _manifest_digest(layout) -> str:
    index = json.loads((layout / "index.json").read_text())
    return index["manifests"][0]["digest"]


def test_push_then_pull_with_a_tenant_api_key(registry, spaces, member, image, tmp_path):
    layout, digest = image
    _, key = make_api_key(member)
    creds = f"acme/bob:{key}"
    _ok(registry.push(layout, "v1", registry.ref("acme/team/app"), creds))
    pulled = tmp_path / "pulled"
    _ok(registry.pull(registry.ref("acme/team/app"), pulled, "v1", creds))
    assert _manifest_digest(pulled) == digest
    granted = AuditEvent.objects.filter(action="getRegistryToken", user=member, status_code=200)
    assert any("repository:acme/team/app:pull,push" in e.message for e in granted)


def test_another_tenants_namespace_is_refused(registry, spaces, member, other_user, image):
    layout, _ = image
    _, key = make_api_key(member)
    _refused(registry.push(layout, "v1", registry.ref("globex/team/app"), f"acme/bob:{key}"))
    # the owner can, so the refusal above was about the tenant, not the registry
    _, theirs = make_api_key(other_user)
    _ok(registry.push(layout, "v1", registry.ref("globex/team/app"), f"globex/mallory:{theirs}"))


def test_public_pull_is_anonymous_private_pull_is_not(
    registry, spaces, member, other_user, image, tmp_path
):
    layout, digest = image
    _, key = make_api_key(member)
    creds = f"acme/bob:{key}"
    _ok(registry.push(layout, "v1", registry.ref("acme/pub/app"), creds))
    _ok(registry.push(layout, "v1", registry.ref("acme/team/app"), creds))
    public = tmp_path / "public"
    _ok(registry.pull(registry.ref("acme/pub/app"), public, "v1", None))
    assert _manifest_digest(public) == digest
    # nobody may push anonymously, even to a public namespace
    _refused(registry.push(layout, "v1", registry.ref("acme/pub/app", "v2"), None))
    _refused(registry.pull(registry.ref("acme/team/app"), tmp_path / "anon", "v1", None))
    _, theirs = make_api_key(other_user)
    _refused(
        registry.pull(
            registry.ref("acme/team/app"), tmp_path / "other", "v1", f"globex/mallory:{theirs}"
        )
    )


def test_an_expired_key_stops_at_the_next_token_request(registry, spaces, member, image, tmp_path):
    layout, _ = image
    row, key = make_api_key(member)
    creds = f"acme/bob:{key}"
    _ok(registry.push(layout, "v1", registry.ref("acme/team/app"), creds))
    APIKey.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    result = _refused(registry.pull(registry.ref("acme/team/app"), tmp_path / "late", "v1", creds))
    assert (
        "expired" in result.stderr
        or "401" in result.stderr
        or "unauthorized" in result.stderr.lower()
    )
    refused = AuditEvent.objects.filter(action="getRegistryToken", status_code=401).latest("id")
    assert "expired" in refused.message


def test_catalog_is_the_platform_administrators(registry, spaces, member, platform_admin, image):
    layout, _ = image
    _, key = make_api_key(member)
    _ok(registry.push(layout, "v1", registry.ref("acme/team/app"), f"acme/bob:{key}"))
    server = registry.server

    def catalog(login, secret):
        token = requests.get(
            server.realm,
            params={"service": "tke-registry", "scope": "registry:catalog:*"},
            auth=(login, secret),
            verify=server.ca_file,
            timeout=10,
        ).json()["token"]
        return requests.get(
            f"{server.url}/v2/_catalog", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )

    assert catalog("acme/bob", key).status_code == 401
    _, admin_key = make_api_key(platform_admin)
    answer = catalog("operator", admin_key)
    assert answer.status_code == 200, answer.text
    # every tenant's repositories (the storage is shared by the module's tests)
    assert "acme/team/app" in answer.json()["repositories"]


def test_skopeo_login_with_tenant_username_and_key(registry, spaces, member):
    """What ``docker login`` / ``skopeo login`` do: a token request with no scope."""
    _, key = make_api_key(member)
    host = registry.server.host
    _ok(registry.run("login", "--tls-verify=false", "-u", "acme/bob", "-p", key, host))
    wrong = registry.run("login", "--tls-verify=false", "-u", "acme/bob", "-p", key + "x", host)
    assert wrong.returncode != 0
    assert "invalid" in wrong.stderr.lower() or "unauthorized" in wrong.stderr.lower(), wrong.stderr
