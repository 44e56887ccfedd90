"""Every error the API returns has the same shape: {"code", "detail", "fields"}."""

import pytest
from django.db import IntegrityError

from apps.accounts import services as account_services

pytestmark = pytest.mark.django_db


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "detail", "fields"}
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def test_400_validation_error_names_the_field(api, tenant_admin):
    response = api(tenant_admin).post(
        "/api/v1/users/", {"username": "Not Valid!", "password": "A-long-password-42"}
    )
    body = assert_error(response, 400, "validation_error")
    assert "username" in body["fields"]
    assert "username" in body["detail"]


def test_400_duplicate_username_names_the_field(api, tenant_admin, member):
    response = api(tenant_admin).post(
        "/api/v1/users/", {"username": member.username, "password": "A-long-password-42"}
    )
    body = assert_error(response, 400, "validation_error")
    assert body["fields"]["username"] == ["User 'bob' already exists in this tenant."]


def test_400_malformed_json(api, tenant_admin):
    response = api(tenant_admin).generic(
        "POST", "/api/v1/users/", "{not json", content_type="application/json"
    )
    assert_error(response, 400, "malformed_request")


def test_401_without_credentials_has_bearer_challenge(anon_client, tenant):
    response = anon_client.get("/api/v1/users/")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_403_names_action_and_resource(api, member):
    response = api(member).post("/api/v1/users/", {"username": "x1", "password": "pw"})
    body = assert_error(response, 403, "permission_denied")
    assert "createUser" in body["detail"]


def test_404_unknown_object_and_unknown_endpoint(api, member):
    client = api(member)
    assert_error(client.get("/api/v1/users/nobody/"), 404, "not_found")
    assert_error(client.get("/api/v1/no-such-thing/"), 404, "not_found")


def test_405_method_not_allowed(api, tenant_admin):
    assert_error(api(tenant_admin).put("/api/v1/audit-events/"), 405, "method_not_allowed")


def test_409_when_the_database_reports_a_conflict(api, tenant_admin, monkeypatch):
    """A uniqueness race (two creates at once) surfaces as 409, not 500."""

    def racing_create_user(**kwargs):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(account_services, "create_user", racing_create_user)
    response = api(tenant_admin).post(
        "/api/v1/users/", {"username": "racer", "password": "A-long-password-42"}
    )
    assert_error(response, 409, "conflict")


def test_415_unsupported_media_type(api, tenant_admin):
    response = api(tenant_admin).generic(
        "POST", "/api/v1/users/", "<user/>", content_type="application/xml"
    )
    assert_error(response, 415, "unsupported_media_type")


def test_500_is_json_with_request_id_and_no_traceback(api, tenant_admin, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(account_services, "create_user", broken)
    response = api(tenant_admin).post(
        "/api/v1/users/", {"username": "boom", "password": "A-long-password-42"}
    )
    body = assert_error(response, 500, "internal_error")
    assert "secret internals" not in body["detail"]
    assert response["X-Request-ID"] in body["detail"]


def test_400_too_many_form_fields(api, tenant_admin):
    """Django's field-count limit met while DRF parses a form body is a 400, not a 500."""
    body = "&".join(f"f{i}=x" for i in range(1100))
    response = api(tenant_admin).generic(
        "POST", "/api/v1/policies/", body, content_type="application/x-www-form-urlencoded"
    )
    body = assert_error(response, 400, "malformed_request")
    assert "DATA_UPLOAD_MAX_NUMBER_FIELDS" in body["detail"]


def test_400_written_by_django_itself_is_in_the_error_shape(api, tenant_admin):
    """A request Django refuses before any view (a host not allowed) under /api/."""
    response = api(tenant_admin).get("/api/v1/users/", HTTP_HOST="not-allowed.example")
    assert_error(response, 400, "bad_request")
