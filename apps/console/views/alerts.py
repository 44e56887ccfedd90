"""Alerting in the console: alarm policies, alarm records (history) and silences across the
tenant's clusters — the rows the API's ``…/alarm-policies/``, ``…/alarm-records/`` and
``…/alarm-silences/`` would give the same person (``restrict`` on the list actions: workload
and pod policies, and their records and silences, are judged in the namespace's project).
Each row carries what the user may do with it (the buttons shown); the writes themselves are
in :mod:`.alert_forms`, which check again."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy

from apps.authz.enforcer import can_any, check, restrict
from apps.monitoring.alerts.choices import RecordState
from apps.monitoring.alerts.models import AlarmPolicy, AlarmRecord, AlarmSilence

from ..forms.alert_filters import RecordFilterForm
from .alert_forms import copy_pattern, mark_silence
from .base import ConsoleView

PAGE_SIZE = 50


class _AlertList(ConsoleView):
    model = None
    context_name = ""

    def rows(self):
        queryset = self.model.objects.in_scope(self.scope)
        return restrict(queryset, self.request.user, self.authz_action)

    def filtered(self, queryset):
        return queryset

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        page = Paginator(self.filtered(self.rows()), PAGE_SIZE).get_page(
            self.request.GET.get("page")
        )
        params = self.request.GET.copy()
        params.pop("page", None)
        context.update(
            {self.context_name: page.object_list, "page": page, "query": params.urlencode()}
        )
        return context


class AlarmPolicyListView(_AlertList):
    template_name = "console/alerts/policies.html"
    authz_action = "listAlarmPolicies"
    authz_model = AlarmPolicy
    title = gettext_lazy("Alarm policies")
    model = AlarmPolicy
    context_name = "policies"

    def filtered(self, queryset):
        return (
            queryset.select_related("cluster")
            .prefetch_related("metrics")
            .annotate(firing=Count("records", filter=Q(records__state=RecordState.FIRING)))
            .order_by("cluster__display_name", "name")
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        for policy in context["policies"]:
            resource, tenant = policy.authz_resource, policy.tenant_id
            policy.may_update = bool(check(user, "updateAlarmPolicy", resource, tenant))
            policy.may_delete = bool(check(user, "deleteAlarmPolicy", resource, tenant))
            policy.may_copy = bool(check(user, "createAlarmPolicy", copy_pattern(policy), tenant))
            policy.may_silence = bool(
                check(user, "createAlarmSilence", f"{resource}/alarmsilence:*", tenant)
            )
        context["may_create"] = self.scope.tenant is not None and can_any(
            user, "createAlarmPolicy", model=AlarmPolicy
        )
        context["may_delete_any"] = any(p.may_delete for p in context["policies"])
        return context


class AlarmRecordListView(_AlertList):
    template_name = "console/alerts/records.html"
    authz_action = "listAlarmRecords"
    authz_model = AlarmRecord
    title = gettext_lazy("Alarm records")
    model = AlarmRecord
    context_name = "records"

    def filtered(self, queryset):
        clusters = list(
            queryset.order_by("cluster__display_name", "cluster__name")
            .values_list("cluster__name", "cluster__display_name")
            .distinct()
        )
        self.filters = RecordFilterForm(self.request.GET, clusters)
        # An invalid field is shown beside it and left out of cleaned_data; the rest apply.
        self.filters.is_valid()
        queryset = self.filters.apply(queryset)
        return queryset.select_related("cluster", "policy").order_by("-started_at", "-id")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["filters"] = self.filters
        return context


class AlarmSilenceListView(_AlertList):
    template_name = "console/alerts/silences.html"
    authz_action = "listAlarmSilences"
    authz_model = AlarmSilence
    title = gettext_lazy("Alarm silences")
    model = AlarmSilence
    context_name = "silences"

    def filtered(self, queryset):
        return queryset.select_related("policy__cluster", "created_by").order_by("-ends_at")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["now"] = timezone.now()
        for silence in context["silences"]:
            mark_silence(self.request.user, silence)
        return context
