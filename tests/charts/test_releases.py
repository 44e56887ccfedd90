"""Releases: a real chart (packaged with the Helm v4 SDK) installed into a project namespace of
a kubesim cluster through the portal's API, upgraded, failed, rolled back and uninstalled; the
authorization of the release and of every object it writes; values validated by the chart's
schema; other tenants 404; an unreachable cluster."""

from __future__ import annotations

import json
import textwrap
import time
import uuid
from pathlib import Path

import helm_python
import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEvent
from apps.authz.models import Binding, Policy
from apps.charts import releases
from apps.charts.choices import ReleaseStatus
from apps.charts.models import (
    Chart,
    ChartArchive,
    ChartGroup,
    ChartVersion,
    Release,
    ReleaseRevision,
)
from apps.clusters import k8s, services
from apps.clusters.masking import MASK
from apps.core.errors import Conflict
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from tests.conftest import PROJECT, persona
from tests.factories import UserFactory, make_cluster
from tests.matrix import APIMatrix

pytestmark = pytest.mark.django_db

NAMESPACE = "team-a"

CHART_YAML = """\
apiVersion: v2
name: web
description: A web server with its page, for the release tests
type: application
version: 1.0.0
appVersion: "2.0"
"""
VALUES_YAML = """\
replicas: 1
image: nginx:1.27
message: hello
tier: frontend
password: s3cret-default
service:
  enabled: true
  port: 80
"""
SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "replicas": {"type": "integer", "minimum": 0, "maximum": 20},
        "image": {"type": "string"},
        "message": {"type": "string"},
        "tier": {"type": "string"},
        "password": {"type": "string"},
        "service": {
            "type": "object",
            "properties": {"enabled": {"type": "boolean"}, "port": {"type": "integer"}},
        },
    },
    "required": ["replicas", "image"],
}
TEMPLATES = {
    "configmap.yaml": """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ .Release.Name }}-page
          labels:
            app.kubernetes.io/instance: {{ .Release.Name }}
        data:
          index.html: {{ printf "<h1>%s</h1>" .Values.message | quote }}
          revision: {{ .Release.Revision | quote }}
        """,
    "secret.yaml": """\
        apiVersion: v1
        kind: Secret
        metadata:
          name: {{ .Release.Name }}-auth
        type: Opaque
        stringData:
          password: {{ .Values.password | quote }}
        """,
    "deployment.yaml": """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{ .Release.Name }}-web
          namespace: somewhere-else
          labels:
            app.kubernetes.io/instance: {{ .Release.Name }}
            app.kubernetes.io/managed-by: {{ .Release.Service }}
            tier: {{ .Values.tier | quote }}
        spec:
          replicas: {{ .Values.replicas }}
          selector:
            matchLabels:
              app.kubernetes.io/instance: {{ .Release.Name }}
          template:
            metadata:
              labels:
                app.kubernetes.io/instance: {{ .Release.Name }}
            spec:
              containers:
                - name: web
                  image: {{ .Values.image | quote }}
                  ports:
                    - name: http
                      containerPort: 80
        """,
    "service.yaml": """\
        {{- if .Values.service.enabled }}
        apiVersion: v1
        kind: Service
        metadata:
          name: {{ .Release.Name }}
        spec:
          selector:
            app.kubernetes.io/instance: {{ .Release.Name }}
          ports:
            - name: http
              port: {{ .Values.service.port }}
              targetPort: http
        {{- end }}
        """,
    "NOTES.txt": "{{ .Release.Name }} is installed; open its Service.\n",
    "tests/test-connection.yaml": """\
        apiVersion: v1
        kind: Pod
        metadata:
          name: {{ .Release.Name }}-test
          annotations:
            "helm.sh/hook": test
        spec:
          containers:
            - name: wget
              image: busybox
        """,
}


def package_chart(
    root: Path, name="web", extra_templates=None, crds=None, version=None, without=()
) -> bytes:
    """A chart directory written out and packaged by the Helm v4 SDK: the .tgz bytes."""
    source = root / name
    (source / "templates" / "tests").mkdir(parents=True)
    (source / "Chart.yaml").write_text(CHART_YAML.replace("name: web", f"name: {name}"))
    (source / "values.yaml").write_text(VALUES_YAML)
    (source / "values.schema.json").write_text(json.dumps(SCHEMA))
    for path, text in {**TEMPLATES, **(extra_templates or {})}.items():
        if path in without:
            continue
        (source / "templates" / path).write_text(textwrap.dedent(text))
    if crds:
        (source / "crds").mkdir()
        for path, text in crds.items():
            (source / "crds" / path).write_text(text)
    packaged = helm_python.package(source, destination=root, version=version)
    return Path(packaged).read_bytes()


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> bytes:
    return package_chart(tmp_path_factory.mktemp("chart"))


def store_chart(tenant, archive: bytes, *, group="apps", name="web", project=None, **fields):
    """A chart group, chart, version and archive as the charts app stores an upload."""
    with helm_python.Chart.load_archive(archive) as chart:
        metadata = chart.metadata
    group_row, _ = ChartGroup.objects.get_or_create(
        tenant=tenant,
        name=group,
        defaults={"visibility": "project" if project else "user", "project": project, **fields},
    )
    chart_row, _ = Chart.objects.get_or_create(group=group_row, name=name)
    version = ChartVersion.objects.create(
        chart=chart_row,
        version=metadata["version"],
        app_version=metadata.get("appVersion", ""),
        metadata=metadata,
        digest="0" * 64,
        size=len(archive),
    )
    ChartArchive.objects.create(version=version, data=archive)
    return version


@pytest.fixture
def sim(kube_sim):
    handle = kube_sim.add_cluster(f"h{uuid.uuid4().hex[:8]}", nodes=2, controller=True)
    handle.ca_data = open(handle.ca_file).read()  # noqa: SIM115
    yield handle
    kube_sim.remove_cluster(handle.name)


@pytest.fixture
def cluster(tenant, sim):
    spec = k8s.Connection(server=sim.url, token=sim.token, ca_data=sim.ca_data)
    cluster = services.import_cluster(actor=None, tenant=tenant, display_name="sim", spec=spec)
    with services.client_for(cluster) as client:
        client.request("POST", "/api/v1/namespaces", body={"metadata": {"name": NAMESPACE}})
    return cluster


@pytest.fixture
def project(tenant, cluster):
    project = Project.objects.create(tenant=tenant, name=PROJECT, display_name="Test")
    ProjectCluster.objects.create(project=project, cluster=cluster, hard={})
    ProjectNamespace.objects.create(
        tenant=tenant, project=project, cluster=cluster, namespace=NAMESPACE, hard={}
    )
    return project


@pytest.fixture
def chart_version(tenant, project, archive):
    return store_chart(tenant, archive, project=project)


def base(cluster, namespace=NAMESPACE):
    return f"/api/v1/clusters/{cluster.name}/namespaces/{namespace}/releases/"


CHART = {"chart_group": "apps", "chart": "web", "version": "1.0.0"}


def live(cluster, path):
    """The object as the cluster holds it, or None (asked directly, not through the API)."""
    with services.client_for(cluster) as client:
        try:
            return client.get(path)
        except k8s.ClusterNotFound:
            return None


def deployment(cluster, name="demo-web"):
    return live(cluster, f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{name}")


def configmap(cluster, name="demo-page"):
    return live(cluster, f"/api/v1/namespaces/{NAMESPACE}/configmaps/{name}")


def service(cluster, name="demo"):
    return live(cluster, f"/api/v1/namespaces/{NAMESPACE}/services/{name}")


def wait_for(predicate, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def statuses(release_json):
    return {r["revision"]: r["status"] for r in release_json["revisions"]}


# -- the life of a release -----------------------------------------------------------------------
def test_install_upgrade_failed_upgrade_rollback_and_uninstall(
    api, project_member, cluster, chart_version
):
    client = api(project_member)
    # given / when: installed into the project namespace with values
    created = client.post(
        base(cluster),
        {"name": "demo", "chart": CHART, "values": {"replicas": 2, "message": "hi"}},
        format="json",
    )
    # then
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["status"], body["revision"], body["project"]) == ("deployed", 1, PROJECT)
    assert (body["chart_group"], body["chart_name"], body["chart_version_name"]) == (
        "apps",
        "web",
        "1.0.0",
    )
    assert statuses(body) == {1: "deployed"}
    assert body["values_visible"] is True
    assert body["revisions"][0]["values"] == {"replicas": 2, "message": "hi"}
    dep = deployment(cluster)
    assert dep["spec"]["replicas"] == 2
    meta = dep["metadata"]
    assert meta["namespace"] == NAMESPACE  # forced out of the template's "somewhere-else"
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "tke-portal"
    assert meta["annotations"]["meta.helm.sh/release-name"] == "demo"
    assert meta["annotations"]["meta.helm.sh/release-namespace"] == NAMESPACE
    assert configmap(cluster)["data"] == {"index.html": "<h1>hi</h1>", "revision": "1"}
    assert service(cluster)["spec"]["ports"][0]["port"] == 80
    # the test hook is left for `helm test`, NOTES.txt is not an object
    assert live(cluster, f"/api/v1/namespaces/{NAMESPACE}/pods/demo-test") is None
    wait_for(
        lambda: (deployment(cluster).get("status") or {}).get("readyReplicas") == 2,
        "the Deployment's two pods to run",
    )
    install_audit = AuditEvent.objects.get(action="createRelease")
    assert install_audit.resource == f"cluster:{cluster.name}/namespace:{NAMESPACE}/release:demo"
    assert install_audit.status_code == 201
    assert install_audit.request_body["values"] == "[redacted]"  # values may hold passwords
    assert install_audit.request_body["name"] == "demo"

    # when: upgraded with new values, the Service's template rendering nothing now
    upgraded = client.patch(
        f"{base(cluster)}demo/",
        {"values": {"replicas": 3, "message": "bye", "service": {"enabled": False}}},
        format="json",
    )
    # then
    assert upgraded.status_code == 200, upgraded.content
    assert statuses(upgraded.json()) == {2: "deployed", 1: "superseded"}
    assert upgraded.json()["revision"] == 2
    assert deployment(cluster)["spec"]["replicas"] == 3
    assert configmap(cluster)["data"] == {"index.html": "<h1>bye</h1>", "revision": "2"}
    assert service(cluster) is None  # no longer rendered: deleted
    assert AuditEvent.objects.get(action="updateRelease").resource.endswith("/release:demo")

    # when: an upgrade the cluster refuses (an invalid label value on the Deployment, applied
    # after the ConfigMap, which it changes too)
    failed = client.post(
        f"{base(cluster)}demo/upgrade/",
        {"values": {"message": "never", "tier": "not valid!"}, "reuse_values": True},
        format="json",
    )
    # then: revision 3 failed with the cluster's message; revision 2 still live
    assert failed.status_code == 422, failed.content
    assert "Deployment/team-a/demo-web" in failed.json()["detail"]
    state = client.get(f"{base(cluster)}demo/").json()
    assert statuses(state) == {3: "failed", 2: "deployed", 1: "superseded"}
    assert (state["status"], state["revision"]) == ("failed", 2)
    third = next(r for r in state["revisions"] if r["revision"] == 3)
    assert third["description"].startswith("Upgrade failed: Deployment/team-a/demo-web")
    assert "not valid!" in third["description"]
    assert third["values"] == {
        "replicas": 3,
        "message": "never",
        "service": {"enabled": False},
        "tier": "not valid!",
    }
    assert configmap(cluster)["data"] == {"index.html": "<h1>bye</h1>", "revision": "2"}
    assert deployment(cluster)["metadata"]["labels"]["tier"] == "frontend"
    assert deployment(cluster)["spec"]["replicas"] == 3

    # when: rolled back to revision 1
    rolled = client.post(f"{base(cluster)}demo/rollback/", {"revision": 1}, format="json")
    # then: revision 4 holds revision 1's manifest and values
    assert rolled.status_code == 200, rolled.content
    assert statuses(rolled.json()) == {4: "deployed", 3: "failed", 2: "superseded", 1: "superseded"}
    assert (rolled.json()["status"], rolled.json()["revision"]) == ("deployed", 4)
    fourth = rolled.json()["revisions"][0]
    assert fourth["description"] == "Rollback to 1 complete"
    assert fourth["values"] == {"replicas": 2, "message": "hi"}
    manifests = {
        n: client.get(f"{base(cluster)}demo/manifest/?revision={n}").json() for n in (1, 4)
    }
    assert manifests[4]["objects"] == manifests[1]["objects"]
    assert deployment(cluster)["spec"]["replicas"] == 2
    assert configmap(cluster)["data"] == {"index.html": "<h1>hi</h1>", "revision": "1"}
    assert service(cluster) is not None  # revision 1 had it: back
    assert AuditEvent.objects.get(action="rollbackRelease").resource.endswith("/release:demo")

    # when: uninstalled
    gone = client.delete(f"{base(cluster)}demo/")
    # then: the objects are deleted; the release stays as history
    assert gone.status_code == 204, gone.content
    assert deployment(cluster) is None and configmap(cluster) is None and service(cluster) is None
    assert live(cluster, f"/api/v1/namespaces/{NAMESPACE}/secrets/demo-auth") is None
    history = client.get(f"{base(cluster)}demo/").json()
    assert (history["status"], history["revision"]) == ("uninstalled", 0)
    assert "deployed" not in statuses(history).values() and len(history["revisions"]) == 4
    assert AuditEvent.objects.get(action="deleteRelease").status_code == 204

    # and installed again: the next revision number
    again = client.post(base(cluster), {"name": "demo", "chart": CHART}, format="json")
    assert again.status_code == 201, again.content
    assert (again.json()["revision"], again.json()["status"]) == (5, "deployed")
    assert deployment(cluster)["spec"]["replicas"] == 1  # the chart's default


def test_dry_run_renders_and_diffs_without_changing_anything(api, tenant, cluster, chart_version):
    """A dry run by a user who may install but not revealSecret: the rendered objects and
    the server's dry-run diffs, the Secret's value masked; nothing applied or recorded."""
    user = UserFactory(tenant=tenant, username="erin")
    policy = Policy.objects.create(
        tenant=tenant,
        name="installer-no-secrets",
        statements=[
            {"actions": ["*"], "resources": ["cluster:*", "chartgroup:*"], "effect": "allow"},
            {"actions": ["revealSecret"], "resources": ["cluster:*"], "effect": "deny"},
        ],
    )
    Binding.objects.create(tenant=tenant, user=user, policy=policy)
    response = api(user).post(
        f"{base(cluster)}?dry_run=true",
        {"name": "demo", "chart": CHART, "values": {"replicas": 4}},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["dry_run"] is True and body["operation"] == "install"
    kinds = [o["kind"] for o in body["objects"]]
    assert kinds == ["Secret", "ConfigMap", "Service", "Deployment"]  # Helm's install order
    assert [r["action"] for r in body["results"]] == ["created"] * 4
    assert "replicas: 4" in body["results"][3]["diff"]
    secret = body["objects"][0]
    assert secret["stringData"] == {"password": MASK}
    assert "s3cret-default" not in response.content.decode()
    assert deployment(cluster) is None
    assert not Release.objects.exists()


def test_values_failing_the_schema_are_400_naming_the_field(
    api, project_member, cluster, chart_version
):
    response = api(project_member).post(
        base(cluster),
        {"name": "demo", "chart": CHART, "values": {"replicas": "many"}},
        format="json",
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    assert "values.replicas" in body["fields"]
    assert "want integer" in body["fields"]["values.replicas"][0]
    assert not Release.objects.exists() and deployment(cluster) is None


def test_release_names_are_dns_labels_of_at_most_53(api, project_member, cluster, chart_version):
    client = api(project_member)
    for name in ("Demo", "a" * 54, "dots.are.not"):
        response = client.post(base(cluster), {"name": name, "chart": CHART}, format="json")
        assert response.status_code == 400, (name, response.content)
        assert "name" in response.json()["fields"]
    assert not Release.objects.exists()


def test_the_namespace_must_exist(api, tenant_admin, cluster, chart_version):
    response = api(tenant_admin).post(
        base(cluster, "nowhere"), {"name": "demo", "chart": CHART}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "does not exist" in response.json()["fields"]["namespace"][0]
    assert not Release.objects.exists()


def test_a_user_who_may_not_create_deployments_cannot_install(api, tenant, cluster, chart_version):
    """Releases, ConfigMaps, Secrets and Services allowed, Deployments not: refused before
    anything is applied, naming what is missing."""
    user = UserFactory(tenant=tenant, username="cara")
    policy = Policy.objects.create(
        tenant=tenant,
        name="releases-without-deployments",
        statements=[
            {"actions": ["getCluster"], "resources": ["cluster:*"], "effect": "allow"},
            {"actions": ["pullChart"], "resources": ["chartgroup:*"], "effect": "allow"},
            {
                "actions": ["*Release", "*ConfigMap", "*Secret", "*Service"],
                "resources": ["cluster:*/namespace:*"],
                "effect": "allow",
            },
        ],
    )
    Binding.objects.create(tenant=tenant, user=user, policy=policy)
    response = api(user).post(base(cluster), {"name": "demo", "chart": CHART}, format="json")
    assert response.status_code == 403, response.content
    assert "createDeployment" in response.json()["detail"]
    assert not Release.objects.exists()
    assert configmap(cluster) is None and deployment(cluster) is None


def test_a_chart_the_user_may_not_pull_is_not_found(api, tenant, cluster, project, archive):
    """A group of visibility user owned by someone else, and no pullChart: as if missing."""
    store_chart(tenant, archive, group="private")
    user = UserFactory(tenant=tenant, username="dora")
    policy = Policy.objects.create(
        tenant=tenant,
        name="releases-only",
        statements=[
            {"actions": ["getCluster"], "resources": ["cluster:*"], "effect": "allow"},
            {"actions": ["*"], "resources": ["cluster:*/namespace:*"], "effect": "allow"},
        ],
    )
    Binding.objects.create(tenant=tenant, user=user, policy=policy)
    chart = {**CHART, "chart_group": "private"}
    response = api(user).post(base(cluster), {"name": "demo", "chart": chart}, format="json")
    assert response.status_code == 400, response.content
    assert "not found" in response.json()["fields"]["chart"][0]
    assert not Release.objects.exists()


def test_an_existing_object_of_no_release_is_not_taken_over(
    api, project_member, cluster, chart_version
):
    with services.client_for(cluster) as client:
        client.request(
            "POST",
            f"/api/v1/namespaces/{NAMESPACE}/configmaps",
            body={"metadata": {"name": "demo-page"}, "data": {"mine": "yes"}},
        )
    response = api(project_member).post(
        base(cluster), {"name": "demo", "chart": CHART}, format="json"
    )
    assert response.status_code == 409, response.content
    assert (
        "ConfigMap/team-a/demo-page already exists and belongs to no release"
        in (response.json()["detail"])
    )
    assert configmap(cluster)["data"] == {"mine": "yes"}
    release = Release.objects.get()
    assert (release.status, release.revision) == (ReleaseStatus.FAILED, 0)
    assert deployment(cluster) is None


def test_charts_with_install_hooks_are_refused(tenant, project, tmp_path):
    hooked = package_chart(
        tmp_path,
        name="hooked",
        extra_templates={
            "migrate.yaml": """\
                apiVersion: batch/v1
                kind: Job
                metadata:
                  name: migrate
                  annotations:
                    "helm.sh/hook": pre-install,pre-upgrade
                spec:
                  template:
                    spec:
                      restartPolicy: Never
                      containers: [{name: m, image: busybox}]
                """
        },
    )
    version = store_chart(tenant, hooked, name="hooked", project=project)
    with pytest.raises(ValidationError) as refused:
        releases.render(chart_version=version, name="demo", namespace=NAMESPACE, values={})
    assert "hooked/templates/migrate.yaml is a Helm hook" in str(refused.value)
    assert "pre-install,pre-upgrade" in str(refused.value)


def test_render_labels_orders_and_places_objects(chart_version):
    docs = releases.render(
        chart_version=chart_version, name="demo", namespace=NAMESPACE, values={"replicas": 5}
    )
    assert [d["kind"] for d in docs] == ["Secret", "ConfigMap", "Service", "Deployment"]
    for doc in docs:
        assert doc["metadata"]["namespace"] == NAMESPACE
        assert doc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "tke-portal"
        assert doc["metadata"]["annotations"]["meta.helm.sh/release-name"] == "demo"
    assert docs[3]["spec"]["replicas"] == 5


# -- unreachable cluster ---------------------------------------------------------------------------
def test_an_unreachable_cluster_records_nothing_deployed(
    api, project_member, cluster, chart_version, sim
):
    client = api(project_member)
    sim.faults.down()
    try:
        refused = client.post(base(cluster), {"name": "demo", "chart": CHART}, format="json")
    finally:
        sim.faults.up()
    assert refused.status_code == 503, refused.content
    assert refused.json()["code"] == "cluster_unreachable"
    assert f"Cluster {cluster.name} is unreachable" in refused.json()["detail"]
    assert not Release.objects.exists()

    installed = client.post(base(cluster), {"name": "demo", "chart": CHART}, format="json")
    assert installed.status_code == 201, installed.content
    sim.faults.down()
    try:
        upgrade = client.patch(f"{base(cluster)}demo/", {"values": {"replicas": 3}}, format="json")
    finally:
        sim.faults.up()
    assert upgrade.status_code == 503, upgrade.content
    assert "is unreachable" in upgrade.json()["detail"]
    release = Release.objects.get()
    assert (release.status, release.revision) == (ReleaseStatus.FAILED, 1)
    rows = dict(release.revisions.values_list("revision", "status"))
    assert rows == {1: "deployed", 2: "failed"}
    assert "is unreachable" in release.revisions.get(revision=2).description
    assert deployment(cluster)["spec"]["replicas"] == 1
    # and retryable once the cluster is back
    retried = client.patch(f"{base(cluster)}demo/", {"values": {"replicas": 3}}, format="json")
    assert retried.status_code == 200, retried.content
    assert statuses(retried.json()) == {3: "deployed", 2: "failed", 1: "superseded"}
    assert deployment(cluster)["spec"]["replicas"] == 3


# -- serialization ---------------------------------------------------------------------------------
def test_an_operation_in_progress_makes_others_wait(api, project_member, cluster, chart_version):
    client = api(project_member)
    assert (
        client.post(base(cluster), {"name": "demo", "chart": CHART}, format="json").status_code
        == 201
    )
    taken = client.post(base(cluster), {"name": "demo", "chart": CHART}, format="json")
    assert taken.status_code == 409, taken.content
    assert "already exists (deployed, revision 1 deployed)" in taken.json()["detail"]
    Release.objects.update(status=ReleaseStatus.PENDING_UPGRADE)
    busy = client.patch(f"{base(cluster)}demo/", {"values": {"replicas": 2}}, format="json")
    assert busy.status_code == 409, busy.content
    assert "busy (pending-upgrade)" in busy.json()["detail"]
    assert ReleaseRevision.objects.count() == 1
    # a pending mark older than the lease is a dead operation: the release is usable again
    Release.objects.update(status=ReleaseStatus.PENDING_UPGRADE)
    from datetime import timedelta

    from django.utils import timezone

    Release.objects.update(updated_at=timezone.now() - timedelta(hours=1))
    recovered = client.patch(f"{base(cluster)}demo/", {"values": {"replicas": 2}}, format="json")
    assert recovered.status_code == 200, recovered.content
    assert recovered.json()["revision"] == 2


# -- permissions -----------------------------------------------------------------------------------


class TestReleaseMatrix(APIMatrix):
    """Anonymous 401; seeing the cluster without release rights 403; another tenant (or a
    cluster the user cannot see) 404; a reader lists and reads, cannot write; the
    administrator installs, upgrades and uninstalls (the release stays as history)."""

    view_url = "/api/v1/clusters/cls-abc/namespaces/team-a/releases/"
    no_permission = "cluster_only"
    reader = "read_only_user"
    non_writer = "read_only_user"
    writer = "tenant_admin"

    @pytest.fixture(autouse=True)
    def _cluster(self, request, chart_version):
        self.cluster = request.getfixturevalue("cluster")
        self.chart_version = chart_version
        self.list_url = base(self.cluster)

    def make_object(self, tenant):
        """A release row (no objects behind it: reads and refusals need none); another
        tenant's is in a cluster of theirs."""
        cluster = self.cluster if tenant == self.cluster.tenant else make_cluster(tenant)
        return Release.objects.create(
            tenant=tenant,
            cluster=cluster,
            namespace=NAMESPACE,
            name=f"rel-{tenant.slug}-{Release.objects.count()}",
            chart_version=self.chart_version if cluster is self.cluster else None,
            chart_name="web",
            chart_version_name="1.0.0",
            status=ReleaseStatus.DEPLOYED,
            revision=1,
        )

    def detail_url(self, obj):
        return f"{self.list_url}{obj.name}/"

    def lookup(self, obj):
        return obj.name

    def lookup_from_json(self, row):
        return row["name"]

    def create_data(self, tenant):
        return {"name": "made", "chart": CHART}

    def update_data(self, obj):
        return {"values": {"replicas": 2}}

    def test_writer_creates_updates_deletes(self, api, tenant_admin):
        client = api(tenant_admin)
        created = client.post(self.list_url, self.create_data(None))
        assert created.status_code == 201, created.content
        url = f"{self.list_url}made/"
        updated = client.patch(url, self.update_data(None))
        assert updated.status_code == 200, updated.content
        assert deployment(self.cluster, "made-web")["spec"]["replicas"] == 2
        assert client.delete(url).status_code == 204
        assert deployment(self.cluster, "made-web") is None
        assert client.get(url).json()["status"] == "uninstalled"  # kept as history


def test_permission_matrix(
    api, anon_client, tenant_admin, read_only_user, viewer, other_user, cluster, chart_version
):
    admin = api(tenant_admin)
    assert (
        admin.post(base(cluster), {"name": "demo", "chart": CHART}, format="json").status_code
        == 201
    )
    detail = f"{base(cluster)}demo/"
    # anonymous: 401
    for response in (anon_client.get(base(cluster)), anon_client.get(detail)):
        assert response.status_code == 401
    # another tenant (and a user who cannot see the cluster): 404 for everything
    for user in (other_user, viewer):
        client = api(user)
        assert client.get(base(cluster)).status_code == 404
        assert client.get(detail).status_code == 404
        assert client.get(f"{detail}manifest/").status_code == 404
        assert (
            client.post(base(cluster), {"name": "x", "chart": CHART}, format="json").status_code
            == 404
        )
        assert client.patch(detail, {"values": {}}, format="json").status_code == 404
        assert client.post(f"{detail}rollback/", {"revision": 1}, format="json").status_code == 404
        assert client.delete(detail).status_code == 404
    # a reader: lists and reads (values hidden, Secret masked), writes nothing
    reader = api(read_only_user)
    rows = reader.get(base(cluster)).json()["results"]
    assert [r["name"] for r in rows] == ["demo"]
    shown = reader.get(detail).json()
    assert shown["values_visible"] is False and shown["revisions"][0]["values"] is None
    manifest = reader.get(f"{detail}manifest/").json()
    assert "s3cret-default" not in json.dumps(manifest)
    assert MASK in manifest["manifest"]
    assert (
        reader.post(base(cluster), {"name": "x", "chart": CHART}, format="json").status_code == 403
    )
    assert reader.patch(detail, {"values": {"replicas": 2}}, format="json").status_code == 403
    assert reader.post(f"{detail}rollback/", {"revision": 1}, format="json").status_code == 403
    assert reader.delete(detail).status_code == 403
    assert Release.objects.get().revision == 1 and deployment(cluster) is not None
    # the administrator sees values and the Secret as it is
    assert admin.get(detail).json()["revisions"][0]["values"] == {}
    assert "s3cret-default" in admin.get(f"{detail}manifest/").json()["manifest"]


def test_listing_releases_takes_the_same_queries_for_any_number(
    api, member, tenant, cluster, chart_version
):
    def add(count):
        for index in range(count):
            Release.objects.create(
                tenant=tenant,
                cluster=cluster,
                namespace=NAMESPACE,
                name=f"r{Release.objects.count()}-{index}",
                chart_version=chart_version,
                chart_name="web",
                chart_version_name="1.0.0",
                status=ReleaseStatus.DEPLOYED,
                revision=1,
            )

    client = api(member)
    client.get(base(cluster))  # warm the authorization index
    add(1)
    with CaptureQueriesContext(connection) as one:
        assert len(client.get(base(cluster)).json()["results"]) == 1
    add(9)
    with CaptureQueriesContext(connection) as ten:
        assert len(client.get(base(cluster)).json()["results"]) == 10
    assert len(ten.captured_queries) == len(one.captured_queries)
    page = client.get(base(cluster), {"limit": 3, "offset": 3}).json()
    assert page["count"] == 10 and len(page["results"]) == 3


CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""


def test_crds_are_applied_first_need_their_own_right_and_stay(
    api, tenant, tenant_admin, project_member, cluster, project, tmp_path
):
    packaged = package_chart(tmp_path, name="widgets", crds={"widgets.yaml": CRD})
    store_chart(tenant, packaged, name="widgets", project=project)
    chart = {**CHART, "chart": "widgets"}
    crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com"

    # a project member may write the namespace's objects, not a CRD (privilege-bearing)
    refused = api(project_member).post(
        base(cluster), {"name": "demo", "chart": chart}, format="json"
    )
    assert refused.status_code == 403, refused.content
    assert "createCustomResourceDefinition" in refused.json()["detail"]
    assert live(cluster, crd_path) is None

    client = api(tenant_admin)
    installed = client.post(base(cluster), {"name": "demo", "chart": chart}, format="json")
    assert installed.status_code == 201, installed.content
    assert live(cluster, crd_path)["spec"]["names"]["kind"] == "Widget"
    kinds = [o["kind"] for o in client.get(f"{base(cluster)}demo/manifest/").json()["objects"]]
    assert "CustomResourceDefinition" not in kinds  # not part of the release's manifest
    assert client.delete(f"{base(cluster)}demo/").status_code == 204
    assert deployment(cluster) is None
    assert live(cluster, crd_path) is not None  # Helm never deletes CRDs


@pytest.mark.django_db(transaction=True)
def test_concurrent_upgrades_of_one_release_are_serialized(
    tenant, tenant_admin, cluster, chart_version, sim
):
    """While one upgrade is applying (the cluster slow to answer its Deployment patch), a
    second one is refused with 409 and records nothing; the first completes."""
    import threading

    from django.db import connections

    release = releases.install(
        actor=tenant_admin,
        cluster=cluster,
        namespace=NAMESPACE,
        name="demo",
        chart_version=chart_version,
    )
    sim.faults.delay(1.5, method="PATCH", path="/deployments/demo-web", times=1)
    outcome = {}

    def first():
        try:
            outcome["first"] = releases.upgrade(
                actor=tenant_admin, release=release, values={"replicas": 2}
            )
        finally:
            connections.close_all()

    worker = threading.Thread(target=first)
    worker.start()
    wait_for(
        lambda: Release.objects.get(pk=release.pk).status == ReleaseStatus.PENDING_UPGRADE,
        "the first upgrade to claim the release",
    )
    with pytest.raises(Conflict) as second:
        releases.upgrade(actor=tenant_admin, release=release, values={"replicas": 5})
    worker.join(15)
    assert "busy (pending-upgrade)" in str(second.value)
    assert outcome["first"].revision == 2
    assert dict(release.revisions.values_list("revision", "status")) == {
        1: "superseded",
        2: "deployed",
    }
    assert deployment(cluster)["spec"]["replicas"] == 2


def test_pruning_and_uninstalling_need_delete_on_each_object(api, tenant, cluster, chart_version):
    """A user who may install, upgrade and delete releases and create and update objects,
    but delete none: the upgrade that would delete the Service and the uninstall are refused
    before anything changes."""
    user = UserFactory(tenant=tenant, username="fern")
    policy = Policy.objects.create(
        tenant=tenant,
        name="releases-no-object-deletes",
        statements=[
            {"actions": ["getCluster"], "resources": ["cluster:*"], "effect": "allow"},
            {"actions": ["pullChart"], "resources": ["chartgroup:*"], "effect": "allow"},
            {
                "actions": ["*Release", "rollbackRelease", "create*", "update*", "get*"],
                "resources": ["cluster:*/namespace:*"],
                "effect": "allow",
            },
        ],
    )
    Binding.objects.create(tenant=tenant, user=user, policy=policy)
    client = api(user)
    assert client.post(base(cluster), {"name": "demo", "chart": CHART}).status_code == 201
    upgrade = client.patch(
        f"{base(cluster)}demo/", {"values": {"service": {"enabled": False}}}, format="json"
    )
    assert upgrade.status_code == 403, upgrade.content
    assert "deleteService" in upgrade.json()["detail"]
    assert service(cluster) is not None
    uninstall = client.delete(f"{base(cluster)}demo/")
    assert uninstall.status_code == 403, uninstall.content
    assert "deleteSecret" in uninstall.json()["detail"]
    assert deployment(cluster) is not None and configmap(cluster) is not None
    release = Release.objects.get()
    assert (release.status, release.revision) == (ReleaseStatus.DEPLOYED, 1)
    assert release.revisions.count() == 1


def test_upgrade_to_another_chart_version_and_roll_back_to_the_first(
    api, tenant, tenant_admin, cluster, project, chart_version, tmp_path
):
    """Version 1.1.0 has no Secret: upgrading to it deletes the Secret; rolling back to
    revision 1 brings it back and the release names version 1.0.0 again."""
    newer = store_chart(
        tenant,
        package_chart(tmp_path, version="1.1.0", without=("secret.yaml",)),
        project=project,
    )
    client = api(tenant_admin)
    secret = f"/api/v1/namespaces/{NAMESPACE}/secrets/demo-auth"
    assert client.post(base(cluster), {"name": "demo", "chart": CHART}).status_code == 201
    assert live(cluster, secret) is not None
    upgraded = client.post(
        f"{base(cluster)}demo/upgrade/", {"chart": {**CHART, "version": "1.1.0"}}, format="json"
    )
    assert upgraded.status_code == 200, upgraded.content
    body = upgraded.json()
    assert (body["chart_version_name"], body["revisions"][0]["chart_version_name"]) == (
        "1.1.0",
        "1.1.0",
    )
    assert Release.objects.get().chart_version == newer
    assert live(cluster, secret) is None
    rolled = client.post(f"{base(cluster)}demo/rollback/", {"revision": 1}, format="json")
    assert rolled.status_code == 200, rolled.content
    assert (rolled.json()["revision"], rolled.json()["chart_version_name"]) == (3, "1.0.0")
    assert Release.objects.get().chart_version == chart_version
    assert live(cluster, secret) is not None
    missing = client.post(f"{base(cluster)}demo/rollback/", {"revision": 9}, format="json")
    assert missing.status_code == 400
    assert "has no revision 9" in missing.json()["fields"]["revision"][0]


def test_helms_own_starter_chart_installs(api, tenant, tenant_admin, cluster, project, tmp_path):
    """The chart `helm create` scaffolds (Deployment, Service, a ServiceAccount, a test hook)
    installs as it is: its Deployment runs under the chart's own ServiceAccount."""
    with helm_python.Chart.create("starter", tmp_path):
        pass
    archive = Path(helm_python.package(tmp_path / "starter", destination=tmp_path)).read_bytes()
    store_chart(tenant, archive, name="starter", project=project)
    chart = {**CHART, "chart": "starter", "version": "0.1.0"}
    client = api(tenant_admin)
    installed = client.post(base(cluster), {"name": "demo", "chart": chart}, format="json")
    assert installed.status_code == 201, installed.content
    dep = wait_for(
        lambda: (
            (d := deployment(cluster, "demo-starter"))
            and d.get("status", {}).get("readyReplicas")
            and d
        ),
        "the starter Deployment to run",
    )
    assert dep["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "tke-portal"
    assert dep["spec"]["template"]["spec"]["serviceAccountName"] == "demo-starter"
    assert service(cluster, "demo-starter") is not None
    with services.client_for(cluster) as kube:
        account = kube.get("/api/v1/namespaces/team-a/serviceaccounts/demo-starter")
    assert account["metadata"]["annotations"]["meta.helm.sh/release-name"] == "demo"


def test_a_project_member_installs_only_into_the_projects_namespaces(
    api, tenant, project_member, cluster, chart_version
):
    other = Project.objects.create(tenant=tenant, name="prj-other", display_name="Other")
    ProjectCluster.objects.create(project=other, cluster=cluster, hard={})
    ProjectNamespace.objects.create(
        tenant=tenant, project=other, cluster=cluster, namespace="team-b", hard={}
    )
    with services.client_for(cluster) as client:
        client.request("POST", "/api/v1/namespaces", body={"metadata": {"name": "team-b"}})
    response = api(project_member).post(
        base(cluster, "team-b"), {"name": "demo", "chart": CHART}, format="json"
    )
    assert response.status_code == 403, response.content
    assert "createRelease" in response.json()["detail"]
    assert not Release.objects.exists()


def test_an_uninstall_the_cluster_half_refuses_is_failed_and_retryable(
    api, tenant_admin, cluster, chart_version, sim
):
    client = api(tenant_admin)
    assert client.post(base(cluster), {"name": "demo", "chart": CHART}).status_code == 201
    sim.faults.fail(500, method="DELETE", path="/deployments/demo-web", times=1)
    first = client.delete(f"{base(cluster)}demo/")
    assert first.status_code == 502, first.content
    assert first.json()["code"] == "cluster_error"
    assert "Deployment/team-a/demo-web" in first.json()["detail"]
    state = client.get(f"{base(cluster)}demo/").json()
    assert (state["status"], state["revision"]) == ("failed", 1)
    assert state["message"].startswith("Uninstall failed: Deployment/team-a/demo-web")
    assert deployment(cluster) is not None and configmap(cluster) is None  # the rest went
    again = client.delete(f"{base(cluster)}demo/")
    assert again.status_code == 204, again.content
    assert deployment(cluster) is None
    assert client.get(f"{base(cluster)}demo/").json()["status"] == "uninstalled"


def test_rbac_in_a_chart_is_refused_to_everyone(
    api, tenant, project_member, cluster, project, tmp_path
):
    """Roles and bindings are written only through the kubectl proxy, whose escalation guard
    judges the rules they grant (apps.clusters.rbacguard): a chart holding them is refused
    before anything is applied, to a member and to the tenant administrator alike."""
    rbac = {
        "rbac.yaml": """\
            apiVersion: rbac.authorization.k8s.io/v1
            kind: Role
            metadata:
              name: {{ .Release.Name }}-reader
            rules:
              - apiGroups: [""]
                resources: ["configmaps"]
                verbs: ["get"]
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: RoleBinding
            metadata:
              name: {{ .Release.Name }}-reader
            roleRef:
              apiGroup: rbac.authorization.k8s.io
              kind: Role
              name: {{ .Release.Name }}-reader
            subjects:
              - kind: ServiceAccount
                name: default
            """,
    }
    store_chart(tenant, package_chart(tmp_path, name="rbac", extra_templates=rbac), name="rbac",
                project=project)  # fmt: skip
    chart = {**CHART, "chart": "rbac"}
    admin = persona(tenant, "root", "administrator")
    for who in (project_member, admin):
        refused = api(who).post(base(cluster), {"name": "demo", "chart": chart}, format="json")
        assert refused.status_code == 400, refused.content
        assert "Role is not a kind the portal applies" in str(refused.json())
    assert not Release.objects.exists() and deployment(cluster) is None
    roles = live(cluster, f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NAMESPACE}/roles")
    assert roles["items"] == []
