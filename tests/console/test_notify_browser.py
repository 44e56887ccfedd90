"""The notify console in a real browser: a tenant administrator presses a channel's test-send
button (the webhook receiver gets the signed message, the page says so), then reads the
message in the inbox and marks it read and unread; axe-core finds no serious violation."""

from __future__ import annotations

import pytest

from apps.notify import services
from apps.notify.models import Message
from tests.browser import *  # noqa: F403
from tests.browser import sign_in_at
from tests.console.test_console_browser import serious_violations
from tests.notify.conftest import HTTPReceiver, receiver, template, webhook_channel

pytestmark = pytest.mark.django_db(transaction=True)


def test_test_send_then_read_the_message(http_portal, page, tenant, tenant_admin):
    peer = HTTPReceiver()
    try:
        base = http_portal.url
        axe = f"{base}/static/vendor/axe-core/axe.min.js"
        channel = webhook_channel(tenant, peer.url + "/hook")
        template(channel, subject="Disk full on {{ nodeName }}", body="{{ value }}%")
        receiver(tenant, name="alice-r", user=tenant_admin)
        sign_in_at(page, base, "/notify/channels/", tenant_admin.username, tenant="acme")
        page.click("tr[data-channel='hook'] .channel-test button")
        page.wait_for_selector(".portal-messages .alert-success")
        assert "Test message sent through hook." in page.inner_text(".portal-messages")
        assert len(peer.received) == 1 and "X-TKE-Signature" in peer.received[0].headers
        assert serious_violations(page, axe) == []

        with_commit = services.notify(
            tenant=tenant, receivers=["alice-r"], ways=[("hook", "default")],
            variables={"nodeName": "node-7", "value": "97"},
        )  # fmt: skip
        message = Message.objects.get(request=with_commit)
        page.click("nav a[href='/notify/messages/']")
        row = f"tr[data-message='{message.pk}']"
        page.wait_for_selector(row)
        assert "Disk full on node-7" in page.inner_text(row)
        assert page.get_attribute(row, "data-read") == "no"
        page.click(f"{row} .mark-read")
        page.wait_for_selector(f"{row}[data-read='yes']")
        message.refresh_from_db()
        assert message.read_at is not None
        page.click(f"{row} .mark-unread")
        page.wait_for_selector(f"{row}[data-read='no']")
        assert serious_violations(page, axe) == []
    finally:
        peer.stop()
