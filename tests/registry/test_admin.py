"""The garbage-collection admin: the platform administrator's only; adding a row starts a run
(through the service) whose report the row shows."""

import pytest
from django.test import Client

from apps.registry.models import GarbageCollection

pytestmark = pytest.mark.django_db

URL = "/admin/registry/garbagecollection/"


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def test_tenant_administrators_do_not_see_garbage_collections(tenant_admin):
    client = _client(tenant_admin)
    assert client.get(URL).status_code == 403
    assert client.post(f"{URL}add/", {}).status_code == 403
    assert not GarbageCollection.objects.exists()


def test_adding_one_starts_a_run(platform_admin, settings, django_capture_on_commit_callbacks):
    settings.REGISTRY_CONFIG_PATH = "/nonexistent/config.yml"
    client = _client(platform_admin)
    assert client.get(URL).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{URL}add/", {})
    assert response.status_code == 302, response.content[:2000]
    run = GarbageCollection.objects.get()
    assert run.triggered_by == platform_admin
    assert run.status == "failed" and "/nonexistent/config.yml does not exist" in run.error
    page = client.get(f"{URL}{run.pk}/change/")
    assert page.status_code == 200 and b"does not exist" in page.content
