"""List endpoints run a constant number of queries, whatever the page size."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.services import record_event
from apps.authz.models import Policy, Role
from tests.factories import GroupFactory, UserFactory, bind, make_api_key

pytestmark = pytest.mark.django_db


def queries_for(client, url, limit):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, {"limit": limit})
    assert response.status_code == 200
    assert len(response.json()["results"]) == limit
    return len(ctx.captured_queries)


def _rows(tenant, i):
    user = UserFactory(tenant=tenant)
    record_event(action="createThing", user=user, status_code=201)
    group = GroupFactory(tenant=tenant)
    group.members.add(user)
    role = Role.objects.create(tenant=tenant, name=f"role{i}")
    role.policies.add(*Policy.objects.filter(tenant=tenant)[:3])
    bind(user, "read-only")
    make_api_key(user)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/users/",
        "/api/v1/audit-events/",
        "/api/v1/groups/",
        "/api/v1/roles/",
        "/api/v1/policies/",
        "/api/v1/bindings/",
        "/api/v1/api-keys/",
    ],
)
def test_list_query_count_is_constant_in_page_size(api, tenant_admin, tenant, url):
    for i in range(30):
        _rows(tenant, i)
    client = api(tenant_admin)
    client.get(url)  # first request compiles the tenant's rules and stamps the key's last use
    assert queries_for(client, url, 5) == queries_for(client, url, 12)
