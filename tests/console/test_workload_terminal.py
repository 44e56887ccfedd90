"""A workload's terminal picker and live-logs page (apps/terminal/views.py) and their buttons on
the workload page: judged with the websockets' checks (get<Kind>, listPods, execPod or
getPodLog on the namespace's pods), pods chosen by the workload's own selector."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.authz.models import Binding, Policy
from tests.console.matrix import ConsoleMatrix
from tests.terminal.conftest import DUO, _api, cluster, deployment, running_pods, sim  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def _kwargs(cluster, namespace="team-a", name="api"):  # noqa: F811
    return {"cluster": cluster.name, "namespace": namespace, "kind": "deployments", "name": name}


def picker_url(cluster, namespace="team-a", name="api") -> str:  # noqa: F811
    return reverse("console:workload-terminal", kwargs=_kwargs(cluster, namespace, name))


def logs_url(cluster, namespace="team-a", name="api") -> str:  # noqa: F811
    return reverse("console:workload-logs", kwargs=_kwargs(cluster, namespace, name))


def workload_url(cluster) -> str:  # noqa: F811
    return reverse("console:workload", kwargs=_kwargs(cluster))


class TestWorkloadTerminalMatrix(ConsoleMatrix):
    """Opened by one who may execPod in the namespace, refused (console 403) to one who reads
    everything but may not exec, 404 for another tenant."""

    url_name = "console:workload-terminal"
    expect = 'id="workload-terminal-pods"'
    no_permission = "read_only_user"
    object_page = True

    @pytest.fixture(autouse=True)
    def _deployment(self, request):
        self.cluster = request.getfixturevalue("cluster")
        request.getfixturevalue("deployment")

    def url_for(self, tenant) -> str:
        return picker_url(self.cluster)


class TestWorkloadLogsMatrix(ConsoleMatrix):
    """Opened by one who may follow the pods' logs (even read-only), refused (console 403) to
    one who sees the cluster but nothing in it, 404 for another tenant."""

    url_name = "console:workload-logs"
    expect = 'id="logs"'
    reader = "read_only_user"
    no_permission = "cluster_only"
    object_page = True

    @pytest.fixture(autouse=True)
    def _deployment(self, request):
        self.cluster = request.getfixturevalue("cluster")
        request.getfixturevalue("deployment")

    def url_for(self, tenant) -> str:
        return logs_url(self.cluster)


def test_the_workload_page_offers_terminal_and_logs_to_who_may_use_them(
    client,
    cluster,  # noqa: F811
    deployment,  # noqa: F811
    member,
    read_only_user,
):
    client.force_login(member)
    page = client.get(workload_url(cluster)).content.decode()
    assert f'href="{picker_url(cluster)}" id="workload-terminal-link"' in page
    assert f'href="{logs_url(cluster)}" id="workload-logs-link"' in page
    client.force_login(read_only_user)
    page = client.get(workload_url(cluster)).content.decode()
    assert 'id="workload-summary"' in page  # the page itself, without the terminal
    assert "workload-terminal-link" not in page
    assert f'href="{logs_url(cluster)}" id="workload-logs-link"' in page


def test_no_logs_button_when_pod_logs_are_denied(client, cluster, deployment, member, tenant):  # noqa: F811
    policy = Policy.objects.create(
        tenant=tenant,
        name="no-logs",
        statements=[{"actions": ["getPodLog"], "resources": ["*"], "effect": "deny"}],
    )
    Binding.objects.create(tenant=tenant, user=member, policy=policy)
    client.force_login(member)
    page = client.get(workload_url(cluster)).content.decode()
    assert 'id="workload-terminal-link"' in page and "workload-logs-link" not in page
    assert client.get(logs_url(cluster)).status_code == 403


def test_picker_offers_each_running_pods_containers(client, cluster, deployment, member):  # noqa: F811
    client.force_login(member)
    page = client.get(picker_url(cluster)).content.decode()
    for pod in deployment:
        terminal = reverse(
            "console:pod-terminal",
            kwargs={"cluster": cluster.name, "namespace": "team-a", "name": pod},
        )
        assert f'<tr data-pod="{pod}">' in page
        assert f'href="{terminal}?container=app" data-container="app"' in page
    assert page.count("<tr data-pod=") == 2  # the deployment's pods, not team-a/web
    assert "workload-terminal-left-out" not in page


def test_a_pod_without_exec_is_not_offered(client, cluster, deployment, member, tenant):  # noqa: F811
    first, second = deployment
    policy = Policy.objects.create(
        tenant=tenant,
        name="not-first",
        statements=[
            {
                "actions": ["execPod"],
                "resources": [f"cluster:*/namespace:team-a/pod:{first}"],
                "effect": "deny",
            }
        ],
    )
    Binding.objects.create(tenant=tenant, user=member, policy=policy)
    client.force_login(member)
    page = client.get(picker_url(cluster)).content.decode()
    assert f'<tr data-pod="{second}">' in page and first not in page
    assert "1 running pod is not listed" in page


def test_another_projects_workload_is_refused(client, cluster, project_member):  # noqa: F811
    client.force_login(project_member)
    for url in (picker_url(cluster, "team-b", "db"), logs_url(cluster, "team-b", "db")):
        response = client.get(url)
        assert response.status_code == 403
        assert "getDeployment" in response.content.decode()


def test_logs_page_points_at_the_workload_socket(client, cluster, deployment, read_only_user):  # noqa: F811
    client.force_login(read_only_user)
    page = client.get(logs_url(cluster)).content.decode()
    socket = f"/ws/clusters/{cluster.name}/namespaces/team-a/workloads/deployments/api/logs"
    assert f'data-socket="{socket}"' in page
    assert '<option value="*" selected>All containers</option>' in page
    assert '<option value="app">app</option>' in page
    for pod in deployment:
        assert f'<option value="{pod}">{pod}</option>' in page
    assert f'href="{workload_url(cluster)}"' in page


def test_pod_logs_page_offers_all_containers_only_with_several(client, cluster, member):  # noqa: F811
    client.force_login(member)
    url = reverse(
        "console:pod-logs", kwargs={"cluster": cluster.name, "namespace": "team-a", "name": "web"}
    )
    page = client.get(url).content.decode()
    assert '<option value="main" selected>main</option>' in page
    assert 'value="*"' not in page  # one container: nothing to add


def test_pod_logs_page_offers_all_containers_with_several(client, cluster, sim, member):  # noqa: F811
    from kubernetes import client as kclient

    with _api(sim) as api:
        kclient.CoreV1Api(api).create_namespaced_pod("team-a", DUO)
    running_pods(sim, selector="", count=2)  # web and duo
    client.force_login(member)
    url = reverse(
        "console:pod-logs", kwargs={"cluster": cluster.name, "namespace": "team-a", "name": "duo"}
    )
    page = client.get(url).content.decode()
    assert '<option value="*">All containers</option>' in page
    assert '<option value="main" selected>main</option>' in page
    assert '<option value="side">side</option>' in page
