"""Bearer API keys: valid, expired, disabled (revoked), malformed, other tenant."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts import keys
from apps.accounts.models import APIKey
from tests.factories import UserFactory, make_api_key

pytestmark = pytest.mark.django_db


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_valid_key_authenticates_as_its_owner(member):
    _, plaintext = make_api_key(member)
    response = bearer(plaintext).get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["username"] == "bob"
    assert response.json()["tenant"] == "acme"


def test_only_a_digest_is_stored(member):
    key, plaintext = make_api_key(member)
    row = APIKey.objects.get(pk=key.pk)
    assert plaintext not in (row.digest, row.prefix, row.description)
    assert row.digest == keys.digest_of(plaintext)


def test_last_used_time_and_ip_are_recorded(member):
    key, plaintext = make_api_key(member)
    bearer(plaintext).get("/api/v1/me/", REMOTE_ADDR="10.1.2.3")
    key.refresh_from_db()
    assert key.last_used_ip == "10.1.2.3"
    assert timezone.now() - key.last_used_at < timedelta(seconds=30)


def test_expired_key_is_rejected_with_a_clear_error(member):
    key, plaintext = make_api_key(member)
    APIKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = bearer(plaintext).get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_expired"
    assert "expired" in response.json()["detail"]


def test_disabled_key_is_rejected(member):
    key, plaintext = make_api_key(member)
    APIKey.objects.filter(pk=key.pk).update(disabled=True)
    response = bearer(plaintext).get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_disabled"


def test_revoking_in_the_admin_stops_the_key_on_the_next_request(client, tenant_admin, member):
    key, plaintext = make_api_key(member)
    assert bearer(plaintext).get("/api/v1/me/").status_code == 200
    client.force_login(tenant_admin)
    response = client.post(
        "/admin/accounts/apikey/",
        {"action": "revoke_keys", "_selected_action": [key.pk]},
    )
    assert response.status_code == 302
    assert bearer(plaintext).get("/api/v1/me/").json()["code"] == "api_key_disabled"


@pytest.mark.parametrize(
    "token",
    ["tkp_000000000000_nope", "not-a-key", "tkp_short_x", "tkp_"],
)
def test_unknown_or_malformed_key_is_401(member, token):
    make_api_key(member)
    response = bearer(token).get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"


def test_tampered_secret_is_rejected(member):
    _, plaintext = make_api_key(member)
    tampered = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")
    assert bearer(tampered).get("/api/v1/me/").status_code == 401


def test_key_of_a_disabled_user_or_tenant_is_rejected(member, tenant):
    _, plaintext = make_api_key(member)
    tenant.is_active = False
    tenant.save()
    assert bearer(plaintext).get("/api/v1/me/").json()["code"] == "tenant_disabled"
    tenant.is_active = True
    tenant.save()
    member.is_active = False
    member.save()
    assert bearer(plaintext).get("/api/v1/me/").json()["code"] == "user_disabled"


def test_key_cannot_reach_another_tenant(member, other_tenant):
    """A key acts in its owner's tenant only: naming another tenant or its objects is 404."""
    stranger = UserFactory(tenant=other_tenant, username="carol")
    _, plaintext = make_api_key(member)
    client = bearer(plaintext)
    assert client.get(f"/api/v1/users/{stranger.username}/").status_code == 404
    response = client.get("/api/v1/users/", HTTP_X_PORTAL_TENANT="globex")
    assert response.status_code == 404
    assert response.json()["detail"] == "Tenant 'globex' not found."


def test_lifetime_bounds(member):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="between one minute and one year"):
        make_api_key(member, expires_in=timedelta(seconds=5))
    with pytest.raises(ValidationError):
        make_api_key(member, expires_in=timedelta(days=400))


def test_createapikey_command_prints_a_working_key_once(member, capsys):
    call_command("createapikey", "--user", "acme/bob", "--expires", "1h")
    out = capsys.readouterr()
    plaintext = out.out.strip()
    assert plaintext.startswith("tkp_")
    assert plaintext not in out.err
    key = APIKey.objects.get(user=member)
    assert timedelta(minutes=59) < key.expires_at - timezone.now() <= timedelta(hours=1)
    assert bearer(plaintext).get("/api/v1/me/").json()["username"] == "bob"


def test_createapikey_command_rejects_bad_input(member):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--expires"):
        call_command("createapikey", "--user", "acme/bob", "--expires", "soon")
    with pytest.raises(CommandError, match="No user"):
        call_command("createapikey", "--user", "acme/nobody")
