"""A silence edited in the console: its end, comment, object and metric changed through
``services.update_silence`` with ``updateAlarmSilence`` (the API's update) and audited; the
end before the start said beside the end with nothing written; a user without the action gets
the console's 403 and the row stays; an ended silence is not editable; the policy's page links
to the edit page of each silence still to end."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.monitoring.alerts.models import AlarmSilence
from tests.console.test_alert_forms import _error, _page, _Writer
from tests.console.test_alerts import policy_of

pytestmark = pytest.mark.django_db


def silence_of(tenant, **fields) -> AlarmSilence:
    now = timezone.now()
    values = {"starts_at": now - timedelta(hours=1), "ends_at": now + timedelta(hours=1)}
    values.update(fields)
    return AlarmSilence.objects.create(tenant=tenant, policy=policy_of(tenant), **values)


def edit_url(silence) -> str:
    return f"/alarms/silences/{silence.pk}/edit/"


def local(text: str) -> datetime:
    """A datetime-local input's value as the server reads it (the viewer's zone, UTC here)."""
    return timezone.make_aware(datetime.fromisoformat(text))


class TestSilenceEditMatrix(_Writer):
    url_name = "console:alarm-silence-edit"
    expect = 'id="silence-form"'
    object_page = True

    def make_object(self, tenant):
        self.silence = silence_of(tenant)

    def url_for(self, tenant):
        return edit_url(self.silence)


def test_edit_changes_the_end_and_what_it_covers_audited(client, tenant, tenant_admin):
    silence = silence_of(tenant, comment="first")
    policy = silence.policy
    back = f"/alarms/policies/{policy.cluster.name}/{policy.name}/"
    client.force_login(tenant_admin)
    assert f'href="{edit_url(silence)}?next={back}"' in _page(client.get(back))
    form = _page(client.get(edit_url(silence)))
    start = timezone.localtime(silence.starts_at).strftime("%Y-%m-%dT%H:%M")
    assert f'value="{start}"' in form and "first" in form
    assert 'name="duration"' not in form  # the end is given, no preset length
    end = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        edit_url(silence),
        {
            "object_key": "web/acme-pod",
            "metric": "k8s_pod_cpu_core_used",
            "starts_at": start,
            "ends_at": end,
            "comment": "kernel upgrade takes longer",
            "next": back,
        },
    )
    assert response.status_code == 303 and response["Location"] == back
    silence.refresh_from_db()
    assert silence.ends_at == local(end)
    assert (silence.object_key, silence.metric, silence.comment) == (
        "web/acme-pod",
        "k8s_pod_cpu_core_used",
        "kernel upgrade takes longer",
    )
    event = AuditEvent.objects.get(action="updateAlarmSilence")
    assert event.outcome == "success" and event.resource == silence.authz_resource
    assert "kernel upgrade takes longer" in _page(client.get(back))


def test_an_end_before_the_start_is_said_beside_the_end(client, tenant, tenant_admin):
    silence = silence_of(tenant, comment="first")
    ends = silence.ends_at
    client.force_login(tenant_admin)
    response = client.post(
        edit_url(silence),
        {"starts_at": "2030-01-02T10:00", "ends_at": "2030-01-01T10:00", "comment": "backwards"},
    )
    assert response.status_code == 400
    assert "ends after it starts" in _error(_page(response), "id_ends_at")
    silence.refresh_from_db()
    assert (silence.ends_at, silence.comment) == (ends, "first")
    event = AuditEvent.objects.get(action="updateAlarmSilence")
    assert event.outcome == "failure" and "ends after it starts" in event.message
    missing = client.post(edit_url(silence), {"starts_at": "2030-01-02T10:00", "comment": "x"})
    assert missing.status_code == 400 and _error(_page(missing), "id_ends_at")


def test_a_user_without_update_is_refused_and_the_row_stays(
    client, tenant, read_only_user, other_user
):
    silence = silence_of(tenant, comment="first")
    ends = silence.ends_at
    policy = silence.policy
    change = {
        "starts_at": "2030-01-01T10:00",
        "ends_at": "2030-01-02T10:00",
        "comment": "mine now",
    }
    client.force_login(read_only_user)
    page = _page(client.get(f"/alarms/policies/{policy.cluster.name}/{policy.name}/"))
    assert f'data-silence="{silence.pk}"' in page and "silence-edit" not in page
    for response in (client.get(edit_url(silence)), client.post(edit_url(silence), change)):
        assert response.status_code == 403
        assert 'id="forbidden"' in _page(response) and "updateAlarmSilence" in _page(response)
    client.force_login(other_user)
    assert client.post(edit_url(silence), change).status_code == 404
    silence.refresh_from_db()
    assert (silence.ends_at, silence.comment) == (ends, "first")
    # the refused POST is audited as denied
    assert AuditEvent.objects.filter(outcome="denied").count() == 1


def test_an_ended_silence_is_not_editable(client, tenant, tenant_admin):
    now = timezone.now()
    silence = silence_of(
        tenant, starts_at=now - timedelta(hours=2), ends_at=now - timedelta(hours=1)
    )
    policy = silence.policy
    client.force_login(tenant_admin)
    page = _page(client.get(f"/alarms/policies/{policy.cluster.name}/{policy.name}/"))
    assert f'data-silence="{silence.pk}"' in page and edit_url(silence) not in page
    shown = client.get(edit_url(silence))
    assert shown.status_code == 409
    assert 'id="silence-ended"' in _page(shown) and 'id="silence-form"' not in _page(shown)
    response = client.post(
        edit_url(silence),
        {"starts_at": "2030-01-01T10:00", "ends_at": "2030-01-02T10:00", "comment": "again"},
    )
    assert response.status_code == 409 and "cannot be changed" in _page(response)
    silence.refresh_from_db()
    assert silence.ends_at < now and silence.comment == ""


def test_a_future_silence_is_editable_from_the_silences_list(client, tenant, tenant_admin):
    now = timezone.now()
    silence = silence_of(tenant, starts_at=now + timedelta(days=1), ends_at=now + timedelta(days=2))
    client.force_login(tenant_admin)
    assert edit_url(silence) in _page(client.get("/alarms/silences/"))
    start = timezone.localtime(silence.starts_at).strftime("%Y-%m-%dT%H:%M")
    end = timezone.localtime(now + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(edit_url(silence), {"starts_at": start, "ends_at": end})
    assert response.status_code == 303
    silence.refresh_from_db()
    assert silence.ends_at == local(end) and silence.starts_at == local(start)
