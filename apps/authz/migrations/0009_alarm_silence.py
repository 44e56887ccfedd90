"""The ``AlarmSilence`` kind (``listAlarmSilences`` … ``deleteAlarmSilence`` on
``<alarm policy path>/alarmsilence:<id>``, area ``monitor``).

Stored policies keep their meaning (``_predefined.keep_meaning``): a tenant's allow statement
whose wildcard now reaches a silence action without holding the matching alarm policy action
is spelled out (reading silences goes with reading policies, changing them with updating
policies); a deny of the policy action also denies the silence action. Then every tenant's
predefined policies are brought up to date and its policy version bumped. One-way."""

from __future__ import annotations

from django.db import migrations

from ._predefined import keep_meaning, refresh_predefined

NEW = {
    "listAlarmSilences": "listAlarmPolicies",
    "watchAlarmSilences": "watchAlarmPolicies",
    "getAlarmSilence": "getAlarmPolicy",
    "createAlarmSilence": "updateAlarmPolicy",
    "updateAlarmSilence": "updateAlarmPolicy",
    "deleteAlarmSilence": "updateAlarmPolicy",
}


def forward(apps, schema_editor):
    keep_meaning(apps, NEW)
    refresh_predefined(apps)


class Migration(migrations.Migration):
    dependencies = [("authz", "0008_notify_actions")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
