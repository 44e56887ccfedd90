"""Links between the admin and the console: ``console_link`` (admin → console) renders a link
to an existing console route and nothing for a route that does not exist; ``admin_url``
(console → admin) answers the admin change page only to staff whom the admin would let view
the object."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.utils import translation

from apps.core.admin_links import admin_change_url, console_link, console_url

pytestmark = pytest.mark.django_db


def test_console_link_to_an_existing_route():
    assert console_url("console:overview") == "/"
    with translation.override("en"):
        assert console_link("console:overview") == (
            '<a class="tke-console-link" href="/">Open in console ↗</a>'
        )
    with translation.override("zh-hans"):
        assert "在控制台中打开" in console_link("console:overview")


def test_console_link_to_a_missing_route_is_empty():
    assert console_link("console:no-such-page") == ""
    assert console_link("console:overview", cluster="cls-x") == ""  # wrong kwargs


def test_admin_change_url_only_for_staff_allowed_to_view(
    tenant_admin, staff_reader, member, other_user, cluster
):
    expected = f"/admin/clusters/cluster/{cluster.pk}/change/"
    assert admin_change_url(tenant_admin, cluster) == expected
    assert admin_change_url(staff_reader, cluster) == expected  # may view, not operate
    assert admin_change_url(member, cluster) == ""  # not staff
    assert admin_change_url(other_user, cluster) == ""  # another tenant's administrator
    assert admin_change_url(tenant_admin, None) == ""


def render_tag(user, obj) -> str:
    request = RequestFactory().get("/")
    request.user = user
    template = Template("{% load admin_links %}{% admin_url obj as href %}[{{ href }}]")
    return template.render(Context({"request": request, "obj": obj}))


def test_admin_url_template_tag(tenant_admin, member, other_user, cluster):
    assert render_tag(tenant_admin, cluster) == f"[/admin/clusters/cluster/{cluster.pk}/change/]"
    assert render_tag(member, cluster) == "[]"
    assert render_tag(other_user, cluster) == "[]"
    assert render_tag(tenant_admin, member) == f"[/admin/accounts/user/{member.pk}/change/]"


def test_admin_pages_link_to_their_console_pages(client, tenant, tenant_admin, member, cluster):
    """Admin → console: the cluster, project and user change pages link to the console's page
    of the same object (routes of the clusters, projects and access areas)."""
    from django.urls import reverse

    from apps.projects import services as projects

    project = projects.create_project(actor=None, tenant=tenant, display_name="Shop")
    client.force_login(tenant_admin)
    pages = [
        (
            reverse("admin:clusters_cluster_change", args=[cluster.pk]),
            reverse("console:cluster", kwargs={"cluster": cluster.name}),
        ),
        (
            reverse("admin:projects_project_change", args=[project.pk]),
            reverse("console:project", kwargs={"project": project.name}),
        ),
        (
            reverse("admin:accounts_user_change", args=[member.pk]),
            reverse("console:user", kwargs={"pk": member.pk}),
        ),
    ]
    for admin_page, console_page in pages:
        assert console_page.startswith("/") and "/admin/" not in console_page
        html = client.get(admin_page).content.decode()
        assert f'<a class="tke-console-link" href="{console_page}">' in html, admin_page
    # The cluster's and the user's pages have it among their buttons too.
    for admin_page, console_page in (pages[0], pages[2]):
        html = client.get(admin_page).content.decode()
        assert f'<li><a href="{console_page}">Open in console</a></li>' in html
