"""Console routes and menu entries of this area (``apps/console/routes/__init__.py``):
alarm policies (create, edit, copy, delete, one policy's page, the cluster objects a policy may
name), alarm records and silences (create from a policy, edit, expire, delete)."""

from __future__ import annotations

from django.urls import path
from django.utils.translation import gettext_lazy as _

from ..nav import Entry, Section
from ..views import alert_forms as forms
from ..views import alert_objects, alerts

POLICY = "alarms/policies/<str:cluster>/<str:name>/"

urlpatterns = [
    path("alarms/policies/", alerts.AlarmPolicyListView.as_view(), name="alarm-policies"),
    path("alarms/policies/new/", forms.PolicyFormView.as_view(), name="alarm-policy-new"),
    path(
        "alarms/policies/delete/",
        forms.PolicyBatchDeleteView.as_view(),
        name="alarm-policies-delete",
    ),
    path(POLICY, forms.PolicyView.as_view(), name="alarm-policy"),
    path(
        f"{POLICY}edit/",
        forms.PolicyFormView.as_view(creating=False),
        name="alarm-policy-edit",
    ),
    path(f"{POLICY}copy/", forms.PolicyCopyView.as_view(), name="alarm-policy-copy"),
    path(f"{POLICY}delete/", forms.PolicyDeleteView.as_view(), name="alarm-policy-delete"),
    path(f"{POLICY}silences/new/", forms.SilenceFormView.as_view(), name="alarm-policy-silence"),
    path(
        "alarms/objects/<str:cluster>/",
        alert_objects.PolicyObjectsView.as_view(),
        name="alarm-policy-objects",
    ),
    path("alarms/records/", alerts.AlarmRecordListView.as_view(), name="alarm-records"),
    path("alarms/silences/", alerts.AlarmSilenceListView.as_view(), name="alarm-silences"),
    path(
        "alarms/silences/<int:pk>/edit/",
        forms.SilenceEditView.as_view(),
        name="alarm-silence-edit",
    ),
    path(
        "alarms/silences/<int:pk>/expire/",
        forms.SilenceExpireView.as_view(),
        name="alarm-silence-expire",
    ),
    path(
        "alarms/silences/<int:pk>/delete/",
        forms.SilenceDeleteView.as_view(),
        name="alarm-silence-delete",
    ),
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
                also=("console:alarm-policy*", "console:alarm-policies-*"),
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
                also=("console:alarm-silence-*",),
            ),
        ),
    )
]
CLUSTER_TABS: list = []
