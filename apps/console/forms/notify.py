"""Forms of the notify console: a channel (the fields of each kind in its own fieldset), a
channel's template, a receiver and a receiver group.

The forms only shape what was typed; :mod:`apps.notify.services` validates (the URL's address,
a webhook's secret, the template's syntax) and its errors, named ``config.url``, ``secret``,
``body``…, are put next to the field that holds them (:data:`CHANNEL_ERROR_FIELDS`).
Secrets are write-only: the inputs are password inputs that never render a value, and an
empty secret on edit keeps the stored one.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.notify.choices import ChannelKind, SMTPSecurity
from apps.notify.models import name_validator

NAME_HELP = _("Lowercase letters, digits and '-', starting and ending with a letter or digit.")

# The form fields of each kind (its fieldset), and the field holding its secret.
KIND_FIELDS = {
    ChannelKind.SMTP: (
        "smtp_host",
        "smtp_port",
        "smtp_security",
        "smtp_username",
        "smtp_from_address",
        "smtp_password",
    ),
    ChannelKind.SMS: ("sms_url", "sms_extra", "sms_token"),
    ChannelKind.WECHAT: ("wechat_url", "wechat_msgtype"),
    ChannelKind.WEBHOOK: ("webhook_url", "webhook_headers", "webhook_secret"),
}
SECRET_FIELD = {
    ChannelKind.SMTP: "smtp_password",
    ChannelKind.SMS: "sms_token",
    ChannelKind.WECHAT: "wechat_url",
    ChannelKind.WEBHOOK: "webhook_secret",
}
# The service's field names → this form's, per kind.
CHANNEL_ERROR_FIELDS = {
    ChannelKind.SMTP: {
        "config.host": "smtp_host",
        "config.port": "smtp_port",
        "config.security": "smtp_security",
        "config.username": "smtp_username",
        "config.from_address": "smtp_from_address",
        "secret": "smtp_password",
    },
    ChannelKind.SMS: {"config.url": "sms_url", "config.extra": "sms_extra", "secret": "sms_token"},
    ChannelKind.WECHAT: {"secret": "wechat_url", "config.msgtype": "wechat_msgtype"},
    ChannelKind.WEBHOOK: {
        "config.url": "webhook_url",
        "config.headers": "webhook_headers",
        "secret": "webhook_secret",
    },
}


def parse_pairs(text: str, separator: str) -> dict:
    """``Name: value`` (or ``key=value``) lines as a dict; a ValidationError for a line
    without the separator."""
    out: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        if separator not in line:
            raise ValidationError(
                gettext("Line %(n)d: “%(sep)s” expected between the name and the value.")
                % {"n": number, "sep": separator}
            )
        key, value = line.split(separator, 1)
        out[key.strip()] = value.strip()
    return out


def format_pairs(values: dict | None, separator: str) -> str:
    joiner = f"{separator} " if separator == ":" else separator
    return "\n".join(f"{k}{joiner}{v}" for k, v in (values or {}).items())


def secret_input():
    return forms.PasswordInput(render_value=False)


class ChannelForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=63, validators=[name_validator], help_text=NAME_HELP
    )
    display_name = forms.CharField(label=_("Display name"), max_length=128, required=False)
    kind = forms.ChoiceField(label=_("Kind"), choices=ChannelKind.choices)
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)

    smtp_host = forms.CharField(label=_("SMTP server host"), max_length=255, required=False)
    smtp_port = forms.IntegerField(label=_("Port"), required=False, initial=25)
    smtp_security = forms.ChoiceField(
        label=_("Security"), choices=SMTPSecurity.choices, required=False, initial="none"
    )
    smtp_username = forms.CharField(label=_("User name"), max_length=255, required=False)
    smtp_from_address = forms.CharField(label=_("From address"), max_length=255, required=False)
    smtp_password = forms.CharField(
        label=_("Password"), required=False, widget=secret_input(), strip=False
    )

    sms_url = forms.CharField(label=_("Gateway URL"), max_length=1024, required=False)
    sms_extra = forms.CharField(
        label=_("Extra fields"),
        required=False,
        widget=forms.Textarea,
        help_text=_("One “key=value” a line, sent along in every request's JSON."),
    )
    sms_token = forms.CharField(
        label=_("Gateway token"),
        required=False,
        widget=secret_input(),
        help_text=_("Sent as “Authorization: Bearer …”."),
    )

    wechat_url = forms.CharField(
        label=_("Robot webhook URL"),
        required=False,
        widget=secret_input(),
        help_text=_("The URL with its key: kept secret like a password."),
    )
    wechat_msgtype = forms.ChoiceField(
        label=_("Message type"),
        choices=(("markdown", _("Markdown")), ("text", _("Text"))),
        required=False,
        initial="markdown",
    )

    webhook_url = forms.CharField(label=_("URL"), max_length=1024, required=False)
    webhook_headers = forms.CharField(
        label=_("Headers"),
        required=False,
        widget=forms.Textarea,
        help_text=_("One “Name: value” a line."),
    )
    webhook_secret = forms.CharField(
        label=_("HMAC secret"),
        required=False,
        widget=secret_input(),
        strip=False,
        help_text=_("Signs every request (X-TKE-Signature)."),
    )

    def __init__(self, *args, channel=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.channel = channel
        if channel is not None:
            # A channel is never renamed and its kind never changes.
            del self.fields["name"]
            del self.fields["kind"]
            for field in KIND_FIELDS[channel.kind]:
                if field == SECRET_FIELD[channel.kind]:
                    self.fields[field].help_text = _("Leave empty to keep the stored one.")

    @property
    def chosen_kind(self) -> str:
        if self.channel is not None:
            return self.channel.kind
        value = self.data.get("kind") if self.is_bound else self.initial.get("kind")
        return value if value in ChannelKind.values else ""

    def fieldsets(self) -> list[tuple[str, str, list]]:
        """(kind, label, bound fields) of the kinds shown: one on edit, all on create (the
        page's script hides the ones not chosen)."""
        kinds = [self.channel.kind] if self.channel is not None else ChannelKind.values
        return [
            (kind, ChannelKind(kind).label, [self[f] for f in KIND_FIELDS[kind]]) for kind in kinds
        ]

    def clean_sms_extra(self):
        return parse_pairs(self.cleaned_data.get("sms_extra", ""), "=")

    def clean_webhook_headers(self):
        return parse_pairs(self.cleaned_data.get("webhook_headers", ""), ":")

    def service_fields(self) -> dict:
        """The service's keyword arguments for the chosen kind (secret None: keep it)."""
        data = self.cleaned_data
        kind = self.chosen_kind
        if kind == ChannelKind.SMTP:
            config = {
                "host": data.get("smtp_host", ""),
                "port": data.get("smtp_port") or 25,
                "security": data.get("smtp_security") or "none",
                "username": data.get("smtp_username", ""),
                "from_address": data.get("smtp_from_address", ""),
            }
            if self.channel is not None:  # what the form does not show survives
                for key in ("ca_cert", "verify_tls"):
                    if key in self.channel.config:
                        config[key] = self.channel.config[key]
        elif kind == ChannelKind.SMS:
            config = {"url": data.get("sms_url", ""), "extra": data.get("sms_extra") or {}}
        elif kind == ChannelKind.WECHAT:
            config = {"msgtype": data.get("wechat_msgtype") or "markdown"}
        else:
            config = {
                "url": data.get("webhook_url", ""),
                "headers": data.get("webhook_headers") or {},
            }
        secret = data.get(SECRET_FIELD[kind], "") if kind else ""
        if kind == ChannelKind.WECHAT:
            secret = secret.strip()
        fields = {
            "display_name": data.get("display_name", ""),
            "config": config,
            "enabled": bool(data.get("enabled")),
            "secret": secret if secret or self.channel is None else None,
        }
        if self.channel is None:
            fields["kind"] = kind
        return fields


def channel_initial(channel) -> dict:
    config = channel.config or {}
    initial = {"display_name": channel.display_name, "enabled": channel.enabled}
    if channel.kind == ChannelKind.SMTP:
        initial.update(
            smtp_host=config.get("host", ""),
            smtp_port=config.get("port", 25),
            smtp_security=config.get("security", "none"),
            smtp_username=config.get("username", ""),
            smtp_from_address=config.get("from_address", ""),
        )
    elif channel.kind == ChannelKind.SMS:
        initial.update(
            sms_url=config.get("url", ""), sms_extra=format_pairs(config.get("extra"), "=")
        )
    elif channel.kind == ChannelKind.WECHAT:
        initial.update(wechat_msgtype=config.get("msgtype", "markdown"))
    else:
        initial.update(
            webhook_url=config.get("url", ""),
            webhook_headers=format_pairs(config.get("headers"), ":"),
        )
    return initial


class TemplateForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=63, validators=[name_validator], help_text=NAME_HELP
    )
    display_name = forms.CharField(label=_("Display name"), max_length=128, required=False)
    subject = forms.CharField(
        label=_("Subject or header"),
        max_length=512,
        required=False,
        help_text=_("The email's subject; the first line of an SMS, robot or webhook message."),
    )
    body = forms.CharField(label=_("Body"), widget=forms.Textarea, strip=False)

    def __init__(self, *args, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["name"]


class ReceiverForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=63, validators=[name_validator], help_text=NAME_HELP
    )
    display_name = forms.CharField(label=_("Display name"), max_length=128, required=False)
    user = forms.ChoiceField(
        label=_("Portal user"),
        required=False,
        help_text=_("Who reads these messages in the console's inbox."),
    )
    email = forms.CharField(label=_("Email"), max_length=254, required=False)
    mobile = forms.CharField(label=_("Mobile"), max_length=32, required=False)
    wechat_id = forms.CharField(label=_("WeChat id"), max_length=64, required=False)

    def __init__(self, *args, users=(), editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.users = {str(u.pk): u for u in users}
        self.fields["user"].choices = [("", _("None"))] + [
            (str(u.pk), u.get_full_name() and f"{u.get_full_name()} ({u.username})" or u.username)
            for u in users
        ]
        if editing:
            del self.fields["name"]

    def service_fields(self) -> dict:
        data = self.cleaned_data
        return {
            "display_name": data.get("display_name", ""),
            "user": self.users.get(data.get("user") or ""),
            "email": data.get("email", ""),
            "mobile": data.get("mobile", ""),
            "wechat_id": data.get("wechat_id", ""),
        }


class GroupForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=63, validators=[name_validator], help_text=NAME_HELP
    )
    display_name = forms.CharField(label=_("Display name"), max_length=128, required=False)
    receivers = forms.MultipleChoiceField(label=_("Members"), required=False)

    def __init__(self, *args, receivers=(), editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.receiver_objects = {r.name: r for r in receivers}
        self.fields["receivers"].choices = [
            (r.name, r.display_name and f"{r.display_name} ({r.name})" or r.name) for r in receivers
        ]
        if editing:
            del self.fields["name"]

    def members(self) -> list:
        return [self.receiver_objects[n] for n in self.cleaned_data.get("receivers") or ()]
