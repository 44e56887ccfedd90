"""Shared fixtures: tenants, personas and API clients.

Personas (STYLE.md), each bound to a predefined policy the way an operator would:
platform admin (superuser), tenant admin (administrator), member (platform-user: most
platform functions and reading everything), read-only user, viewer (login only), project
owner / member / viewer (bound in project ``prj-test`` only), other-tenant user (their
tenant's admin), anonymous.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management.commands import flush as _flush_command
from rest_framework.test import APIClient

from tests.factories import TenantFactory, UserFactory, bind, make_api_key
from tests.ordering import spread

PROJECT = "prj-test"

# Real peers started by fixtures, shared by every test module (one server per session).
pytest_plugins = ["tests.fixtures.ldap", "tests.fixtures.oidc", "tests.fixtures.registry"]

# The flush after each transactional test keeps the content types and permissions that
# ``migrate`` wrote (tests/postgresql/base.py), so it need not emit ``post_migrate`` to write
# them again. ``migrate`` itself (making the test database) still emits it.
_flush_command.emit_post_migrate_signal = lambda *args, **kwargs: None

# Modules with single tests of tens of seconds, slowest first. With the browser tests (several
# seconds each) they start every worker's share of the run (tests/ordering.py).
SLOW_FIRST = (
    "tests/security/test_openapi_fuzz.py",
    "tests/test_demo_commands.py",
    "tests/console/test_screenshots.py",
    "tests/sandbox/test_kubesim_state.py",
    "tests/security/test_path_confusion.py",
    "tests/terminal/test_webtty_benchmark.py",
    "tests/authz/test_differential.py",
    "tests/security/test_collections.py",
    "tests/notify/test_worker_killed.py",
)


def pytest_collection_modifyitems(config, items):
    """After pytest-django's own ordering (it runs first): the slow modules and the browser
    tests spread over the workers' shares (every worker collects and orders alike)."""
    root = Path(__file__).resolve().parents[1]
    for path in SLOW_FIRST:
        if not (root / path).is_file():
            raise pytest.UsageError(f"tests/conftest.py SLOW_FIRST names a missing file: {path}")
    position = {path: index for index, path in enumerate(SLOW_FIRST)}

    def rank(item) -> int | None:
        module = item.nodeid.split("::")[0]
        if module in position:
            return position[module]
        return len(position) if "page" in getattr(item, "fixturenames", ()) else None

    workers = getattr(config, "workerinput", {}).get("workercount", 1)
    items[:] = spread(items, rank, workers)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (sign-in failure counters live there)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def tenant(db):
    return TenantFactory(slug="acme", display_name="Acme")


@pytest.fixture
def other_tenant(db):
    return TenantFactory(slug="globex", display_name="Globex")


@pytest.fixture
def platform_admin(db):
    return UserFactory(tenant=None, username="operator", is_superuser=True, is_staff=True)


def persona(tenant, username, policy, domain="*", **fields):
    user = UserFactory(tenant=tenant, username=username, **fields)
    bind(user, policy, domain)
    return user


@pytest.fixture
def cluster_only(tenant):
    """Sees the tenant's clusters (getCluster, listClusters) and holds nothing inside them."""
    from apps.authz.services import create_policy

    create_policy(
        actor=None,
        tenant=tenant,
        name="cluster-only",
        statements=[
            {"actions": ["getCluster", "listClusters"], "resources": ["*"], "effect": "allow"}
        ],
    )
    return persona(tenant, "cora", "cluster-only")


@pytest.fixture
def tenant_admin(tenant):
    return persona(tenant, "alice", "administrator", is_staff=True)


@pytest.fixture
def member(tenant):
    return persona(tenant, "bob", "platform-user")


@pytest.fixture
def read_only_user(tenant):
    return persona(tenant, "rhea", "read-only")


@pytest.fixture
def viewer(tenant):
    return persona(tenant, "vic", "viewer")


@pytest.fixture
def project_owner(tenant):
    return persona(tenant, "olga", "project-owner", PROJECT)


@pytest.fixture
def project_member(tenant):
    return persona(tenant, "pete", "project-member", PROJECT)


@pytest.fixture
def project_viewer(tenant):
    return persona(tenant, "quinn", "project-viewer", PROJECT)


@pytest.fixture
def other_user(other_tenant):
    return persona(other_tenant, "mallory", "administrator", is_staff=True)


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


# -- kubesim -----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def kube_sim():
    """One Kubernetes API simulator per test session, in a background thread."""
    from apps.sandbox.kubesim import KubeSim

    sim = KubeSim().start_in_thread()
    yield sim
    sim.stop()


@pytest.fixture
def sim_cluster(kube_sim, request):
    """A fresh simulated cluster (3 nodes: amd64, arm64, a GPU node) for one test."""
    import uuid

    handle = kube_sim.add_cluster(f"c{uuid.uuid4().hex[:8]}", nodes=3, controller=False)
    handle.ca_data = open(handle.ca_file).read()  # noqa: SIM115
    yield handle
    kube_sim.remove_cluster(handle.name)
