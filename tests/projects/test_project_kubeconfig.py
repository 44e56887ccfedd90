"""``POST /api/v1/projects/<p>/kubeconfig``: one context per cluster the project spans, each
defaulting to the project's first namespace there, each with its own key limited to that
cluster — and it works with the real kubectl through the portal's proxy."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import requests
import yaml

from apps.accounts.authentication import authenticate_api_key
from apps.accounts.models import APIKey
from apps.audit.models import AuditEvent
from apps.authz.services import create_policy
from apps.clusters import k8s
from apps.clusters import services as cluster_services
from tests.conftest import PROJECT, persona
from tests.factories import make_api_key, make_cluster
from tests.live import *  # noqa: F403
from tests.live import Kubectl, pod_manifest, proxy_events, wait_for
from tests.projects.test_projects_api import add_namespace, make_project


def url(name=PROJECT, **query) -> str:
    suffix = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/api/v1/projects/{name}/kubeconfig" + (f"?{suffix}" if suffix else "")


@pytest.mark.django_db
def test_project_kubeconfig_permissions(
    anon_client, api, tenant, viewer, other_user, project_viewer, project_member
):
    """Anonymous 401; a project the user cannot see (viewer, other tenant, another project's
    member) 404; denied getProjectKubeconfig 403; whoever may read the project 200."""
    one, two = make_cluster(tenant, "one"), make_cluster(tenant, "two")
    project = make_project(tenant, PROJECT, {one: {}, two: {}})
    other = make_project(tenant, "prj-other", {one: {}})
    add_namespace(project, two, "web", {})
    add_namespace(project, two, "api", {})
    no_config = create_policy(
        actor=None,
        tenant=tenant,
        name="no-kubeconfig",
        scope="project",
        statements=[
            {"actions": ["get*", "list*"], "resources": ["*"], "effect": "allow"},
            {"actions": ["getProjectKubeconfig"], "resources": ["*"], "effect": "deny"},
        ],
    )
    cora = persona(tenant, "cora", no_config.name, PROJECT)

    assert anon_client.post(url()).status_code == 401
    for user in (viewer, other_user):
        hidden = api(user).post(url())
        assert hidden.status_code == 404, (user, hidden.content)
        assert hidden.json()["code"] == "not_found"
    assert api(project_member).post(url(other.name)).status_code == 404
    denied = api(cora).post(url())
    assert denied.status_code == 403, denied.content
    assert "getProjectKubeconfig" in denied.json()["detail"]
    assert not APIKey.objects.filter(description__startswith="kubeconfig for")

    response = api(project_viewer).post(url(), {"expires_in": "30m"})
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    config = yaml.safe_load(body["kubeconfig"])
    by_cluster = {c["context"]["cluster"]: c for c in config["contexts"]}
    assert sorted(by_cluster) == sorted([one.name, two.name]) == body["clusters"]
    assert by_cluster[two.name]["context"]["namespace"] == "api"  # the first, by name
    assert "namespace" not in by_cluster[one.name]["context"]  # none there yet
    assert config["current-context"] == config["contexts"][0]["name"]
    # one key per cluster, each limited to its cluster, same lifetime
    keys = {}
    for entry in config["users"]:
        key = authenticate_api_key(entry["user"]["token"])
        keys[key.cluster.name] = key
        assert key.user == project_viewer
        assert timedelta(minutes=29) < key.expires_at - key.created_at <= timedelta(minutes=30)
    assert sorted(keys) == sorted([one.name, two.name])
    servers = {c["name"]: c["cluster"]["server"] for c in config["clusters"]}
    assert servers[two.name].endswith(f"/k8s/clusters/{two.name}")
    events = AuditEvent.objects.filter(action="getProjectKubeconfig")
    assert [(e.resource, e.status_code) for e in events.order_by("id")][-1] == (
        f"project:{PROJECT}",
        200,
    )
    for entry in config["users"]:
        assert entry["user"]["token"] not in str(list(AuditEvent.objects.values()))


@pytest.mark.django_db
def test_lifetime_rules_are_the_cluster_kubeconfigs(api, tenant, project_member):
    one = make_cluster(tenant, "one")
    make_project(tenant, PROJECT, {one: {}})
    empty = make_project(tenant, "prj-empty")
    from tests.factories import bind

    bind(project_member, "project-member", empty.name)
    client = api(project_member)
    too_long = client.post(url(), {"expires_in": "30d"})
    assert too_long.status_code == 400 and "expires_in" in too_long.json()["fields"]
    # the calling key (1h) caps the default
    capped = client.post(url())
    assert capped.status_code == 200
    token = yaml.safe_load(capped.json()["kubeconfig"])["users"][0]["user"]["token"]
    calling = APIKey.objects.filter(user=project_member, cluster=None).latest("id")
    assert authenticate_api_key(token).expires_at <= calling.expires_at
    nothing = client.post(url("prj-empty"))
    assert nothing.status_code == 400
    assert "spans no cluster" in nothing.json()["detail"]
    as_yaml = client.post(url(format="yaml"))
    assert as_yaml["Content-Type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.content)["kind"] == "Config"


# -- the real kubectl through the proxy -------------------------------------------------------
@pytest.fixture
def second_cluster(kube_sim, tenant, member):
    handle = kube_sim.add_cluster(f"py{uuid.uuid4().hex[:6]}", nodes=1, seed=False)
    handle.ca_data = open(handle.ca_file).read()  # noqa: SIM115
    spec = k8s.Connection(server=handle.url, token=handle.token, ca_data=handle.ca_data)
    yield cluster_services.import_cluster(
        actor=member, tenant=tenant, display_name="second", spec=spec
    )
    kube_sim.remove_cluster(handle.name)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("live_state")
def test_kubectl_with_the_project_kubeconfig(
    portal, bob, cluster, second_cluster, project_member, tenant, tmp_path
):
    """A project member downloads the project's kubeconfig: kubectl lists one context per
    cluster with the project's namespace as default, and ``kubectl get pods`` in it shows the
    project's pod while another namespace on the same cluster is refused."""
    mine, theirs = f"p-{uuid.uuid4().hex[:6]}", f"q-{uuid.uuid4().hex[:6]}"
    for ns in (mine, theirs):
        bob("create", "namespace", ns)
        bob("apply", "-n", ns, "-f", "-", stdin=pod_manifest(f"box-{ns}"))
    project = make_project(tenant, PROJECT, {cluster: {}, second_cluster: {}})
    other = make_project(tenant, "prj-other", {cluster: {}})
    add_namespace(project, cluster, mine, {})
    add_namespace(other, cluster, theirs, {})

    _, plaintext = make_api_key(project_member, expires_in=timedelta(days=1))
    response = requests.post(
        f"{portal.url}{url()}",
        json={"expires_in": "1h"},
        headers={"Authorization": f"Bearer {plaintext}", "Accept": "application/yaml"},
        verify=portal.ca_file,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    config = yaml.safe_load(response.text)
    token = config["users"][0]["user"]["token"]
    kubectl = Kubectl(response.text, tmp_path / "pete", token)

    contexts = kubectl("config", "get-contexts", "--no-headers").stdout.splitlines()
    rows = {line.replace("*", " ").split()[0]: line.replace("*", " ").split() for line in contexts}
    assert set(rows) == {cluster.name, second_cluster.name}
    assert rows[cluster.name][1:] == [cluster.name, f"pete@{cluster.name}", mine]
    assert len(rows[second_cluster.name]) == 3  # no namespace of the project there yet

    kubectl("config", "use-context", cluster.name)
    pods = kubectl("get", "pods", "--no-headers").stdout
    assert f"box-{mine}" in pods and f"box-{theirs}" not in pods
    refused = kubectl("get", "pods", "-n", theirs, check=False)
    assert refused.returncode != 0 and "forbidden" in refused.stderr.lower()
    listed = wait_for(
        lambda: proxy_events(action="listPods", status_code=200, user=project_member).first(),
        "the proxy's audit row",
    )
    assert listed.resource == f"cluster:{cluster.name}/namespace:{mine}/pod:*"
