"""Deleting tags and repositories through the API deletes the images in the real registry;
garbage collection (the real ``docker-registry garbage-collect``) then frees their blobs and
leaves the other images pullable."""

from __future__ import annotations

import pytest

from apps.registry.models import GarbageCollection, RegistryNamespace, Repository, Tag
from apps.registry.tasks import garbage_collect, storage_bytes
from tests.factories import make_api_key
from tests.fixtures.registry import eventually, oci_image
from tests.live import portal  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

BASE = "/api/v1/registry/namespaces/team/repositories/"


def _ok(result):
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def pushed(registry, tenant, tenant_admin, tmp_path):
    """Two images in acme/team, app:v1 and tools/builder:v1, their rows made by the
    registry's notifications."""
    RegistryNamespace.objects.create(tenant=tenant, name="team")
    creds = f"acme/alice:{make_api_key(tenant_admin)[1]}"
    first, second = tmp_path / "first", tmp_path / "second"
    oci_image(first, "v1", content=b"first image " * 2000)
    oci_image(second, "v1", content=b"second image\n")
    _ok(registry.push(first, "v1", registry.ref("acme/team/app"), creds))
    _ok(registry.push(second, "v1", registry.ref("acme/team/tools/builder"), creds))
    eventually(lambda: Tag.objects.count() == 2, "both tags")
    return creds


def test_deleting_a_tag_deletes_the_image_and_gc_frees_it(
    registry, pushed, api, tenant_admin, tmp_path
):
    creds = pushed
    client = api(tenant_admin)
    # when: the tag is deleted through the API
    response = client.delete(f"{BASE}app/tags/v1/")
    # then: the registry no longer serves it, the row is gone, the size follows
    assert response.status_code == 200, response.content
    digest = response.json()["digest"]
    assert response.json()["deleted_tags"] == ["v1"] and digest.startswith("sha256:")
    assert not Tag.objects.filter(repository__name="app").exists()
    assert Repository.objects.get(name="app").size == 0
    gone = registry.pull(registry.ref("acme/team/app"), tmp_path / "gone", "v1", creds)
    assert gone.returncode != 0
    assert "manifest unknown" in gone.stderr.lower() or "not found" in gone.stderr.lower()
    # when: garbage collection runs (synchronously here)
    before = storage_bytes(str(registry.server.storage))
    run = GarbageCollection.objects.create(triggered_by=tenant_admin)
    assert garbage_collect(run.pk) == "succeeded"
    # then: its report says blobs were deleted, and the storage shrank by the image's layer
    run.refresh_from_db()
    assert run.error == "" and run.finished_at is not None, run.output
    assert run.blobs_deleted >= 2, run.output  # the layer and the config at least
    assert run.bytes_before == before
    assert run.bytes_freed > 0 and run.bytes_after < before
    assert run.bytes_after == storage_bytes(str(registry.server.storage))
    assert "eligible for deletion" in run.output
    # the other image still pulls
    kept = tmp_path / "kept"
    _ok(registry.pull(registry.ref("acme/team/tools/builder"), kept, "v1", creds))
    # a finished run is not repeated
    assert garbage_collect(run.pk) == "nothing to do"


def test_deleting_a_repository_deletes_its_images(registry, pushed, api, tenant_admin, tmp_path):
    creds = pushed
    response = api(tenant_admin).delete(f"{BASE}tools/builder/")
    assert response.status_code == 204, response.content
    assert not Repository.objects.filter(name="tools/builder").exists()
    gone = registry.pull(registry.ref("acme/team/tools/builder"), tmp_path / "gone", "v1", creds)
    assert gone.returncode != 0
    # the other repository is untouched
    _ok(registry.pull(registry.ref("acme/team/app"), tmp_path / "kept", "v1", creds))
    assert Tag.objects.filter(repository__name="app", name="v1").exists()


def test_a_shared_digest_needs_force_and_then_goes_with_every_tag(
    registry, pushed, api, tenant_admin, tmp_path
):
    creds = pushed
    # tag the same image again: app:latest names app:v1's digest
    src = registry.ref("acme/team/app", "v1")
    _ok(
        registry.run(
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--src-creds",
            creds,
            "--dest-creds",
            creds,
            f"docker://{src}",
            f"docker://{registry.ref('acme/team/app', 'latest')}",
        )
    )
    eventually(lambda: Tag.objects.filter(name="latest").exists(), "the latest tag")
    client = api(tenant_admin)
    refused = client.delete(f"{BASE}app/tags/v1/")
    assert refused.status_code == 409 and "latest" in refused.json()["detail"]
    _ok(registry.pull(registry.ref("acme/team/app"), tmp_path / "still", "v1", creds))
    forced = client.delete(f"{BASE}app/tags/v1/?force=true")
    assert forced.status_code == 200, forced.content
    assert forced.json()["deleted_tags"] == ["latest", "v1"]
    assert not Tag.objects.filter(repository__name="app").exists()
    gone = registry.pull(registry.ref("acme/team/app", "latest"), tmp_path / "gone", "x", creds)
    assert gone.returncode != 0
