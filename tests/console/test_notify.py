"""The notify console: permission matrices of the channel, receiver and message pages; the
test-send button needs testNotifyChannel; read/unread on one's own messages only."""

from __future__ import annotations

import pytest

from apps.notify import services
from apps.notify.models import Message, MessageRequest
from tests.console.matrix import ConsoleMatrix
from tests.notify.conftest import HTTPReceiver, receiver, webhook_channel

pytestmark = pytest.mark.django_db

NOT_PAGES = {
    "console:notify-channel-test": "tests.console.test_notify.test_test_send_needs_the_action",
    "console:notify-message-read": "tests.console.test_notify.test_read_unread_own_messages_only",
    "console:notify-message-unread": (
        "tests.console.test_notify.test_read_unread_own_messages_only"
    ),
}
HOOK = "http://127.0.0.1:9/hook"


class TestChannelsMatrix(ConsoleMatrix):
    url = "/notify/channels/"
    expect = 'id="notify-channels"'
    reader = "read_only_user"

    def make_object(self, tenant):
        services.create_channel(
            actor=None, tenant=tenant, name="team-hook", display_name="Team hook",
            kind="webhook", config={"url": HOOK}, secret="k",
        )  # fmt: skip

    def expect_of_tenant(self, tenant) -> str:
        return "Team hook"


class TestReceiversMatrix(ConsoleMatrix):
    url = "/notify/receivers/"
    expect = 'id="notify-receivers"'
    reader = "read_only_user"

    def make_object(self, tenant):
        receiver(tenant, name="oncall-ann", email="ann@example.com")

    def expect_of_tenant(self, tenant) -> str:
        return "ann@example.com"


class TestMessagesMatrix(ConsoleMatrix):
    url = "/notify/messages/"
    expect = 'id="notify-messages"'
    reader = "read_only_user"
    no_permission = None  # everyone has an inbox

    def make_object(self, tenant):
        _message(tenant, None, subject="Disk full on node-7")

    def expect_of_tenant(self, tenant) -> str:
        return "Disk full on node-7"


def _message(tenant, to, subject="s"):
    request = MessageRequest.objects.create(tenant=tenant)
    return Message.objects.create(
        tenant=tenant, request=request, receiver=to, receiver_name=to.name if to else "x",
        channel_name="hook", channel_kind="webhook", subject=subject, body="b",
    )  # fmt: skip


def test_test_send_needs_the_action(client, tenant, tenant_admin, read_only_user, other_user):
    peer = HTTPReceiver()
    try:
        webhook_channel(tenant, peer.url + "/hook")
        client.force_login(read_only_user)
        refused = client.post("/notify/channels/hook/test/")
        assert refused.status_code == 403 and "testNotifyChannel" in refused.content.decode()
        client.force_login(other_user)
        assert client.post("/notify/channels/hook/test/").status_code == 404
        assert peer.received == []
        client.force_login(tenant_admin)
        sent = client.post("/notify/channels/hook/test/", follow=True)
        assert "Test message sent through hook." in sent.content.decode()
        assert len(peer.received) == 1
    finally:
        peer.stop()


def test_read_unread_own_messages_only(client, tenant, viewer, member):
    own = _message(tenant, receiver(tenant, name="vic-r", user=viewer), subject="mine")
    other = _message(tenant, receiver(tenant, name="bob-r", user=member), subject="theirs")
    client.force_login(viewer)
    page = client.get("/notify/messages/").content.decode()
    assert "mine" in page and "theirs" not in page
    assert client.post(f"/notify/messages/{own.pk}/read/").status_code == 303
    own.refresh_from_db()
    assert own.read_at is not None
    assert client.get("/notify/messages/?unread=1").content.decode().count('data-message="') == 0
    client.post(f"/notify/messages/{own.pk}/unread/")
    own.refresh_from_db()
    assert own.read_at is None
    assert client.post(f"/notify/messages/{other.pk}/read/").status_code == 404
    other.refresh_from_db()
    assert other.read_at is None
