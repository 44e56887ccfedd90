"""Shared fixtures: tenants, personas and API clients.

Personas (STYLE.md): platform admin, tenant admin, member (plain tenant user), other-tenant
user, anonymous. Project personas arrive with projects.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import TenantFactory, UserFactory, make_api_key


@pytest.fixture
def tenant(db):
    return TenantFactory(slug="acme", display_name="Acme")


@pytest.fixture
def other_tenant(db):
    return TenantFactory(slug="globex", display_name="Globex")


@pytest.fixture
def platform_admin(db):
    return UserFactory(tenant=None, username="operator", is_superuser=True, is_staff=True)


@pytest.fixture
def tenant_admin(tenant):
    return UserFactory(tenant=tenant, username="alice", is_staff=True)


@pytest.fixture
def member(tenant):
    return UserFactory(tenant=tenant, username="bob")


@pytest.fixture
def other_user(other_tenant):
    return UserFactory(tenant=other_tenant, username="mallory", is_staff=True)


@pytest.fixture
def anon_client():
    return APIClient()


def client_for(user) -> APIClient:
    """An API client authenticated with a real API key of ``user`` (Bearer header)."""
    client = APIClient()
    _, plaintext = make_api_key(user)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    client.user = user
    return client


@pytest.fixture
def api(db):
    """``api(user)`` → an APIClient authenticated as ``user`` with an API key."""
    return client_for
