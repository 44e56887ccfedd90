"""The admin's object-permission pages (django-guardian) are a door to authorization too: a
staff user may grant or revoke a per-object permission only when they hold that action on the
object themselves, never for their own account, and only to users of their own tenant."""

from __future__ import annotations

import pytest
from django.test import Client
from guardian.shortcuts import get_perms

from apps.authz import check
from apps.clusters.models import Cluster
from tests.factories import UserFactory
from tests.security.test_escalation import holding

pytestmark = pytest.mark.django_db

URL = "/admin/clusters/cluster/{pk}/permissions/user-manage/{user}/"


@pytest.fixture
def cluster(tenant):
    return Cluster.objects.create(tenant=tenant, display_name="prod", server="https://prod:6443")


@pytest.fixture
def editor(tenant):
    """Staff who may view and update clusters, not delete them."""
    return holding(
        tenant,
        "eddie",
        ["getCluster", "listClusters", "updateCluster"],
        ["cluster:*"],
        is_staff=True,
    )


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def grant(client, cluster, user, *codenames):
    return client.post(URL.format(pk=cluster.pk, user=user.pk), {"permissions": list(codenames)})


def test_staff_cannot_grant_an_object_permission_they_do_not_hold(tenant, editor, cluster):
    helper = UserFactory(tenant=tenant, username="helper")
    response = grant(logged_in(editor), cluster, helper, "delete_cluster")
    assert response.status_code == 403
    assert "delete_cluster" not in get_perms(helper, cluster)
    assert not check(helper, "deleteCluster", cluster.authz_resource, tenant=tenant, obj=cluster)


def test_staff_cannot_grant_themselves_anything(tenant, editor, cluster):
    response = grant(logged_in(editor), cluster, editor, "change_cluster", "delete_cluster")
    assert response.status_code == 403
    assert get_perms(editor, cluster) == []


def test_staff_may_pass_on_what_they_hold(tenant, editor, cluster):
    helper = UserFactory(tenant=tenant, username="helper")
    response = grant(logged_in(editor), cluster, helper, "view_cluster", "change_cluster")
    assert response.status_code == 302
    assert sorted(get_perms(helper, cluster)) == ["change_cluster", "view_cluster"]
    assert check(helper, "updateCluster", cluster.authz_resource, tenant=tenant, obj=cluster)


def test_users_of_another_tenant_are_not_found(tenant, other_tenant, editor, cluster):
    stranger = UserFactory(tenant=other_tenant, username="stranger")
    client = logged_in(editor)
    assert client.get(URL.format(pk=cluster.pk, user=stranger.pk)).status_code == 404
    assert grant(client, cluster, stranger, "view_cluster").status_code == 404
    assert get_perms(stranger, cluster) == []
