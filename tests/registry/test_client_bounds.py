"""The portal's requests to the registry are bounded: a registry that accepts and never answers
costs REGISTRY_REQUEST_TIMEOUT, one that answers an endless manifest is cut at
REGISTRY_MANIFEST_MAX_BYTES — and the pushed tag keeps what the event said; a repository
delete the registry fails midway keeps the rows of what is still there. (Fault injection on
a loopback socket, like kubesim's slow cluster: no registry code faked.)"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from apps.registry import client
from apps.registry.events import apply_event
from apps.registry.models import RegistryNamespace, Tag

pytestmark = pytest.mark.django_db


@pytest.fixture
def misbehaving():
    """A loopback server: ``mode["value"]`` "silent" accepts and says nothing, "flood" answers
    200 with an endless body."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    mode = {"value": "silent"}
    stop = threading.Event()
    held = []

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)
            if mode["value"] == "flood":
                conn.recv(65536)
                try:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")
                    conn.sendall(b'{"schemaVersion": 2, "x": "' + b"a" * (2 * 1024 * 1024))
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", mode
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


def _event(url, digest):
    return {
        "id": f"evt-{digest[-6:]}",
        "action": "push",
        "timestamp": "2026-12-01T10:00:00Z",
        "target": {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest,
            "size": 321,
            "repository": "acme/team/app",
            "url": f"{url}/v2/acme/team/app/manifests/{digest}",
            "tag": "v1",
        },
        "request": {"addr": "127.0.0.1:40000"},
        "actor": {"name": "acme/bob"},
    }


def test_a_silent_registry_costs_the_timeout_and_the_tag_keeps_the_event(
    misbehaving, tenant, member, settings
):
    url, mode = misbehaving
    settings.REGISTRY_URL = url
    settings.REGISTRY_REQUEST_TIMEOUT = 0.5
    RegistryNamespace.objects.create(tenant=tenant, name="team")
    started = time.monotonic()
    with pytest.raises(client.RegistryUnreachable, match="registry unreachable"):
        client.inspect_manifest("acme/team/app", "sha256:" + "1" * 64)
    assert time.monotonic() - started < 3
    assert apply_event(_event(url, "sha256:" + "2" * 64)) is True
    tag = Tag.objects.get(name="v1")
    assert tag.size == 321 and tag.architectures == [] and tag.pushed_by == member


def test_an_endless_manifest_is_cut_at_the_cap(misbehaving, tenant, settings):
    url, mode = misbehaving
    mode["value"] = "flood"
    settings.REGISTRY_URL = url
    settings.REGISTRY_MANIFEST_MAX_BYTES = 64 * 1024
    with pytest.raises(client.RegistryError, match="more than 65536 bytes"):
        client.inspect_manifest("acme/team/app", "sha256:" + "3" * 64)


@pytest.fixture
def fails_after_one():
    """A loopback server that accepts one DELETE (202) and then drops every connection."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop, seen = threading.Event(), []

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                request = conn.recv(65536)
                seen.append(request.split(b"\r\n", 1)[0].decode())
                if len(seen) == 1:
                    conn.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", seen
    stop.set()
    thread.join(2)
    server.close()


def test_a_repository_delete_that_fails_midway_keeps_what_is_still_there(
    fails_after_one, api, tenant_admin, tenant, settings
):
    from django.utils import timezone

    from apps.registry.models import Repository

    url, seen = fails_after_one
    settings.REGISTRY_URL = url
    namespace = RegistryNamespace.objects.create(tenant=tenant, name="team")
    repository = Repository.objects.create(namespace=namespace, name="app", size=30)
    first, second = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    for name, digest in (("v1", first), ("v1-alias", first), ("v2", second)):
        Tag.objects.create(
            repository=repository,
            name=name,
            digest=digest,
            media_type="application/vnd.oci.image.manifest.v1+json",
            size=10 if digest == first else 20,
            pushed_at=timezone.now(),
        )
    response = api(tenant_admin).delete("/api/v1/registry/namespaces/team/repositories/app/")
    assert response.status_code == 503, response.content
    assert "registry unreachable" in response.json()["detail"]
    assert seen[0] == f"DELETE /v2/acme/team/app/manifests/{first} HTTP/1.1"
    # the image the registry deleted lost its rows; the other and the repository stay
    assert list(Tag.objects.values_list("name", flat=True)) == ["v2"]
    repository.refresh_from_db()
    assert repository.size == 20
