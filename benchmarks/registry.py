"""Registry benchmark: the token service (``GET /registry/token``), issuance rate and latency.

In process (Django's test client: the whole middleware stack, no HTTP server), against a
throwaway test database: a tenant with 50 registry namespaces, a platform-user member, and
requests as ``docker pull``/``push`` make them —

* ``authenticated``: Basic ``acme/bob:<API key>``, scope ``repository:acme/nsN/app:pull,push``
  (N varies: key check, two permission decisions, signing, the audit row);
* ``anonymous_public``: no credentials, a pull of a public namespace;
* ``login``: credentials and no scope (``docker login``).

Sequential samples after a warm-up; percentiles from :mod:`benchmarks.support.stats`.
"""

from __future__ import annotations

import base64
import time

from benchmarks.support.stats import p50_p99_ms
from benchmarks.support.testdb import test_database

NAMESPACES = 50
SAMPLES = 400
WARM_UP = 20


def run() -> dict:
    with test_database():
        return _run()


def _run() -> dict:
    from datetime import timedelta

    from django.test import Client

    from apps.accounts.models import User
    from apps.accounts.services import create_api_key
    from apps.authz.models import Binding, Policy
    from apps.authz.services import ensure_predefined_policies
    from apps.registry.models import RegistryNamespace
    from apps.tenants.models import Tenant

    tenant = Tenant.objects.create(slug="acme", display_name="Acme")
    ensure_predefined_policies(tenant)
    user = User.objects.create(tenant=tenant, username="bob")
    Binding.objects.create(
        tenant=tenant, user=user, policy=Policy.objects.get(tenant=tenant, name="platform-user")
    )
    for i in range(NAMESPACES):
        RegistryNamespace.objects.create(
            tenant=tenant, name=f"ns{i}", visibility="public" if i % 2 else "private"
        )
    _, key = create_api_key(actor=user, user=user, expires_in=timedelta(hours=1))
    auth = "Basic " + base64.b64encode(f"acme/bob:{key}".encode()).decode()
    client = Client()

    def authenticated(i):
        scope = f"repository:acme/ns{i % NAMESPACES}/app:pull,push"
        return client.get(
            "/registry/token",
            {"service": "tke-registry", "scope": scope},
            HTTP_AUTHORIZATION=auth,
        )

    def anonymous(i):
        scope = f"repository:acme/ns{(i * 2 + 1) % NAMESPACES}/app:pull"
        return client.get("/registry/token", {"service": "tke-registry", "scope": scope})

    def login(i):
        return client.get("/registry/token", {"service": "tke-registry"}, HTTP_AUTHORIZATION=auth)

    figures: dict = {"namespaces": NAMESPACES, "samples": SAMPLES}
    for name, call in (
        ("authenticated", authenticated),
        ("anonymous_public", anonymous),
        ("login", login),
    ):
        for i in range(WARM_UP):
            assert call(i).status_code == 200
        samples = []
        started = time.perf_counter()
        for i in range(SAMPLES):
            t0 = time.perf_counter()
            response = call(i)
            samples.append(time.perf_counter() - t0)
            assert response.status_code == 200, response.content
        elapsed = time.perf_counter() - started
        p50, p99 = p50_p99_ms(samples)
        figures[f"{name}_p50_ms"] = p50
        figures[f"{name}_p99_ms"] = p99
        figures[f"{name}_per_s"] = round(SAMPLES / elapsed, 1)
    return figures
