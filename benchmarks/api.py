"""API base benchmark: latency and query count of list endpoints and API-key auth.

Runs in-process with Django's test client against a throwaway test database on the
configured PostgreSQL (``make bench`` provides DATABASE_URL / REDIS_URL).
"""

from __future__ import annotations

import time

from benchmarks.support.stats import p50_p99_ms
from benchmarks.support.testdb import test_database

REQUESTS = 300


def _percentiles(samples: list[float]) -> tuple[float, float]:
    return p50_p99_ms(samples)


def run() -> dict:
    with test_database() as connection:
        from django.test.utils import CaptureQueriesContext

        return _measure(CaptureQueriesContext, connection)


def _measure(CaptureQueriesContext, connection) -> dict:
    from datetime import timedelta

    from rest_framework.test import APIClient

    from apps.accounts.models import User
    from apps.accounts.services import create_api_key
    from apps.audit.models import AuditEvent
    from apps.authz.services import ensure_predefined_policies
    from apps.tenants.models import Tenant

    tenant = Tenant.objects.create(slug="bench", display_name="Bench")
    ensure_predefined_policies(tenant)
    admin = User.objects.create(tenant=tenant, username="admin", is_staff=True)
    from apps.authz.services import make_administrator

    make_administrator(actor=None, user=admin, admin=True)
    User.objects.bulk_create(
        [User(tenant=tenant, username=f"user{i:04d}", email=f"u{i}@x.test") for i in range(1000)]
    )
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(tenant=tenant, user=admin, action="createThing", outcome="success")
            for _ in range(1000)
        ]
    )
    _, key = create_api_key(actor=admin, user=admin, expires_in=timedelta(hours=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")

    figures: dict = {"requests_per_case": REQUESTS}
    for name, url in (("users", "/api/v1/users/"), ("audit_events", "/api/v1/audit-events/")):
        for limit in (50, 500):
            client.get(url, {"limit": limit})  # warm-up
            samples = []
            for _ in range(REQUESTS if limit == 50 else REQUESTS // 5):
                started = time.perf_counter()
                response = client.get(url, {"limit": limit})
                samples.append(time.perf_counter() - started)
                assert response.status_code == 200
            p50, p99 = _percentiles(samples)
            with CaptureQueriesContext(connection) as ctx:
                client.get(url, {"limit": limit})
            figures[f"list_{name}_{limit}_p50_ms"] = p50
            figures[f"list_{name}_{limit}_p99_ms"] = p99
            figures[f"list_{name}_{limit}_queries"] = len(ctx.captured_queries)
    samples = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        client.get("/api/v1/me/")
        samples.append(time.perf_counter() - started)
    figures["me_api_key_p50_ms"], figures["me_api_key_p99_ms"] = _percentiles(samples)
    figures.update(_check_throughput(tenant))
    return figures


def _check_throughput(tenant) -> dict:
    """authz.check() as the portal calls it (user object, tenant, resource path), cached."""
    from apps.accounts.models import User
    from apps.authz import check
    from apps.authz.models import Binding, Policy

    user = User.objects.select_related("tenant").get(tenant=tenant, username="user0001")
    Binding.objects.create(
        tenant=tenant, user=user, policy=Policy.objects.get(tenant=tenant, name="read-only")
    )
    user = User.objects.select_related("tenant").get(pk=user.pk)
    resources = [f"cluster:cls-{i % 10}/namespace:ns{i % 7}/pod:p{i}" for i in range(200)]
    for resource in resources:
        check(user, "getPod", resource, tenant=user.tenant)
    rounds = 200
    started = time.perf_counter()
    for _ in range(rounds):
        for resource in resources:
            check(user, "getPod", resource, tenant=user.tenant)
    rate = rounds * len(resources) / (time.perf_counter() - started)
    return {"authz_check_cached_decisions_per_s": round(rate)}
