"""Local passwords: the policy, changing your own (API and console), an administrator's reset
(the user must change it before using the console; API keys keep working), and directory users,
who have no local password."""

import pytest
from axes.models import AccessAttempt
from django.test import Client

from apps.accounts.models import PortalSession as Session
from apps.accounts.models import User
from apps.audit.models import AuditEvent
from tests.factories import UserFactory, make_identity_provider
from tkeportal.settings import base

pytestmark = pytest.mark.django_db

PASSWORD = "Correct-horse-9"
NEW = "Fresh-Mountain-42"


@pytest.fixture
def policy(settings):
    """The production password policy (test settings switch it off for speed elsewhere)."""
    settings.AUTH_PASSWORD_VALIDATORS = base.AUTH_PASSWORD_VALIDATORS


@pytest.fixture
def ldap_user(tenant):
    provider = make_identity_provider(tenant, "corp-ldap", "ldap")
    return UserFactory(
        tenant=tenant,
        username="lena",
        source="ldap",
        identity_provider=provider,
        external_id="uid=lena,ou=people,dc=example,dc=org",
    )


def browser(user, password=PASSWORD) -> Client:
    client = Client()
    response = client.post("/login/", {"username": str(user), "password": password})
    assert response.status_code == 302, response.content.decode()[:400]
    return client


def change(client, old, new):
    return client.post(
        "/api/v1/me/password/",
        {"old_password": old, "new_password": new},
        content_type="application/json",
    )


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Short-1a", "This password is too short. It must contain at least 10 characters."),
        (
            "all-lowercase-123",
            "This password lacks an uppercase letter; it must contain at least an uppercase "
            "letter, a lowercase letter and a digit.",
        ),
        ("NoDigitsAtAllHere", "This password lacks a digit;"),
        ("Password123", "This password is too common."),
        ("Bob@example.test1", "The password is too similar to the email address."),
        ("Aa1-" * 40, "This password is longer than 128 characters, the most allowed."),
    ],
)
def test_the_password_policy(policy, api, tenant_admin, member, password, message):
    response = api(tenant_admin).post("/api/v1/users/bob/reset-password/", {"password": password})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert any(message in m for m in body["fields"]["password"]), body
    member.refresh_from_db()
    assert member.check_password(PASSWORD)


def test_a_password_meeting_the_policy_is_taken(policy, api, tenant_admin, member):
    response = api(tenant_admin).post("/api/v1/users/bob/reset-password/", {"password": NEW})
    assert response.status_code == 204
    member.refresh_from_db()
    assert member.check_password(NEW)


def test_the_character_classes_are_configurable(settings):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    settings.AUTH_PASSWORD_VALIDATORS = [
        {
            "NAME": "apps.accounts.passwords.CharacterClassValidator",
            "OPTIONS": {"required": ["digit", "symbol"]},
        }
    ]
    validate_password("lower-case-9")
    with pytest.raises(ValidationError, match="lacks a symbol"):
        validate_password("lowercase9")


# -- changing your own ------------------------------------------------------------------------
def test_change_own_password_matrix(policy, anon_client, api, member, ldap_user):
    """Anonymous 401; a wrong current password 400 on old_password; a new password the policy
    refuses 400 on new_password; a directory user 400 naming their provider; the right one
    204 (with an API key too: the current password is what is asked)."""
    assert change(anon_client, PASSWORD, NEW).status_code == 401

    keyed = api(member)
    wrong = change(keyed, "not-it", NEW)
    assert wrong.status_code == 400
    assert wrong.json()["fields"]["old_password"] == ["This is not your current password."]

    weak = change(keyed, PASSWORD, "short")
    assert weak.status_code == 400
    assert "too short" in " ".join(weak.json()["fields"]["new_password"])

    directory = change(api(ldap_user), PASSWORD, NEW)
    assert directory.status_code == 400
    assert directory.json()["fields"]["old_password"] == [
        "'lena' signs in through identity provider 'corp-ldap' (LDAP): their password is set "
        "there, not in the portal."
    ]

    assert change(keyed, PASSWORD, NEW).status_code == 204
    member.refresh_from_db()
    assert member.check_password(NEW) and member.password_changed_at is not None
    old = Client().post("/login/", {"username": "acme/bob", "password": PASSWORD})
    assert old.status_code == 200 and "Wrong tenant/username or password" in old.content.decode()
    browser(member, NEW)


def test_a_change_keeps_this_session_and_ends_the_others(member):
    here, there = browser(member), browser(member)
    there_key = there.cookies["sessionid"].value
    assert change(here, PASSWORD, NEW).status_code == 204
    assert here.get("/api/v1/me/").json()["username"] == "bob"
    assert not Session.objects.filter(session_key=there_key).exists()
    assert there.get("/api/v1/me/").status_code == 401


def test_guesses_at_the_current_password_go_through_the_lockout(api, member, settings):
    keyed = api(member)
    for _ in range(settings.PORTAL_LOGIN_MAX_FAILURES - 1):
        assert change(keyed, "guess", NEW).status_code == 400
    locked = change(keyed, "guess", NEW)
    assert locked.status_code == 429
    assert locked.json()["code"] == "sign_in_locked"
    assert "Too many failed sign-ins for this account" in locked.json()["detail"]
    assert change(keyed, PASSWORD, NEW).status_code == 429
    member.refresh_from_db()
    assert member.check_password(PASSWORD)
    assert AccessAttempt.objects.get(username="acme/bob").failures_since_start == (
        settings.PORTAL_LOGIN_MAX_FAILURES + 1
    )


def test_the_console_page(policy, member):
    client = browser(member)
    page = client.get("/account/password/")
    assert page.status_code == 200 and 'name="new_password2"' in page.content.decode()
    differ = client.post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW + "x"},
    )
    assert differ.status_code == 400 and "The two new passwords differ." in differ.content.decode()
    weak = client.post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password1": "weakweak", "new_password2": "weakweak"},
    )
    assert weak.status_code == 400 and "too short" in weak.content.decode()
    done = client.post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW},
    )
    assert done.status_code == 302 and done["Location"] == "/"
    member.refresh_from_db()
    assert member.check_password(NEW)


def test_a_directory_user_is_told_where_their_password_lives(ldap_user):
    client = Client()
    client.force_login(ldap_user)
    page = client.get("/account/password/").content.decode()
    assert "signs in through identity provider &#x27;corp-ldap&#x27; (LDAP)" in page
    assert 'name="new_password1"' not in page


# -- an administrator's reset -----------------------------------------------------------------
def test_after_an_administrator_reset_the_user_must_change_it(api, tenant_admin, member):
    earlier = browser(member)
    earlier_key = earlier.cookies["sessionid"].value
    assert (
        api(tenant_admin)
        .post("/api/v1/users/bob/reset-password/", {"password": "Temporary-pass-1"})
        .status_code
        == 204
    )
    member.refresh_from_db()
    assert member.must_change_password and member.password_changed_at is not None
    # Their sessions ended at once.
    assert not Session.objects.filter(session_key=earlier_key).exists()
    assert earlier.get("/api/v1/me/").status_code == 401

    client = Client()
    signed_in = client.post("/login/", {"username": "acme/bob", "password": "Temporary-pass-1"})
    assert signed_in["Location"] == "/account/password/?next=%2F"
    home = client.get("/")
    assert home.status_code == 302 and home["Location"] == "/account/password/?next=%2F"
    refused = client.get("/api/v1/clusters/")
    assert refused.status_code == 403
    assert refused.json()["code"] == "password_change_required"
    assert client.get("/api/v1/me/").status_code == 200
    # API keys are not the password: they keep working.
    assert api(member).get("/api/v1/clusters/").status_code == 200

    done = client.post(
        "/account/password/?next=/",
        {"old_password": "Temporary-pass-1", "new_password1": NEW, "new_password2": NEW},
    )
    assert done.status_code == 302
    member.refresh_from_db()
    assert not member.must_change_password
    assert client.get("/").status_code == 200


def test_directory_users_get_no_local_password(api, tenant_admin, ldap_user):
    response = api(tenant_admin).post(
        "/api/v1/users/lena/reset-password/", {"password": "Some-password-1"}
    )
    assert response.status_code == 400
    assert "signs in through identity provider 'corp-ldap'" in response.json()["detail"]
    ldap_user.refresh_from_db()
    assert not ldap_user.check_password("Some-password-1")


def test_your_own_password_is_not_reset_without_the_current_one(api, tenant_admin):
    response = api(tenant_admin).post(
        "/api/v1/users/alice/reset-password/", {"password": "Some-password-1"}
    )
    assert response.status_code == 400
    assert "/api/v1/me/password/" in response.json()["detail"]


# -- audit ------------------------------------------------------------------------------------
def test_a_password_change_is_one_audit_event_without_the_passwords(api, member):
    assert change(api(member), "nope", NEW).status_code == 400
    assert change(api(member), PASSWORD, NEW).status_code == 204
    events = list(AuditEvent.objects.filter(path="/api/v1/me/password/").order_by("id"))
    assert [(e.action, e.outcome, e.user_id) for e in events] == [
        ("auth.password_change", "denied", member.pk),
        ("auth.password_change", "success", member.pk),
    ]
    for event in events:
        stored = str(event.request_body)
        assert PASSWORD not in stored and NEW not in stored and "nope" not in stored


def test_bootstrapped_users_keep_working(member):
    """The reset flag is per user: others sign in to the console as usual."""
    assert not User.objects.get(pk=member.pk).must_change_password
    assert browser(member).get("/").status_code == 200


def test_the_admin_password_page_is_a_reset_too(client, tenant_admin, member, ldap_user):
    earlier = browser(member)
    client.force_login(tenant_admin)
    url = f"/admin/accounts/user/{member.pk}/password/"
    response = client.post(
        url,
        {"password1": "Admin-chosen-77", "password2": "Admin-chosen-77", "usable_password": "true"},
    )
    assert response.status_code == 302, response.content.decode()[:1500]
    member.refresh_from_db()
    assert member.check_password("Admin-chosen-77") and member.must_change_password
    assert earlier.get("/api/v1/me/").status_code == 401
    # A directory user has no portal password to set.
    refused = client.get(f"/admin/accounts/user/{ldap_user.pk}/password/")
    assert refused.status_code == 403
