"""Notify in the admin (tenant-scoped; the permission layer decides). Channel secrets are
write-only: the form never shows the stored one, an empty field keeps it. Messages and
message requests are read-only (they come from notify()); an action queues failed messages
again."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.authz import check, restrict
from apps.core.admin import TenantScopedAdmin

from . import senders, services
from .choices import MessageStatus
from .models import Message, MessageRequest, NotifyChannel, NotifyTemplate, Receiver, ReceiverGroup


class NotifyChannelForm(forms.ModelForm):
    secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="SMTP password, SMS gateway token, WeChat robot URL or webhook HMAC key. "
        "Leave empty to keep the stored one (it is never shown).",
    )

    class Meta:
        model = NotifyChannel
        fields = ["tenant", "name", "display_name", "kind", "config", "secret", "enabled"]

    def clean_secret(self):
        value = self.cleaned_data.get("secret")
        if not value and self.instance.pk:
            return self.instance.secret
        return value

    def clean(self):
        cleaned = super().clean()
        try:
            cleaned["config"] = senders.validate_config(
                cleaned.get("kind") or self.instance.kind,  # read-only once created
                cleaned.get("config") or {},
                cleaned.get("secret") or "",
            )
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                target = field.split(".", 1)[0]
                self.add_error(
                    target if target in self.fields else None,
                    [f"{field}: {m}" for m in messages],
                )
        return cleaned


class NotifyTemplateInline(admin.StackedInline):
    model = NotifyTemplate
    extra = 0
    fields = ["name", "display_name", "subject", "body"]

    def has_view_permission(self, request, obj=None):
        return True  # the parent admin decided who sees the channel

    def has_add_permission(self, request, obj=None):
        return obj is None or check(
            request.user, "createNotifyTemplate", f"{obj.authz_resource}/notifytemplate:*",
            obj.tenant,
        ).allowed  # fmt: skip

    def has_change_permission(self, request, obj=None):
        return obj is None or check(
            request.user, "updateNotifyTemplate", f"{obj.authz_resource}/notifytemplate:*",
            obj.tenant,
        ).allowed  # fmt: skip

    def has_delete_permission(self, request, obj=None):
        return obj is None or check(
            request.user, "deleteNotifyTemplate", f"{obj.authz_resource}/notifytemplate:*",
            obj.tenant,
        ).allowed  # fmt: skip


class NotifyTemplateForm(forms.ModelForm):
    class Meta:
        model = NotifyTemplate
        fields = ["name", "display_name", "subject", "body"]

    def clean(self):
        cleaned = super().clean()
        from .rendering import validate_template

        try:
            validate_template(cleaned.get("subject") or "", cleaned.get("body") or "")
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                self.add_error(field, messages)
        return cleaned


NotifyTemplateInline.form = NotifyTemplateForm


@admin.register(NotifyChannel)
class NotifyChannelAdmin(TenantScopedAdmin):
    form = NotifyChannelForm
    list_display = ["name", "tenant", "kind", "enabled", "updated_at"]
    list_filter = ["kind", "enabled", "tenant"]
    search_fields = ["name", "display_name"]
    list_select_related = ["tenant"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    fields = ["tenant", "name", "display_name", "kind", "config", "secret", "enabled",
              *readonly_fields]  # fmt: skip
    inlines = [NotifyTemplateInline]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return fields + ["name", "kind"] if obj is not None else fields

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        services.delete_channel(actor=request.user, channel=obj)


@admin.register(Receiver)
class ReceiverAdmin(TenantScopedAdmin):
    list_display = ["name", "tenant", "display_name", "user", "email", "mobile", "wechat_id"]
    list_filter = ["tenant"]
    search_fields = ["name", "display_name", "email", "mobile", "wechat_id"]
    list_select_related = ["tenant", "user"]
    fields = ["tenant", "name", "display_name", "user", "email", "mobile", "wechat_id"]

    def delete_model(self, request, obj):
        services.delete_receiver(actor=request.user, receiver=obj)


@admin.register(ReceiverGroup)
class ReceiverGroupAdmin(TenantScopedAdmin):
    list_display = ["name", "tenant", "display_name"]
    list_filter = ["tenant"]
    search_fields = ["name", "display_name"]
    list_select_related = ["tenant"]
    fields = ["tenant", "name", "display_name", "receivers"]
    filter_horizontal = ["receivers"]


class _ReadOnly(TenantScopedAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(MessageRequest)
class MessageRequestAdmin(_ReadOnly):
    list_display = ["id", "tenant", "source", "alert_status", "status", "created_at"]
    list_filter = ["status", "alert_status", "tenant"]
    search_fields = ["source"]
    list_select_related = ["tenant"]
    fields = ["tenant", "source", "alert_status", "status", "receivers", "receiver_groups",
              "ways", "variables_json", "errors", "created_by", "created_at"]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="variables")
    def variables_json(self, obj):
        return json.dumps(obj.variables, indent=2, ensure_ascii=False)


@admin.register(Message)
class MessageAdmin(_ReadOnly):
    list_display = ["id", "tenant", "receiver_name", "channel_name", "status", "attempts",
                    "sent_at", "created_at"]  # fmt: skip
    list_filter = ["status", "channel_kind", "alert_status", "tenant"]
    search_fields = ["receiver_name", "channel_name", "subject", "source"]
    list_select_related = ["tenant"]
    fields = ["tenant", "request", "uuid", "receiver_name", "channel_name", "channel_kind",
              "template_name", "destination", "subject", "body", "status", "attempts",
              "next_attempt_at", "last_error", "sent_at", "read_at", "alert_status", "source",
              "created_at"]  # fmt: skip
    readonly_fields = fields
    actions = ["retry"]

    @admin.action(description="Send failed messages again")
    def retry(self, request, queryset):
        from .tasks import deliver_message

        allowed = restrict(queryset, request.user, "updateMessage")
        ids = list(allowed.filter(status=MessageStatus.FAILED).values_list("id", flat=True))
        Message.objects.filter(pk__in=ids).update(
            status=MessageStatus.PENDING, attempts=0, next_attempt_at=timezone.now()
        )
        for message_id in ids:
            deliver_message.delay(message_id)
        self.message_user(request, f"{len(ids)} message(s) queued again.")
