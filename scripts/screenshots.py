#!/usr/bin/env python
"""``make screenshots``: PNGs of the console's main pages, in English and Chinese, under
``var/screenshots/<lang>/<page>.png``.

It starts everything it needs and throws it away afterwards: kubesim with the demo's
simulated clusters (``prod``, ``staging``), a throwaway SQLite database seeded like
``make run`` (``manage.py seeddemo``: tenant ``demo``, its administrator, two projects), the
portal under uvicorn on a free loopback port, and Debian's Chromium driven by Playwright
(``/usr/bin/chromium``; no browser is downloaded). It signs in as the demo administrator,
switches language through the console's own switch, and saves every page of the platform
menu (each area's ``NAV``), the overview, the first cluster's page and each of its tabs
(``CLUSTER_TABS``, pods among them) and a project's page — whichever of these routes exist,
so pages other areas add are included without changing this script.

    .venv/bin/python scripts/screenshots.py [--out DIR] [--lang en --lang zh-hans]
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
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
LANGUAGES = ("en", "zh-hans")
VIEWPORT = {"width": 1440, "height": 900}
DEMO_CLUSTERS = {"prod": 4, "staging": 2}


@dataclass
class Demo:
    tenant: str
    username: str
    password: str


@dataclass
class Shot:
    """One page to capture: its file name (without ``.png``) and its path."""

    name: str
    path: str


def seed(sim, workdir: Path, clusters: dict[str, int] | None = None) -> Demo:
    """Simulated clusters in ``sim`` and the demo data (as ``make run`` seeds it) in the
    configured database; returns the administrator's sign-in."""
    from io import StringIO

    from django.core.management import call_command

    for name, nodes in (clusters or DEMO_CLUSTERS).items():
        if name not in sim.handles:
            sim.add_cluster(name, nodes=nodes, seed=True, controller=True)
    kubeconfig = workdir / "kubesim.kubeconfig"
    sim.kubeconfig(kubeconfig)
    password = secrets.token_urlsafe(16)
    previous = os.environ.get("PORTAL_ADMIN_PASSWORD")
    os.environ["PORTAL_ADMIN_PASSWORD"] = password
    try:
        call_command("seeddemo", kubeconfig=str(kubeconfig), stdout=StringIO(), stderr=StringIO())
    finally:
        if previous is None:
            os.environ.pop("PORTAL_ADMIN_PASSWORD", None)
        else:
            os.environ["PORTAL_ADMIN_PASSWORD"] = previous
    _crash_loop(sim)
    return Demo(tenant="demo", username="admin", password=password)


def _crash_loop(sim) -> None:
    """A pod in a crash loop on ``prod``, so the overview has something to point at."""
    handle = sim.handles.get("prod")
    if handle is None:
        return
    from apps.clusters import services
    from apps.clusters.models import Cluster

    cluster = Cluster.objects.filter(display_name="prod").select_related("credential").first()
    if cluster is None:
        return
    pod = {
        "metadata": {"name": "checkout-crashloop"},
        "spec": {"containers": [{"name": "app", "image": "demo/checkout-crashloop:1.4"}]},
    }
    from apps.clusters import k8s

    try:
        with services.client_for(cluster) as client:
            client.request("POST", "/api/v1/namespaces/web/pods", body=pod)
    except k8s.ClusterError:
        pass  # already there (a second run against the same simulator)


def _reverse(name: str, **kwargs) -> str | None:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:
        return None


def pages() -> list[Shot]:
    """The pages to capture, discovered from the console's menu and cluster tabs."""
    from apps.clusters.models import Cluster
    from apps.console import nav
    from apps.projects.models import Project

    shots: list[Shot] = []

    def add(name: str, path: str | None) -> None:
        if path and all(s.path != path for s in shots):
            shots.append(Shot(name.replace("console:", "").replace("*", ""), path))

    for section in nav.platform():
        for entry in section.entries:
            add(entry.url_name, _reverse(entry.url_name))
    cluster = Cluster.objects.order_by("display_name").filter(display_name="prod").first()
    cluster = cluster or Cluster.objects.order_by("display_name").first()
    if cluster is not None:
        add("cluster", _reverse("console:cluster", cluster=cluster.name))
        for entry in nav.cluster_tabs():
            tab = entry.url_name.replace("console:", "")
            add(f"cluster-{tab}", _reverse(entry.url_name, cluster=cluster.name))
        add("cluster-pods", _reverse("console:pods", cluster=cluster.name))
    project = Project.objects.order_by("name").first()
    if project is not None:
        add("project", _reverse("console:project", project=project.name))
    return shots


def sign_in(page, base_url: str, demo: Demo) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("#id_tenant", demo.tenant)
    page.fill("#id_username", demo.username)
    page.fill("#id_password", demo.password)
    page.click("#sign-in button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def switch_language(page, base_url: str, language: str) -> None:
    page.goto(f"{base_url}/")
    page.select_option("#language-select", language)
    page.click("#language-switch button")
    page.wait_for_load_state("load")
    lang = page.get_attribute("html", "lang")
    if lang != language:
        raise RuntimeError(f"the language switch left the page in {lang!r}, not {language!r}")


def capture(
    base_url: str,
    demo: Demo,
    out: Path,
    shots: list[Shot],
    languages: tuple[str, ...] = LANGUAGES,
) -> list[Path]:
    """Sign in, and for each language save every page of ``shots`` as
    ``out/<lang>/<name>.png`` (full page). Returns the files written; a page that fails
    (5xx) stops the run, naming it."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        raise SystemExit(f"{CHROMIUM} is missing: install Debian's chromium package")
    written: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT, timezone_id="Asia/Shanghai")
            context.set_default_timeout(20000)
            page = context.new_page()
            sign_in(page, base_url, demo)
            for language in languages:
                switch_language(page, base_url, language)
                folder = out / language
                folder.mkdir(parents=True, exist_ok=True)
                for shot in shots:
                    response = page.goto(f"{base_url}{shot.path}", wait_until="load")
                    if response is None or response.status >= 500:
                        status = response.status if response else "no answer"
                        raise RuntimeError(f"{shot.path} ({shot.name}) answered {status}")
                    page.wait_for_timeout(300)  # htmx settles
                    target = folder / f"{shot.name}.png"
                    page.screenshot(path=str(target), full_page=True)
                    written.append(target)
            context.close()
        finally:
            browser.close()
    return written


def _serve() -> tuple[str, object, threading.Thread]:
    import socket

    import uvicorn

    from tkeportal.asgi import application

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            application,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            ws="wsproto",
            access_log=False,
        )
    )
    thread = threading.Thread(target=server.run, name="screenshots-portal", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise SystemExit("the portal did not start")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "var" / "screenshots"))
    parser.add_argument("--lang", action="append", choices=LANGUAGES, dest="languages")
    args = parser.parse_args(argv)
    out = Path(args.out)
    workdir = Path(tempfile.mkdtemp(prefix="tke-screenshots-"))
    # A throwaway database and no broker: the user's own data is never touched, tasks run
    # in-process (the import's node sync), caches and channels stay in memory.
    os.environ["DJANGO_SETTINGS_MODULE"] = "tkeportal.settings.dev"
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'db.sqlite3'}"
    os.environ["REDIS_URL"] = ""
    os.environ["CELERY_BROKER_URL"] = ""
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    os.environ["PORTAL_ALLOW_LOOPBACK_CLUSTERS"] = "true"
    os.environ["PORTAL_DEBUG"] = "false"
    # Sync Playwright runs an event loop in this thread; the ORM calls around it are ours.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from apps.sandbox.kubesim import KubeSim

    call_command("migrate", verbosity=0, interactive=False)
    sim = KubeSim().start_in_thread()
    server = None
    try:
        demo = seed(sim, workdir)
        shots = pages()
        base_url, server, thread = _serve()
        written = capture(base_url, demo, out, shots, tuple(args.languages or LANGUAGES))
    finally:
        if server is not None:
            server.should_exit = True
        sim.stop()
    for path in written:
        print(path.relative_to(out.parent) if out.parent in path.parents else path)
    print(f"{len(written)} screenshots of {len(shots)} pages under {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
