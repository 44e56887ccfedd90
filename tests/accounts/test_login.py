"""Sign-in lockout (django-axes, apps/accounts/lockout.py): repeated failures lock the
*account* — whatever spelling of its name was typed — at every door, a client address is
locked only after many more failures, attempts while locked extend the lock, and the
platform administrator sees and clears lockouts in the admin."""

import time

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import authenticate
from django.test import Client

from apps.audit.models import AuditEvent
from tests.factories import TenantFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "Correct-horse-9"
GOOD = {"username": "acme/bob", "password": PASSWORD}
BAD = {"username": "acme/bob", "password": "wrong"}


def page(response) -> str:
    return response.content.decode()


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def fail(client, times, data=BAD, **extra):
    for _ in range(times):
        response = client.post("/login/", data, **extra)
        assert response.status_code == 200
        assert not signed_in(client)
    return response


def test_failures_lock_the_account_even_for_the_right_password(client, member, settings):
    limit = settings.PORTAL_LOGIN_MAX_FAILURES
    for _ in range(limit - 1):
        assert "Wrong tenant/username or password" in page(client.post("/login/", BAD))
    # The failure that reaches the limit already says what happened.
    assert "Too many failed sign-ins for this account: try again in 15 minutes." in page(
        client.post("/login/", BAD)
    )
    locked = client.post("/login/", GOOD)
    assert locked.status_code == 200
    assert "Too many failed sign-ins for this account" in page(locked)
    assert not signed_in(client)
    # Every attempt is one audit event; the refused one says it was refused for the lock.
    events = list(AuditEvent.objects.filter(path="/login/").order_by("id"))
    assert len(events) == limit + 1
    assert {e.action for e in events} == {"auth.login_failed"}
    assert {e.outcome for e in events} == {"denied"}
    assert "too many failed sign-ins for this account" in events[-1].message
    assert "without checking the password" in events[-1].message


def test_every_spelling_of_the_name_is_one_account(client, member, settings):
    """bob (the only bob), acme/bob, ACME/Bob, the tenant field with bob, and the admin's
    form: one count, one lock."""
    settings.PORTAL_LOGIN_MAX_FAILURES = 5
    client.post("/login/", {"username": "bob", "password": "x"})
    client.post("/login/", {"username": "ACME/Bob", "password": "x"})
    client.post("/login/", {"tenant": "acme", "username": "bob", "password": "x"})
    client.post("/login/", {"tenant": "ACME", "username": "BOB", "password": "x"})
    client.post("/admin/login/", {"username": "acme/bob", "password": "x"})
    assert set(AccessAttempt.objects.values_list("username", flat=True)) == {"acme/bob"}
    assert "Too many failed sign-ins" in page(
        client.post("/login/", {"tenant": "acme", "username": "bob", "password": PASSWORD})
    )
    assert not signed_in(client)


def test_a_name_shared_by_two_tenants_guesses_at_nobody(client, member, other_tenant, settings):
    """A bare ``bob`` with a bob in two tenants resolves to no account (the backends refuse
    it too): failures under it do not lock acme/bob."""
    UserFactory(tenant=other_tenant, username="bob")
    fail(client, settings.PORTAL_LOGIN_MAX_FAILURES + 1, {"username": "bob", "password": "x"})
    assert set(AccessAttempt.objects.values_list("username", flat=True)) == {"bob"}
    assert client.post("/login/", GOOD).status_code == 302
    assert signed_in(client)


def test_unknown_names_lock_like_real_ones(client, tenant, settings):
    """No oracle: a name that exists nowhere gets the same answers, lock included."""
    nobody = {"username": "acme/nobody", "password": "x"}
    last = fail(client, settings.PORTAL_LOGIN_MAX_FAILURES, nobody)
    assert "Too many failed sign-ins for this account" in page(last)


def test_the_lock_guards_the_admin_and_a_direct_authenticate(client, member, settings):
    member.is_staff = True
    member.save(update_fields=["is_staff"])
    fail(client, settings.PORTAL_LOGIN_MAX_FAILURES)
    response = client.post("/admin/login/", GOOD)
    assert response.status_code == 200
    assert not signed_in(client)
    assert "Too many failed sign-ins for this account" in page(response)
    assert authenticate(username="acme/bob", password=PASSWORD) is None
    assert authenticate(username="ACME/BOB", password=PASSWORD) is None


def test_direct_authenticate_failures_count_too(client, viewer, settings):
    """Without a request (a management command, a test) only the account counts."""
    for _ in range(settings.PORTAL_LOGIN_MAX_FAILURES):
        assert authenticate(username="acme/vic", password="wrong") is None
    assert authenticate(username="acme/vic", password=PASSWORD) is None
    response = client.post("/login/", {"username": "acme/vic", "password": PASSWORD})
    assert "Too many failed sign-ins for this account" in page(response)
    direct = AccessAttempt.objects.get(username="acme/vic", ip_address=None)
    assert direct.failures_since_start == settings.PORTAL_LOGIN_MAX_FAILURES + 1


def test_the_address_limit_is_higher_than_the_account_limit(client, tenant, settings):
    """One office behind one address: several people's typos lock none of them, and only
    far more failures than one account may have lock the address — for every account."""
    settings.PORTAL_LOGIN_MAX_FAILURES = 3
    settings.PORTAL_LOGIN_MAX_FAILURES_PER_IP = 8
    users = [UserFactory(tenant=tenant, username=f"u{i}") for i in range(5)]
    for user in users[:4]:
        fail(client, 2, {"username": f"acme/{user.username}", "password": "x"})  # 8 in all
    # Nobody reached the account limit, but the address did: even a right password is refused.
    refused = client.post("/login/", {"username": "acme/u4", "password": PASSWORD})
    assert "Too many failed sign-ins from your network address" in page(refused)
    assert not signed_in(client)
    # From another address the same account signs in.
    other = Client(REMOTE_ADDR="192.0.2.44")
    assert other.post("/login/", {"username": "acme/u4", "password": PASSWORD}).status_code == 302


def test_below_the_address_limit_others_sign_in(client, tenant, settings):
    settings.PORTAL_LOGIN_MAX_FAILURES = 3
    settings.PORTAL_LOGIN_MAX_FAILURES_PER_IP = 8
    UserFactory(tenant=tenant, username="u0")
    UserFactory(tenant=tenant, username="u1")
    fail(client, 3, {"username": "acme/u0", "password": "x"})  # u0 locked, address at 3 of 8
    ok = client.post("/login/", {"username": "acme/u1", "password": PASSWORD})
    assert ok.status_code == 302


def test_the_address_is_the_portals_client_address(tenant, member, settings):
    """Behind a trusted proxy the address is the one the proxy saw (X-Forwarded-For), so
    clients behind the same proxy are not one address."""
    settings.PORTAL_TRUSTED_PROXIES = 1
    settings.PORTAL_LOGIN_MAX_FAILURES = 3
    settings.PORTAL_LOGIN_MAX_FAILURES_PER_IP = 4
    proxy = {"REMOTE_ADDR": "10.9.9.9"}
    first = Client(**proxy, HTTP_X_FORWARDED_FOR="198.51.100.1")
    for name in ("acme/a", "acme/b", "acme/c", "acme/d"):
        first.post("/login/", {"username": name, "password": "x"})
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.1"}
    assert "from your network address" in page(first.post("/login/", GOOD))
    second = Client(**proxy, HTTP_X_FORWARDED_FOR="198.51.100.2")
    assert second.post("/login/", GOOD).status_code == 302


def test_success_clears_the_account_not_the_address(client, member, viewer, settings):
    settings.PORTAL_LOGIN_MAX_FAILURES = 3
    settings.PORTAL_LOGIN_MAX_FAILURES_PER_IP = 5
    fail(client, 2, {"username": "acme/ghost", "password": "x"})  # address: 2
    fail(client, 2)  # bob: 2, address: 4
    assert client.post("/login/", GOOD).status_code == 302
    assert not AccessAttempt.objects.filter(username="acme/bob").exists()
    assert AccessAttempt.objects.get(username="acme/ghost").failures_since_start == 2
    client.post("/logout/")
    fail(client, 2)  # bob counted afresh: 2 of 3, not locked; address: 4
    fail(client, 1, {"username": "acme/ghost2", "password": "x"})  # address: 5
    refused = client.post("/login/", {"username": "acme/vic", "password": PASSWORD})
    assert "from your network address" in page(refused)


def test_the_lock_expires_after_the_lockout_period(client, member, settings):
    settings.PORTAL_LOGIN_LOCKOUT_SECONDS = 1
    fail(client, settings.PORTAL_LOGIN_MAX_FAILURES)
    assert "Too many" in page(client.post("/login/", GOOD))
    time.sleep(1.2)
    assert client.post("/login/", GOOD).status_code == 302


@pytest.mark.parametrize("door", ["console", "authenticate"])
def test_attempts_at_a_locked_account_extend_the_lock(client, member, settings, door):
    """Every refused attempt is counted and restarts the period (through the console form or
    a direct ``authenticate()``): the lock lasts until the attempts stop; then it expires."""
    settings.PORTAL_LOGIN_LOCKOUT_SECONDS = 2
    fail(client, settings.PORTAL_LOGIN_MAX_FAILURES)
    locked_at = time.monotonic()
    while time.monotonic() - locked_at < 3:  # well past the first lock's end
        if door == "console":
            assert "Too many" in page(client.post("/login/", BAD))
        else:
            assert authenticate(username="acme/bob", password="wrong") is None
        time.sleep(0.4)
    assert "Too many" in page(client.post("/login/", GOOD))
    assert not signed_in(client)
    time.sleep(2.2)  # no attempt for a whole period
    assert client.post("/login/", GOOD).status_code == 302


def test_single_sign_on_failures_are_not_counted(client, member, settings):
    """No password, nothing to guess: a failed sign-in without a password (an OIDC
    callback's) does not count towards the lock."""
    from django.contrib.auth.signals import user_login_failed

    fail(client, settings.PORTAL_LOGIN_MAX_FAILURES)
    user_login_failed.send(sender=__name__, credentials={"username": "acme/bob"}, request=None)
    assert AccessAttempt.objects.get(username="acme/bob").failures_since_start == (
        settings.PORTAL_LOGIN_MAX_FAILURES
    )


def test_platform_admin_sees_and_clears_lockouts(client, member, platform_admin, settings):
    fail(Client(), settings.PORTAL_LOGIN_MAX_FAILURES)
    client.force_login(platform_admin)
    listing = client.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert "acme/bob" in page(listing)
    row = AccessAttempt.objects.get(username="acme/bob")
    assert "wrong" not in row.post_data and PASSWORD not in row.post_data
    deleted = client.post(
        f"/admin/axes/accessattempt/{row.pk}/delete/", {"post": "yes"}, follow=False
    )
    assert deleted.status_code == 302
    assert Client().post("/login/", GOOD).status_code == 302


def test_tenant_admins_do_not_see_lockouts(client, tenant_admin, member, other_user, settings):
    """The rows name accounts of every tenant (and names typed at the sign-in page)."""
    fail(Client(), 2, {"username": "globex/mallory", "password": "x"})
    client.force_login(tenant_admin)
    assert client.get("/admin/axes/accessattempt/").status_code == 403
    assert "accessattempt" not in page(client.get("/admin/"))


def test_an_administrator_reset_clears_the_lock(client, api, tenant_admin, member, settings):
    fail(client, settings.PORTAL_LOGIN_MAX_FAILURES)
    reset = api(tenant_admin).post(
        "/api/v1/users/bob/reset-password/", {"password": "Brand-new-pass-7"}
    )
    assert reset.status_code == 204
    assert client.post("/login/", {"username": "acme/bob", "password": "Brand-new-pass-7"})[
        "Location"
    ].startswith("/account/password/")


def test_a_second_tenant_with_the_same_name_is_another_account(client, member, settings):
    """acme/bob's lock does not touch initech/bob."""
    initech = TenantFactory(slug="initech")
    UserFactory(tenant=initech, username="bob")
    fail(client, settings.PORTAL_LOGIN_MAX_FAILURES)
    response = client.post("/login/", {"username": "initech/bob", "password": PASSWORD})
    assert response.status_code == 302
