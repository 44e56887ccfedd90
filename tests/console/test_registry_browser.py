"""The registry console in a real browser: a platform user creates an image namespace in the
form, lands on its page with the push instructions, sees it listed, and copies a tag's
``docker pull`` command; the pages pass axe-core with no serious violations."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apps.registry.models import RegistryNamespace, Repository, Tag
from tests.browser import *  # noqa: F403
from tests.browser import sign_in_at
from tests.console.test_console_browser import serious_violations

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_a_namespace_and_copy_a_pull_command(http_portal, page, tenant, member, settings):
    settings.REGISTRY_HOST = "registry.example.test"
    base = http_portal.url
    axe = f"{base}/static/vendor/axe-core/axe.min.js"
    sign_in_at(page, base, "/registry/namespaces/", member.username, tenant="acme")
    assert page.is_visible("#namespaces-empty")
    page.click("#namespace-new")
    page.wait_for_url(f"{base}/registry/namespaces/new/")
    page.fill("#id_name", "Team")  # uppercase: refused next to the field
    page.click("#namespace-form button[type=submit]")
    assert "lowercase" in page.inner_text("#id_name_error")
    page.fill("#id_name", "team")
    page.select_option("#id_visibility", "public")
    page.fill("#id_quota", "2")
    page.click("#namespace-form button[type=submit]")
    page.wait_for_url(f"{base}/registry/namespaces/team/")
    assert "docker push registry.example.test/acme/team/my-image:latest" in page.inner_text(
        "#repositories-empty"
    )
    assert serious_violations(page, axe) == []
    assert RegistryNamespace.objects.get(name="team").storage_quota_bytes == 2 * 1024**3

    page.click("nav a[href='/registry/namespaces/']")
    row = page.inner_text("tr[data-namespace='team']")
    assert "Public" in row and "2.0 GB" in row.replace("\xa0", " ")

    # an image pushed into it (the registry's notification writes these rows)
    repository = Repository.objects.create(
        namespace=RegistryNamespace.objects.get(name="team"), name="web", size=1024
    )
    Tag.objects.create(
        repository=repository,
        name="1.0",
        digest="sha256:" + "ef" * 32,
        media_type="application/vnd.oci.image.manifest.v1+json",
        size=1024,
        architectures=["amd64"],
        pushed_at=datetime(2026, 11, 30, tzinfo=UTC),
    )
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page.goto(f"{base}/registry/namespaces/team/")
    page.click("#repositories-table a:text('web')")
    page.wait_for_url(f"{base}/registry/namespaces/team/repositories/web")
    page.click("tr[data-tag='1.0'] [data-copy-target^='#pull-']")
    page.wait_for_selector("tr[data-tag='1.0'] [data-copy-target^='#pull-'][data-copied]")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == "docker pull registry.example.test/acme/team/web:1.0"
    assert serious_violations(page, axe) == []
