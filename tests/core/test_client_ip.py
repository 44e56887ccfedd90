"""One client-address rule (django-ipware) for the API, the console and the kubectl proxy."""

import pytest

from apps.clusters.proxy.app import _client_ip
from apps.core.middleware import client_ip, client_ip_from


class _Request:
    def __init__(self, meta):
        self.META = meta


@pytest.mark.parametrize(
    ("hops", "peer", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "198.51.100.1", "203.0.113.9"),  # no proxy trusted: the peer
        (1, "10.0.0.2", "198.51.100.1", "198.51.100.1"),  # what our one proxy saw
        (1, "10.0.0.2", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # client's own entry ignored
        (2, "10.0.0.3", "6.6.6.6, 198.51.100.1, 10.0.0.2", "198.51.100.1"),
        (2, "10.0.0.3", "198.51.100.1", "10.0.0.3"),  # chain too short: the peer
        (1, "10.0.0.2", "", "10.0.0.2"),  # no header: the peer
        (1, "10.0.0.2", "not-an-ip, 198.51.100.1", "198.51.100.1"),  # client garbage ignored
        (1, "10.0.0.2", "not-an-ip", "10.0.0.2"),  # garbage never becomes an address
        (1, "10.0.0.2", "2001:db8::1", "2001:db8::1"),
        (0, None, "", None),
    ],
)
def test_the_client_address_rule(settings, hops, peer, forwarded, expected):
    settings.PORTAL_TRUSTED_PROXIES = hops
    assert client_ip_from(peer, forwarded) == expected
    meta = {"HTTP_X_FORWARDED_FOR": forwarded}
    if peer:
        meta["REMOTE_ADDR"] = peer
    assert client_ip(_Request(meta)) == expected  # the Django side
    scope = {"client": (peer, 50000) if peer else None}
    assert _client_ip(scope, {"x-forwarded-for": forwarded}) == expected  # the ASGI proxy
