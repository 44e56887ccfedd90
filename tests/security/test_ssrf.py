"""SSRF: the client address policy holds at every connection, not only at import.

A cluster's server name is checked when it is imported, but a name's DNS answer can change
afterwards (DNS rebinding): the REST client, health checks and tasks, and the kubectl proxy
(HTTP and websocket) resolve through ``apps.clusters.addresses`` at each connection and refuse
metadata, link-local, unspecified, multicast and reserved addresses (and loopback unless
allowed), before any socket is opened. Guards against the class of Kubernetes CVE-2020-8555
(half-blind SSRF: the controller manager connected to user-supplied addresses, metadata
included) as it applies to any portal that connects to a user-supplied cluster URL, and
against DNS rebinding defeating a check made once; the prize is cloud metadata credentials
(the 2019 Capital One breach went through an SSRF to 169.254.169.254).

No test here connects to a non-loopback address. Names are answered by :class:`FakeDNS`
(``socket.getaddrinfo`` patched, so whichever code resolves gets the fake answer), and
:class:`ConnectGuard` records every outgoing connection attempt — blocking sockets, asyncio's
and uvloop's ``sock_connect``/``create_connection`` — and refuses any non-loopback one, so a
refusal that came too late would show up as a recorded attempt. Private ranges, which real
clusters legitimately use, appear only in the pure policy test and are never connected to.
"""

from __future__ import annotations

import asyncio
import http.client
import ipaddress
import json
import socket
import ssl
import uuid

import pytest
import uvloop
import websockets.exceptions
import websockets.sync.client

from apps.audit.models import AuditEvent
from apps.clusters import addresses, k8s, services, tasks
from apps.clusters.models import Cluster, Node
from tests.factories import make_api_key
from tests.live import *  # noqa: F403
from tests.live import raw_request, wait_for

# Named in kubesim's serving certificate, so TLS verifies against it; never really resolvable.
HOST = "kubernetes.default.svc"
METADATA = "169.254.169.254"
UNSPECIFIED = "0.0.0.0"  # noqa: S104  (a target refused, never bound)
_real_getaddrinfo = socket.getaddrinfo


class FakeDNS:
    """``socket.getaddrinfo`` with chosen answers for chosen names (the rest resolve as usual,
    except ``*.test`` and ``*.svc``, which fail instead of leaving the machine)."""

    def __init__(self) -> None:
        self.answers: dict[str, list[str]] = {}
        self.lookups: list[str] = []

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else host
        if name in self.answers:
            self.lookups.append(name)
            out = []
            for address in self.answers[name]:
                ip = ipaddress.ip_address(address)
                fam = socket.AF_INET if ip.version == 4 else socket.AF_INET6
                if family not in (0, fam):
                    continue
                sockaddr = (address, int(port)) if ip.version == 4 else (address, int(port), 0, 0)
                out.append((fam, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
            return out
        if isinstance(name, str) and name.rstrip(".").endswith((".test", ".svc")):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return _real_getaddrinfo(host, port, family, type, proto, flags)


def _loopback(host) -> bool:
    try:
        return ipaddress.ip_address(str(host).split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class ConnectGuard:
    """Every outgoing TCP connection attempt in this process, whichever the thread or loop;
    a non-loopback one is refused (and recorded) instead of made."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, int]] = []

    def check(self, address) -> None:
        if not isinstance(address, tuple):  # a Unix socket path
            return
        self.attempts.append((str(address[0]), int(address[1])))
        if not _loopback(address[0]):
            raise ConnectionRefusedError(f"ConnectGuard: no connection to {address[0]} in tests")

    def non_loopback(self) -> list[tuple[str, int]]:
        return [a for a in self.attempts if not _loopback(a[0])]

    def since(self, mark: int) -> list[tuple[str, int]]:
        return self.attempts[mark:]


@pytest.fixture
def fake_dns(monkeypatch):
    dns = FakeDNS()
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    return dns


@pytest.fixture
def guard(monkeypatch):
    guard = ConnectGuard()

    def blocking(name):
        original = getattr(socket.socket, name)

        def wrapper(sock, address):
            guard.check(address)
            return original(sock, address)

        return wrapper

    def loop_sock_connect(original):
        async def wrapper(loop, sock, address):
            guard.check(address)
            return await original(loop, sock, address)

        return wrapper

    def loop_create_connection(original):
        async def wrapper(loop, protocol_factory, host=None, port=None, **kwargs):
            if host is not None:  # (aiohttp connects its own socket and passes sock=)
                guard.check((host, port or 0))
            return await original(loop, protocol_factory, host, port, **kwargs)

        return wrapper

    for name in ("connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, name, blocking(name))
    for cls in (asyncio.selector_events.BaseSelectorEventLoop, uvloop.Loop):
        monkeypatch.setattr(cls, "sock_connect", loop_sock_connect(cls.sock_connect))
    for cls in (asyncio.base_events.BaseEventLoop, uvloop.Loop):
        monkeypatch.setattr(cls, "create_connection", loop_create_connection(cls.create_connection))
    yield guard
    assert guard.non_loopback() == [], "a connection to a non-loopback address was attempted"


def refusal(cluster: str, address: str, reason: str) -> str:
    return (
        f"Cluster {cluster}: {HOST} resolves to {reason} address {address}, "
        "which the portal never connects to."
    )


# -- the policy itself (pure: nothing resolves, nothing connects) ------------------------------
@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("169.254.169.254", "cloud metadata"),  # AWS, Google Cloud, Azure, OpenStack
        ("::ffff:169.254.169.254", "cloud metadata"),  # IPv4-mapped
        ("::ffff:a9fe:a9fe", "cloud metadata"),  # the same, in hex
        ("64:ff9b::a9fe:a9fe", "cloud metadata"),  # NAT64
        ("2002:a9fe:a9fe::1", "cloud metadata"),  # 6to4
        ("fd00:ec2::254", "cloud metadata"),  # AWS IMDS over IPv6
        ("100.100.100.200", "cloud metadata"),  # Alibaba Cloud
        ("168.63.129.16", "cloud metadata"),  # Azure WireServer
        ("169.254.0.23", "link-local"),  # Tencent Cloud metadata lives in link-local
        ("169.254.170.2", "link-local"),  # ECS task credentials
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        (UNSPECIFIED, "unspecified"),  # Linux connects that to the local host
        ("0.1.2.3", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("255.255.255.255", "reserved"),
        ("240.0.0.1", "reserved"),
        ("::ffff:127.0.0.1", "loopback"),
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
    ],
)
def test_policy_refuses_metadata_link_local_and_their_ipv6_forms(settings, address, reason):
    """Every spelling of a forbidden address is refused with its reason (loopback while the
    setting is off), including the IPv6 forms that carry an IPv4 address."""
    settings.PORTAL_ALLOW_LOOPBACK_CLUSTERS = False
    assert addresses.check_address(address) == reason


def test_policy_reads_the_loopback_setting_at_each_call(settings):
    settings.PORTAL_ALLOW_LOOPBACK_CLUSTERS = False
    assert addresses.check_address("127.0.0.1") == "loopback"
    settings.PORTAL_ALLOW_LOOPBACK_CLUSTERS = True
    assert addresses.check_address("127.0.0.1") is None
    assert addresses.check_address("::1") is None
    assert addresses.check_address(METADATA) == "cloud metadata"  # not loosened with it


@pytest.mark.parametrize(
    "address", ["10.0.0.1", "172.16.5.4", "192.168.1.10", "100.64.0.1", "fd12:3456::1"]
)
def test_policy_allows_the_private_ranges_real_clusters_use(settings, address):
    """Pure check of the value: no test ever connects to these."""
    settings.PORTAL_ALLOW_LOOPBACK_CLUSTERS = False
    assert addresses.check_address(address) is None


@pytest.mark.parametrize(
    ("host", "message"),
    [
        (METADATA, "169.254.169.254 is a cloud metadata address, which the portal never"),
        ("[fe80::1]", "fe80::1 is a link-local address, which the portal never"),
        (UNSPECIFIED, "0.0.0.0 is an unspecified address, which the portal never"),
        ("metadata.google.internal", "metadata.google.internal is a cloud metadata address"),
        ("METADATA.tencentyun.com.", "METADATA.tencentyun.com. is a cloud metadata address"),
    ],
)
def test_literals_and_metadata_names_are_refused_without_a_lookup(fake_dns, host, message):
    with pytest.raises(addresses.AddressRefused) as refused:
        addresses.resolve_checked(host, 443)
    assert str(refused.value).startswith(message)
    assert fake_dns.lookups == []


def test_one_refused_answer_refuses_the_name(fake_dns, settings):
    """A name whose answers mix an allowed and a refused address is refused whatever the order
    (serving the allowed ones would depend on which answer a client tries first)."""
    settings.PORTAL_ALLOW_LOOPBACK_CLUSTERS = True
    fake_dns.answers[HOST] = ["127.0.0.1", METADATA]
    with pytest.raises(addresses.AddressRefused, match="cloud metadata address 169.254.169.254"):
        addresses.resolve_checked(HOST, 443)
    fake_dns.answers[HOST] = ["127.0.0.1", "::1"]
    assert [info[4][0] for info in addresses.resolve_checked(HOST, 443)] == ["127.0.0.1", "::1"]


# -- import (the first door; already refused before this issue) ---------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("answer", [METADATA, "::ffff:169.254.169.254", "fe80::1", UNSPECIFIED])
def test_import_refuses_a_name_that_resolves_to_a_forbidden_address(
    api, tenant_admin, fake_dns, guard, answer
):
    """Rancher-style cluster import SSRF: a server URL pointing (by name) at the metadata
    service is refused with the address named, and nothing is stored or connected to."""
    fake_dns.answers[HOST] = [answer]
    body = {"display_name": "meta", "server": f"https://{HOST}:6443", "token": "t"}
    response = api(tenant_admin).post("/api/v1/clusters/", body, format="json")
    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["code"] == "validation_error"
    assert f"{HOST} resolves to" in payload["fields"]["server"][0]
    assert answer in payload["fields"]["server"][0]
    assert fake_dns.lookups == [HOST]
    assert not Cluster.objects.exists()
    assert guard.non_loopback() == []


# -- the REST client, health checks and tasks (urllib3) --------------------------------------
@pytest.fixture
def rebinding_cluster(tenant, tenant_admin, sim_cluster, fake_dns, settings):
    """A kubesim cluster imported by a host name that resolves to 127.0.0.1 at import."""
    settings.PORTAL_ALLOW_LOOPBACK_CLUSTERS = True
    fake_dns.answers[HOST] = ["127.0.0.1"]
    spec = k8s.Connection(
        server=sim_cluster.url.replace("127.0.0.1", HOST),
        token=sim_cluster.token,
        ca_data=sim_cluster.ca_data,
    )
    cluster = services.import_cluster(
        actor=tenant_admin, tenant=tenant, display_name="rebound", spec=spec
    )
    services.sync_nodes(cluster)
    assert cluster.server.startswith(f"https://{HOST}:")
    return cluster


def _sim_port(cluster: Cluster) -> int:
    return int(cluster.server.split(":")[2].split("/")[0])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (METADATA, "cloud metadata"),
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("fe80::1", "link-local"),
        (UNSPECIFIED, "unspecified"),
    ],
)
def test_rest_api_refuses_when_the_name_later_resolves_elsewhere(
    api, tenant_admin, rebinding_cluster, fake_dns, guard, answer, reason
):
    """DNS rebinding after import: the resource API answers a clean 502 naming the cluster and
    the address, and no connection is attempted to the new address (nor to the cluster)."""
    client = api(tenant_admin)
    url = f"/api/v1/clusters/{rebinding_cluster.name}/pods/"
    k8s.clients.forget(rebinding_cluster.pk)  # a new connection, for the guard to see
    before = client.get(url)
    assert before.status_code == 200, before.content
    port = _sim_port(rebinding_cluster)
    assert ("127.0.0.1", port) in guard.attempts  # the guard sees this client's connections

    fake_dns.answers[HOST] = [answer]
    mark = len(guard.attempts)
    response = client.get(url)

    assert response.status_code == 502, response.content
    assert response.json() == {
        "code": "cluster_address_refused",
        "detail": refusal(rebinding_cluster.name, answer, reason),
        "fields": {},
    }
    assert [a for a in guard.since(mark) if a[1] == port or not _loopback(a[0])] == []


@pytest.mark.django_db
def test_loopback_refusal_is_read_at_connect_time(
    api, tenant_admin, rebinding_cluster, guard, settings
):
    """Turning PORTAL_ALLOW_LOOPBACK_CLUSTERS off stops clusters already imported on loopback
    at their next connection, with a sentence naming the setting; on again, they work."""
    client = api(tenant_admin)
    url = f"/api/v1/clusters/{rebinding_cluster.name}/pods/"
    port = _sim_port(rebinding_cluster)
    settings.PORTAL_ALLOW_LOOPBACK_CLUSTERS = False
    mark = len(guard.attempts)
    response = client.get(url)
    assert response.status_code == 502, response.content
    assert response.json()["code"] == "cluster_address_refused"
    assert response.json()["detail"] == (
        f"Cluster {rebinding_cluster.name}: {HOST} resolves to loopback address 127.0.0.1, "
        "which the portal connects to only when PORTAL_ALLOW_LOOPBACK_CLUSTERS is on."
    )
    assert [a for a in guard.since(mark) if a[1] == port] == []
    settings.PORTAL_ALLOW_LOOPBACK_CLUSTERS = True
    assert client.get(url).status_code == 200


@pytest.mark.django_db
def test_health_check_and_node_sync_refuse_and_record_it(rebinding_cluster, fake_dns, guard):
    """The Celery tasks inherit the policy: the refusal is recorded on the cluster's health
    condition with its own reason, and the node inventory survives the failed sync."""
    nodes = Node.objects.filter(cluster=rebinding_cluster)
    nodes_before = set(nodes.values_list("name", flat=True))
    assert len(nodes_before) == 3
    phase = rebinding_cluster.phase
    fake_dns.answers[HOST] = [METADATA]
    port = _sim_port(rebinding_cluster)
    mark = len(guard.attempts)

    # One failure: below the threshold, the phase stays what it was.
    assert tasks.check_cluster_health(rebinding_cluster.pk) == phase
    assert tasks.sync_cluster_nodes(rebinding_cluster.pk) == "failed"

    stored = Cluster.objects.get(pk=rebinding_cluster.pk)
    condition = next(c for c in stored.conditions if c["type"] == "HealthCheck")
    assert condition["status"] == "False"
    assert condition["reason"] == "cluster_address_refused"
    assert condition["message"] == refusal(stored.name, METADATA, "cloud metadata")
    assert stored.consecutive_failures == 1
    assert stored.message == condition["message"]
    assert set(nodes.values_list("name", flat=True)) == nodes_before
    assert [a for a in guard.since(mark) if a[1] == port or not _loopback(a[0])] == []


@pytest.mark.django_db
def test_tls_is_verified_against_the_url_host_not_the_checked_address(
    api, tenant_admin, sim_cluster, fake_dns, guard, settings
):
    """Connecting to the checked IP must not weaken verification: the certificate is checked
    against the URL's host name (kubesim's certificate names ``kubernetes.default.svc`` and
    127.0.0.1, not ``kubesim.test``), so the same address under another name fails TLS."""
    settings.PORTAL_ALLOW_LOOPBACK_CLUSTERS = True
    fake_dns.answers["kubesim.test"] = ["127.0.0.1"]
    body = {
        "display_name": "renamed",
        "server": sim_cluster.url.replace("127.0.0.1", "kubesim.test"),
        "token": sim_cluster.token,
        "ca_data": sim_cluster.ca_data,
    }
    response = api(tenant_admin).post("/api/v1/clusters/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "cluster_tls_error"
    assert ("127.0.0.1", _sim_port_of(sim_cluster)) in guard.attempts  # it did connect there
    assert not Cluster.objects.exists()


def _sim_port_of(handle) -> int:
    return int(handle.url.split(":")[2].split("/")[0])


# -- the kubectl proxy (aiohttp, under the live portal) ----------------------------------------
@pytest.fixture
def own_port_sim(kube_sim):
    """A kubesim cluster on a port of its own: the proxy has no pooled connection to it yet, so
    every connection the test causes is a new one the resolver must decide."""
    handle = kube_sim.add_cluster(f"ss{uuid.uuid4().hex[:6]}", nodes=1, own_port=True, seed=False)
    handle.ca_data = open(handle.ca_file).read()  # noqa: SIM115
    yield handle
    kube_sim.remove_cluster(handle.name)


def _open_watch(portal, target: str, token: str):
    """A watch through the portal, left open: it holds its upstream connection, so the next
    request must open a new one."""
    context = ssl.create_default_context(cafile=portal.ca_file)
    host, port = portal.url.removeprefix("https://").split(":")
    conn = http.client.HTTPSConnection(host, int(port), context=context, timeout=15)
    conn.request("GET", target, headers={"Authorization": f"Bearer {token}"})
    return conn, conn.getresponse()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("live_state")
def test_proxy_refuses_when_the_name_later_resolves_to_metadata(
    portal, kube_sim, own_port_sim, tenant, member, fake_dns, guard, settings
):
    """DNS rebinding through the kubectl proxy (HTTP and the websocket exec path): the first
    connection goes to the checked 127.0.0.1 under the URL's host name; after the name turns
    to the metadata address, new connections are refused with a Status naming the cluster,
    and nothing connects to 169.254.169.254."""
    settings.PORTAL_ALLOW_LOOPBACK_CLUSTERS = True
    fake_dns.answers[HOST] = ["127.0.0.1"]
    cluster = services.import_cluster(
        actor=member,
        tenant=tenant,
        display_name="rebound",
        spec=k8s.Connection(
            server=f"https://{HOST}:{own_port_sim.port}",
            token=own_port_sim.token,
            ca_data=own_port_sim.ca_data,
        ),
    )
    _, token = make_api_key(member)
    base = f"/k8s/clusters/{cluster.name}"
    seen_hosts: list[str] = []
    api = kube_sim._apis[own_port_sim.name]
    original = api.handle

    async def recording(http_request, path):
        seen_hosts.append(http_request.host)
        return await original(http_request, path)

    api.handle = recording
    watch_conn, watch = _open_watch(portal, f"{base}/api/v1/namespaces?watch=1", token)
    try:
        assert watch.status == 200
        assert ("127.0.0.1", own_port_sim.port) in guard.attempts  # the proxy's own connection
        assert seen_hosts == [f"{HOST}:{own_port_sim.port}"]  # Host header: the URL's name

        fake_dns.answers[HOST] = [METADATA]
        mark = len(guard.attempts)
        status, body, _ = raw_request(
            portal, "GET", f"{base}/api/v1/namespaces", token, uuid.uuid4().hex
        )
        assert status == 502
        assert body["kind"] == "Status" and body["code"] == 502
        assert body["message"] == refusal(cluster.name, METADATA, "cloud metadata")

        exec_url = (
            portal.url.replace("https://", "wss://")
            + f"{base}/api/v1/namespaces/default/pods/box/exec?command=ls&stdout=true"
        )
        context = ssl.create_default_context(cafile=portal.ca_file)
        with pytest.raises(websockets.exceptions.InvalidStatus) as denied:
            websockets.sync.client.connect(
                exec_url,
                ssl=context,
                subprotocols=["v5.channel.k8s.io"],
                additional_headers={"Authorization": f"Bearer {token}"},
                open_timeout=15,
            )
        assert denied.value.response.status_code == 502
        ws_status = json.loads(denied.value.response.body)
        assert ws_status["message"] == refusal(cluster.name, METADATA, "cloud metadata")

        assert [a for a in guard.since(mark) if a[1] == own_port_sim.port] == []
        assert guard.non_loopback() == []
        assert len(seen_hosts) == 1  # the cluster saw nothing after the name changed
    finally:
        api.handle = original
        watch_conn.close()
    wait_for(
        lambda: AuditEvent.objects.filter(channel="proxy", status_code=502).count() >= 2,
        "the two refusals' audit rows",
    )
    messages = list(
        AuditEvent.objects.filter(channel="proxy", status_code=502).values_list(
            "message", flat=True
        )
    )
    assert len(messages) == 2
    for message in messages:
        assert "cloud metadata address 169.254.169.254" in message
