"""``manage.py bootstrap_admin``: the platform administrator of a real deployment, from
PORTAL_ADMIN_USERNAME / PORTAL_ADMIN_PASSWORD; idempotent; the password policy applies
unless ``--demo``."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from apps.accounts.models import User
from apps.audit.models import AuditEvent
from tkeportal.settings import base

pytestmark = pytest.mark.django_db

STRONG = "Platform-admin-2024x"


@pytest.fixture(autouse=True)
def policy(settings):
    settings.AUTH_PASSWORD_VALIDATORS = base.AUTH_PASSWORD_VALIDATORS


def run(monkeypatch, *args, **env) -> str:
    for name in ("PORTAL_ADMIN_USERNAME", "PORTAL_ADMIN_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = StringIO()
    call_command("bootstrap_admin", *args, stdout=out)
    return out.getvalue()


def test_creates_the_platform_administrator_who_can_sign_in(monkeypatch, tenant):
    assert "Platform administrator 'admin' created." in run(
        monkeypatch, PORTAL_ADMIN_PASSWORD=STRONG
    )
    admin = User.objects.get(tenant=None, username="admin")
    assert admin.is_superuser and admin.is_staff and admin.is_active
    client = Client()
    assert client.post("/login/", {"username": "admin", "password": STRONG}).status_code == 302
    assert client.get("/admin/tenants/tenant/").status_code == 200
    event = AuditEvent.objects.get(action="auth.bootstrap_admin")
    assert event.channel == "cli" and "created" in event.message
    assert STRONG not in str(event.__dict__)


def test_is_idempotent_and_updates_what_changed(monkeypatch):
    run(monkeypatch, PORTAL_ADMIN_USERNAME="root", PORTAL_ADMIN_PASSWORD=STRONG)
    assert "'root' unchanged." in run(
        monkeypatch, PORTAL_ADMIN_USERNAME="root", PORTAL_ADMIN_PASSWORD=STRONG
    )
    assert "'root' unchanged." in run(monkeypatch, PORTAL_ADMIN_USERNAME="root")
    assert AuditEvent.objects.filter(action="auth.bootstrap_admin").count() == 1
    root = User.objects.get(tenant=None, username="root")
    User.objects.filter(pk=root.pk).update(is_active=False)
    assert "'root' updated." in run(
        monkeypatch, PORTAL_ADMIN_USERNAME="root", PORTAL_ADMIN_PASSWORD="Another-strong-77"
    )
    root.refresh_from_db()
    assert root.is_active and root.check_password("Another-strong-77")
    assert User.objects.filter(username="root").count() == 1


def test_refuses_a_weak_password_unless_demo(monkeypatch):
    with pytest.raises(CommandError, match="PORTAL_ADMIN_PASSWORD: This password is too short"):
        run(monkeypatch, PORTAL_ADMIN_PASSWORD="demo")
    assert not User.objects.filter(username="admin").exists()
    run(monkeypatch, "--demo", PORTAL_ADMIN_PASSWORD="demo")
    assert User.objects.get(tenant=None, username="admin").check_password("demo")


def test_refuses_to_create_without_a_password(monkeypatch):
    with pytest.raises(CommandError, match="set PORTAL_ADMIN_PASSWORD to create it"):
        run(monkeypatch)
    assert not User.objects.filter(username="admin").exists()


def test_a_tenant_user_of_the_same_name_is_left_alone(monkeypatch, tenant):
    from tests.factories import UserFactory

    tenant_admin = UserFactory(tenant=tenant, username="admin")
    run(monkeypatch, PORTAL_ADMIN_PASSWORD=STRONG)
    tenant_admin.refresh_from_db()
    assert not tenant_admin.is_superuser
    assert User.objects.filter(username="admin").count() == 2
