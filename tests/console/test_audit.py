"""The console's audit page: the API's rows and filters, detail with redacted bodies, CSV
export under its own action, times in the viewer's zone, constant queries."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.audit.services import record_event
from apps.authz.services import create_policy
from tests.console.matrix import ConsoleMatrix
from tests.factories import bind

pytestmark = pytest.mark.django_db

AT = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)


def event(tenant, action="createCluster", user=None, **fields):
    fields.setdefault("created_at", AT)
    fields.setdefault("status_code", 201)
    return record_event(action=action, tenant=tenant, user=user, **fields)


def page_of(client, **params):
    response = client.get(reverse("console:audit"), params)
    assert response.status_code == 200, response.content[:1000]
    return response.content.decode()


def shown_ids(page: str) -> set[int]:
    import re

    return {int(pk) for pk in re.findall(r'href="/audit/(\d+)/"', page)}


class TestAuditListMatrix(ConsoleMatrix):
    url = "/audit/"
    expect = "acmeOnlyAction"
    reader = "member"  # platform-user reads everything of the tenant
    no_permission = None  # everyone has their own trail (self-service, as in the API)

    def make_object(self, tenant):
        return event(tenant, "acmeOnlyAction")

    def expect_of_tenant(self, tenant) -> str:
        return "acmeOnlyAction"


class TestAuditEventMatrix(ConsoleMatrix):
    url_name = "console:audit-event"
    expect = "acmeOnlyAction"
    no_permission = None
    object_page = True

    def every_signed_in_user_may_open_it(self, request, client, tenant):
        """A viewer sees their own events only: someone else's is 404, as in the API."""
        viewer = request.getfixturevalue("viewer")
        own = event(tenant, "viewerOwnAction", viewer)
        client.force_login(viewer)
        response = client.get(reverse("console:audit-event", args=[own.pk]))
        assert response.status_code == 200 and "viewerOwnAction" in response.content.decode()
        assert client.get(self.url_for(tenant)).status_code == 404

    def make_object(self, tenant):
        return event(tenant, "acmeOnlyAction")

    def url_for(self, tenant) -> str:
        row = AuditEvent.objects.filter(tenant=tenant, action="acmeOnlyAction").first()
        return reverse("console:audit-event", args=[row.pk if row else 999999])


class TestAuditExportMatrix(ConsoleMatrix):
    url = "/audit/export.csv"
    expect = "acmeOnlyAction"
    reader = "tenant_admin"
    # a member may list audit events but not export them (exportAuditEvents)
    no_permission = "member"

    def make_object(self, tenant):
        return event(tenant, "acmeOnlyAction")

    def test_reader_sees_the_page(self, request, client, tenant):
        self.make_object(tenant)
        client.force_login(request.getfixturevalue(self.reader))
        response = client.get(self.url)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert self.expect in b"".join(response.streaming_content).decode()

    def other_tenant_sees_none_of_it(self, client, tenant, other_user):
        self.make_object(tenant)
        client.force_login(other_user)
        response = client.get(self.url)
        assert response.status_code == 200
        body = b"".join(response.streaming_content).decode()
        assert body.startswith("created_at,username,action")
        assert "acmeOnlyAction" not in body

    def expect_of_tenant(self, tenant) -> str:
        return "acmeOnlyAction"


def test_filters_by_user_action_resource_outcome_and_time(client, tenant, tenant_admin, member):
    # given
    a = event(tenant, "createCluster", member, resource="cluster:cls-a")
    b = event(tenant, "deleteCluster", member, resource="cluster:cls-b", status_code=403)
    c = event(
        tenant, "createPolicy", tenant_admin, resource="policy:p", created_at=AT - timedelta(days=2)
    )
    client.force_login(tenant_admin)
    # then
    assert shown_ids(page_of(client, username="acme/bob")) == {a.pk, b.pk}
    assert shown_ids(page_of(client, username="bob")) == {a.pk, b.pk}  # tenant implied
    assert shown_ids(page_of(client, username="ob")) == set()
    assert shown_ids(page_of(client, action="deleteCluster")) == {b.pk}
    assert shown_ids(page_of(client, resource="cluster:")) == {a.pk, b.pk}
    assert shown_ids(page_of(client, outcome="denied")) == {b.pk}
    assert shown_ids(page_of(client, outcome="success", resource="policy:")) == {c.pk}
    # the time range is read in the viewer's zone: 23:30 UTC is 07:30 next day in Shanghai
    client.cookies["portal_tz"] = "Asia/Shanghai"
    morning = page_of(client, since="2026-12-01T07:00", until="2026-12-01T08:00")
    assert shown_ids(morning) == {a.pk, b.pk}
    assert shown_ids(page_of(client, since="2026-12-01T07:31")) == set()
    assert shown_ids(page_of(client, until="2026-11-30T00:00")) == {c.pk}


def test_invalid_time_says_which_field(client, tenant, tenant_admin):
    event(tenant)
    client.force_login(tenant_admin)
    page = page_of(client, since="yesterday-ish")
    assert 'id="audit-errors"' in page and "since" in page
    assert shown_ids(page) == set()


def test_times_are_shown_in_the_viewer_zone(client, tenant, tenant_admin):
    row = event(tenant)
    client.force_login(tenant_admin)
    assert "2026-11-30 23:30:00" in page_of(client)
    client.cookies["portal_tz"] = "Asia/Shanghai"
    page = page_of(client)
    assert "2026-12-01 07:30:00" in page and "Asia/Shanghai" in page
    detail = client.get(reverse("console:audit-event", args=[row.pk])).content.decode()
    assert "2026-12-01 07:30:00" in detail


def test_paginates_fifty_a_page(client, tenant, tenant_admin):
    rows = [event(tenant, created_at=AT - timedelta(minutes=i)) for i in range(60)]
    client.force_login(tenant_admin)
    first = page_of(client)
    assert shown_ids(first) == {r.pk for r in rows[:50]}
    assert 'rel="next"' in first and "60 events" in first
    second = page_of(client, page=2)
    assert shown_ids(second) == {r.pk for r in rows[50:]}


def test_filters_survive_paging(client, tenant, tenant_admin):
    for i in range(55):
        event(tenant, "scaleDeployment", created_at=AT - timedelta(minutes=i))
    event(tenant, "createCluster")
    client.force_login(tenant_admin)
    first = page_of(client, action="scaleDeployment")
    assert "action=scaleDeployment&amp;page=2" in first
    assert "createCluster" not in page_of(client, action="scaleDeployment", page=2)


def test_a_member_sees_what_the_api_shows_them(client, api, tenant, member, tenant_admin):
    """A deny on one event hides it from the console exactly as from the API."""
    hidden = event(tenant, "createCluster", tenant_admin)
    shown = event(tenant, "createCluster", member)
    create_policy(
        actor=None,
        tenant=tenant,
        name="no-admin-trail",
        statements=[
            {
                "actions": ["listAuditEvents", "getAuditEvent"],
                "resources": [f"auditevent:{hidden.pk}"],
                "effect": "deny",
            }
        ],
    )
    bind(member, "no-admin-trail")
    api_ids = {row["id"] for row in api(member).get("/api/v1/audit-events/").json()["results"]}
    client.force_login(member)
    console_ids = shown_ids(page_of(client))
    assert shown.pk in console_ids and hidden.pk not in console_ids
    assert console_ids <= api_ids and hidden.pk not in api_ids
    assert client.get(reverse("console:audit-event", args=[hidden.pk])).status_code == 404


def test_detail_shows_the_stored_body_without_secrets(client, api, tenant, tenant_admin):
    # given: a real API write whose body holds a password and an API-key-looking token
    response = api(tenant_admin).post(
        "/api/v1/users/",
        {"username": "carol", "password": "Sekrit-horse-42", "display_name": "Carol"},
        format="json",
    )
    assert response.status_code == 201, response.content
    row = AuditEvent.objects.get(action="createUser")
    # a row stored before some redaction rule existed: redacted again on the way out
    legacy = event(tenant, "legacy", request_body={"token": "tkp_0123456789ab_zzzz", "ok": "x"})
    client.force_login(tenant_admin)
    page = client.get(reverse("console:audit-event", args=[row.pk])).content.decode()
    assert "carol" in page and "Carol" in page and "[redacted]" in page
    assert "Sekrit-horse-42" not in page
    old = client.get(reverse("console:audit-event", args=[legacy.pk])).content.decode()
    assert "tkp_0123456789ab" not in old and "[redacted]" in old
    assert "&quot;ok&quot;: &quot;x&quot;" in old


def test_export_is_the_filtered_list_as_csv_in_the_viewer_zone(client, tenant, tenant_admin):
    event(tenant, "createCluster", resource="cluster:cls-a")
    event(tenant, "=HYPERLINK(evil)", resource="cluster:cls-b")
    event(tenant, "deletePolicy", resource="policy:p")
    client.force_login(tenant_admin)
    client.cookies["portal_tz"] = "Asia/Shanghai"
    response = client.get(reverse("console:audit-export"), {"resource": "cluster:"})
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted(r["action"] for r in rows) == ["'=HYPERLINK(evil)", "createCluster"]
    assert all(r["created_at"] == "2026-12-01T07:30:00+08:00" for r in rows) and len(rows) == 2
    bad = client.get(reverse("console:audit-export"), {"since": "nope"})
    assert bad.status_code == 400 and b"since" in bad.content


def test_export_link_only_for_who_may_export(client, tenant, tenant_admin, member):
    event(tenant)
    client.force_login(member)
    assert 'id="audit-export"' not in page_of(client)
    client.force_login(tenant_admin)
    assert 'id="audit-export"' in page_of(client)


def test_list_queries_do_not_grow_with_rows(
    client, tenant, tenant_admin, member, django_assert_max_num_queries
):
    event(tenant, user=member)
    client.force_login(tenant_admin)
    page_of(client)
    with django_assert_max_num_queries(40) as few:
        page_of(client)
    for i in range(30):
        event(tenant, user=member, created_at=AT - timedelta(minutes=i))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(shown_ids(page_of(client))) == 31


def test_a_viewer_sees_only_their_own_trail(client, tenant, member, viewer):
    theirs = event(tenant, user=viewer)
    others = event(tenant, user=member)
    client.force_login(viewer)
    assert 'href="/audit/"' in client.get("/").content.decode()
    assert shown_ids(page_of(client)) == {theirs.pk}
    assert others.pk not in shown_ids(page_of(client))
    assert client.get(reverse("console:audit-export")).status_code == 403


def test_htmx_filtering_returns_the_results_with_a_matching_export_link(
    client, tenant, tenant_admin
):
    kept = event(tenant, "createCluster")
    event(tenant, "deletePolicy")
    client.force_login(tenant_admin)
    response = client.get(
        reverse("console:audit"),
        {"action": "createCluster"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="audit-results",
    )
    page = response.content.decode()
    assert page.startswith('<div id="audit-results">') and "<html" not in page
    assert shown_ids(page) == {kept.pk}
    assert 'href="/audit/export.csv?action=createCluster"' in page
