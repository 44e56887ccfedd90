"""The notify forms in a real browser: a tenant administrator creates a webhook channel (the
form shows only the chosen kind's fields), a template (previewed, then saved), a receiver
linked to a portal user and a group, then test-sends through the channel with the template to
a local HTTP receiver, which gets the body signed with the channel's HMAC secret."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from apps.notify.models import NotifyChannel, NotifyTemplate, Receiver, ReceiverGroup
from tests.browser import *  # noqa: F403
from tests.browser import sign_in_at
from tests.console.test_console_browser import serious_violations
from tests.notify.conftest import HTTPReceiver

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "browser-hmac-key-42"


def test_create_channel_template_receiver_group_and_test_send(
    http_portal, page, tenant, tenant_admin, member
):
    peer = HTTPReceiver()
    try:
        base = http_portal.url
        axe = f"{base}/static/vendor/axe-core/axe.min.js"
        sign_in_at(page, base, "/notify/channels/", tenant_admin.username, tenant="acme")

        # the channel: only the chosen kind's fieldset shows
        page.click("#channel-new")
        page.wait_for_selector("#channel-form")
        page.select_option("#id_kind", "webhook")
        assert page.is_visible("#fields-webhook") and not page.is_visible("#fields-smtp")
        page.select_option("#id_kind", "smtp")
        assert page.is_visible("#fields-smtp") and not page.is_visible("#fields-webhook")
        page.select_option("#id_kind", "webhook")
        page.fill("#id_name", "ops-hook")
        page.fill("#id_display_name", "Ops hook")
        page.fill("#id_webhook_url", peer.url + "/hook")
        page.fill("#id_webhook_headers", "X-Team: ops")
        page.fill("#id_webhook_secret", SECRET)
        assert serious_violations(page, axe) == []
        page.click("#channel-form button[type=submit]")
        page.wait_for_url(f"{base}/notify/channels/ops-hook/")
        assert "Set (never shown)" in page.inner_text("#channel-settings")
        assert SECRET not in page.content()

        # a template: previewed with the sample variables, then saved
        page.click("#template-new")
        page.wait_for_selector("#template-form")
        page.fill("#id_name", "firing")
        page.fill("#id_subject", "[{{ status|upper }}] {{ alertName }}")
        page.fill("#id_body", "{{ clusterDisplayName }}: {{ value }}{{ unit }}")
        page.click("#template-preview")
        page.wait_for_selector("#preview")
        assert page.inner_text("#preview-subject") == "[FIRING] test-alert"
        assert serious_violations(page, axe) == []
        page.click("#template-save")
        page.wait_for_selector("tr[data-template='firing']")
        assert NotifyTemplate.objects.filter(channel__name="ops-hook", name="firing").exists()

        # a receiver linked to a portal user, and a group with it
        page.goto(f"{base}/notify/receivers/")
        page.click("#receiver-new")
        page.wait_for_selector("#receiver-form")
        page.fill("#id_name", "bob-r")
        page.select_option("#id_user", str(member.pk))
        page.fill("#id_email", "bob@example.com")
        page.click("#receiver-form button[type=submit]")
        page.wait_for_selector("tr[data-receiver='bob-r']")
        page.click("#group-new")
        page.wait_for_selector("#group-form")
        page.fill("#id_name", "sre")
        page.check("#member-bob-r")
        assert serious_violations(page, axe) == []
        page.click("#group-form button[type=submit]")
        page.wait_for_selector("tr[data-group='sre']")
        assert Receiver.objects.get(tenant=tenant, name="bob-r").user == member
        group = ReceiverGroup.objects.get(tenant=tenant, name="sre")
        assert list(group.receivers.values_list("name", flat=True)) == ["bob-r"]

        # the test send with the template: the receiver gets the signed, rendered body
        page.click("nav a[href='/notify/channels/']")
        page.select_option("#template-ops-hook", "firing")
        page.click("tr[data-channel='ops-hook'] .channel-test button")
        page.wait_for_selector("tr[data-channel='ops-hook'] .test-result[data-status='sent']")
        assert len(peer.received) == 1
        got = peer.received[0]
        timestamp = got.headers["X-TKE-Timestamp"]
        expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + got.body, hashlib.sha256)
        assert got.headers["X-TKE-Signature"] == "sha256=" + expected.hexdigest()
        assert got.headers["X-Team"] == "ops"
        assert got.json()["subject"] == "[FIRING] test-alert"
        assert got.json()["body"] == "Test cluster: 1.5core"
        assert NotifyChannel.objects.get(name="ops-hook").secret == SECRET
        assert serious_violations(page, axe) == []
    finally:
        peer.stop()
