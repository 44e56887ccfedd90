"""The object forms keep every field they do not show: create, edit (round trip per kind),
the cluster's 422 causes next to the fields, the YAML mode's dry-run diff, authorization
like the API's, audit once."""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.clusters import k8s, resources, services
from apps.console.forms.base import digest, dotted, get_in, merge_rows, put
from apps.console.forms.registry import form_for, has_form
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from tests.conftest import PROJECT
from tests.console.matrix import LiveClusterMatrix
from tests.console.test_forms_html import form_data

pytestmark = pytest.mark.django_db

WORKLOAD_KINDS = ("deployments", "statefulsets", "daemonsets", "jobs", "cronjobs")
SERVER_SET = ("resourceVersion", "generation", "managedFields", "uid", "creationTimestamp")


# -- fixtures --------------------------------------------------------------------------------------
def import_cluster(tenant, sim, display_name="live"):
    spec = k8s.Connection(server=sim.url, token=sim.token, ca_data=sim.ca_data)
    return services.import_cluster(actor=None, tenant=tenant, display_name=display_name, spec=spec)


@pytest.fixture
def cluster(tenant, sim_cluster):
    return import_cluster(tenant, sim_cluster)


def create(cluster, kind: str, obj: dict, namespace="default") -> dict:
    with services.client_for(cluster) as client:
        return resources.create_object(client, resources.KINDS[kind], namespace, obj)


def fetch(cluster, kind: str, name: str, namespace="default") -> dict:
    with services.client_for(cluster) as client:
        return resources.get_object(client, resources.KINDS[kind], namespace, name)


def edit_url(cluster, kind, name, namespace="default"):
    return reverse(
        "console:form-edit",
        kwargs={"cluster": cluster.name, "namespace": namespace, "kind": kind, "name": name},
    )


def new_url(cluster, kind):
    return reverse("console:form-new", kwargs={"cluster": cluster.name, "kind": kind})


# -- objects with much the forms do not show ------------------------------------------------------
def pod_spec() -> dict:
    return {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
                    ]
                }
            }
        },
        "securityContext": {"runAsNonRoot": True, "fsGroup": 2000},
        "serviceAccountName": "default",
        "terminationGracePeriodSeconds": 17,
        "dnsPolicy": "ClusterFirst",
        "hostAliases": [{"ip": "10.0.0.9", "hostnames": ["legacy.local"]}],
        "nodeSelector": {"zone": "a", "kubernetes.io/arch": "amd64"},
        "tolerations": [
            {
                "key": "dedicated",
                "operator": "Equal",
                "value": "web",
                "effect": "NoSchedule",
                "tolerationSeconds": 30,
            }  # fmt: skip
        ],
        "initContainers": [
            {"name": "init", "image": "busybox:1.36", "command": ["sh", "-c", "true"]}
        ],
        "volumes": [
            {
                "name": "cfg",
                "configMap": {
                    "name": "settings",
                    "defaultMode": 420,
                    "items": [{"key": "a", "path": "a.conf"}],
                },
            },  # fmt: skip
            {"name": "host", "hostPath": {"path": "/var/log", "type": "Directory"}},
            {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}},
        ],
        "containers": [
            {
                "name": "app",
                "image": "nginx:1.25",
                "imagePullPolicy": "IfNotPresent",
                "command": ["nginx"],
                "args": ["-g", "daemon off;"],
                "workingDir": "/srv",
                "securityContext": {"readOnlyRootFilesystem": True, "runAsUser": 101},
                "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
                "terminationMessagePolicy": "FallbackToLogsOnError",
                "env": [
                    {"name": "MODE", "value": "fast"},
                    {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {
                        "name": "TOKEN",
                        "valueFrom": {
                            "secretKeyRef": {"name": "creds", "key": "token", "optional": True}
                        },
                    },  # fmt: skip
                ],
                "envFrom": [{"configMapRef": {"name": "settings"}}],
                "ports": [
                    {"name": "http", "containerPort": 8080, "protocol": "TCP", "hostPort": 18080}
                ],  # fmt: skip
                "resources": {
                    "requests": {"cpu": "100m", "memory": "64Mi", "ephemeral-storage": "1Gi"},
                    "limits": {"cpu": "1", "memory": "256Mi"},
                },
                "livenessProbe": {
                    "httpGet": {
                        "path": "/healthz",
                        "port": 8080,
                        "scheme": "HTTP",
                        "httpHeaders": [{"name": "X-Probe", "value": "1"}],
                    },  # fmt: skip
                    "timeoutSeconds": 3,
                    "failureThreshold": 4,
                    "periodSeconds": 10,
                },
                "readinessProbe": {"tcpSocket": {"port": 8080}, "successThreshold": 1},
                "volumeMounts": [
                    {"name": "cfg", "mountPath": "/etc/app", "readOnly": True},
                    {"name": "host", "mountPath": "/host/log", "mountPropagation": "None"},
                ],
            },
            {
                "name": "sidecar",
                "image": "envoyproxy/envoy:v1.30",
                "stdin": True,
                "resources": {"limits": {"nvidia.com/gpu": "1"}},
            },
        ],
    }


def rich(kind: str, name: str) -> dict:
    """A ``kind`` object with many fields no form shows."""
    labels = {"app": name, "tier": "web"}
    meta = {
        "name": name,
        "labels": labels,
        "annotations": {"team": "shop", "example.com/note": "keep me"},
    }
    template = {
        "metadata": {"labels": dict(labels), "annotations": {"prometheus.io/scrape": "true"}},
        "spec": pod_spec(),
    }
    if kind in ("jobs", "cronjobs"):
        template["spec"]["restartPolicy"] = "OnFailure"
    spec: dict = {}
    if kind == "deployments":
        spec = {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": template,
            "minReadySeconds": 5,
            "revisionHistoryLimit": 4,
            "progressDeadlineSeconds": 300,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "50%", "maxUnavailable": 0},
            },  # fmt: skip
        }
    elif kind == "statefulsets":
        spec = {
            "replicas": 1,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": template,
            "podManagementPolicy": "Parallel",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                }
            ],
        }
    elif kind == "daemonsets":
        spec = {
            "selector": {"matchLabels": {"app": name}},
            "template": template,
            "minReadySeconds": 3,
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
        }
    elif kind == "jobs":
        spec = {
            "template": template,
            "completions": 3,
            "parallelism": 1,
            "backoffLimit": 2,
            "activeDeadlineSeconds": 600,
            "ttlSecondsAfterFinished": 120,
        }
    elif kind == "cronjobs":
        spec = {
            "schedule": "*/10 * * * *",
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 60,
            "successfulJobsHistoryLimit": 2,
            "jobTemplate": {
                "metadata": {"labels": {"from": "cron"}},
                "spec": {"backoffLimit": 1, "template": template},
            },
        }
    return {"metadata": meta, "spec": spec}


def comparable(obj: dict) -> dict:
    clean = copy.deepcopy(obj)
    clean.pop("status", None)
    for key in SERVER_SET:
        clean["metadata"].pop(key, None)
    return clean


def errors_of(response) -> str:
    """The error messages a page shows (for assertion messages)."""
    page = response.content.decode()
    pattern = r'<(?:ul|div) class="(?:errorlist[^"]*|alert alert-danger)"[^>]*>(.*?)</(?:ul|div)>'
    found = re.findall(pattern, page, re.S)
    return f"{response.status_code}: " + " | ".join(re.sub(r"\s+", " ", f) for f in found)


def as_yaml(obj: dict) -> str:
    """For a readable diff when a comparison fails."""
    return yaml.safe_dump(obj, sort_keys=True)


def template_spec_path(kind: str) -> tuple:
    if kind == "cronjobs":
        return ("spec", "jobTemplate", "spec", "template", "spec")
    return ("spec", "template", "spec")


# -- round trip ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_an_edit_through_the_form_keeps_every_field_it_does_not_show(
    client, tenant_admin, cluster, kind
):
    # given an object with many fields the form does not show
    before = create(cluster, kind, rich(kind, "shop"))
    client.force_login(tenant_admin)
    page = client.get(edit_url(cluster, kind, "shop"))
    assert page.status_code == 200, page.content[:1000]
    data = form_data(page.content.decode())
    # when the user changes one field (the first container's image; a Job's pod template is
    # immutable, so its parallelism) and saves
    assert data["containers-0-image"] == "nginx:1.25"
    if kind == "jobs":
        data["parallelism"] = "2"
    else:
        data["containers-0-image"] = "nginx:1.27"
    data["action"] = "save"
    response = client.post(edit_url(cluster, kind, "shop"), data)
    assert response.status_code == 302, errors_of(response)
    # then the object is the same but for the image
    after = fetch(cluster, kind, "shop")
    spec = template_spec_path(kind)
    expected = comparable(before)
    if kind == "jobs":
        assert after["spec"]["parallelism"] == 2
        expected["spec"]["parallelism"] = 2
    else:
        assert get_in(after, (*spec, "containers", 0, "image")) == "nginx:1.27"
        put(expected, (*spec, "containers", 0, "image"), "nginx:1.27")
    assert as_yaml(comparable(after)) == as_yaml(expected)


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_the_form_shows_what_it_owns(client, tenant_admin, cluster, kind):
    create(cluster, kind, rich(kind, "shop"))
    client.force_login(tenant_admin)
    data = form_data(client.get(edit_url(cluster, kind, "shop")).content.decode())
    assert data["containers-0-name"] == "app" and data["containers-1-name"] == "sidecar"
    assert data["containers-0-command"] == "nginx"
    assert data["containers-0-args"] == "-g\ndaemon off;"
    assert data["containers-0-env-0-name"] == "MODE"
    assert data["containers-0-env-0-value"] == "fast"
    # the fieldRef variable is not shown (kept); the secret key is
    assert data["containers-0-env-1-name"] == "TOKEN"
    assert data["containers-0-env-1-source"] == "secret"
    assert data["containers-0-env-1-ref_key"] == "token"
    assert "containers-0-env-2-name" not in data
    assert data["containers-0-ports-0-container_port"] == "8080"
    assert data["containers-0-cpu_request"] == "100m"
    assert data["containers-0-memory_limit"] == "256Mi"
    assert data["containers-0-liveness_type"] == "httpGet"
    assert data["containers-0-liveness_path"] == "/healthz"
    assert data["containers-0-readiness_type"] == "tcpSocket"
    assert data["containers-0-mounts-1-mount_path"] == "/host/log"
    # configMap and emptyDir volumes shown; hostPath kept, not shown
    assert data["volumes-0-name"] == "cfg" and data["volumes-1-name"] == "scratch"
    assert "volumes-2-name" not in data
    assert data["tolerations-0-key"] == "dedicated"
    assert data["arch"] == "amd64"


def test_editing_many_owned_fields_changes_only_those(client, tenant_admin, cluster):
    before = create(cluster, "deployments", rich("deployments", "shop"))
    client.force_login(tenant_admin)
    url = edit_url(cluster, "deployments", "shop")
    data = form_data(client.get(url).content.decode())
    data.update(
        {
            "replicas": "5",
            "containers-0-env-0-value": "slow",
            "containers-0-env-7-name": "NEW",  # a row added in the browser
            "containers-0-env-7-source": "configMap",
            "containers-0-env-7-ref_name": "settings",
            "containers-0-env-7-ref_key": "new",
            "containers-0-env-7-origin": "",
            "containers-0-cpu_limit": "2",
            "containers-0-liveness_path": "/live",
            "gpu": "on",
            "action": "save",
        }
    )
    # the user removed the toleration row and the second mount
    for key in [k for k in data if k.startswith(("tolerations-0-", "containers-0-mounts-1-"))]:
        del data[key]
    response = client.post(url, data)
    assert response.status_code == 302, errors_of(response)
    after = fetch(cluster, "deployments", "shop")
    app = after["spec"]["template"]["spec"]["containers"][0]
    expected = comparable(before)
    e_app = expected["spec"]["template"]["spec"]["containers"][0]
    expected["spec"]["replicas"] = 5
    e_app["env"][0]["value"] = "slow"
    new_ref = {"configMapKeyRef": {"name": "settings", "key": "new"}}
    e_app["env"].append({"name": "NEW", "valueFrom": new_ref})
    e_app["resources"]["limits"]["cpu"] = "2"
    e_app["livenessProbe"]["httpGet"]["path"] = "/live"
    e_app["volumeMounts"] = e_app["volumeMounts"][:1]
    expected["spec"]["template"]["spec"]["tolerations"] = []
    expected["spec"]["template"]["spec"]["nodeSelector"]["nvidia.com/gpu.present"] = "true"
    assert app["env"][1]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name",
                                                       "apiVersion": "v1"}} or app["env"][1][
        "valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"  # fmt: skip
    # the server may default fields (fieldRef.apiVersion): compare after the same defaults
    e_app["env"][1] = app["env"][1]
    assert comparable(after) == expected


# -- creating --------------------------------------------------------------------------------------
def test_a_deployment_created_through_the_form(client, tenant_admin, cluster):
    client.force_login(tenant_admin)
    page = client.get(new_url(cluster, "deployments"))
    assert page.status_code == 200
    data = form_data(page.content.decode())
    data.update(
        {
            "namespace": "default",
            "name": "web",
            "replicas": "3",
            "containers-0-name": "web",
            "containers-0-image": "nginx:1.27",
            "containers-0-args": "--port\n8080",
            "containers-0-ports-0-container_port": "8080",
            "containers-0-ports-0-protocol": "TCP",
            "containers-0-ports-0-origin": "",
            "containers-0-env-0-name": "MODE",
            "containers-0-env-0-source": "value",
            "containers-0-env-0-value": "fast",
            "containers-0-env-0-origin": "",
            "containers-0-readiness_type": "httpGet",
            "containers-0-readiness_path": "/ready",
            "containers-0-readiness_port": "8080",
            "arch": "arm64",
            "action": "save",
        }
    )
    response = client.post(new_url(cluster, "deployments"), data)
    assert response.status_code == 302, errors_of(response)
    assert response["Location"] == reverse(
        "console:workload",
        kwargs={
            "cluster": cluster.name,
            "namespace": "default",
            "kind": "deployments",
            "name": "web",
        },  # fmt: skip
    )
    obj = fetch(cluster, "deployments", "web")
    pod = obj["spec"]["template"]["spec"]
    assert obj["spec"]["replicas"] == 3
    assert obj["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert pod["containers"][0]["args"] == ["--port", "8080"]
    assert pod["containers"][0]["ports"][0]["containerPort"] == 8080
    assert pod["containers"][0]["env"] == [{"name": "MODE", "value": "fast"}]
    assert pod["containers"][0]["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 8080,
                                                                  "scheme": "HTTP"} or pod[
        "containers"][0]["readinessProbe"]["httpGet"]["path"] == "/ready"  # fmt: skip
    assert pod["nodeSelector"] == {"kubernetes.io/arch": "arm64"}
    event = AuditEvent.objects.get(action="createDeployment")  # exactly one
    assert event.resource == f"cluster:{cluster.name}/namespace:default/deployment:web"


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_every_workload_kind_can_be_created(client, tenant_admin, cluster, kind):
    client.force_login(tenant_admin)
    data = form_data(client.get(new_url(cluster, kind)).content.decode())
    data.update({"namespace": "default", "name": "thing", "containers-0-image": "busybox"})
    data["action"] = "save"
    response = client.post(new_url(cluster, kind), data)
    assert response.status_code == 302, errors_of(response)
    obj = fetch(cluster, kind, "thing")
    spec = template_spec_path(kind)
    assert get_in(obj, (*spec, "containers", 0, "image")) == "busybox"


def test_invalid_input_names_the_field_and_keeps_the_rest(client, tenant_admin, cluster):
    client.force_login(tenant_admin)
    data = form_data(client.get(new_url(cluster, "deployments")).content.decode())
    data.update({"namespace": "default", "name": "web", "containers-0-image": "nginx",
                 "containers-0-cpu_limit": "lots", "replicas": "2"})  # fmt: skip
    response = client.post(new_url(cluster, "deployments"), data)
    assert response.status_code == 400
    page = response.content.decode()
    kept = form_data(page)
    assert kept["containers-0-cpu_limit"] == "lots" and kept["replicas"] == "2"
    assert 'id="id_containers-0-cpu_limit_error"' in page
    assert "A quantity such as" in page


# -- the cluster's 422 -----------------------------------------------------------------------------
def test_the_clusters_causes_appear_next_to_their_fields(client, tenant_admin, cluster):
    create(cluster, "deployments", rich("deployments", "shop"))
    client.force_login(tenant_admin)
    url = edit_url(cluster, "deployments", "shop")
    data = form_data(client.get(url).content.decode())
    data["containers-1-name"] = "app"  # a duplicate: the form allows it, the cluster does not
    data["containers-0-cpu_request"] = "2"  # over its limit of 1
    data["action"] = "save"
    response = client.post(url, data)
    assert response.status_code == 422, errors_of(response)
    page = response.content.decode()
    # next to the second container's name and to the cpu request
    name_block = page.split('data-field="containers-1-name"')[1].split("data-field=")[0]
    assert "Duplicate" in name_block or "duplicate" in name_block.lower()
    cpu_block = page.split('data-field="containers-0-cpu_request"')[1].split("data-field=")[0]
    assert "less than or equal to" in cpu_block
    assert 'id="form-top-errors"' in page
    # nothing was written
    assert fetch(cluster, "deployments", "shop")["spec"]["template"]["spec"]["containers"][1][
        "name"] == "sidecar"  # fmt: skip


def test_a_cause_without_a_field_goes_to_the_top():
    form = form_for("deployments")(live=rich("deployments", "x") | {"kind": "Deployment"})
    form.add_cluster_errors({"spec.unknownThing": ["is odd"]}, "rejected")
    assert form.top_errors == ["rejected", "spec.unknownThing: is odd"]


# -- YAML mode -------------------------------------------------------------------------------------
def test_yaml_mode_shows_the_object_and_a_dry_run_diff(client, tenant_admin, cluster):
    create(cluster, "deployments", rich("deployments", "shop"))
    client.force_login(tenant_admin)
    url = edit_url(cluster, "deployments", "shop")
    page = client.get(url, {"mode": "yaml"}).content.decode()
    manifest = form_data(page, "yaml-form")["manifest"]
    assert "example.com/note: keep me" in manifest and "resourceVersion" not in manifest
    changed = manifest.replace("image: nginx:1.25", "image: nginx:1.99")
    response = client.post(url, {"mode": "yaml", "action": "preview", "manifest": changed})
    assert response.status_code == 200, response.content.decode()[:2000]
    diff = response.content.decode()
    assert 'id="yaml-diff"' in diff
    assert "-        image: nginx:1.25" in diff and "+        image: nginx:1.99" in diff
    # a dry run: the cluster still has the old image
    assert fetch(cluster, "deployments", "shop")["spec"]["template"]["spec"]["containers"][0][
        "image"] == "nginx:1.25"  # fmt: skip
    response = client.post(url, {"mode": "yaml", "action": "apply", "manifest": changed})
    assert response.status_code == 302, response.content.decode()[:2000]
    after = fetch(cluster, "deployments", "shop")
    assert after["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.99"
    assert after["metadata"]["annotations"]["example.com/note"] == "keep me"
    assert AuditEvent.objects.filter(action="applyManifest").count() == 2  # preview, apply


def test_switching_to_yaml_carries_the_forms_unsaved_values(client, tenant_admin, cluster):
    create(cluster, "deployments", rich("deployments", "shop"))
    client.force_login(tenant_admin)
    url = edit_url(cluster, "deployments", "shop")
    data = form_data(client.get(url).content.decode())
    data.update({"containers-0-image": "nginx:2.0", "action": "yaml"})
    response = client.post(url, data)
    assert response.status_code == 200
    manifest = form_data(response.content.decode(), "yaml-form")["manifest"]
    assert "image: nginx:2.0" in manifest and "example.com/note: keep me" in manifest
    # nothing written yet
    assert fetch(cluster, "deployments", "shop")["spec"]["template"]["spec"]["containers"][0][
        "image"] == "nginx:1.25"  # fmt: skip


def test_a_concurrent_change_is_not_overwritten_silently(client, tenant_admin, cluster):
    create(cluster, "deployments", rich("deployments", "shop"))
    client.force_login(tenant_admin)
    url = edit_url(cluster, "deployments", "shop")
    data = form_data(client.get(url).content.decode())
    live = fetch(cluster, "deployments", "shop")
    live["spec"]["replicas"] = 7
    with services.client_for(cluster) as kube:
        resources.replace_object(kube, resources.KINDS["deployments"], "default", "shop", live)
    data.update({"containers-0-image": "nginx:3", "action": "save"})
    response = client.post(url, data)
    assert response.status_code == 409
    assert "changed in the cluster since you opened" in response.content.decode()
    assert fetch(cluster, "deployments", "shop")["spec"]["replicas"] == 7
    again = form_data(response.content.decode())
    assert again["containers-0-image"] == "nginx:3"
    assert client.post(url, again | {"action": "save"}).status_code == 302


def test_an_unreachable_cluster_is_said_in_the_page(client, tenant_admin, tenant):
    from tests.factories import make_cluster

    dead = make_cluster(tenant, display_name="dead")
    client.force_login(tenant_admin)
    response = client.get(edit_url(dead, "deployments", "web"))
    assert response.status_code == 503
    assert "unreachable" in response.content.decode().lower()


# -- merging rules (no cluster) --------------------------------------------------------------------
def test_merge_rows_keeps_unshown_items_in_place_and_appends_new_ones():
    live = [{"name": "a", "x": 1}, {"name": "hidden", "fieldRef": 1}, {"name": "b", "x": 2}]
    rows = [{"origin": "b", "v": "B"}, {"origin": "", "v": "new"}]

    def merge(base, row, index):
        base["v"] = row["v"]
        base.setdefault("name", "n")
        return base

    out = merge_rows(live, rows, lambda i, _: i["name"], merge, lambda i: "fieldRef" not in i)
    assert out == [
        {"name": "hidden", "fieldRef": 1},
        {"name": "b", "x": 2, "v": "B"},
        {"v": "new", "name": "n"},
    ]


def test_an_unknown_field_survives_a_merge():
    live = rich("deployments", "x") | {"apiVersion": "apps/v1", "kind": "Deployment"}
    live["spec"]["x-future"] = {"deep": [1, 2]}
    live["spec"]["template"]["spec"]["nodeSelector"]["kubernetes.io/arch"] = "riscv64"
    live["spec"]["template"]["spec"]["containers"][0]["x-new"] = "kept"
    form_class = form_for("deployments")
    initial = form_class(live=live)
    data = {}
    for field in initial.fields:
        value = initial.initial.get(field)
        if value not in (None, False):
            data[field] = "on" if value is True else str(value)

    def rows(group):
        for form in group.forms:
            for field in form.fields:
                value = form.initial.get(field)
                if value not in (None, False):
                    data[form.add_prefix(field)] = "on" if value is True else str(value)
            for sub in form.rows.values():
                rows(sub)

    for group in initial.rows.values():
        rows(group)
    bound = form_class(data, live=live)
    assert bound.is_valid(), bound.errors
    merged = bound.build()
    assert merged == live
    assert digest(merged) == digest(live)


def test_dotted_paths_are_the_clusters():
    assert dotted(("spec", "containers", 0, "image")) == "spec.containers[0].image"
    assert dotted(("nodeSelector", "kubernetes.io/arch")) == "nodeSelector[kubernetes.io/arch]"


def test_every_workload_kind_has_a_form():
    assert all(has_form(kind) for kind in WORKLOAD_KINDS)
    assert not has_form("pods")


# -- authorization ---------------------------------------------------------------------------------
@pytest.fixture
def project_web(tenant, cluster):
    project = Project.objects.create(tenant=tenant, name=PROJECT, display_name="Shop")
    ProjectCluster.objects.create(project=project, cluster=cluster, hard={"pods": "10"})
    ProjectNamespace.objects.create(tenant=tenant, project=project, cluster=cluster,
                                    namespace="web")  # fmt: skip
    with services.client_for(cluster) as kube:
        try:
            resources.create_object(kube, resources.KINDS["namespaces"], None,
                                    {"metadata": {"name": "web"}})  # fmt: skip
        except k8s.ClusterConflict:
            pass  # kubesim seeds it
    return project


def test_a_project_member_creates_only_in_the_projects_namespaces(
    client, project_member, cluster, project_web
):
    client.force_login(project_member)
    page = client.get(new_url(cluster, "deployments"))
    assert page.status_code == 200, page.content[:500]
    data = form_data(page.content.decode())
    assert data["namespace"] == "web"
    assert '<option value="default"' not in page.content.decode()
    data.update({"name": "orders", "containers-0-image": "nginx", "action": "save"})
    assert client.post(new_url(cluster, "deployments"), data).status_code == 302
    assert fetch(cluster, "deployments", "orders", "web")["metadata"]["name"] == "orders"
    # another namespace is refused by the form (not one of the choices)
    data.update({"namespace": "default", "name": "orders2"})
    assert client.post(new_url(cluster, "deployments"), data).status_code == 400
    with pytest.raises(k8s.ClusterNotFound):
        fetch(cluster, "deployments", "orders2")


def test_a_read_only_user_may_not_edit(client, read_only_user, cluster):
    create(cluster, "deployments", rich("deployments", "shop"))
    client.force_login(read_only_user)
    url = edit_url(cluster, "deployments", "shop")
    response = client.get(url)
    assert response.status_code == 403
    assert 'id="why-link"' in response.content.decode()
    assert "updateDeployment" in response.content.decode()
    response = client.post(url, {"containers-0-image": "evil", "action": "save"})
    assert response.status_code == 403
    refused = AuditEvent.objects.get(action="updateDeployment")
    assert refused.outcome == "denied"
    assert refused.resource == f"cluster:{cluster.name}/namespace:default/deployment:shop"
    assert fetch(cluster, "deployments", "shop")["spec"]["template"]["spec"]["containers"][0][
        "image"] == "nginx:1.25"  # fmt: skip
    response = client.post(url, {"mode": "yaml", "action": "apply", "manifest": "kind: x"})
    assert response.status_code == 403


def test_a_deny_on_the_namespace_refuses_the_form(client, member, tenant, cluster):
    from apps.authz.services import create_policy
    from tests.factories import bind

    create_policy(
        actor=None,
        tenant=tenant,
        name="no-default",
        statements=[
            {
                "actions": ["updateDeployment"],
                "resources": [f"cluster:{cluster.name}/namespace:default/*"],
                "effect": "deny",
            }
        ],  # fmt: skip
    )
    bind(member, "no-default")
    create(cluster, "deployments", rich("deployments", "shop"))
    client.force_login(member)
    assert client.get(edit_url(cluster, "deployments", "shop")).status_code == 403


def test_an_unknown_kind_or_one_without_a_form_is_404(client, tenant_admin, cluster):
    client.force_login(tenant_admin)
    assert client.get(new_url(cluster, "widgets")).status_code == 404
    assert client.get(new_url(cluster, "pods")).status_code == 404


class _LiveFormMatrix(LiveClusterMatrix):
    reader = "member"
    # a viewer cannot see the cluster at all (404, like the API); read-only sees, not writes
    no_permission = "read_only_user"

    def make_object(self, tenant):
        super().make_object(tenant)
        create(self.cluster, "deployments", rich("deployments", "shop"))


class TestFormEditMatrix(_LiveFormMatrix):
    url_name = "console:form-edit"
    expect = 'id="object-form"'

    def url_for(self, tenant):
        return edit_url(self.cluster, "deployments", "shop")


class TestFormNewMatrix(_LiveFormMatrix):
    url_name = "console:form-new"
    expect = 'id="object-form"'

    def url_for(self, tenant):
        return new_url(self.cluster, "deployments")


def test_form_page_query_count_is_constant(
    client, tenant_admin, cluster, django_assert_max_num_queries
):
    create(cluster, "deployments", rich("deployments", "shop"))
    client.force_login(tenant_admin)
    client.get(edit_url(cluster, "deployments", "shop"))  # warm the policy index
    with django_assert_max_num_queries(12):
        assert client.get(edit_url(cluster, "deployments", "shop")).status_code == 200


# -- rendering -------------------------------------------------------------------------------------
def test_the_fast_renderer_gives_djangos_markup_escaped():
    from django.forms.renderers import DjangoTemplates
    from django.test.html import parse_html

    from apps.console.forms.workloads import ContainerForm, EnvForm

    hostile = '"><script>alert(1)</script>'
    env = EnvForm({"e-name": hostile, "e-source": "configMap", "e-value": hostile}, prefix="e")
    env.is_valid()
    container = ContainerForm(
        {"c-name": "Bad Name", "c-image": hostile, "c-command": f"a\n{hostile}"}, prefix="c"
    )
    container.is_valid()
    compared = 0
    for form in (env, container):
        for name in form.fields:
            ours = str(form[name].as_widget())
            form.renderer = DjangoTemplates()
            theirs = str(form[name].as_widget())
            form.renderer = form.default_renderer
            assert parse_html(ours) == parse_html(theirs), name
            assert "<script>" not in ours
            compared += 1
    assert compared > 20
    group = str(container["image"].group)
    assert "&lt;script&gt;" in group and 'data-field="c-image"' in group
    assert 'id="id_c-name_error"' in str(container["name"].group)


def test_a_new_object_from_yaml_is_previewed_then_created(client, tenant_admin, cluster):
    client.force_login(tenant_admin)
    url = new_url(cluster, "deployments")
    sample = form_data(client.get(url, {"mode": "yaml"}).content.decode(), "yaml-form")
    assert "kind: Deployment" in sample["manifest"]
    manifest = yaml.safe_dump(
        rich("deployments", "from-yaml") | {"apiVersion": "apps/v1", "kind": "Deployment"}
    )
    preview = client.post(url, {"mode": "yaml", "action": "preview", "manifest": manifest})
    assert preview.status_code == 200
    assert "Dry run: created" in preview.content.decode()
    with pytest.raises(k8s.ClusterNotFound):
        fetch(cluster, "deployments", "from-yaml")
    created = client.post(url, {"mode": "yaml", "action": "apply", "manifest": manifest})
    assert created.status_code == 302, errors_of(created)
    obj = fetch(cluster, "deployments", "from-yaml")
    assert obj["metadata"]["annotations"]["example.com/note"] == "keep me"
    # another kind is refused on this page, naming what the page edits
    wrong = client.post(
        url,
        {"mode": "yaml", "action": "apply", "manifest": manifest.replace("Deployment", "Job")},
    )
    assert wrong.status_code == 400 and "This page edits a Deployment" in wrong.content.decode()


def test_a_yaml_422_is_shown_with_its_fields(client, tenant_admin, cluster):
    create(cluster, "deployments", rich("deployments", "shop"))
    client.force_login(tenant_admin)
    url = edit_url(cluster, "deployments", "shop")
    manifest = form_data(client.get(url, {"mode": "yaml"}).content.decode(), "yaml-form")[
        "manifest"
    ]
    assert "  replicas: 2\n" in manifest
    broken = manifest.replace("  replicas: 2\n", "  replicas: -1\n")
    response = client.post(url, {"mode": "yaml", "action": "preview", "manifest": broken})
    assert response.status_code == 422, errors_of(response)
    page = response.content.decode()
    assert 'id="yaml-errors"' in page and "spec.replicas" in page
    assert form_data(page, "yaml-form")["manifest"] == broken  # what was typed is kept


def test_a_project_member_edits_only_in_the_projects_namespaces(
    client, project_member, cluster, project_web
):
    create(cluster, "deployments", rich("deployments", "mine"), namespace="web")
    create(cluster, "deployments", rich("deployments", "theirs"))
    client.force_login(project_member)
    assert client.get(edit_url(cluster, "deployments", "theirs")).status_code == 403
    url = edit_url(cluster, "deployments", "mine", namespace="web")
    data = form_data(client.get(url).content.decode())
    data.update({"containers-0-image": "nginx:1.28", "action": "save"})
    assert client.post(url, data).status_code == 302
    mine = fetch(cluster, "deployments", "mine", "web")
    assert mine["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"


def test_every_kubernetes_quantity_form_is_accepted():
    from django.core.exceptions import ValidationError as Invalid

    from apps.console.forms.workloads import _quantity

    for good in ("1", "0.5", ".5", "250m", "1e3", "2E-2", "128Mi", "1Gi", "5n", "1.5k"):
        assert _quantity(good) == good
    for bad in ("lots", "1.5.5", "1 Gi", "Mi", "1gi"):
        with pytest.raises(Invalid):
            _quantity(bad)


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_an_untouched_form_builds_the_live_object_exactly(client, tenant_admin, cluster, kind):
    live = create(cluster, kind, rich(kind, "shop"))
    client.force_login(tenant_admin)
    data = form_data(client.get(edit_url(cluster, kind, "shop")).content.decode())
    form = form_for(kind)(data, live=live)
    assert form.is_valid(), form.errors
    assert form.build("default") == live


def test_the_form_speaks_chinese(client, tenant_admin, cluster):
    create(cluster, "deployments", rich("deployments", "shop"))
    client.force_login(tenant_admin)
    client.post("/i18n/setlang/", {"language": "zh-hans"})
    page = client.get(edit_url(cluster, "deployments", "shop")).content.decode()
    assert "容器名称" in page and "存活检查" in page and "添加变量" in page and "删除" in page
    assert 'lang="zh-hans"' in page
