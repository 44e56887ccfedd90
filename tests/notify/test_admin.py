"""The notify admin: tenant-scoped (another tenant's channels invisible), the channel secret
never rendered and kept when the field is left empty, the config validated per kind with the
field named, messages read-only."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from apps.notify.models import Message, NotifyChannel

from .conftest import receiver, webhook_channel

pytestmark = pytest.mark.django_db
HOOK = "http://127.0.0.1:9/hook"


def test_channels_are_tenant_scoped_and_secrets_never_shown(
    client, tenant_admin, tenant, other_tenant
):
    mine = webhook_channel(tenant, HOOK, secret="hmac-never-shown")
    theirs = webhook_channel(other_tenant, HOOK, name="secret-hook")
    client.force_login(tenant_admin)
    page = client.get(reverse("admin:notify_notifychannel_changelist")).content.decode()
    assert ">hook<" in page and "secret-hook" not in page
    change = client.get(reverse("admin:notify_notifychannel_change", args=[mine.pk]))
    assert change.status_code == 200
    assert "hmac-never-shown" not in change.content.decode()
    other = client.get(reverse("admin:notify_notifychannel_change", args=[theirs.pk]))
    assert other.status_code != 200

    form = {
        "display_name": "Hook",
        "config": json.dumps({"url": HOOK}),
        "secret": "",
        "enabled": "on",
        "templates-TOTAL_FORMS": "0",
        "templates-INITIAL_FORMS": "0",
        "templates-MIN_NUM_FORMS": "0",
        "templates-MAX_NUM_FORMS": "1000",
    }
    saved = client.post(reverse("admin:notify_notifychannel_change", args=[mine.pk]), form)
    assert saved.status_code == 302, saved.content.decode()[:3000]
    mine.refresh_from_db()
    assert mine.display_name == "Hook" and mine.secret == "hmac-never-shown"

    bad = client.post(
        reverse("admin:notify_notifychannel_change", args=[mine.pk]),
        {**form, "config": '{"url": "http://169.254.169.254/"}'},
    )
    assert bad.status_code == 200
    assert "config.url" in bad.content.decode() and "cloud metadata" in bad.content.decode()


def test_messages_are_read_only(client, tenant_admin, tenant):
    ops = receiver(tenant)
    message = Message.objects.create(
        tenant=tenant, receiver=ops, receiver_name="ops", channel_name="hook",
        channel_kind="webhook", subject="disk full", body="b",
    )  # fmt: skip
    client.force_login(tenant_admin)
    page = client.get(reverse("admin:notify_message_change", args=[message.pk])).content.decode()
    assert "disk full" in page and 'name="_save"' not in page
    assert client.get(reverse("admin:notify_message_add")).status_code == 403
    assert NotifyChannel.objects.count() == 0
