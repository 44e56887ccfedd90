"""The proxy's fast path (``apps/clusters/proxy/identity.py``) reuses the key, user and cluster
it loaded while the columns deciding about them are unchanged — so every change to them must
take effect on the very next request, through the real server; and audit rows, now written
by a queue off the request path, keep their order and request ids.

Each test first sends two requests that succeed (the second is served from the fast path),
then changes something through the service an operator would use, then sends one more.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts import services as account_services
from apps.accounts.models import APIKey
from apps.authz.models import Policy
from tests.factories import bind, make_api_key
from tests.live import *  # noqa: F403
from tests.live import proxy_events, raw_request

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_state")]


def configmaps(cluster) -> str:
    return f"/k8s/clusters/{cluster.name}/api/v1/namespaces/default/configmaps"


def get(portal, cluster, token):
    """(status, body) of listing configmaps through the portal."""
    status, body, _ = raw_request(portal, "GET", configmaps(cluster), token, uuid.uuid4().hex)
    return status, body


@pytest.fixture
def warm(portal, cluster, member):
    """An API key of the member whose requests are already on the fast path."""
    key, token = make_api_key(member)
    for _ in range(2):
        status, body = get(portal, cluster, token)
        assert status == 200 and body["kind"] == "ConfigMapList", body
    return key, token


def test_disabling_a_key_refuses_the_very_next_request(portal, cluster, member, warm):
    key, token = warm
    account_services.set_api_key_disabled(actor=member, key=key, disabled=True)
    status, body = get(portal, cluster, token)
    assert status == 401
    assert body["message"] == f"API key {key.prefix}… has been disabled."


def test_an_expired_key_is_refused_at_once(portal, cluster, warm):
    key, token = warm
    APIKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    status, body = get(portal, cluster, token)
    assert status == 401
    assert "expired at" in body["message"]


def test_deleting_a_key_refuses_the_very_next_request(portal, cluster, member, warm):
    key, token = warm
    account_services.delete_api_key(actor=member, key=key)
    status, body = get(portal, cluster, token)
    assert status == 401 and body["message"] == "Invalid API key."


def test_a_new_deny_takes_effect_on_the_very_next_request(portal, cluster, tenant, member, warm):
    _key, token = warm
    Policy.objects.create(
        tenant=tenant,
        name="no-configmaps",
        statements=[
            {
                "actions": ["listConfigMaps"],
                "resources": [f"cluster:{cluster.name}/namespace:default/*"],
                "effect": "deny",
            }
        ],
    )
    bind(member, "no-configmaps")
    status, body = get(portal, cluster, token)
    assert status == 403
    assert "may not listConfigMaps" in body["message"], body
    assert "no-configmaps" in body["message"], body


def test_deactivating_the_user_refuses_the_very_next_request(portal, cluster, member, warm):
    _key, token = warm
    member.is_active = False
    member.save(update_fields=["is_active"])
    status, body = get(portal, cluster, token)
    assert status == 401 and body["message"] == "The key's user is disabled."


def test_disabling_the_tenant_refuses_the_very_next_request(portal, cluster, tenant, warm):
    _key, token = warm
    tenant.is_active = False
    tenant.save(update_fields=["is_active"])
    status, body = get(portal, cluster, token)
    assert status == 401 and body["message"] == f"Tenant '{tenant.slug}' is disabled."


def test_the_directory_dropping_the_user_refuses_the_very_next_request(
    portal, cluster, tenant, member, warm
):
    """A directory user's key stops when the directory says they are gone, and again when
    their identity provider is disabled — both columns are in the fast path's fingerprint."""
    from apps.accounts.choices import DirectoryState, UserSource
    from apps.accounts.identity.provisioning import set_directory_state
    from tests.factories import make_identity_provider

    _key, token = warm
    provider = make_identity_provider(tenant)
    member.source, member.identity_provider = UserSource.LDAP, provider
    member.external_id, member.directory_state = "uid=bob,dc=x", DirectoryState.PRESENT
    member.save()
    assert get(portal, cluster, token)[0] == 200
    set_directory_state(member, DirectoryState.MISSING)
    status, body = get(portal, cluster, token)
    assert status == 401 and "no longer vouched for" in body["message"], body
    set_directory_state(member, DirectoryState.PRESENT)
    assert get(portal, cluster, token)[0] == 200
    provider.enabled = False
    provider.save(update_fields=["enabled"])
    status, body = get(portal, cluster, token)
    assert status == 401 and "corp-ldap" in body["message"], body


def test_a_deleted_cluster_is_unknown_on_the_very_next_request(portal, cluster, warm):
    _key, token = warm
    name = cluster.name
    cluster.delete()
    status, body = get(portal, cluster, token)
    assert status == 404 and body["message"] == f'clusters.portal "{name}" not found'


def test_a_rotated_credential_is_used_on_the_very_next_request(portal, cluster, live_cluster, warm):
    """The credential is replaced by one whose cluster user may only ``get``: the very next
    list through the portal is refused by the cluster, naming that user."""
    _key, token = warm
    restricted = live_cluster.add_user("getter", verbs=["get"])
    credential = cluster.credential
    credential.token = restricted
    credential.save()
    status, body = get(portal, cluster, token)
    assert status == 403
    assert '"getter"' in body["message"], body


def test_audit_rows_keep_order_and_request_ids(portal, cluster, member, warm):
    """Rows are queued and stored by a writer thread: one per request, in the order the
    requests were answered, each with the request's own X-Request-ID and time."""
    _key, token = warm
    sent = []
    for i in range(40):
        request_id = f"order-{i:02d}-{uuid.uuid4().hex[:6]}"
        before = timezone.now()
        status, _body, echoed = raw_request(portal, "GET", configmaps(cluster), token, request_id)
        assert status == 200 and echoed == request_id
        sent.append((request_id, before))
    rows = list(
        proxy_events(request_id__startswith="order-")
        .order_by("id")
        .values_list("request_id", "created_at", "status_code", "method")
    )
    assert [r[0] for r in rows] == [request_id for request_id, _ in sent]
    for (request_id, before), (_rid, created_at, status, method) in zip(sent, rows, strict=True):
        assert (status, method) == (200, "GET"), request_id
        # the time of the request, not of the (later, batched) insert
        assert before <= created_at <= before + timedelta(seconds=5), request_id
