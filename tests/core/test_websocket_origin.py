"""The portal's websocket origin rule (apps.core.websocket)."""

import pytest

from apps.core.websocket import origin_allowed


@pytest.mark.parametrize(
    ("origin", "cookie", "allowed"),
    [
        ("http://localhost", "sessionid=abc", True),  # the portal's own page
        ("https://evil.example", "sessionid=abc", False),  # another site riding the session
        ("https://evil.example", "", False),  # another site, even without the cookie
        ("", "sessionid=abc", False),  # a cookie without Origin: not from a browser page
        ("", "other=1", True),  # a CLI with an API key
        ("", "", True),
        ("null", "", False),  # a sandboxed page's opaque origin
    ],
)
def test_origin_rule(settings, origin, cookie, allowed):
    settings.ALLOWED_HOSTS = ["localhost", "portal.example.com"]
    assert origin_allowed(origin, cookie) is allowed
