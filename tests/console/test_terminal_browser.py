"""The web terminal in a real browser against kubesim: from the pod page to the terminal page,
a command and its output through xterm.js, the exit status shown and reconnect offered; live
logs of a pod and of a workload's pods (lines from two pods, filtered by pod); the terminal
picked from a workload's pods; no serious axe-core violation on those pages."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.terminal.models import TerminalSession
from tests.browser import *  # noqa: F403
from tests.browser import sign_in_at
from tests.console.test_console_browser import serious_violations
from tests.terminal.conftest import cluster, deployment, sim  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)


def test_open_a_terminal_from_the_pod_page_run_a_command_and_exit(
    http_portal,
    page,
    tenant,
    tenant_admin,
    cluster,  # noqa: F811
):
    base = http_portal.url
    pod_path = f"/clusters/{cluster.name}/namespaces/team-a/pods/web/"
    sign_in_at(page, base, pod_path, "alice", tenant="acme")
    page.click("#pod-terminal-link")
    page.wait_for_url(f"{base}{pod_path}terminal/")
    assert serious_violations(page, f"{base}/static/vendor/axe-core/axe.min.js") == []

    rows, box = page.locator("#terminal .xterm-rows"), page.locator("#terminal")
    page.click("#terminal-connect")
    expect(rows).to_contain_text("/ # ")
    assert "recorded and audited" in page.inner_text("#terminal-status")
    page.keyboard.type("echo browser-$HOSTNAME\n")
    expect(rows).to_contain_text("browser-web")
    page.keyboard.type("exit 4\n")
    expect(box).to_have_attribute("data-closed", "1")
    assert "exit status 4" in page.inner_text("#terminal-status")
    assert page.inner_text("#terminal-connect") == "Reconnect"
    (session,) = TerminalSession.objects.all()
    assert (session.username, session.exit_code, session.container) == ("acme/alice", 4, "main")

    page.click("#terminal-connect")  # reconnect: a new, re-authorized session
    expect(box).not_to_have_attribute("data-closed", "1")
    expect(rows).to_contain_text("/ # ")
    page.keyboard.type("exit\n")
    expect(box).to_have_attribute("data-closed", "1")
    assert "exit status 0" in page.inner_text("#terminal-status")
    assert TerminalSession.objects.count() == 2


def test_follow_logs_from_the_pod_page_pause_and_resume(
    http_portal,
    page,
    tenant,
    read_only_user,
    cluster,  # noqa: F811
    sim,  # noqa: F811
):
    sim.set_controller(False)  # only the test's lines are written from now on
    base = http_portal.url
    pod_path = f"/clusters/{cluster.name}/namespaces/team-a/pods/web/"
    sign_in_at(page, base, pod_path, "rhea", tenant="acme")
    assert page.locator("#pod-terminal-link").count() == 0  # read-only: logs, no shell
    assert serious_violations(page, f"{base}/static/vendor/axe-core/axe.min.js") == []
    page.click("#pod-logs-link")
    page.wait_for_url(f"{base}{pod_path}logs/")
    assert serious_violations(page, f"{base}/static/vendor/axe-core/axe.min.js") == []

    logs = page.locator("#logs")
    page.click("#logs-follow")
    expect(logs).to_have_attribute("data-following", "1")
    expect(logs).to_contain_text("listening on :8080")  # the container's start-up lines
    sim.append_log("team-a", "web", "main", "browser-line-1")
    expect(logs).to_contain_text("browser-line-1")

    page.click("#logs-pause")
    expect(page.locator("#logs-pause")).to_have_text("Resume")
    page.wait_for_timeout(300)
    sim.append_log("team-a", "web", "main", "browser-line-2")
    page.wait_for_timeout(700)
    assert "browser-line-2" not in logs.inner_text()
    page.click("#logs-pause")
    expect(logs).to_contain_text("browser-line-2")

    page.fill("#logs-search", "line-2")
    expect(page.locator("#logs span.log-hit")).to_have_text(["browser-line-2\n"])
    page.uncheck("#logs-wrap")
    assert logs.evaluate("(el) => el.style.whiteSpace") == "pre"
    with page.expect_download() as info:
        page.click("#logs-download")
    saved = info.value.path().read_text()
    assert info.value.suggested_filename == "web.log"
    assert "browser-line-1\nbrowser-line-2\n" in saved
    page.mouse.move(0, 0)  # no hovered button mid-transition when axe measures contrast
    page.wait_for_timeout(400)
    assert serious_violations(page, f"{base}/static/vendor/axe-core/axe.min.js") == []


def test_follow_a_workloads_logs_and_pick_a_pod_for_a_terminal(
    http_portal,
    page,
    tenant,
    tenant_admin,
    cluster,  # noqa: F811
    deployment,  # noqa: F811
    sim,  # noqa: F811
):
    first, second = deployment
    sim.set_controller(False)  # only the test's lines are written from now on
    base = http_portal.url
    workload_path = f"/clusters/{cluster.name}/workloads/team-a/deployments/api/"
    sign_in_at(page, base, workload_path, "alice", tenant="acme")
    page.click("#workload-logs-link")
    page.wait_for_url(f"{base}{workload_path}logs/")
    assert serious_violations(page, f"{base}/static/vendor/axe-core/axe.min.js") == []

    logs = page.locator("#logs")
    page.fill("#logs-tail", "0")
    page.click("#logs-follow")
    expect(logs).to_contain_text("following the pods of Deployment api (app=api): 2 log streams")
    sim.append_log("team-a", first, "app", "hello-from-first")
    sim.append_log("team-a", second, "app", "hello-from-second")
    expect(logs).to_contain_text(f"[{first}/app] hello-from-first")
    expect(logs).to_contain_text(f"[{second}/app] hello-from-second")

    page.select_option("#logs-pod", second)  # one pod's lines only
    shown = page.locator("#logs span:visible")
    expect(shown).to_have_text([f"[{second}/app] hello-from-second\n"])
    page.select_option("#logs-pod", "")
    expect(shown).to_have_count(3)  # the notice and both pods' lines again
    page.mouse.move(0, 0)
    page.wait_for_timeout(400)
    assert serious_violations(page, f"{base}/static/vendor/axe-core/axe.min.js") == []

    page.goto(f"{base}{workload_path}")
    page.click("#workload-terminal-link")
    page.wait_for_url(f"{base}{workload_path}terminal/")
    assert serious_violations(page, f"{base}/static/vendor/axe-core/axe.min.js") == []
    page.click(f'tr[data-pod="{second}"] a[data-container="app"]')
    pod_path = f"/clusters/{cluster.name}/namespaces/team-a/pods/{second}/terminal/"
    page.wait_for_url(f"{base}{pod_path}?container=app")
    expect(page.locator("#terminal-container")).to_have_value("app")
    page.click("#terminal-connect")
    expect(page.locator("#terminal .xterm-rows")).to_contain_text("/ # ")


def test_an_auditor_replays_a_recorded_session(
    http_portal,
    page,
    tenant,
    tenant_admin,
    cluster,  # noqa: F811
):
    from tests.console.test_terminal_sessions import make_session

    session = make_session(tenant, tenant_admin, pod="replayed")
    errors = []  # script errors and refused responses (the browser's own favicon probe aside)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if "Security Policy" in m.text else None)
    page.on("response", lambda r: errors.append(r.url) if r.status >= 400 else None)
    base = http_portal.url
    sign_in_at(page, base, "/audit/terminal-sessions/", "alice", tenant="acme")
    assert serious_violations(page, f"{base}/static/vendor/axe-core/axe.min.js") == []
    page.click(f'tr[data-session="{session.pk}"] a')
    page.wait_for_url(f"{base}/audit/terminal-sessions/{session.pk}/")
    expect(page.locator("#cast-player")).to_have_attribute("data-ready", "1")
    expect(page.locator("#cast-player .ap-player")).to_be_visible()
    page.locator("#cast-player .ap-player").click()  # play
    expect(page.locator("#cast-player")).to_contain_text("uid=0(root)", timeout=10000)
    assert errors == []
    assert serious_violations(page, f"{base}/static/vendor/axe-core/axe.min.js") == []
