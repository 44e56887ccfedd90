"""The console's own pages: overview, "Why can't I?", the tenant switcher, the error pages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.projects.models import Project
from tests.console.matrix import ConsoleMatrix
from tests.factories import make_cluster

pytestmark = pytest.mark.django_db


class TestOverviewMatrix(ConsoleMatrix):
    url = "/"
    expect = 'id="overview"'
    no_permission = None  # everyone has an overview (with what they may see)

    def make_object(self, tenant):
        return make_cluster(tenant, display_name="acme-prod")

    def expect_of_tenant(self, tenant) -> str:
        return "acme-prod"


class TestWhyMatrix(ConsoleMatrix):
    url = "/why/?action=listClusters&resource=cluster:*"
    expect = 'id="why-verdict"'
    no_permission = None

    def expect_of_tenant(self, tenant) -> str:
        return "acme-prod"  # nothing of the tenant appears on anyone's explanation


def test_overview_shows_clusters_projects_and_audit_to_an_administrator(
    client, tenant, tenant_admin, other_tenant
):
    make_cluster(tenant, display_name="acme-prod")
    make_cluster(other_tenant, display_name="globex-prod")
    Project.objects.create(tenant=tenant, name="prj-shop", display_name="Web shop")
    client.force_login(tenant_admin)
    client.post("/i18n/setlang/", {"language": "en"})  # a write: one audit event
    page = client.get("/").content.decode()
    assert "acme-prod" in page and "globex-prod" not in page
    assert "Unreachable" in page  # nothing listens at its address
    assert "Web shop" in page
    assert 'id="overview-events"' in page


def test_overview_hides_what_a_viewer_may_not_list(client, tenant, viewer):
    make_cluster(tenant, display_name="acme-prod")
    client.force_login(viewer)
    page = client.get("/").content.decode()
    assert "acme-prod" not in page
    assert 'id="overview-empty"' in page


def test_navigation_shows_only_allowed_entries(client, tenant, member, viewer):
    client.force_login(member)
    page = client.get("/").content.decode()
    assert 'aria-label="Main navigation"' in page and ">Overview<" in page


def test_why_explains_a_refusal_and_names_the_deny(client, tenant, member):
    from apps.authz.services import create_policy
    from tests.factories import bind

    create_policy(
        actor=None,
        tenant=tenant,
        name="no-prod",
        statements=[
            {"actions": ["deleteCluster"], "resources": ["cluster:prod"], "effect": "deny"}
        ],
    )
    bind(member, "no-prod")
    client.force_login(member)
    page = client.get(
        reverse("console:why"), {"action": "deleteCluster", "resource": "cluster:prod"}
    ).content.decode()
    assert "Refused" in page and "no-prod" in page and 'id="why-rules"' in page


def test_a_refused_page_links_to_why_with_its_action(client, tenant, viewer, settings):
    """The console's 403 names the action and resource and links to the explanation."""
    from apps.console.views.base import ConsoleView

    class Guarded(ConsoleView):
        template_name = "console/overview.html"
        authz_action = "createCluster"

    from django.test import RequestFactory

    request = RequestFactory().get("/guarded/")
    request.user = viewer
    request.session = client.session
    from apps.console.views.base import ConsoleDenied

    with pytest.raises(ConsoleDenied) as refused:
        Guarded.as_view()(request)
    from apps.console.views.pages import denied

    response = denied(request, refused.value)
    page = response.content.decode()
    assert response.status_code == 403
    assert "createCluster" in page
    assert "/why/?action=createCluster&amp;resource=%2A" in page


def test_platform_admin_switches_tenant(client, tenant, other_tenant, platform_admin):
    make_cluster(tenant, display_name="acme-prod")
    make_cluster(other_tenant, display_name="globex-prod")
    client.force_login(platform_admin)
    page = client.get("/").content.decode()
    assert "acme-prod" in page and "globex-prod" in page  # every tenant
    client.post(reverse("console:tenant-switch"), {"tenant": "globex", "next": "/"})
    page = client.get("/").content.decode()
    assert "globex-prod" in page and "acme-prod" not in page
    # the API keeps its own choice: the console's never changes it
    rows = client.get("/api/v1/clusters/").json()["results"]
    assert {row["display_name"] for row in rows} >= {"acme-prod", "globex-prod"}
    client.post(reverse("console:tenant-switch"), {"tenant": "", "next": "https://evil.test/"})
    assert "acme-prod" in client.get("/").content.decode()


def test_others_cannot_switch_tenant(client, tenant, other_tenant, tenant_admin):
    make_cluster(other_tenant, display_name="globex-prod")
    client.force_login(tenant_admin)
    client.post(reverse("console:tenant-switch"), {"tenant": "globex"})
    assert "globex-prod" not in client.get("/").content.decode()
    assert 'id="tenant-switch"' not in client.get("/").content.decode()


def test_unknown_page_is_the_console_404(client, member):
    client.force_login(member)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert 'id="not-found"' in response.content.decode()
    api = client.get("/api/v1/no-such-thing/")
    assert api.status_code == 404 and api.json()["code"] == "not_found"


def test_overview_queries_do_not_grow_with_clusters(
    client, tenant, tenant_admin, django_assert_max_num_queries
):
    make_cluster(tenant)
    client.force_login(tenant_admin)
    client.get("/")
    with django_assert_max_num_queries(60) as few:
        client.get("/")
    for _ in range(6):
        make_cluster(tenant)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get("/").content.decode()
    assert page.count("Unreachable") == 7
