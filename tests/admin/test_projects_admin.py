"""The project admin: phase badge, quota and use per cluster with units, console link; the
changelist's query count constant."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.projects import services

pytestmark = pytest.mark.django_db


def page_text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.fixture
def project(tenant, cluster):
    return services.create_project(
        actor=None,
        tenant=tenant,
        display_name="Web shop",
        clusters={cluster.name: {"hard": {"requests.cpu": "4", "requests.memory": "16Gi"}}},
    )


def test_project_change_page_shows_quota_with_units(client, tenant_admin, project, cluster):
    client.force_login(tenant_admin)
    response = client.get(reverse("admin:projects_project_change", args=[project.pk]))
    assert response.status_code == 200
    text = page_text(response)
    assert "Cluster Resource Quota Allocated Used Left" in text
    assert f"{cluster.name} requests.cpu 4 cores" in text
    assert f"{cluster.name} requests.memory 16 GiB" in text
    assert 'class="tke-badge tke-ok">Active<' in response.content.decode()


def test_other_tenants_projects_are_invisible(client, other_user, project):
    client.force_login(other_user)
    page = client.get(reverse("admin:projects_project_changelist")).content.decode()
    assert project.name not in page
    response = client.get(reverse("admin:projects_project_change", args=[project.pk]))
    assert response.status_code == 302


def test_project_changelist_queries_do_not_grow_with_rows(client, tenant, tenant_admin, cluster):
    url = reverse("admin:projects_project_changelist")
    services.create_project(
        actor=None, tenant=tenant, display_name="p0", clusters={cluster.name: {}}
    )
    client.force_login(tenant_admin)
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    for i in range(1, 5):
        services.create_project(
            actor=None, tenant=tenant, display_name=f"p{i}", clusters={cluster.name: {}}
        )
    client.get(url)  # projects change the policy index: rebuilt once, not per row
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.content.decode().count("prj-") >= 5
    assert len(many) == len(one), [q["sql"] for q in many.captured_queries]
