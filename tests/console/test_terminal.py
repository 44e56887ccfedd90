"""The console's terminal page of a pod (apps/terminal/views.py) and its link on the pod page:
authorized like the websocket (execPod on the pod)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.accounts.session_store import SessionStore
from apps.accounts.sessions import AUTH_TIME
from tests.console.matrix import ConsoleMatrix
from tests.terminal.conftest import cluster, sim  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def terminal_url(cluster, namespace="team-a", name="web") -> str:  # noqa: F811
    return reverse(
        "console:pod-terminal",
        kwargs={"cluster": cluster.name, "namespace": namespace, "name": name},
    )


def logs_url(cluster, namespace="team-a", name="web") -> str:  # noqa: F811
    return reverse(
        "console:pod-logs", kwargs={"cluster": cluster.name, "namespace": namespace, "name": name}
    )


def pod_url(cluster, namespace="team-a", name="web") -> str:  # noqa: F811
    return reverse(
        "console:pod", kwargs={"cluster": cluster.name, "namespace": namespace, "name": name}
    )


class TestPodTerminalMatrix(ConsoleMatrix):
    """Opened by one who may execPod (platform-user), refused (console 403) to one who reads
    the pod but may not exec into it, 404 for another tenant."""

    url_name = "console:pod-terminal"
    expect = 'id="terminal"'
    no_permission = "read_only_user"
    object_page = True

    @pytest.fixture(autouse=True)
    def _cluster(self, request):
        self.cluster = request.getfixturevalue("cluster")

    def url_for(self, tenant) -> str:
        return terminal_url(self.cluster)


class TestPodLogsMatrix(ConsoleMatrix):
    """Opened by one who may getPodLog (even read-only), refused (console 403) to one who
    sees the cluster but nothing in it, 404 for another tenant."""

    url_name = "console:pod-logs"
    expect = 'id="logs"'
    reader = "read_only_user"
    no_permission = "cluster_only"
    object_page = True

    @pytest.fixture(autouse=True)
    def _cluster(self, request):
        self.cluster = request.getfixturevalue("cluster")

    def url_for(self, tenant) -> str:
        return logs_url(self.cluster)


def test_page_lists_the_containers_and_points_at_the_socket(client, cluster, member):  # noqa: F811
    client.force_login(member)
    page = client.get(terminal_url(cluster)).content.decode()
    assert '<option value="main" selected>main</option>' in page
    assert f'data-socket="/ws/clusters/{cluster.name}/namespaces/team-a/pods/web/exec"' in page
    assert "vendor/xterm/lib/xterm.js" in page and "console/terminal.js" in page


def test_project_member_may_not_open_another_projects_pod(client, cluster, project_member):  # noqa: F811
    client.force_login(project_member)
    assert client.get(terminal_url(cluster)).status_code == 200
    response = client.get(terminal_url(cluster, "team-b", "db"))
    assert response.status_code == 403
    assert 'id="terminal"' not in response.content.decode()


def test_a_stale_sign_in_is_asked_to_confirm_identity(client, cluster, member):  # noqa: F811
    client.force_login(member)
    store = SessionStore(session_key=client.cookies["sessionid"].value)
    store[AUTH_TIME] = store[AUTH_TIME] - 3600
    store.save()
    page = client.get(terminal_url(cluster)).content.decode()
    assert 'id="terminal-reauth"' in page and 'id="terminal"' not in page
    assert "/reauth/?next=" in page


def test_pod_page_links_to_the_terminal_only_for_exec(client, cluster, member, read_only_user):  # noqa: F811
    client.force_login(member)
    page = client.get(pod_url(cluster)).content.decode()
    assert f'id="pod-terminal-link" href="{terminal_url(cluster)}"' in page
    assert f'id="pod-logs-link" href="{logs_url(cluster)}"' in page
    client.force_login(read_only_user)
    page = client.get(pod_url(cluster)).content.decode()
    assert 'id="pod-container' in page and "pod-terminal-link" not in page
    assert f'id="pod-logs-link" href="{logs_url(cluster)}"' in page


def test_logs_page_points_at_the_logs_socket(client, cluster, read_only_user):  # noqa: F811
    client.force_login(read_only_user)
    page = client.get(logs_url(cluster)).content.decode()
    assert f'data-socket="/ws/clusters/{cluster.name}/namespaces/team-a/pods/web/logs"' in page
    assert '<option value="main" selected>main</option>' in page
