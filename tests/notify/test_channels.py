"""Each channel kind against a real peer on loopback: an SMTP server receiving the rendered
mail over STARTTLS with AUTH, an SMS gateway, a WeChat Work robot and a webhook receiver
checking bodies and the HMAC signature; outbound addresses follow the SSRF policy."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from django.core.exceptions import ValidationError

from apps.notify import services
from apps.notify.models import Message

from .conftest import SMTP_PASSWORD, SMTP_USER, VARIABLES, receiver, template, webhook_channel

pytestmark = pytest.mark.django_db


def _notify(tenant, way, to=("ops",), capture=None, **kw):
    with capture(execute=True):
        return services.notify(
            tenant=tenant,
            receivers=list(to),
            ways=[way],
            variables=VARIABLES,
            alert_status="firing",
            source="alarmrecord:7",
            **kw,
        )


def test_smtp_mail_is_received_over_starttls_with_auth(
    tenant, smtp_server, django_capture_on_commit_callbacks
):
    channel = services.create_channel(
        actor=None,
        tenant=tenant,
        name="mail",
        kind="smtp",
        config={
            "host": "127.0.0.1",
            "port": smtp_server.port,
            "security": "starttls",
            "username": SMTP_USER,
            "from_address": "alerts@portal.example",
            "ca_cert": smtp_server.ca_pem,
        },
        secret=SMTP_PASSWORD,
    )
    template(channel, body="<p>{{ alertName }}: {{ summary }}</p>")
    receiver(tenant, email="oncall@example.com")

    request = _notify(tenant, ("mail", "default"), capture=django_capture_on_commit_callbacks)

    (message,) = Message.objects.filter(request=request)
    assert message.status == "sent", message.last_error
    (mail,) = smtp_server.mails
    assert smtp_server.logins == [(SMTP_USER.encode(), True)]
    assert smtp_server.envelopes[0].rcpt_tos == ["oncall@example.com"]
    assert mail["Subject"] == "[firing] cpu-high"
    assert mail["From"] == "alerts@portal.example"
    assert str(message.uuid) in mail["Message-ID"]
    html = mail.get_body(("html",)).get_content()
    assert "<p>cpu-high: CPU &lt;b&gt;high&lt;/b&gt;</p>" in html  # the variable is escaped
    # the text part is the body without markup, the variable as it was
    assert mail.get_body(("plain",)).get_content().strip() == "cpu-high: CPU <b>high</b>"
    request.refresh_from_db()
    assert request.status == "Sent" and request.errors == []


def test_smtp_wrong_password_is_a_failure_with_the_servers_answer(
    tenant, smtp_server, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFY_MAX_ATTEMPTS = 1
    channel = services.create_channel(
        actor=None, tenant=tenant, name="mail", kind="smtp",
        config={"host": "127.0.0.1", "port": smtp_server.port, "security": "starttls",
                "username": SMTP_USER, "from_address": "a@portal.example",
                "ca_cert": smtp_server.ca_pem},
        secret="wrong",
    )  # fmt: skip
    template(channel)
    receiver(tenant, email="oncall@example.com")
    request = _notify(tenant, ("mail", "default"), capture=django_capture_on_commit_callbacks)
    (message,) = Message.objects.filter(request=request)
    assert message.status == "failed"
    assert "535" in message.last_error  # authentication failed
    assert smtp_server.mails == []


def test_sms_gateway_gets_json_with_bearer_token(
    tenant, http_receiver, django_capture_on_commit_callbacks
):
    channel = services.create_channel(
        actor=None, tenant=tenant, name="sms", kind="sms",
        config={"url": http_receiver.url + "/send", "extra": {"sign": "TKE"}},
        secret="gateway-token",
    )  # fmt: skip
    template(channel, body="{{ alertName }} {{ value }}")
    receiver(tenant, mobile="+8613800000000")
    request = _notify(tenant, ("sms", "default"), capture=django_capture_on_commit_callbacks)
    (got,) = http_receiver.received
    assert got.path == "/send"
    assert got.headers["Authorization"] == "Bearer gateway-token"
    assert got.json() == {
        "sign": "TKE",
        "to": "+8613800000000",
        "text": "cpu-high 0.93",
        "message_id": str(Message.objects.get(request=request).uuid),
    }
    assert Message.objects.get(request=request).status == "sent"


@pytest.mark.parametrize("msgtype", ["markdown", "text"])
def test_wechat_robot_gets_the_message_with_mentions(
    tenant, http_receiver, msgtype, django_capture_on_commit_callbacks
):
    http_receiver.script.default = (200, b'{"errcode": 0, "errmsg": "ok"}')
    channel = services.create_channel(
        actor=None, tenant=tenant, name="robot", kind="wechat", config={"msgtype": msgtype},
        secret=http_receiver.url + "/cgi-bin/webhook/send?key=robot-key",
    )  # fmt: skip
    template(channel, subject="**{{ alertName }}**", body="{{ summary }}")
    receiver(tenant, wechat_id="zhangsan", mobile="13800000000")
    request = _notify(tenant, ("robot", "default"), capture=django_capture_on_commit_callbacks)
    (got,) = http_receiver.received
    assert got.path == "/cgi-bin/webhook/send?key=robot-key"
    if msgtype == "markdown":
        assert got.json() == {
            "msgtype": "markdown",
            "markdown": {"content": "**cpu-high**\nCPU <b>high</b>\n<@zhangsan>"},
        }
    else:
        assert got.json() == {
            "msgtype": "text",
            "text": {
                "content": "**cpu-high**\nCPU <b>high</b>",
                "mentioned_list": ["zhangsan"],
                "mentioned_mobile_list": ["13800000000"],
            },
        }
    assert Message.objects.get(request=request).status == "sent"


def test_wechat_errcode_is_a_failure(
    tenant, http_receiver, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFY_MAX_ATTEMPTS = 1
    http_receiver.script.default = (200, b'{"errcode": 93000, "errmsg": "invalid webhook url"}')
    channel = services.create_channel(
        actor=None, tenant=tenant, name="robot", kind="wechat", config={},
        secret=http_receiver.url + "/send?key=k",
    )  # fmt: skip
    template(channel)
    receiver(tenant, wechat_id="zhangsan")
    request = _notify(tenant, ("robot", "default"), capture=django_capture_on_commit_callbacks)
    message = Message.objects.get(request=request)
    assert message.status == "failed"
    assert (
        message.last_error == "WeChat robot refused the message: errcode 93000 invalid webhook url"
    )
    assert "robot-key" not in message.last_error and "key=k" not in message.last_error


def test_unreachable_robot_error_does_not_reveal_its_key(
    tenant, settings, django_capture_on_commit_callbacks
):
    from .conftest import free_port

    settings.NOTIFY_MAX_ATTEMPTS = 1
    url = f"http://127.0.0.1:{free_port()}/cgi-bin/webhook/send?key=robot-secret-key"
    channel = services.create_channel(
        actor=None, tenant=tenant, name="robot", kind="wechat", config={}, secret=url
    )
    template(channel)
    receiver(tenant, wechat_id="zhangsan")
    request = _notify(tenant, ("robot", "default"), capture=django_capture_on_commit_callbacks)
    message = Message.objects.get(request=request)
    assert message.status == "failed"
    assert "Connection refused" in message.last_error or "refused" in message.last_error
    assert "robot-secret-key" not in message.last_error


def test_webhook_is_signed_over_timestamp_and_body(
    tenant, http_receiver, django_capture_on_commit_callbacks
):
    channel = webhook_channel(tenant, http_receiver.url + "/hook", headers={"X-Team": "sre"})
    template(channel)
    receiver(tenant)
    request = _notify(tenant, ("hook", "default"), capture=django_capture_on_commit_callbacks)
    (got,) = http_receiver.received
    timestamp = got.headers["X-TKE-Timestamp"]
    expected = hmac.new(b"hmac-key-1", timestamp.encode() + b"." + got.body, hashlib.sha256)
    assert got.headers["X-TKE-Signature"] == "sha256=" + expected.hexdigest()
    assert got.headers["X-Team"] == "sre"
    message = Message.objects.get(request=request)
    assert got.headers["X-TKE-Message-Id"] == str(message.uuid)
    assert json.loads(got.body) == {
        "message_id": str(message.uuid),
        "receiver": "ops",
        "subject": "[firing] cpu-high",
        "body": "cpu-high on cls-a1: 0.93core",
        "alert_status": "firing",
        "source": "alarmrecord:7",
    }
    # A receiver holding a different key computes a different signature.
    other = hmac.new(b"other", timestamp.encode() + b"." + got.body, hashlib.sha256)
    assert got.headers["X-TKE-Signature"] != "sha256=" + other.hexdigest()


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://169.254.169.254/latest/meta-data", "cloud metadata"),
        ("http://metadata.google.internal/", "cloud metadata"),
        ("http://[::ffff:169.254.10.1]/", "link-local"),
        ("http://0.0.0.0:8080/", "unspecified"),
    ],
)
def test_refused_addresses_are_validation_errors(tenant, url, reason):
    with pytest.raises(ValidationError) as caught:
        webhook_channel(tenant, url)
    assert reason in caught.value.message_dict["config.url"][0]


def test_loopback_is_refused_when_not_allowed_also_at_delivery(
    tenant, http_receiver, settings, django_capture_on_commit_callbacks
):
    channel = webhook_channel(tenant, http_receiver.url)
    template(channel)
    receiver(tenant)
    settings.PORTAL_ALLOW_LOOPBACK_CLUSTERS = False
    settings.NOTIFY_MAX_ATTEMPTS = 1
    with pytest.raises(ValidationError) as caught:
        webhook_channel(tenant, http_receiver.url, name="hook2")
    assert "loopback" in caught.value.message_dict["config.url"][0]
    request = _notify(tenant, ("hook", "default"), capture=django_capture_on_commit_callbacks)
    message = Message.objects.get(request=request)
    assert message.status == "failed" and "loopback" in message.last_error
    assert http_receiver.received == []


def test_redirects_are_not_followed(
    tenant, http_receiver, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFY_MAX_ATTEMPTS = 1
    http_receiver.script.default = (302, b"")
    channel = webhook_channel(tenant, http_receiver.url + "/a")
    template(channel)
    receiver(tenant)
    request = _notify(tenant, ("hook", "default"), capture=django_capture_on_commit_callbacks)
    assert len(http_receiver.received) == 1
    message = Message.objects.get(request=request)
    assert message.status == "failed" and "HTTP 302" in message.last_error


@pytest.mark.parametrize(
    "kind, config, secret, field",
    [
        ("smtp", {"port": 25, "from_address": "a@b.example"}, "", "config.host"),
        ("smtp", {"host": "127.0.0.1", "port": 70000, "from_address": "a@b.c"}, "", "config.port"),
        ("smtp", {"host": "127.0.0.1", "from_address": "nope"}, "", "config.from_address"),
        ("smtp", {"host": "127.0.0.1", "from_address": "a@b.c", "security": "ssl"}, "",
         "config.security"),
        ("sms", {"url": "ftp://x/"}, "t", "config.url"),
        ("webhook", {"url": "http://127.0.0.1/"}, "", "secret"),
        ("webhook", {"url": "http://127.0.0.1/", "headers": {"Host": "x"}}, "k", "config.headers"),
        ("webhook", {"url": "http://127.0.0.1/", "headers": {"X-TKE-Signature": "x"}}, "k",
         "config.headers"),
        ("wechat", {"msgtype": "news"}, "http://127.0.0.1/", "config.msgtype"),
        ("wechat", {}, "", "secret"),
    ],
)  # fmt: skip
def test_config_errors_name_the_field(tenant, kind, config, secret, field):
    with pytest.raises(ValidationError) as caught:
        services.create_channel(
            actor=None, tenant=tenant, name="c", kind=kind, config=config, secret=secret
        )
    assert field in caught.value.message_dict
