"""The node page's Shell button and the node shell page (apps/console/views/clusters.py
NodeShellView): shown and opened only for ``execNode``, which no wildcard grants — the platform
administrator has it, a tenant administrator does not unless bound to a policy naming it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.authz import services as authz
from tests.console.test_clusters import ClusterPageMatrix, cluster  # noqa: F401
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

BUTTON = 'id="node-shell"'


def node_url(cluster, name="node-1") -> str:  # noqa: F811
    return reverse("console:node", kwargs={"cluster": cluster.name, "name": name})


def shell_url(cluster, name="node-1") -> str:  # noqa: F811
    return reverse("console:node-shell", kwargs={"cluster": cluster.name, "name": name})


@pytest.fixture
def node_operator(tenant, platform_admin):
    """A tenant user the platform administrator bound to a policy naming execNode."""
    user = UserFactory(tenant=tenant, username="nora")
    policy = authz.create_policy(
        actor=platform_admin,
        tenant=tenant,
        name="node-shell",
        statements=[
            {"actions": ["getCluster", "getNode"], "resources": ["cluster:*"]},
            {"actions": ["execNode"], "resources": ["cluster:*/node:node-1"]},
        ],
    )
    authz.create_binding(actor=platform_admin, tenant=tenant, user=user, policy=policy)
    return user


class TestNodeShellMatrix(ClusterPageMatrix):
    """Opened by the platform administrator; the tenant administrator (who may do everything
    else on the node) gets the console's 403; 404 for another tenant."""

    url_name = "console:node-shell"
    kwargs = {"name": "node-1"}
    expect = 'id="node-shell-warning"'
    reader = "platform_admin"
    no_permission = "tenant_admin"


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("platform_admin", True),
        ("node_operator", True),
        ("tenant_admin", False),
        ("member", False),
        ("read_only_user", False),
    ],
)
def test_the_shell_button_is_shown_only_to_exec_node_holders(client, cluster, request, who, sees):  # noqa: F811
    client.force_login(request.getfixturevalue(who))
    response = client.get(node_url(cluster))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="node-info"' in page
    assert (BUTTON in page) is sees
    assert (f'href="{shell_url(cluster)}"' in page) is sees


def test_the_operators_grant_is_for_the_node_it_names(client, cluster, node_operator):  # noqa: F811
    client.force_login(node_operator)
    assert client.get(shell_url(cluster)).status_code == 200
    assert client.get(shell_url(cluster, "node-2")).status_code == 403
    assert BUTTON not in client.get(node_url(cluster, "node-2")).content.decode()


def test_the_page_opens_the_node_shell_socket_with_the_terminal_script(
    client,
    cluster,  # noqa: F811
    platform_admin,
):
    client.force_login(platform_admin)
    page = client.get(shell_url(cluster)).content.decode()
    assert f'data-socket="/ws/clusters/{cluster.name}/nodes/node-1/shell"' in page
    assert "vendor/xterm/lib/xterm.js" in page and "console/terminal.js" in page
    assert "busybox:1.37" in page and "kube-system" in page
    # no container or command to pick: the node shell's command is fixed
    assert 'id="terminal-container"' not in page and 'id="terminal-command"' not in page
