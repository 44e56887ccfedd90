"""Request hygiene at the kubectl proxy: nothing is read for an unauthenticated caller, and every
answer carries a request id the caller can follow through the audit trail and the cluster.

An anonymous client that can make a proxy buffer its body before authentication can exhaust
its memory (the class of Kubernetes CVE-2019-11253 / CVE-2019-1002100, resource exhaustion by
unauthenticated or low-privileged callers).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import uuid

import aiohttp
import pytest

from apps.audit.models import AuditEvent
from tests.factories import make_api_key
from tests.live import *  # noqa: F403
from tests.live import raw_request, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_state")]


def send_headers_only(portal, target: str, headers: dict[str, str]) -> bytes:
    """Announce a 100 MB body, send none of it, return what the portal answers meanwhile."""
    host, port = portal.url.removeprefix("https://").split(":")
    context = ssl.create_default_context(cafile=portal.ca_file)
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            lines = [f"POST {target} HTTP/1.1", f"Host: {host}", "Content-Length: 100000000"]
            lines += [f"{k}: {v}" for k, v in headers.items()]
            tls.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = tls.recv(65536)  # times out (socket.timeout) if the portal waits
                if not chunk:
                    break
                answer += chunk
            return answer


@pytest.mark.parametrize("auth", [None, "Bearer tkp_000000000000_not-a-key"])
def test_unauthenticated_bodies_are_never_read(portal, cluster, auth):
    """The answer comes before the body: the portal did not wait to buffer 100 MB."""
    headers = {"Authorization": auth} if auth else {}
    answer = send_headers_only(
        portal, f"/k8s/clusters/{cluster.name}/api/v1/namespaces/default/configmaps", headers
    )
    assert answer.startswith(b"HTTP/1.1 401")
    assert b"x-request-id:" in answer.lower()


def test_unauthorized_bodies_are_never_read(portal, cluster, read_only_user):
    _, token = make_api_key(read_only_user)
    answer = send_headers_only(
        portal,
        f"/k8s/clusters/{cluster.name}/api/v1/namespaces/default/configmaps",
        {"Authorization": f"Bearer {token}"},
    )
    assert answer.startswith(b"HTTP/1.1 403")


def test_client_request_id_is_kept_end_to_end(portal, cluster, member, recorder):
    _, token = make_api_key(member)
    request_id = f"trace-{uuid.uuid4().hex}"
    status, _, echoed = raw_request(
        portal, "GET", f"/k8s/clusters/{cluster.name}/api/v1/namespaces", token, request_id
    )
    assert status == 200 and echoed == request_id
    assert [r["request_id"] for r in recorder.take() if r["raw"].endswith("/namespaces")] == [
        request_id
    ]
    event = wait_for(lambda: AuditEvent.objects.filter(request_id=request_id).first(), "audit")
    assert event.action == "listNamespaces"


@pytest.mark.parametrize("given", ["", "has spaces", "x" * 300, "semi;colon"])
def test_unusable_request_ids_are_replaced(portal, cluster, member, given):
    _, token = make_api_key(member)
    status, _, echoed = raw_request(
        portal, "GET", f"/k8s/clusters/{cluster.name}/version", token, given
    )
    assert status == 200
    assert echoed and echoed != given and len(echoed) == 32


@pytest.mark.parametrize(
    ("token", "code"), [(None, 401), ("read-only", 403), ("member-other-cluster", 404)]
)
def test_websocket_denials_carry_a_request_id(portal, cluster, read_only_user, member, token, code):
    """exec refused before the upgrade: a Status body kubectl prints, and the request id."""
    headers = {"X-Request-ID": f"ws-{uuid.uuid4().hex}"}
    name = cluster.name
    if token == "read-only":
        headers["Authorization"] = f"Bearer {make_api_key(read_only_user)[1]}"
    elif token == "member-other-cluster":
        headers["Authorization"] = f"Bearer {make_api_key(member)[1]}"
        name = "cls-doesnotexist"
    url = (
        f"{portal.url.replace('https', 'wss')}/k8s/clusters/{name}/api/v1/namespaces/default"
        "/pods/box/exec?command=sh&stdin=true&stdout=true"
    )

    async def attempt():
        context = ssl.create_default_context(cafile=portal.ca_file)
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(
                    url, headers=headers, ssl=context, protocols=["v5.channel.k8s.io"]
                )
            return refused.value

    refused = asyncio.run(attempt())
    assert refused.status == code
    assert refused.headers.get("X-Request-ID") == headers["X-Request-ID"]
