"""The portal's reads of the registry are bounded: a registry that accepts and never answers
costs REGISTRY_REQUEST_TIMEOUT, one that answers an endless manifest is cut at
REGISTRY_MANIFEST_MAX_BYTES — and in both cases the pushed tag keeps what the event said.
(Fault injection on a loopback socket, like kubesim's slow cluster: no registry code faked.)"""

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
