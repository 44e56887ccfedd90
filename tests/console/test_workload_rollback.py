"""The workload page's revisions and rollback for StatefulSets and DaemonSets (their
ControllerRevisions), with the same HTMX flow, authorization and audit as Deployments."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.clusters import resources, services
from tests.console.test_forms import fetch, import_cluster
from tests.console.test_workloads import create, deployment, page_url, wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def live(kube_sim):
    """A kubesim cluster with its controllers (StatefulSets and DaemonSets keep revisions)."""
    import uuid

    handle = kube_sim.add_cluster(f"rb{uuid.uuid4().hex[:8]}", nodes=2, controller=True)
    handle.ca_data = open(handle.ca_file).read()  # noqa: SIM115
    yield handle
    kube_sim.remove_cluster(handle.name)


@pytest.fixture
def cluster(tenant, live):
    return import_cluster(tenant, live)


KINDS = [("statefulsets", "StatefulSet"), ("daemonsets", "DaemonSet")]


def workload(plural: str, name: str, image: str) -> dict:
    body = deployment(name, image=image, replicas=1)
    if plural == "daemonsets":
        body["spec"].pop("replicas")
    else:
        body["spec"]["serviceName"] = name
    return body


def history(cluster, plural, name):
    with services.client_for(cluster) as kube:
        return resources.revisions(kube, resources.KINDS[plural], "default", name)


def set_image(cluster, plural, name, image):
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}
    with services.client_for(cluster) as kube:
        resources.patch_object(kube, resources.KINDS[plural], "default", name, patch)


def three_revisions(cluster, plural, name="keeper"):
    create(cluster, plural, workload(plural, name, "nginx:1"))
    wait_for(lambda: history(cluster, plural, name))
    for n, image in ((2, "nginx:2"), (3, "nginx:3")):
        set_image(cluster, plural, name, image)
        wait_for(lambda n=n: (h := history(cluster, plural, name)) and h[0]["revision"] == n)


@pytest.mark.parametrize("plural, kind", KINDS)
def test_rollback_to_a_chosen_revision(client, tenant_admin, cluster, plural, kind):
    three_revisions(cluster, plural)
    client.force_login(tenant_admin)
    page = client.get(page_url(cluster, "keeper", kind=plural)).content.decode()
    assert 'data-revision="3"' in page and 'data-revision="1"' in page
    assert 'data-rollback="1"' in page and 'data-rollback="2"' in page
    assert 'data-rollback="3"' not in page  # the current one
    assert 'id="workload-revision">3<' in page
    assert "nginx:1" in page and "nginx:3" in page
    response = client.post(
        page_url(cluster, "keeper", kind=plural, op="rollback"),
        {"revision": "1"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200, body[:500]
    assert "Rolled back to revision 1." in body
    assert 'id="workload-body"' in body and response["HX-Push-Url"].endswith("/keeper/")
    live_obj = fetch(cluster, plural, "keeper")
    assert live_obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1"
    assert "$patch" not in live_obj["spec"]["template"]
    rows = wait_for(
        lambda: (h := history(cluster, plural, "keeper")) and h[0]["revision"] == 4 and h
    )
    assert rows[0]["images"] == ["nginx:1"] and rows[0]["current"]
    event = AuditEvent.objects.filter(action=f"rollback{kind}").latest("created_at")
    assert event.resource == f"cluster:{cluster.name}/namespace:default/{kind.lower()}:keeper"
    assert event.user == tenant_admin and event.channel == "console"
    missing = client.post(
        page_url(cluster, "keeper", kind=plural, op="rollback"),
        {"revision": "99"},
        HTTP_HX_REQUEST="true",
    )
    assert missing.status_code == 400 and "Revision 99 not found" in missing.content.decode()


@pytest.mark.parametrize("plural, kind", KINDS)
def test_rollback_is_refused_without_the_action(client, read_only_user, cluster, plural, kind):
    create(cluster, plural, workload(plural, "keeper", "nginx:1"))
    wait_for(lambda: history(cluster, plural, "keeper"))
    set_image(cluster, plural, "keeper", "nginx:2")
    wait_for(lambda: len(history(cluster, plural, "keeper")) == 2)
    client.force_login(read_only_user)
    page = client.get(page_url(cluster, "keeper", kind=plural)).content.decode()
    assert 'data-revision="1"' in page and 'data-revision="2"' in page  # may read the history
    assert "data-rollback=" not in page  # but is offered no rollback
    refused = client.post(
        page_url(cluster, "keeper", kind=plural, op="rollback"), {"revision": "1"}
    )
    assert refused.status_code == 403 and 'id="why-link"' in refused.content.decode()
    assert f"rollback{kind}" in refused.content.decode()
    image = fetch(cluster, plural, "keeper")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "nginx:2"
    event = AuditEvent.objects.filter(action=f"rollback{kind}").latest("created_at")
    assert event.user == read_only_user and event.status_code == 403


def test_jobs_have_no_rollback(client, tenant_admin, cluster):
    client.force_login(tenant_admin)
    response = client.post(page_url(cluster, "x", kind="jobs", op="rollback"), {"revision": "1"})
    assert response.status_code == 404
