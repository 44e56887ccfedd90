"""Admin of apps.monitoring."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError as APIValidationError

from apps.authz import restrict
from apps.clusters.models import Cluster
from apps.core.admin import TenantScopedAdmin

from . import monitors
from .models import ClusterMonitor


# -- collect: ClusterMonitor -------------------------------------------------------------------
class ClusterMonitorForm(forms.ModelForm):
    """The Prometheus token is write-only: never rendered, and left as it is when empty."""

    prometheus_url = forms.URLField(
        required=False, max_length=512, assume_scheme="https", label=_("Prometheus URL")
    )
    prometheus_token = forms.CharField(
        required=False,
        label=_("Prometheus bearer token"),
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("Leave empty to keep the stored token. Never shown."),
    )

    class Meta:
        model = ClusterMonitor
        fields = ["enabled", "source", "prometheus_url", "prometheus_verify_tls"]

    def clean(self):
        cleaned = super().clean()
        url = cleaned.get("prometheus_url")
        if url:
            try:
                cleaned["prometheus_url"] = monitors.validate_url(url)
            except APIValidationError as exc:
                self.add_error("prometheus_url", str(exc.detail["prometheus_url"]))
        elif cleaned.get("source") == "prometheus":
            self.add_error(
                "prometheus_url", _("Give the Prometheus URL to collect from Prometheus.")
            )
        return cleaned


@admin.register(ClusterMonitor)
class ClusterMonitorAdmin(TenantScopedAdmin):
    """How each cluster's metrics are collected, and how the last collection went. Judged as
    the cluster itself: viewing needs getCluster, changing updateCluster."""

    form = ClusterMonitorForm
    kind = "Cluster"
    list_display = [
        "cluster",
        "tenant",
        "enabled",
        "source",
        "last_collected_at",
        "last_duration_ms",
        "last_series",
        "consecutive_failures",
        "last_error",
    ]
    list_filter = ["enabled", "source", "tenant"]
    list_select_related = ["cluster", "tenant"]
    search_fields = ["cluster__name", "cluster__display_name", "prometheus_url"]
    readonly_fields = [
        "cluster",
        "has_token",
        "last_collected_at",
        "last_duration_ms",
        "last_series",
        "last_error",
        "consecutive_failures",
        "rolled_5m_until",
        "rolled_1h_until",
    ]
    fields = [
        "cluster",
        "enabled",
        "source",
        "prometheus_url",
        "prometheus_token",
        "has_token",
        "prometheus_verify_tls",
        *readonly_fields[2:],
    ]

    @admin.display(description=_("Token stored"), boolean=True)
    def has_token(self, obj) -> bool:
        return bool(obj and obj.prometheus_token)

    def resource_of(self, obj=None) -> str:
        return obj.cluster.authz_resource if obj is not None else "cluster:*"

    def get_queryset(self, request):
        queryset = admin.ModelAdmin.get_queryset(self, request)
        if request.user.is_superuser:
            return queryset
        clusters = restrict(
            Cluster.objects.filter(tenant_id=request.user.tenant_id), request.user, "getCluster"
        )
        return queryset.filter(cluster__in=clusters)

    def has_add_permission(self, request) -> bool:
        return False  # made for every cluster by the collection dispatcher and the API

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # disable it instead

    def save_model(self, request, obj, form, change):
        changes = {
            name: form.cleaned_data[name] for name in form.changed_data if name in monitors.FIELDS
        }
        if form.cleaned_data.get("prometheus_token"):
            changes["prometheus_token"] = form.cleaned_data["prometheus_token"]
        else:
            changes.pop("prometheus_token", None)
        monitors.update_monitor(
            actor=request.user, monitor=ClusterMonitor.objects.get(pk=obj.pk), **changes
        )


# -- alerting (apps.monitoring.alerts) ---------------------------------------------------------
from .alerts import admin as alerts_admin  # noqa: E402, F401  (registers the alerting admins)
