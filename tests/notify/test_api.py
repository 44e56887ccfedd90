"""``/api/v1/notify/…``: permission matrices, other tenants 404, secrets never echoed,
validation errors naming the field, the test-send action, the inbox (a user's own messages,
read/unread) and list query counts constant in page size."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEvent
from apps.notify import services
from apps.notify.models import Message, MessageRequest, NotifyChannel, Receiver
from tests.matrix import APIMatrix

from .conftest import receiver, template, webhook_channel

pytestmark = pytest.mark.django_db

URL = "/api/v1/notify/"
_names = itertools.count()
HOOK = "http://127.0.0.1:9/hook"


class _Named(APIMatrix):
    reader = "member"
    writer = "tenant_admin"
    non_writer = "read_only_user"
    no_permission = "viewer"

    def lookup(self, obj):
        return obj.name

    def lookup_from_json(self, row):
        return row["name"]

    def update_data(self, obj):
        return {"display_name": "changed"}


class TestChannelMatrix(_Named):
    list_url = f"{URL}channels/"

    def make_object(self, tenant):
        return webhook_channel(tenant, HOOK, name=f"c{next(_names)}")

    def create_data(self, tenant):
        return {"name": "fresh", "kind": "webhook", "config": {"url": HOOK}, "secret": "k"}


class TestTemplateMatrix(_Named):
    list_url = f"{URL}channels/hook/templates/"

    def make_object(self, tenant):
        channel = NotifyChannel.objects.filter(tenant=tenant, name="hook").first()
        channel = channel or webhook_channel(tenant, HOOK)
        return template(channel, name=f"t{next(_names)}")

    def create_data(self, tenant):
        if not NotifyChannel.objects.filter(tenant=tenant, name="hook").exists():
            webhook_channel(tenant, HOOK)
        return {"name": "fresh", "subject": "{{ alertName }}", "body": "{{ value }}"}


class TestReceiverMatrix(_Named):
    list_url = f"{URL}receivers/"

    def make_object(self, tenant):
        return receiver(tenant, name=f"r{next(_names)}", email="r@example.com")

    def create_data(self, tenant):
        return {"name": "fresh", "email": "fresh@example.com", "mobile": "+8613800000000"}


class TestReceiverGroupMatrix(_Named):
    list_url = f"{URL}receiver-groups/"

    def make_object(self, tenant):
        return services.create_group(actor=None, tenant=tenant, name=f"g{next(_names)}")

    def create_data(self, tenant):
        receiver(tenant, name="member-of-fresh")
        return {"name": "fresh", "receivers": ["member-of-fresh"]}


def _message(tenant, to=None, **fields):
    request = MessageRequest.objects.create(tenant=tenant, source="alarmrecord:1")
    return Message.objects.create(
        tenant=tenant, request=request, receiver=to, receiver_name=to.name if to else "x",
        channel_name="hook", channel_kind="webhook", subject="s", body="b", **fields,
    )  # fmt: skip


class TestMessageMatrix(APIMatrix):
    list_url = f"{URL}messages/"
    read_only = True
    reader = "member"
    writer = "tenant_admin"
    non_writer = "read_only_user"
    no_permission = None  # everyone lists their own messages: tested below

    def make_object(self, tenant):
        return _message(tenant)


class TestMessageRequestMatrix(APIMatrix):
    list_url = f"{URL}message-requests/"
    read_only = True
    reader = "member"
    writer = "tenant_admin"
    non_writer = "read_only_user"
    no_permission = "viewer"

    def make_object(self, tenant):
        return MessageRequest.objects.create(tenant=tenant, source="alarmrecord:2")


# -- secrets and validation --------------------------------------------------------------------
def test_secret_is_write_only_and_kept_when_omitted(api, tenant_admin, tenant):
    client = api(tenant_admin)
    created = client.post(
        f"{URL}channels/",
        {"name": "mail", "kind": "smtp", "secret": "smtp-pass-123",
         "config": {"host": "127.0.0.1", "port": 2525, "from_address": "a@portal.example",
                    "username": "u"}},
    )  # fmt: skip
    assert created.status_code == 201, created.content
    for response in (created, client.get(f"{URL}channels/mail/"), client.get(f"{URL}channels/")):
        assert b"smtp-pass-123" not in response.content
    assert created.json()["has_secret"] is True and "secret" not in created.json()
    patched = client.patch(f"{URL}channels/mail/", {"display_name": "Mail"})
    assert patched.status_code == 200 and b"smtp-pass-123" not in patched.content
    assert NotifyChannel.objects.get(name="mail").secret == "smtp-pass-123"
    # at rest: encrypted
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM notify_notifychannel WHERE name = 'mail'")
        (stored,) = cursor.fetchone()
    assert "smtp-pass-123" not in stored
    event = AuditEvent.objects.filter(action="createNotifyChannel").latest("id")
    assert "smtp-pass-123" not in str(event.request_body)


def test_validation_errors_name_the_field(api, tenant_admin, tenant):
    client = api(tenant_admin)
    bad = client.post(f"{URL}channels/", {"name": "h", "kind": "webhook", "config": {"url": "x"}})
    assert bad.status_code == 400
    assert set(bad.json()["fields"]) == {"config.url", "secret"}
    webhook_channel(tenant, HOOK)
    bad = client.post(f"{URL}channels/hook/templates/", {"name": "t", "body": "{% include 'x' %}"})
    assert bad.status_code == 400 and "include" in bad.json()["fields"]["body"][0]
    bad = client.post(f"{URL}receivers/", {"name": "r", "email": "nope", "mobile": "abc"})
    assert set(bad.json()["fields"]) == {"email", "mobile"}
    taken = client.post(f"{URL}channels/", {"name": "hook", "kind": "webhook",
                                            "config": {"url": HOOK}, "secret": "k"})  # fmt: skip
    assert taken.status_code == 400 and "name" in taken.json()["fields"]
    changed = client.patch(f"{URL}channels/hook/", {"kind": "sms"})
    assert changed.status_code == 400 and "kind" in changed.json()["fields"]


def test_receiver_user_from_another_tenant_is_unknown(api, tenant_admin, other_user):
    response = api(tenant_admin).post(f"{URL}receivers/", {"name": "r", "user": "mallory"})
    assert response.status_code == 400 and "user" in response.json()["fields"]


def test_templates_of_another_tenants_channel_are_404(api, other_user, tenant):
    webhook_channel(tenant, HOOK)
    client = api(other_user)
    assert client.get(f"{URL}channels/hook/templates/").status_code == 404
    assert (
        client.post(f"{URL}channels/hook/templates/", {"name": "x", "body": "y"}).status_code == 404
    )


# -- test-send ---------------------------------------------------------------------------------
def test_test_send_action(api, tenant_admin, read_only_user, other_user, tenant, http_receiver):
    webhook_channel(tenant, http_receiver.url + "/hook")
    response = api(tenant_admin).post(f"{URL}channels/hook/test/", {})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "sent" and response.json()["source"] == "test"
    assert len(http_receiver.received) == 1
    event = AuditEvent.objects.filter(action="testNotifyChannel").latest("id")
    assert event.resource == "notifychannel:hook"
    refused = api(read_only_user).post(f"{URL}channels/hook/test/", {})
    assert refused.status_code == 403 and "testNotifyChannel" in refused.json()["detail"]
    assert api(other_user).post(f"{URL}channels/hook/test/", {}).status_code == 404
    assert len(http_receiver.received) == 1


def test_test_send_needs_a_destination_for_addressed_kinds(api, tenant_admin, tenant):
    services.create_channel(
        actor=None, tenant=tenant, name="sms", kind="sms", config={"url": HOOK}, secret="t"
    )
    response = api(tenant_admin).post(f"{URL}channels/sms/test/", {})
    assert response.status_code == 400 and "to" in response.json()["fields"]


# -- the inbox ---------------------------------------------------------------------------------
def test_a_user_sees_and_marks_their_own_messages_only(api, viewer, member, tenant):
    mine = receiver(tenant, name="vic-r", user=viewer)
    theirs = receiver(tenant, name="bob-r", user=member)
    own = _message(tenant, mine)
    other = _message(tenant, theirs)
    client = api(viewer)  # login only: no notify policy at all
    rows = client.get(f"{URL}messages/").json()["results"]
    assert [row["id"] for row in rows] == [own.pk]
    assert rows[0]["read"] is False
    assert client.get(f"{URL}messages/{other.pk}/").status_code == 404
    read = client.post(f"{URL}messages/{own.pk}/read/")
    assert read.status_code == 200 and read.json()["read"] is True
    assert client.get(f"{URL}messages/", {"unread": "true"}).json()["results"] == []
    unread = client.post(f"{URL}messages/{own.pk}/unread/")
    assert unread.json()["read"] is False
    assert client.post(f"{URL}messages/{other.pk}/read/").status_code == 404
    assert Message.objects.get(pk=other.pk).read_at is None
    # the platform user (listMessages) sees the tenant's
    ids = {row["id"] for row in api(member).get(f"{URL}messages/").json()["results"]}
    assert ids == {own.pk, other.pk}
    assert client.get(f"{URL}message-requests/").status_code == 403


def test_list_query_counts_are_constant(api, member, tenant):
    def queries(path, n, make):
        for _ in range(n):
            make()
        client = api(member)
        client.get(path)  # warm the policy cache
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(path, {"limit": 100})
        assert response.status_code == 200
        return len(ctx.captured_queries)

    hook = webhook_channel(tenant, HOOK)
    makers = {
        f"{URL}channels/": lambda: webhook_channel(tenant, HOOK, name=f"c{next(_names)}"),
        f"{URL}channels/hook/templates/": lambda: template(hook, name=f"t{next(_names)}"),
        f"{URL}receivers/": lambda: receiver(tenant, name=f"r{next(_names)}"),
        f"{URL}receiver-groups/": lambda: services.create_group(
            actor=None, tenant=tenant, name=f"g{next(_names)}",
            receivers=[receiver(tenant, name=f"r{next(_names)}")],
        ),
        f"{URL}messages/": lambda: _message(tenant, Receiver.objects.first()),
        f"{URL}message-requests/": lambda: MessageRequest.objects.create(tenant=tenant),
    }  # fmt: skip
    for path, make in makers.items():
        assert queries(path, 2, make) == queries(path, 10, make), path


@pytest.mark.parametrize(
    "kind, config, to",
    [
        ("smtp", {"host": "127.0.0.1", "from_address": "a@b.example"}, "x@y.z\r\nBcc: e@vil"),
        ("sms", {"url": HOOK}, "not-a-number"),
        ("wechat", {}, "zhang san\n"),
    ],
)
def test_test_send_destination_is_validated(api, tenant_admin, tenant, kind, config, to):
    secret = HOOK if kind == "wechat" else "s"
    services.create_channel(
        actor=None, tenant=tenant, name="c", kind=kind, config=config, secret=secret
    )
    response = api(tenant_admin).post(f"{URL}channels/c/test/", {"to": to})
    assert response.status_code == 400, response.content
    assert "to" in response.json()["fields"]
    assert not Message.objects.exists()
