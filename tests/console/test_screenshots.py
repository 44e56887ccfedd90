"""``make screenshots`` (scripts/screenshots.py): its core — seed the demo against kubesim,
discover the pages from the console's menu and cluster tabs, sign in with Chromium and save
each page in both languages — run against the live test portal."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from django.urls import NoReverseMatch, reverse

from apps.accounts.models import User
from tests.browser import *  # noqa: F403

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "screenshots.py"


def _script():
    spec = importlib.util.spec_from_file_location("screenshots", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def demo_sim():
    from apps.sandbox.kubesim import KubeSim

    sim = KubeSim().start_in_thread()
    yield sim
    sim.stop()


def test_screenshots_of_every_menu_page_in_both_languages(
    http_portal, demo_sim, tmp_path, monkeypatch, client
):
    from apps.console import nav

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    screenshots = _script()
    # given: the demo as make run seeds it
    demo = screenshots.seed(demo_sim, tmp_path, {"prod": 3, "staging": 1})
    shots = screenshots.pages()
    # every page of the platform menu that exists is among them
    paths = {shot.path for shot in shots}
    for section in nav.platform():
        for entry in section.entries:
            try:
                url = reverse(entry.url_name)
            except NoReverseMatch:
                continue
            assert url in paths, entry.url_name
    assert "overview" in {shot.name for shot in shots}
    # when: every page in English and the overview in Chinese, through Chromium (the browser's
    # cost is per page; `make screenshots` takes every page in both)
    out = tmp_path / "shots"
    overview = [shot for shot in shots if shot.name == "overview"]
    written = screenshots.capture(http_portal.url, demo, out, shots, ("en",))
    written += screenshots.capture(http_portal.url, demo, out, overview, ("zh-hans",))
    # then: one PNG per page and language, each a real picture, and the languages differ
    assert len(written) == len(shots) + 1
    for language, taken in (("en", shots), ("zh-hans", overview)):
        for shot in taken:
            png = out / language / f"{shot.name}.png"
            data = png.read_bytes()
            assert data[:8] == b"\x89PNG\r\n\x1a\n", png
            # A rendered page, not a blank one: a blank page of this size compresses to ~6 KB;
            # the smallest real page (groups, in Chinese) is ~18 KB.
            assert len(data) > 12_000, (png, len(data))
    english = (out / "en" / "overview.png").read_bytes()
    chinese = (out / "zh-hans" / "overview.png").read_bytes()
    assert english != chinese
    # and every page answers in Chinese too (rendered by the server, as the browser would get it)
    client.force_login(User.objects.get(tenant__slug=demo.tenant, username=demo.username))
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    for shot in shots:
        page = client.get(shot.path, follow=True)
        assert page.status_code == 200, (shot.path, page.status_code)
        assert '<html lang="zh-hans"' in page.content.decode(), shot.path
