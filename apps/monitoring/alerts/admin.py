"""Alerting in the admin (tenant-scoped; the permission layer decides): alarm policies (their
conditions shown read-only — they are written through the API, which validates them against
the catalogue; settings edited here go through the same service), records read-only, silences
(with an "expire now" action), and each cluster's Alertmanager webhook (a "rotate token"
action shows the new token once)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from apps.core.admin import TenantScopedAdmin

from . import services
from .models import (
    AlarmMetric,
    AlarmNotice,
    AlarmPolicy,
    AlarmRecord,
    AlarmSilence,
    AlertmanagerWebhook,
)


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return True  # whoever may see the parent (the parent admin decided)


class AlarmMetricInline(_ReadOnlyInline):
    model = AlarmMetric
    fields = ["metric", "evaluator", "threshold", "continue_periods", "unit"]
    readonly_fields = fields


class AlarmNoticeInline(_ReadOnlyInline):
    model = AlarmNotice
    fields = ["sequence", "kind", "silenced", "message_request", "error", "created_at"]
    readonly_fields = fields


@admin.register(AlarmPolicy)
class AlarmPolicyAdmin(TenantScopedAdmin):
    list_display = [
        "name",
        "cluster",
        "type",
        "namespace",
        "statistics_period",
        "enabled",
        "last_evaluated_at",
    ]
    list_filter = ["type", "enabled", "tenant"]
    search_fields = ["name", "namespace", "cluster__name"]
    list_select_related = ["cluster", "tenant"]
    readonly_fields = [
        "tenant",
        "cluster",
        "name",
        "type",
        "namespace",
        "workload_kind",
        "last_evaluated_at",
        "created_by",
        "created_at",
        "updated_at",
    ]
    fields = [
        *readonly_fields[:6],
        "objects_type",
        "object_names",
        "statistics_period",
        "receivers",
        "receiver_groups",
        "notify_ways",
        "repeat_interval",
        "enabled",
        *readonly_fields[6:],
    ]
    inlines = [AlarmMetricInline]
    actions = ["enable", "disable"]

    def has_add_permission(self, request):
        return False  # conditions are chosen from the catalogue: the API and console make them

    def save_model(self, request, obj, form, change):
        changes = {name: getattr(obj, name) for name in form.changed_data}
        try:
            services.update_policy(actor=request.user, policy=obj, **changes)
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))

    def delete_model(self, request, obj):
        services.delete_policy(actor=request.user, policy=obj)

    @admin.action(description=_("Enable the selected policies"))
    def enable(self, request, queryset):
        self._set_enabled(request, queryset, True)

    @admin.action(description=_("Disable the selected policies"))
    def disable(self, request, queryset):
        self._set_enabled(request, queryset, False)

    def _set_enabled(self, request, queryset, enabled: bool) -> None:
        for policy in queryset.select_related("cluster"):
            if self._allowed(request, "change", policy):
                services.update_policy(actor=request.user, policy=policy, enabled=enabled)


@admin.register(AlarmRecord)
class AlarmRecordAdmin(TenantScopedAdmin):
    list_display = [
        "id",
        "cluster",
        "policy",
        "metric_name",
        "object_key",
        "state",
        "value",
        "started_at",
        "fired_at",
        "resolved_at",
    ]
    list_filter = ["state", "source", "tenant"]
    search_fields = ["metric_name", "object_key", "policy__name", "fingerprint"]
    list_select_related = ["cluster", "policy__cluster", "tenant"]
    inlines = [AlarmNoticeInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # records come from evaluation and Alertmanager


@admin.register(AlarmSilence)
class AlarmSilenceAdmin(TenantScopedAdmin):
    list_display = ["id", "policy", "object_key", "metric", "starts_at", "ends_at", "created_by"]
    list_filter = ["tenant"]
    search_fields = ["policy__name", "object_key", "metric", "comment"]
    list_select_related = ["policy__cluster", "tenant", "created_by"]
    fields = ["tenant", "policy", "object_key", "metric", "starts_at", "ends_at", "comment"]
    readonly_fields = ["created_by", "created_at"]
    actions = ["expire"]

    def save_model(self, request, obj, form, change):
        data = {name: getattr(obj, name) for name in form.changed_data if name != "tenant"}
        try:
            if change:
                services.update_silence(actor=request.user, silence=obj, **data)
            else:
                data.pop("policy", None)
                services.create_silence(actor=request.user, policy=obj.policy, **data)
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))

    def delete_model(self, request, obj):
        services.delete_silence(actor=request.user, silence=obj)

    @admin.action(description=_("Expire the selected silences now"))
    def expire(self, request, queryset):
        for silence in queryset.select_related("policy__cluster"):
            if self._allowed(request, "change", silence):
                services.expire_silence(actor=request.user, silence=silence)


@admin.register(AlertmanagerWebhook)
class AlertmanagerWebhookAdmin(TenantScopedAdmin):
    """Judged as the cluster (``getCluster`` / ``updateCluster`` on ``cluster:<c>``)."""

    list_display = ["cluster", "token_prefix", "rotated_at", "last_used_at"]
    list_select_related = ["cluster", "tenant"]
    fields = [
        "receivers",
        "receiver_groups",
        "notify_ways",
        "repeat_interval",
        "annotation_routing",
    ]
    readonly_fields = ["cluster", "token_prefix", "rotated_at", "last_used_at"]
    actions = ["rotate"]

    @property
    def kind(self) -> str:
        return "Cluster"

    def has_add_permission(self, request):
        return False  # the "rotate token" action (or the API) makes one

    def save_model(self, request, obj, form, change):
        data = {name: getattr(obj, name) for name in form.changed_data}
        try:
            services.update_webhook(actor=request.user, webhook=obj, **data)
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))

    @admin.action(description=_("Rotate the token (shown once)"))
    def rotate(self, request, queryset):
        for webhook in queryset.select_related("cluster"):
            if not self._allowed(request, "change", webhook):
                continue
            _row, token = services.rotate_webhook_token(actor=request.user, cluster=webhook.cluster)
            messages.warning(
                request,
                _("New token of %(cluster)s (shown once): %(token)s")
                % {"cluster": webhook.cluster.name, "token": token},
            )
