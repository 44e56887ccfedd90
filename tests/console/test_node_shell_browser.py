"""The node shell in a real browser against kubesim: the platform administrator opens it from
the node page, runs a command on the node through xterm.js and exits; the node's debug pod
exists while the shell does and is gone after."""

from __future__ import annotations

import pytest
from kubernetes import client as kclient
from playwright.sync_api import expect

from apps.terminal import nodeshell
from apps.terminal.models import TerminalSession
from tests.browser import *  # noqa: F403
from tests.browser import sign_in_at
from tests.console.test_console_browser import serious_violations
from tests.terminal.conftest import cluster, sim  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)


def shell_pods(sim) -> list[str]:  # noqa: F811
    config = kclient.Configuration(host=sim.url)
    config.ssl_ca_cert = sim.ca_file
    config.api_key = {"authorization": f"Bearer {sim.token}"}
    with kclient.ApiClient(config) as api_client:
        pods = kclient.CoreV1Api(api_client).list_namespaced_pod(
            "kube-system", label_selector=f"{nodeshell.LABEL}=true"
        )
    return [p.metadata.name for p in pods.items]


def test_the_platform_admin_opens_a_node_shell_from_the_node_page(
    http_portal,
    page,
    tenant,
    platform_admin,
    cluster,  # noqa: F811
    sim,  # noqa: F811
):
    base = http_portal.url
    node_path = f"/clusters/{cluster.name}/nodes/node-1/"
    sign_in_at(page, base, node_path, "operator")
    page.click("#node-shell")
    page.wait_for_url(f"{base}{node_path}shell/")
    assert serious_violations(page, f"{base}/static/vendor/axe-core/axe.min.js") == []

    rows, box = page.locator("#terminal .xterm-rows"), page.locator("#terminal")
    page.click("#terminal-connect")
    expect(rows).to_contain_text("/ # ")
    assert "recorded and audited" in page.inner_text("#terminal-status")
    assert len(shell_pods(sim)) == 1
    page.keyboard.type("hostname\n")
    expect(rows).to_contain_text("node-1")
    page.keyboard.type("exit\n")
    expect(box).to_have_attribute("data-closed", "1")
    assert "exit status 0" in page.inner_text("#terminal-status")
    (session,) = TerminalSession.objects.all()
    assert (session.username, session.node, session.exit_code) == ("operator", "node-1", 0)
    assert shell_pods(sim) == []
