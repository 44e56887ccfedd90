"""The admin's identity-provider form: one field per setting of each provider type, made
from the same serializers the API validates with (``config.py``), so the two doors accept
exactly the same settings. Only the chosen type's fields are read."""

from __future__ import annotations

import json

from django import forms
from rest_framework import serializers
from rest_framework.exceptions import ValidationError as DRFValidationError

from ..choices import ProviderType
from ..models import IdentityProvider
from .config import CONFIGS, validate_config


def _form_field(field: serializers.Field) -> forms.Field:
    common = {"required": False, "help_text": field.help_text or ""}
    if isinstance(field, serializers.BooleanField):
        return forms.BooleanField(**common)
    if isinstance(field, serializers.IntegerField):
        return forms.IntegerField(**common)
    if isinstance(field, serializers.ChoiceField):
        return forms.ChoiceField(choices=[("", "(default)"), *field.choices.items()], **common)
    if isinstance(field, serializers.ListField):
        common["help_text"] = f"{common['help_text']} One per line.".strip()
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), **common)
    if isinstance(field, serializers.DictField):
        common["help_text"] = f"{common['help_text']} One 'key = value' per line.".strip()
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), **common)
    if field.field_name == "ca_cert":
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), **common)
    return forms.CharField(**common)


def _to_text(field: serializers.Field, value) -> object:
    if isinstance(field, serializers.ListField):
        return "\n".join(value or [])
    if isinstance(field, serializers.DictField):
        return "\n".join(f"{k} = {v}" for k, v in (value or {}).items())
    return value


def _from_text(field: serializers.Field, value):
    if isinstance(field, serializers.ListField):
        return [line.strip() for line in (value or "").splitlines() if line.strip()]
    if isinstance(field, serializers.DictField):
        out = {}
        for line in (value or "").splitlines():
            if line.strip():
                key, sep, val = line.rpartition("=")
                if not sep:
                    raise forms.ValidationError(f"'{line.strip()}' is not 'key = value'")
                out[key.strip()] = val.strip()
        return out
    return value


def _settings(provider_type: str) -> dict[str, serializers.Field]:
    serializer_class = CONFIGS.get(provider_type)
    return dict(serializer_class().fields) if serializer_class else {}


class IdentityProviderForm(forms.ModelForm):
    secret_value = forms.CharField(
        label="Secret",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="LDAP bind password or OIDC client secret. Stored encrypted, never shown; "
        "leave empty to keep the stored one.",
    )

    class Meta:
        model = IdentityProvider
        fields = ["tenant", "name", "type", "display_name", "enabled", "priority"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        config = self.instance.config or {}
        for provider_type in (ProviderType.LDAP, ProviderType.OIDC):
            for name, field in _settings(provider_type).items():
                key = f"{provider_type}__{name}"
                self.fields[key] = _form_field(field)
                self.fields[key].label = f"{name.replace('_', ' ')}"
                if self.instance.pk and self.instance.type == provider_type and name in config:
                    self.initial[key] = _to_text(field, config[name])
        if self.instance.pk:
            self.fields["type"].disabled = True
            self.fields["name"].disabled = True

    @classmethod
    def fieldsets(cls, base):
        return [
            (None, {"fields": [*base, "secret_value"]}),
            *[
                (
                    label,
                    {
                        "fields": [f"{t}__{name}" for name in _settings(t)],
                        "classes": ["collapse"],
                        "description": f"Read when the type is {label}.",
                    },
                )
                for t, label in ((ProviderType.LDAP, "LDAP"), (ProviderType.OIDC, "OpenID Connect"))
            ],
        ]

    def clean(self):
        cleaned = super().clean()
        provider_type = cleaned.get("type") or self.instance.type
        data = {}
        for name, field in _settings(provider_type).items():
            key = f"{provider_type}__{name}"
            value = cleaned.get(key)
            try:
                value = _from_text(field, value)
            except forms.ValidationError as exc:
                self.add_error(key, exc)
                continue
            if value in ("", None, [], {}) and not isinstance(field, serializers.BooleanField):
                continue  # the default applies
            data[name] = value
        try:
            cleaned["config"] = validate_config(provider_type, data)
        except DRFValidationError as exc:
            for name, errors in exc.detail.items():
                field_name = f"{provider_type}__{name.removeprefix('config.')}"
                target = field_name if field_name in self.fields else None
                self.add_error(target, errors if isinstance(errors, list) else json.dumps(errors))
        return cleaned
