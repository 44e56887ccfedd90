"""Browser tests: the portal under uvicorn on plain HTTP (loopback) and Debian's Chromium
driven by Playwright (FIELD-NOTES: never ``playwright install``; a function-scoped browser, so
later pytest-asyncio tests keep a clean event loop).

    from tests.browser import *  # noqa: F403  (fixtures: http_portal, page)
    pytestmark = pytest.mark.django_db(transaction=True)

Data the browser must see is committed (transactional tests): the server runs in a thread
with its own database connections.
"""

from __future__ import annotations

import os
import threading
from types import SimpleNamespace

import pytest

from tests.live import _free_port, wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

__all__ = ["CHROMIUM", "http_portal", "page", "sign_in_at"]


@pytest.fixture(scope="module")
def http_portal():
    """The real ASGI application under uvicorn on http://127.0.0.1:<port>."""
    import uvicorn

    from tkeportal.asgi import application

    port = _free_port()
    config = uvicorn.Config(
        application,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        ws="wsproto",
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="browser-portal", daemon=True)
    thread.start()
    wait_for(lambda: server.started, "uvicorn to start")
    yield SimpleNamespace(url=f"http://127.0.0.1:{port}", port=port)
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def page(monkeypatch):
    """A fresh Chromium page (new profile). Sync Playwright runs an event loop in this
    thread, so Django's async-safety check must let the test's own ORM calls through."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()
        context.set_default_timeout(15000)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def sign_in_at(page, base: str, path: str, username: str, tenant: str = "") -> None:
    """Sign in through the console's form on the way to ``path`` (the personas' password) and
    wait until the browser is there."""
    page.goto(f"{base}/login/?next={path}")
    if tenant:
        page.fill("#id_tenant", tenant)
    page.fill("#id_username", username)
    page.fill("#id_password", "Correct-horse-9")
    page.click("#sign-in button[type=submit]")
    page.wait_for_url(f"{base}{path}")
