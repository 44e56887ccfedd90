"""Notify: ``testNotifyChannel`` on ``notifychannel:<name>`` (the test-send button) and the
read-only ``MessageRequest`` kind (``listMessageRequests``, ``watchMessageRequests``,
``getMessageRequest`` on ``messagerequest:<id>``).

Stored policies keep their meaning (``_predefined.keep_meaning``): an allow statement whose
wildcard now reaches a new action without holding the matching older action is spelled out
(test-sending needs what updating a channel needed; message requests what messages needed);
a deny of the older action also denies the new one. Then every tenant's predefined policies
are brought up to date and its policy version bumped. One-way."""

from __future__ import annotations

from django.db import migrations

from ._predefined import keep_meaning, refresh_predefined

NEW = {
    "testNotifyChannel": "updateNotifyChannel",
    "listMessageRequests": "listMessages",
    "watchMessageRequests": "watchMessages",
    "getMessageRequest": "getMessage",
}


def forward(apps, schema_editor):
    keep_meaning(apps, NEW)
    refresh_predefined(apps)


class Migration(migrations.Migration):
    dependencies = [("authz", "0007_chart_release_actions")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
