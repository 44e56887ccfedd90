"""Fixtures of the admin tests: clusters imported into kubesim and synced, a staff user who
may only read (the admin lets them in; every operation must refuse them)."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.clusters import k8s, services
from tests.conftest import persona


def import_synced(tenant, sim, display_name: str):
    spec = k8s.Connection(server=sim.url, token=sim.token, ca_data=sim.ca_data)
    cluster = services.import_cluster(
        actor=None, tenant=tenant, display_name=display_name, spec=spec, labels={"env": "prod"}
    )
    return services.sync_nodes(cluster)


@pytest.fixture
def cluster(tenant, sim_cluster):
    return import_synced(tenant, sim_cluster, "prod")


@pytest.fixture
def staff_reader(tenant):
    """A tenant staff user bound to read-only: sees the admin pages, may operate nothing."""
    return persona(tenant, "rhea", "read-only", is_staff=True)


@pytest.fixture
def audit_rows():
    """``audit_rows()`` → the audit events written since the fixture was made."""
    AuditEvent.objects.all().delete()
    return lambda: list(AuditEvent.objects.order_by("id"))
