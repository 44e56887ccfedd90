"""The notify console's forms: permission matrices of every new page (creating and editing
need the API's create…/update… actions, deleting delete…, other tenants' objects 404), channel
forms per kind with write-only secrets, templates with the sandboxed preview, receivers and
groups; every write through apps.notify.services and audited under the API's action names."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.notify import services
from apps.notify.models import NotifyChannel, NotifyTemplate, Receiver, ReceiverGroup
from tests.console.matrix import ConsoleMatrix
from tests.notify.conftest import HTTPReceiver, receiver, template, webhook_channel

pytestmark = pytest.mark.django_db

NOT_PAGES = {
    "console:notify-channel-enable": (
        "tests.console.test_notify_forms.test_enable_disable_needs_updateNotifyChannel"
    ),
    "console:notify-channel-disable": (
        "tests.console.test_notify_forms.test_enable_disable_needs_updateNotifyChannel"
    ),
}
HOOK = "http://127.0.0.1:9/hook"
SECRET = "hmac-key-never-shown-7f3a"


def _channel(tenant, name="team-hook"):
    return webhook_channel(tenant, HOOK, name=name, secret=SECRET)


# -- permission matrices -----------------------------------------------------------------------
class _Writer(ConsoleMatrix):
    reader = "tenant_admin"
    no_permission = "read_only_user"


class _ObjectPage(_Writer):
    object_page = True


class TestChannelNewMatrix(_Writer):
    url = "/notify/channels/new/"
    expect = 'id="channel-form"'

    def make_object(self, tenant):
        _channel(tenant)

    def expect_of_tenant(self, tenant) -> str:
        return "team-hook"


class TestChannelPageMatrix(ConsoleMatrix):
    url_name = "console:notify-channel"
    expect = 'id="templates-table"'
    reader = "read_only_user"
    object_page = True

    def url_for(self, tenant):
        return "/notify/channels/team-hook/"

    def make_object(self, tenant):
        template(_channel(tenant))


class TestChannelEditMatrix(_ObjectPage):
    url_name = "console:notify-channel-edit"
    expect = 'id="channel-form"'

    def url_for(self, tenant):
        return "/notify/channels/team-hook/edit/"

    def make_object(self, tenant):
        _channel(tenant)


class TestChannelDeleteMatrix(_ObjectPage):
    url_name = "console:notify-channel-delete"
    expect = 'id="confirm-delete"'

    def url_for(self, tenant):
        return "/notify/channels/team-hook/delete/"

    def make_object(self, tenant):
        _channel(tenant)


class TestTemplateNewMatrix(_ObjectPage):
    url_name = "console:notify-template-new"
    expect = 'id="template-variables"'

    def url_for(self, tenant):
        return "/notify/channels/team-hook/templates/new/"

    def make_object(self, tenant):
        _channel(tenant)


class TestTemplateEditMatrix(_ObjectPage):
    url_name = "console:notify-template-edit"
    expect = "{{ alertName }} on {{ clusterID }}"

    def url_for(self, tenant):
        return "/notify/channels/team-hook/templates/default/edit/"

    def make_object(self, tenant):
        template(_channel(tenant))


class TestTemplateDeleteMatrix(_ObjectPage):
    url_name = "console:notify-template-delete"
    expect = 'id="confirm-delete"'

    def url_for(self, tenant):
        return "/notify/channels/team-hook/templates/default/delete/"

    def make_object(self, tenant):
        template(_channel(tenant))


class TestReceiverNewMatrix(_Writer):
    url = "/notify/receivers/new/"
    expect = 'id="receiver-form"'

    def make_object(self, tenant):
        receiver(tenant, name="oncall-ann", email="ann@example.com")

    def expect_of_tenant(self, tenant) -> str:
        return "oncall-ann"


class TestReceiverEditMatrix(_ObjectPage):
    url_name = "console:notify-receiver-edit"
    expect = 'value="ann@example.com"'

    def url_for(self, tenant):
        return "/notify/receivers/oncall-ann/edit/"

    def make_object(self, tenant):
        receiver(tenant, name="oncall-ann", email="ann@example.com")


class TestReceiverDeleteMatrix(_ObjectPage):
    url_name = "console:notify-receiver-delete"
    expect = 'id="confirm-delete"'

    def url_for(self, tenant):
        return "/notify/receivers/oncall-ann/delete/"

    def make_object(self, tenant):
        receiver(tenant, name="oncall-ann", email="ann@example.com")


class TestGroupNewMatrix(_Writer):
    url = "/notify/groups/new/"
    expect = 'id="group-form"'

    def make_object(self, tenant):
        receiver(tenant, name="oncall-ann", email="ann@example.com")

    def expect_of_tenant(self, tenant) -> str:
        return "oncall-ann"


def _group(tenant):
    ann = receiver(tenant, name="oncall-ann", email="ann@example.com")
    return services.create_group(actor=None, tenant=tenant, name="sre", receivers=[ann])


class TestGroupEditMatrix(_ObjectPage):
    url_name = "console:notify-group-edit"
    expect = 'id="member-oncall-ann" checked'

    def url_for(self, tenant):
        return "/notify/groups/sre/edit/"

    def make_object(self, tenant):
        _group(tenant)


class TestGroupDeleteMatrix(_ObjectPage):
    url_name = "console:notify-group-delete"
    expect = 'id="confirm-delete"'

    def url_for(self, tenant):
        return "/notify/groups/sre/delete/"

    def make_object(self, tenant):
        _group(tenant)


# -- channels ----------------------------------------------------------------------------------
def test_create_a_webhook_channel_audited_secret_never_shown(client, tenant, tenant_admin):
    client.force_login(tenant_admin)
    form = client.get("/notify/channels/new/?kind=webhook").content.decode()
    for kind in ("smtp", "sms", "wechat", "webhook"):
        assert f'data-kind="{kind}"' in form  # without JS every kind's fieldset is there
    response = client.post(
        "/notify/channels/new/",
        {
            "name": "ops-hook",
            "display_name": "Ops hook",
            "kind": "webhook",
            "enabled": "on",
            "webhook_url": HOOK,
            "webhook_headers": "X-Team: ops\nX-Env: prod",
            "webhook_secret": SECRET,
            # another kind's fields are ignored
            "smtp_host": "mail.example.com",
        },
    )
    assert response.status_code == 303, response.content.decode()[:3000]
    assert response["Location"] == "/notify/channels/ops-hook/"
    channel = NotifyChannel.objects.get(tenant=tenant, name="ops-hook")
    assert channel.kind == "webhook" and channel.secret == SECRET and channel.enabled
    assert channel.config == {"url": HOOK, "headers": {"X-Team": "ops", "X-Env": "prod"}}
    event = AuditEvent.objects.get(action="createNotifyChannel")
    assert event.resource == "notifychannel:ops-hook" and event.outcome == "success"
    assert event.request_body["webhook_secret"] == "[redacted]"
    assert SECRET not in str(event.request_body)
    page = client.get("/notify/channels/ops-hook/").content.decode()
    assert "Set (never shown)" in page and SECRET not in page
    settings_list = page.split('id="channel-settings"')[1].split("</dl>")[0]
    assert "X-Team: ops" in settings_list and "X-Env: prod" in settings_list
    edit = client.get("/notify/channels/ops-hook/edit/").content.decode()
    assert SECRET not in edit and 'data-kind="smtp"' not in edit
    assert "X-Team: ops" in edit and f'value="{HOOK}"' in edit


def test_edit_keeps_the_secret_when_left_empty_and_disables(client, tenant, tenant_admin):
    _channel(tenant)
    client.force_login(tenant_admin)
    response = client.post(
        "/notify/channels/team-hook/edit/",
        {"display_name": "Renamed", "webhook_url": HOOK + "2", "webhook_secret": ""},
    )
    assert response.status_code == 303
    channel = NotifyChannel.objects.get(tenant=tenant, name="team-hook")
    assert channel.secret == SECRET and channel.display_name == "Renamed"
    assert channel.config["url"] == HOOK + "2" and channel.enabled is False
    assert AuditEvent.objects.filter(action="updateNotifyChannel", outcome="success").count() == 1
    client.post(
        "/notify/channels/team-hook/edit/",
        {"enabled": "on", "webhook_url": HOOK, "webhook_secret": "new-key"},
    )
    channel.refresh_from_db()
    assert channel.secret == "new-key" and channel.enabled is True


def test_enable_disable_needs_updateNotifyChannel(
    client, tenant, tenant_admin, read_only_user, other_user
):
    channel = _channel(tenant)
    client.force_login(read_only_user)
    refused = client.post("/notify/channels/team-hook/disable/")
    assert refused.status_code == 403 and "updateNotifyChannel" in refused.content.decode()
    assert 'id="channel-switch"' not in client.get("/notify/channels/team-hook/").content.decode()
    client.force_login(other_user)
    assert client.post("/notify/channels/team-hook/disable/").status_code == 404
    channel.refresh_from_db()
    assert channel.enabled is True
    client.force_login(tenant_admin)
    page = client.post("/notify/channels/team-hook/disable/", follow=True).content.decode()
    channel.refresh_from_db()
    assert channel.enabled is False and channel.secret == SECRET
    assert "Channel team-hook disabled." in page and "/notify/channels/team-hook/enable/" in page
    client.post("/notify/channels/team-hook/enable/")
    channel.refresh_from_db()
    assert channel.enabled is True
    events = AuditEvent.objects.filter(action="updateNotifyChannel", outcome="success")
    assert events.count() == 2
    assert AuditEvent.objects.filter(action="updateNotifyChannel", outcome="denied").count() == 1


def test_service_errors_are_next_to_the_fields_of_the_kind(client, tenant, tenant_admin):
    client.force_login(tenant_admin)
    response = client.post(
        "/notify/channels/new/",
        {"name": "mail", "kind": "smtp", "smtp_port": "25", "smtp_from_address": "not-an-email"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    host_error = page.split('id="id_smtp_host_error"')[1].split("</div>")[0]
    assert "host name is required" in host_error
    assert "valid email address" in page.split('id="id_smtp_from_address_error"')[1]
    response = client.post(
        "/notify/channels/new/",
        {"name": "hook", "kind": "webhook", "webhook_url": "ftp://x", "webhook_secret": SECRET},
    )
    page = response.content.decode()
    assert "Only http:// and https://" in page.split('id="id_webhook_url_error"')[1]
    assert SECRET not in page  # a refused form does not echo the secret either
    response = client.post(
        "/notify/channels/new/",
        {"name": "hook", "kind": "webhook", "webhook_url": HOOK, "webhook_headers": "nocolon"},
    )
    assert "Line 1" in response.content.decode().split('id="id_webhook_headers_error"')[1]
    assert not NotifyChannel.objects.filter(tenant=tenant).exists()
    assert AuditEvent.objects.filter(action="createNotifyChannel", outcome="failure").count() == 3


@pytest.mark.parametrize(
    ("kind", "fields", "config", "secret"),
    [
        (
            "smtp",
            {
                "smtp_host": "127.0.0.1",
                "smtp_port": "2525",
                "smtp_security": "starttls",
                "smtp_username": "portal",
                "smtp_from_address": "portal@example.com",
                "smtp_password": "pw-1",
            },
            {"host": "127.0.0.1", "port": 2525, "security": "starttls", "username": "portal"},
            "pw-1",
        ),
        (
            "sms",
            {"sms_url": HOOK, "sms_extra": "sign=TKE", "sms_token": "tok-1"},
            {"url": HOOK, "extra": {"sign": "TKE"}},
            "tok-1",
        ),
        (
            "wechat",
            {"wechat_url": HOOK + "?key=abc", "wechat_msgtype": "text"},
            {"msgtype": "text"},
            HOOK + "?key=abc",
        ),
    ],
)
def test_every_kind_round_trips(client, tenant, tenant_admin, kind, fields, config, secret):
    client.force_login(tenant_admin)
    response = client.post("/notify/channels/new/", {"name": "c1", "kind": kind, **fields})
    assert response.status_code == 303, response.content.decode()[:3000]
    channel = NotifyChannel.objects.get(tenant=tenant, name="c1")
    assert channel.secret == secret
    assert config.items() <= channel.config.items()
    event = AuditEvent.objects.get(action="createNotifyChannel")
    assert secret not in str(event.request_body)  # the robot's URL too
    edit = client.get("/notify/channels/c1/edit/").content.decode()
    assert secret not in edit and f'data-kind="{kind}"' in edit
    # saving the edit form as shown (secret empty) keeps everything
    shown = {k: v for k, v in fields.items() if k not in ("smtp_password", "sms_token")}
    shown.pop("wechat_url", None)
    assert client.post("/notify/channels/c1/edit/", shown).status_code == 303
    channel.refresh_from_db()
    assert channel.secret == secret and config.items() <= channel.config.items()


def test_read_only_user_sees_no_write_buttons_and_cannot_post(client, tenant, read_only_user):
    template(_channel(tenant))
    client.force_login(read_only_user)
    listing = client.get("/notify/channels/").content.decode()
    assert 'id="channel-new"' not in listing
    page = client.get("/notify/channels/team-hook/").content.decode()
    assert 'id="channel-edit"' not in page and "template-edit" not in page
    refused = client.post("/notify/channels/team-hook/delete/")
    assert refused.status_code == 403 and "deleteNotifyChannel" in refused.content.decode()
    refused = client.post("/notify/channels/new/", {"name": "x", "kind": "webhook"})
    assert refused.status_code == 403 and "createNotifyChannel" in refused.content.decode()
    assert NotifyChannel.objects.filter(tenant=tenant).count() == 1


def test_delete_channel_after_confirmation(client, tenant, tenant_admin, other_user):
    _channel(tenant)
    client.force_login(other_user)
    assert client.post("/notify/channels/team-hook/delete/").status_code == 404
    client.force_login(tenant_admin)
    confirm = client.get("/notify/channels/team-hook/delete/").content.decode()
    assert "team-hook will be deleted" in confirm
    assert NotifyChannel.objects.filter(name="team-hook").exists()
    response = client.post("/notify/channels/team-hook/delete/")
    assert response.status_code == 303 and response["Location"] == "/notify/channels/"
    assert not NotifyChannel.objects.filter(name="team-hook").exists()
    event = AuditEvent.objects.get(action="deleteNotifyChannel")
    assert event.resource == "notifychannel:team-hook" and event.outcome == "success"


def test_test_send_result_is_on_the_channel_row(client, tenant, tenant_admin):
    peer = HTTPReceiver()
    try:
        peer.script.default = (500, b"gateway down")
        webhook_channel(tenant, peer.url + "/hook")
        client.force_login(tenant_admin)
        page = client.post("/notify/channels/hook/test/", follow=True).content.decode()
        row = page.split('data-channel="hook"')[1].split("</tr>")[0]
        assert 'data-status="failed"' in row and "500" in row
        # shown once: the next visit has no stale result
        assert "test-result" not in client.get("/notify/channels/").content.decode()
        peer.script.default = (200, b"{}")
        page = client.post("/notify/channels/hook/test/", follow=True).content.decode()
        row = page.split('data-channel="hook"')[1].split("</tr>")[0]
        assert 'data-status="sent"' in row and "Last test: sent." in row
    finally:
        peer.stop()


# -- templates ---------------------------------------------------------------------------------
def test_template_create_edit_delete(client, tenant, tenant_admin):
    _channel(tenant)
    client.force_login(tenant_admin)
    form = client.get("/notify/channels/team-hook/templates/new/").content.decode()
    assert "alarmPolicyName" in form and "clusterDisplayName" in form  # the variables shown
    response = client.post(
        "/notify/channels/team-hook/templates/new/",
        {"name": "firing", "subject": "[{{ status }}] {{ alertName }}", "body": "{{ value }}"},
    )
    assert response.status_code == 303
    assert response["Location"] == "/notify/channels/team-hook/"
    created = NotifyTemplate.objects.get(channel__name="team-hook", name="firing")
    assert created.body == "{{ value }}"
    event = AuditEvent.objects.get(action="createNotifyTemplate")
    assert event.resource == "notifychannel:team-hook/notifytemplate:firing"
    client.post(
        "/notify/channels/team-hook/templates/firing/edit/",
        {"subject": "S", "body": "{{ value }}{{ unit }}"},
    )
    created.refresh_from_db()
    assert created.body == "{{ value }}{{ unit }}" and created.subject == "S"
    # a syntax error from the service is on the body field
    bad = client.post(
        "/notify/channels/team-hook/templates/firing/edit/",
        {"subject": "S", "body": "{% for x in y %}{% endfor %}"},
    )
    assert bad.status_code == 400
    assert "Invalid template" in bad.content.decode().split('id="id_body_error"')[1]
    client.post("/notify/channels/team-hook/templates/firing/delete/")
    assert not NotifyTemplate.objects.filter(name="firing").exists()
    assert AuditEvent.objects.filter(action="deleteNotifyTemplate").count() == 1


def test_preview_renders_sample_variables_and_saves_nothing(client, tenant, tenant_admin):
    _channel(tenant)
    client.force_login(tenant_admin)
    response = client.post(
        "/notify/channels/team-hook/templates/new/",
        {
            "name": "firing",
            "subject": "[{{ status|upper }}] {{ alertName }}",
            "body": "{{ clusterDisplayName }} at {{ value }}{{ unit }}",
            "preview": "",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert '<strong id="preview-subject">[FIRING] test-alert</strong>' in page
    assert "Test cluster at 1.5core" in page.split('id="preview-body"')[1]
    assert not NotifyTemplate.objects.exists()
    assert not AuditEvent.objects.filter(action="createNotifyTemplate").exists()
    assert AuditEvent.objects.filter(action="previewNotifyTemplate").count() == 1


def test_preview_errors_are_on_the_field(client, tenant, tenant_admin):
    _channel(tenant)
    client.force_login(tenant_admin)
    response = client.post(
        "/notify/channels/team-hook/templates/new/",
        {
            "name": "t",
            "subject": "{% include 'x.html' %}",
            "body": "{{ value|add }}",
            "preview": "",
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Invalid template" in page.split('id="id_subject_error"')[1].split("</div>")[0]
    assert "Invalid template" in page.split('id="id_body_error"')[1].split("</div>")[0]
    assert 'id="preview"' not in page
    assert not NotifyTemplate.objects.exists()


def test_another_channels_template_is_404(client, tenant, tenant_admin):
    template(_channel(tenant, "one"), name="only-here")
    _channel(tenant, "two")
    client.force_login(tenant_admin)
    assert client.get("/notify/channels/two/templates/only-here/edit/").status_code == 404
    assert client.get("/notify/channels/one/templates/only-here/edit/").status_code == 200


# -- receivers and groups ----------------------------------------------------------------------
def test_receiver_create_with_a_tenant_user_edit_delete(
    client, tenant, tenant_admin, member, other_user
):
    client.force_login(tenant_admin)
    form = client.get("/notify/receivers/new/").content.decode()
    assert f'<option value="{member.pk}">' in form
    assert f'<option value="{other_user.pk}">' not in form  # another tenant's user
    response = client.post(
        "/notify/receivers/new/",
        {"name": "bob-r", "user": str(member.pk), "email": "bob@example.com", "mobile": "+4912345"},
    )
    assert response.status_code == 303
    created = Receiver.objects.get(tenant=tenant, name="bob-r")
    assert created.user == member and created.mobile == "+4912345"
    assert AuditEvent.objects.get(action="createReceiver").resource == "receiver:bob-r"
    # another tenant's user cannot be linked, whatever is posted
    bad = client.post(
        "/notify/receivers/bob-r/edit/",
        {"user": str(other_user.pk), "email": "bob@example.com"},
    )
    assert bad.status_code == 400 and 'id="id_user_error"' in bad.content.decode()
    bad = client.post("/notify/receivers/bob-r/edit/", {"mobile": "call me"})
    assert "phone number" in bad.content.decode().split('id="id_mobile_error"')[1]
    client.post("/notify/receivers/bob-r/edit/", {"wechat_id": "bob_w", "user": ""})
    created.refresh_from_db()
    assert created.wechat_id == "bob_w" and created.user is None and created.email == ""
    client.post("/notify/receivers/bob-r/delete/")
    assert not Receiver.objects.filter(name="bob-r").exists()
    assert AuditEvent.objects.filter(action="deleteReceiver", outcome="success").count() == 1


def test_group_members_edit_and_delete(client, tenant, other_tenant, tenant_admin):
    receiver(tenant, name="ann", email="ann@example.com")
    receiver(tenant, name="bea", email="bea@example.com")
    receiver(other_tenant, name="eve", email="eve@example.com")
    client.force_login(tenant_admin)
    form = client.get("/notify/groups/new/").content.decode()
    assert 'value="ann"' in form and 'value="eve"' not in form
    response = client.post("/notify/groups/new/", {"name": "sre", "receivers": ["ann", "bea"]})
    assert response.status_code == 303
    group = ReceiverGroup.objects.get(tenant=tenant, name="sre")
    assert sorted(group.receivers.values_list("name", flat=True)) == ["ann", "bea"]
    bad = client.post("/notify/groups/sre/edit/", {"receivers": ["ann", "eve"]})
    assert bad.status_code == 400 and "eve" in bad.content.decode()
    client.post("/notify/groups/sre/edit/", {"display_name": "SRE", "receivers": ["bea"]})
    group.refresh_from_db()
    assert group.display_name == "SRE"
    assert list(group.receivers.values_list("name", flat=True)) == ["bea"]
    listing = client.get("/notify/receivers/").content.decode()
    assert 'href="/notify/groups/sre/edit/"' in listing
    client.post("/notify/groups/sre/delete/")
    assert not ReceiverGroup.objects.filter(tenant=tenant).exists()
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"createReceiverGroup", "updateReceiverGroup", "deleteReceiverGroup"} <= actions
