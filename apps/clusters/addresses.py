"""The client address policy: which addresses the portal connects to on a cluster's behalf.

A cluster's server name is resolved when it is imported *and every time a client connects*
(the REST client in :mod:`apps.clusters.k8s`, the kubectl proxy's sessions in
:mod:`apps.clusters.proxy.upstream`, and so health checks and tasks): a DNS answer checked once
at import can change afterwards (DNS rebinding), so the address checked must be the address
connected to. Refused, always: cloud metadata services, link-local (which is where most of
them live), unspecified, multicast and reserved addresses, also when wrapped in an IPv6 form
(IPv4-mapped, NAT64, 6to4). Loopback only while ``PORTAL_ALLOW_LOOPBACK_CLUSTERS`` is on, read
at each connection. Private ranges are allowed: that is where real clusters live.
"""

from __future__ import annotations

import ipaddress
import socket

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Names that only ever mean a metadata service; refused before any lookup.
METADATA_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",  # Google Cloud
        "instance-data",  # AWS, the classic EC2 name
        "metadata.tencentyun.com",  # Tencent Cloud
    }
)
# Metadata services outside the link-local range, which is refused as a whole anyway.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, Google Cloud, Azure, OpenStack, Oracle Cloud
        "fd00:ec2::254",  # AWS, IPv6 (inside the unique-local range we otherwise allow)
        "100.100.100.200",  # Alibaba Cloud (inside the shared 100.64.0.0/10 range)
        "168.63.129.16",  # Azure WireServer (a public address only the host answers)
    )
)
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(OSError):
    """A cluster's host is, or resolves to, an address the portal does not connect to.

    An ``OSError`` so that connection machinery treats it as a failure to connect (aiohttp
    wraps resolver errors of this type in ``ClientConnectorError``) and no socket is opened.
    The message names host and address but not the cluster: callers add that."""

    def __init__(self, host: str, address: str, reason: str):
        self.host, self.address, self.reason = host, address, reason
        if reason == "loopback":
            why = "which the portal connects to only when PORTAL_ALLOW_LOOPBACK_CLUSTERS is on"
        else:
            why = "which the portal never connects to"
        if host == address:
            article = "an" if reason[0] in "aeiou" else "a"
            message = f"{host} is {article} {reason} address, {why}"
        else:
            message = f"{host} resolves to {reason} address {address}, {why}"
        super().__init__(message)

    def __str__(self) -> str:
        return self.args[0]


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries to an IPv4 host, if it is such a form."""
    if address.version != 6:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def check_address(address: str | IPAddress) -> str | None:
    """Why the portal must not connect to ``address`` ("link-local", "cloud metadata", …),
    or None when it may."""
    if isinstance(address, str):
        address = ipaddress.ip_address(address.split("%", 1)[0])
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return check_address(embedded)
    if address in METADATA_ADDRESSES:
        return "cloud metadata"
    if address.is_unspecified or address in _THIS_NETWORK:
        return "unspecified"
    # Before "reserved": Python counts ::1 as part of the reserved ::/8.
    if address.is_loopback:
        return None if getattr(settings, "PORTAL_ALLOW_LOOPBACK_CLUSTERS", False) else "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_reserved:
        return "reserved"
    return None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def resolve_checked(host: str, port: int) -> list[tuple]:
    """The ``getaddrinfo`` answers (TCP) for ``host`` that the portal may connect to.

    Raises :class:`AddressRefused` when the host is a metadata name or when *any* answer is
    refused (a name that resolves to a metadata address at all is not a cluster; serving the
    remaining answers would make the outcome depend on the order they come in), and
    ``socket.gaierror`` when the name does not resolve."""
    name = host.strip("[]")
    if name.rstrip(".").lower() in METADATA_HOSTS:
        raise AddressRefused(name, name, "cloud metadata")
    literal = _literal(name)
    if literal is not None:
        reason = check_address(literal)
        if reason:
            raise AddressRefused(name, str(literal), reason)
        if literal.version == 4:
            sockaddr: tuple = (str(literal), port)
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]
        sockaddr = (str(literal), port, 0, 0)
        return [(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]
    # The name as given (a trailing dot changes how it resolves), looked up through the
    # module at call time so that the tests' fake DNS answers reach here.
    infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    for info in infos:
        reason = check_address(info[4][0])
        if reason:
            raise AddressRefused(name, info[4][0].split("%", 1)[0], reason)
    return infos
