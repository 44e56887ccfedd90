"""Console routes and menu entries of this area (``apps/console/routes/__init__.py``):
alarm policies, alarm records and silences."""

from __future__ import annotations

from django.urls import path
from django.utils.translation import gettext_lazy as _

from ..nav import Entry, Section
from ..views import alerts

urlpatterns = [
    path("alarms/policies/", alerts.AlarmPolicyListView.as_view(), name="alarm-policies"),
    path("alarms/records/", alerts.AlarmRecordListView.as_view(), name="alarm-records"),
    path("alarms/silences/", alerts.AlarmSilenceListView.as_view(), name="alarm-silences"),
]
NAV = [
    Section(
        "alarms",
        _("Alarms"),
        (
            Entry(
                _("Alarm policies"),
                "console:alarm-policies",
                "listAlarmPolicies",
                model="monitoring.AlarmPolicy",
                icon="bell",
            ),
            Entry(
                _("Alarm records"),
                "console:alarm-records",
                "listAlarmRecords",
                model="monitoring.AlarmRecord",
                icon="exclamation-triangle",
            ),
            Entry(
                _("Silences"),
                "console:alarm-silences",
                "listAlarmSilences",
                model="monitoring.AlarmSilence",
                icon="bell-slash",
            ),
        ),
    )
]
CLUSTER_TABS: list = []
