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
