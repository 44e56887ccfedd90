"""Audit completeness: every write → exactly one event, whatever the door and outcome;
secrets never stored."""

import json

import pytest

from apps.audit.models import AuditEvent
from apps.audit.redaction import REDACTED, redact, redact_body
from tests.factories import make_api_key

pytestmark = pytest.mark.django_db

USER_BODY = {"username": "newcomer", "password": "A-long-password-42", "email": "n@x.test"}


def only_event():
    events = list(AuditEvent.objects.all())
    assert len(events) == 1, [(e.action, e.path, e.status_code) for e in events]
    return events[0]


def test_successful_api_write_is_one_event_with_who_what_when(api, tenant_admin, tenant):
    client = api(tenant_admin)
    AuditEvent.objects.all().delete()
    response = client.post(
        "/api/v1/users/", USER_BODY, HTTP_USER_AGENT="pytest-agent", REMOTE_ADDR="10.9.8.7"
    )
    assert response.status_code == 201
    event = only_event()
    assert event.user == tenant_admin and event.username == "acme/alice"
    assert event.tenant == tenant
    assert event.api_key_id == tenant_admin.api_keys.get().pk
    assert (event.source_ip, event.user_agent) == ("10.9.8.7", "pytest-agent")
    assert (event.action, event.resource) == ("createUser", "user:*")
    assert (event.method, event.path, event.status_code) == ("POST", "/api/v1/users/", 201)
    assert event.outcome == "success" and event.channel == "api"
    assert event.request_id == response["X-Request-ID"]
    assert event.request_body["username"] == "newcomer"
    assert event.request_body["password"] == REDACTED


def test_update_and_delete_name_the_object(api, tenant_admin, member):
    client = api(tenant_admin)
    AuditEvent.objects.all().delete()
    client.patch("/api/v1/users/bob/", {"display_name": "Robert"})
    client.delete("/api/v1/users/bob/")
    events = list(AuditEvent.objects.order_by("id"))
    assert [(e.action, e.resource, e.status_code) for e in events] == [
        ("updateUser", "user:bob", 200),
        ("deleteUser", "user:bob", 204),
    ]


@pytest.mark.parametrize(
    ("who", "body", "status", "outcome"),
    [
        ("tenant_admin", {"username": "Bad Name"}, 400, "failure"),
        ("member", USER_BODY, 403, "denied"),
    ],
)
def test_failed_and_denied_writes_are_audited(request, api, who, body, status, outcome):
    client = api(request.getfixturevalue(who))
    AuditEvent.objects.all().delete()
    assert client.post("/api/v1/users/", body).status_code == status
    event = only_event()
    assert (event.action, event.status_code, event.outcome) == ("createUser", status, outcome)


def test_unauthenticated_write_is_audited_without_a_user(anon_client, tenant):
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer tkp_000000000000_forged")
    assert anon_client.post("/api/v1/users/", USER_BODY).status_code == 401
    event = only_event()
    assert event.user is None and event.outcome == "denied"
    assert "forged" not in json.dumps(event.request_body)


def test_other_tenant_write_is_audited_as_404(api, tenant_admin, other_user):
    client = api(other_user)
    AuditEvent.objects.all().delete()
    assert client.delete("/api/v1/users/alice/").status_code == 404
    event = only_event()
    assert (event.action, event.status_code, event.tenant.slug) == ("deleteUser", 404, "globex")


def test_reads_are_not_audited(api, member):
    client = api(member)
    AuditEvent.objects.all().delete()
    client.get("/api/v1/users/")
    client.get("/api/v1/me/")
    assert AuditEvent.objects.count() == 0


def test_admin_write_is_one_event(client, tenant_admin, member):
    client.force_login(tenant_admin)
    url = f"/admin/accounts/user/{member.pk}/change/"
    form = {
        "username": "bob",
        "display_name": "Bobby",
        "email": "bob@x.test",
        "phone": "",
        "is_active": "on",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    response = client.post(url, form)
    assert response.status_code == 302, response.content[:2000]
    event = only_event()
    assert (event.channel, event.action, event.status_code) == ("admin", "updateUser", 302)
    assert event.resource == f"user:{member.pk}"
    member.refresh_from_db()
    assert member.display_name == "Bobby"


def test_console_sign_in_is_audited_with_password_redacted(client, member):
    response = client.post("/login/", {"username": "acme/bob", "password": "Correct-horse-9"})
    assert response.status_code == 302
    event = only_event()
    assert event.channel == "console" and event.user == member
    assert event.request_body["password"] == REDACTED
    assert "Correct-horse-9" not in json.dumps(event.request_body)


def test_failed_sign_in_keeps_the_claimed_name(client, member):
    client.post("/login/", {"username": "acme/bob", "password": "wrong"})
    event = only_event()
    assert event.user is None
    assert event.username == "acme/bob"


def test_api_key_in_a_body_is_never_stored(api, tenant_admin, member):
    _, secret = make_api_key(member)
    client = api(tenant_admin)
    AuditEvent.objects.all().delete()
    client.patch("/api/v1/users/bob/", {"display_name": secret})
    assert secret not in json.dumps(only_event().request_body)


def test_redaction_rules():
    kubeconfig = "apiVersion: v1\nusers:\n- name: u\n  user:\n    token: abc123\n"
    body = {
        "name": "prod",
        "kubeconfig": kubeconfig,
        "credential": {"token": "abc123", "ca": "-----BEGIN CERTIFICATE-----\nMII"},
        "nested": [{"clientKeyData": "LS0t"}, {"note": "-----BEGIN RSA PRIVATE KEY-----"}],
        "jwt": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
        "manifest": {"kind": "Secret", "data": {"password": "cGFzcw=="}},
        "labels": {"app": "web"},
    }
    cleaned = redact(body)
    dumped = json.dumps(cleaned)
    for secret in ("abc123", "BEGIN", "LS0t", "eyJhbGci", "cGFzcw=="):
        assert secret not in dumped
    assert cleaned["name"] == "prod" and cleaned["labels"] == {"app": "web"}


def test_yaml_and_unparseable_bodies():
    yaml_doc = b"kind: Secret\nmetadata: {name: s}\nstringData: {password: hunter2}\n"
    assert "hunter2" not in json.dumps(redact_body(yaml_doc, "application/yaml", 10_000))
    described = redact_body(b"\x00\xff\xfe", "application/octet-stream", 10_000)
    assert described == {"_omitted": "3 bytes of binary application/octet-stream"}
    truncated = redact_body(json.dumps({"a": "x" * 500}).encode(), "application/json", 100)
    assert len(truncated["_truncated"]) == 100


def test_last_applied_of_other_kinds_is_parsed_and_redacted_inside():
    """On a ConfigMap the annotation stays (it is the readable history of the object), minus
    whatever would be redacted in the object itself; unreadable, it is dropped whole."""
    from apps.audit.redaction import LAST_APPLIED

    embedded = {"kind": "ConfigMap", "data": {"mode": "fast", "db_password": "hunter2-xyz"}}
    body = {
        "kind": "ConfigMap",
        "metadata": {"name": "c", "annotations": {LAST_APPLIED: json.dumps(embedded)}},
    }
    stored = redact(body)["metadata"]["annotations"][LAST_APPLIED]
    assert json.loads(stored) == {
        "kind": "ConfigMap",
        "data": {"mode": "fast", "db_password": REDACTED},
    }
    broken = {"metadata": {"annotations": {LAST_APPLIED: '{"data": {"k": "hunter2-xyz"'}}}
    assert redact(broken)["metadata"]["annotations"][LAST_APPLIED] == REDACTED


def test_json_patch_values_are_redacted_only_for_secrets():
    ops = [
        {"op": "add", "path": "/data/k", "value": "v1"},
        {"op": "replace", "path": "/", "value": {"data": {"k": "v2"}}},
        {"op": "add", "path": "/metadata/labels/app", "value": "web"},
        {"op": "move", "from": "/data/a", "path": "/data/b"},
    ]
    assert [op.get("value") for op in redact(ops, secret=True)] == [REDACTED, REDACTED, "web", None]
    assert redact(ops) == ops


def test_body_with_nul_characters_keeps_its_row(api, tenant_admin):
    """PostgreSQL cannot store NUL in JSON: the row keeps the body with U+FFFD instead of
    being lost (or failing the request)."""
    client = api(tenant_admin)
    AuditEvent.objects.all().delete()
    client.generic(
        "POST",
        "/api/v1/policies/",
        json.dumps({"name": "nul\u0000name", "st\u0000": ["x"]}),
        content_type="application/json",
    )
    assert only_event().request_body == {"name": "nul\ufffdname", "st\ufffd": ["x"]}


def test_deep_body_keeps_its_row_described(api, tenant_admin):
    AuditEvent.objects.all().delete()
    api(tenant_admin).generic(
        "POST", "/api/v1/policies/", "{" * 10_000, content_type="application/json"
    )
    event = only_event()
    assert event.status_code == 400
    assert "nested too deep" in event.request_body["_omitted"]


def test_audit_events_are_read_only_in_the_admin(client, tenant_admin, member):
    client.force_login(tenant_admin)
    make_api_key(member)
    client.post("/login/", {"username": "acme/bob", "password": "nope"})
    event = AuditEvent.objects.first()
    assert client.get("/admin/audit/auditevent/").status_code == 200
    assert client.get(f"/admin/audit/auditevent/{event.pk}/change/").status_code == 200
    assert client.post(f"/admin/audit/auditevent/{event.pk}/delete/").status_code == 403


def test_audit_api_filters(api, tenant_admin, member):
    client = api(tenant_admin)
    client.patch("/api/v1/users/bob/", {"display_name": "B"})
    client.post("/api/v1/users/", {"username": "Bad Name"})
    failures = client.get("/api/v1/audit-events/", {"outcome": "failure"}).json()["results"]
    assert [e["action"] for e in failures] == ["createUser"]
    by_resource = client.get("/api/v1/audit-events/", {"resource": "user:bob"}).json()
    assert [e["action"] for e in by_resource["results"]] == ["updateUser"]


@pytest.mark.parametrize("since", ["2020-01-01T00:00:00+23:51", "2020-01-01T00:00:00-15:00"])
def test_audit_filter_offsets_beyond_iso_are_a_field_error(api, tenant_admin, since):
    """PostgreSQL refuses such offsets with a DataError (a 503 before); now 400 naming since."""
    response = api(tenant_admin).get("/api/v1/audit-events/", {"since": since})
    assert response.status_code == 400
    assert response.json()["fields"]["since"] == ["UTC offsets are at most ±14:00."]
