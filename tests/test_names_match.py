"""Names match everywhere a newcomer meets them: the predefined policies the README names are
the ones the API lists and the admin shows (by name, TKEStack's display name beside it), and
an unknown page is the console's 404, never Django's debug page, outside DEBUG."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from apps.authz.models import Binding, Policy
from apps.authz.predefined import PREDEFINED

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_policy_names() -> list[str]:
    text = README.read_text()
    sentence = text.split("gets predefined policies:", 1)[1].split("Everyone may", 1)[0]
    return re.findall(r"`([a-z][a-z-]*)`", sentence)


def test_readme_names_every_predefined_policy():
    names = readme_policy_names()
    assert len(names) == len(set(names))
    assert set(names) == {p["name"] for p in PREDEFINED}


def test_the_api_lists_the_readme_names(api, tenant_admin):
    response = api(tenant_admin).get("/api/v1/policies/?limit=100&predefined=true")
    assert response.status_code == 200
    listed = {row["name"] for row in response.json()["results"] if row.get("predefined")}
    assert listed == set(readme_policy_names())


def test_the_admin_shows_the_readme_names(client, tenant_admin):
    owner = Policy.objects.get(tenant=tenant_admin.tenant, name="project-owner")
    assert str(owner) == "project-owner (ProjectAdmin)"
    client.force_login(tenant_admin)
    page = client.get("/admin/authz/policy/?all=").content.decode()
    for name in readme_policy_names():
        assert f">{name}<" in page, name
    # where a policy is chosen or shown by its string (bindings, roles), its name leads
    assert Binding.objects.filter(tenant=tenant_admin.tenant, user=tenant_admin).exists()
    page = client.get("/admin/authz/binding/add/").content.decode()
    assert "project-owner (ProjectAdmin)</option>" in page
    assert "administrator (AdministratorAccess)</option>" in page
    assert ">ProjectAdmin</option>" not in page


@pytest.mark.parametrize("path", ["/no-such-page/", "/projects/prj-none/", "/clusters/x/y/z/"])
def test_unknown_pages_are_the_console_404_outside_debug(client, member, settings, path):
    settings.DEBUG = False
    for signed_in in (False, True):
        if signed_in:
            client.force_login(member)
        response = client.get(path)
        page = response.content.decode()
        if response.status_code == 302:  # a console page that needs a sign-in first
            assert not signed_in and response["Location"].startswith("/login/")
            continue
        assert response.status_code == 404
        assert 'id="not-found"' in page
        assert "Using the URLconf" not in page and "technical_404" not in page
    api = client.get("/api/v1/no-such-thing/")
    assert api.status_code == 404 and api.json()["code"] == "not_found"
