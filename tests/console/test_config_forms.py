"""The console's forms for Services, Ingresses, ConfigMaps, Secrets, Namespaces and HPAs,
against kubesim: an edit through a form keeps every field the form does not show, Secret
values never reach a page or the audit trail, errors (the form's and the cluster's 422
causes) are shown next to their field, and the forms authorize like the API."""

from __future__ import annotations

import base64
import json

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.clusters import k8s, resources, services
from apps.console.forms import registry
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from tests.conftest import PROJECT
from tests.console.config_fixtures import (
    CONFIGMAP,
    HPA,
    NAMESPACE,
    ROUND_TRIPS,
    SECRET,
    SECRET_VALUES,
    SERVICE,
    form_fields,
    without,
)
from tests.console.matrix import ConsoleMatrix
from tests.factories import make_cluster


def plain_hash(obj: dict) -> str:
    """An unkeyed hash of the object as the form's digest canonicalizes it: guesses of a
    Secret's values could be tested offline against it, so it must never reach a page (the
    form's basis is keyed, apps/console/forms/base.digest)."""
    import copy
    import hashlib
    import json

    clean = copy.deepcopy(obj)
    clean.pop("status", None)
    for key in ("resourceVersion", "generation", "managedFields"):
        clean.get("metadata", {}).pop(key, None)
    raw = json.dumps(clean, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster(tenant, sim_cluster):
    spec = k8s.Connection(
        server=sim_cluster.url, token=sim_cluster.token, ca_data=sim_cluster.ca_data
    )
    return services.import_cluster(actor=None, tenant=tenant, display_name="sim", spec=spec)


def kube(cluster):
    return services.client_for(cluster)


def create(cluster, plural: str, namespace: str, body: dict) -> dict:
    kind = resources.kind_for(plural)
    with kube(cluster) as client:
        return resources.create_object(
            client, kind, namespace or None, json.loads(json.dumps(body))
        )


def read(cluster, plural: str, namespace: str, name: str) -> dict:
    kind = resources.kind_for(plural)
    with kube(cluster) as client:
        return resources.get_object(client, kind, namespace or None, name)


def edit_url(cluster, plural: str, namespace: str, name: str) -> str:
    return reverse(
        "console:form-edit",
        kwargs={"cluster": cluster.name, "namespace": namespace or "-", "kind": plural,
                "name": name},
    )  # fmt: skip


def new_url(cluster, plural: str) -> str:
    return reverse("console:form-new", kwargs={"cluster": cluster.name, "kind": plural})


def submit(client, url: str, changes: dict, drop=()) -> tuple[dict, object]:
    """GET the form, change what a user would, POST it back as the browser would."""
    page = client.get(url)
    assert page.status_code == 200, page.content[:3000]
    fields = form_fields(page.content.decode())
    for key in drop:
        fields.pop(key)
    fields.update(changes)
    return fields, client.post(url, fields)


def saved(response) -> bool:
    return response.status_code in (302, 303) or (
        response.status_code == 200 and "HX-Redirect" in response
    )


# -- the registry ----------------------------------------------------------------------------------
def test_every_config_kind_has_a_registered_form():
    for plural in ROUND_TRIPS:
        assert registry.has_form(plural), plural
        assert registry.form_for(plural).kind == plural


# -- round trips --------------------------------------------------------------------------------
@pytest.mark.parametrize("plural", list(ROUND_TRIPS))
def test_an_edit_keeps_every_field_the_form_does_not_show(client, cluster, member, plural):
    obj, namespace, changes, edited = ROUND_TRIPS[plural]
    create(cluster, plural, namespace, obj)
    name = obj["metadata"]["name"]
    before = read(cluster, plural, namespace, name)
    client.force_login(member)

    fields, response = submit(client, edit_url(cluster, plural, namespace, name), changes)

    assert saved(response), response.content.decode()[:4000]
    after = read(cluster, plural, namespace, name)
    assert after["metadata"]["resourceVersion"] != before["metadata"]["resourceVersion"]
    assert without(after, edited) == without(before, edited)
    # ... and the edits are there
    for path in edited:
        node = after
        for key in path:
            node = node[key]
        assert node is not None


@pytest.mark.parametrize("plural", list(ROUND_TRIPS))
def test_saving_an_untouched_form_changes_nothing(client, cluster, member, plural):
    obj, namespace, _changes, _edited = ROUND_TRIPS[plural]
    create(cluster, plural, namespace, obj)
    name = obj["metadata"]["name"]
    before = read(cluster, plural, namespace, name)
    client.force_login(member)

    fields, response = submit(client, edit_url(cluster, plural, namespace, name), {})

    assert saved(response), response.content.decode()[:4000]
    assert without(read(cluster, plural, namespace, name), []) == without(before, [])


def test_the_edits_are_what_was_typed(client, cluster, member):
    create(cluster, "services", "web", SERVICE)
    create(cluster, "configmaps", "web", CONFIGMAP)
    client.force_login(member)
    submit(client, edit_url(cluster, "services", "web", "shop"), ROUND_TRIPS["services"][2])
    submit(client, edit_url(cluster, "configmaps", "web", "shop-config"),
           ROUND_TRIPS["configmaps"][2])  # fmt: skip

    service = read(cluster, "services", "web", "shop")
    assert service["spec"]["ports"][0]["port"] == 8081
    assert service["spec"]["ports"][0]["appProtocol"] == "http"  # kept with its row
    assert service["spec"]["ports"][1]["appProtocol"] == "example.com/prometheus"
    assert service["spec"]["selector"] == {"app": "shop", "tier": "web"}
    configmap = read(cluster, "configmaps", "web", "shop-config")
    assert configmap["data"] == {**CONFIGMAP["data"], "MODE": "slow", "EXTRA": "a\nb"}
    assert configmap["binaryData"] == CONFIGMAP["binaryData"]


def test_removing_a_port_row_keeps_the_other_ports_own_fields(client, cluster, member):
    create(cluster, "services", "web", SERVICE)
    client.force_login(member)
    url = edit_url(cluster, "services", "web", "shop")
    fields = form_fields(client.get(url).content.decode())
    kept = {k: v for k, v in fields.items() if not k.startswith("ports-0-")}

    response = client.post(url, kept)

    assert saved(response), response.content.decode()[:3000]
    ports = read(cluster, "services", "web", "shop")["spec"]["ports"]
    assert [p["name"] for p in ports] == ["metrics"]
    assert ports[0]["appProtocol"] == "example.com/prometheus"
    assert ports[0]["nodePort"] == 30090


# -- Secrets -------------------------------------------------------------------------------------
def _no_secret_in(text: str) -> None:
    for value in SECRET_VALUES:
        assert value not in text
        assert base64.b64encode(value.encode()).decode() not in text


def test_secret_values_never_reach_a_page_or_the_audit_trail(client, cluster, tenant_admin):
    create(cluster, "secrets", "web", SECRET)
    client.force_login(tenant_admin)  # may revealSecret: values are still write-only here
    url = edit_url(cluster, "secrets", "web", "shop-db")

    page = client.get(url).content.decode()
    assert "password" in page and "username" in page  # the keys are listed
    _no_secret_in(page)
    # nor a plain hash of the values (one could test guesses against it)
    assert plain_hash(read(cluster, "secrets", "web", "shop-db")) not in page

    # a typed value with an error elsewhere: the page comes back without the value
    fields, response = submit(
        client, url, {"entries-5-key": "bad key!", "entries-5-secret_value": SECRET_VALUES[2]}
    )
    assert response.status_code == 400
    _no_secret_in(response.content.decode())
    assert read(cluster, "secrets", "web", "shop-db")["data"] == SECRET["data"]

    fields, response = submit(
        client, url, {"entries-5-key": "token", "entries-5-secret_value": SECRET_VALUES[2]}
    )
    assert saved(response), response.content.decode()[:3000]
    data = read(cluster, "secrets", "web", "shop-db")["data"]
    assert base64.b64decode(data["token"]).decode() == SECRET_VALUES[2]
    assert data["password"] == SECRET["data"]["password"]  # left blank: kept

    events = list(AuditEvent.objects.filter(path__contains="/secrets/"))
    assert len(events) >= 2
    for event in events:
        _no_secret_in(json.dumps(event.request_body) + event.message + event.path)


def test_a_renamed_secret_key_keeps_its_value(client, cluster, member):
    create(cluster, "secrets", "web", SECRET)
    client.force_login(member)
    url = edit_url(cluster, "secrets", "web", "shop-db")
    fields = form_fields(client.get(url).content.decode())
    row = next(k for k, v in fields.items() if k.endswith("-key") and v == "username")
    fields[row] = "user"

    assert saved(client.post(url, fields))

    data = read(cluster, "secrets", "web", "shop-db")["data"]
    assert set(data) == {"password", "user"}
    assert data["user"] == SECRET["data"]["username"]


def test_a_secret_created_through_the_form_is_stored_as_base64(client, cluster, member):
    client.force_login(member)
    fields, response = submit(
        client,
        new_url(cluster, "secrets"),
        {
            "namespace": "web",
            "name": "api-token",
            "type": "Opaque",
            "entries-0-key": "token",
            "entries-0-secret_value": SECRET_VALUES[2],
        },
    )
    assert saved(response), response.content.decode()[:3000]
    obj = read(cluster, "secrets", "web", "api-token")
    assert obj["type"] == "Opaque"
    assert base64.b64decode(obj["data"]["token"]).decode() == SECRET_VALUES[2]
    _no_secret_in(response.content.decode())
    for event in AuditEvent.objects.filter(path__contains="/secrets"):
        _no_secret_in(json.dumps(event.request_body) + event.message)


# -- errors --------------------------------------------------------------------------------------
def _error_next_to(page: str, field: str) -> str:
    """The error text rendered for ``field`` (its input is marked invalid and described by
    the error), or an AssertionError."""
    marker = f'id="id_{field}"'
    assert marker in page, f"no field {field} on the page"
    start = page.index(marker)
    tag = page[page.rfind("<", 0, start) : page.index(">", start) + 1]
    assert 'aria-invalid="true"' in tag, tag
    error_id = f"id_{field}_error"
    assert error_id in tag, tag
    at = page.index(f'id="{error_id}"')
    return page[at : page.index("</", at)]


def test_validation_errors_name_the_field(client, cluster, member):
    create(cluster, "services", "web", SERVICE)
    client.force_login(member)
    fields, response = submit(
        client,
        edit_url(cluster, "services", "web", "shop"),
        {"ports-1-port": "70000", "selector-3-key": "not a key"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "65535" in _error_next_to(page, "ports-1-port")
    assert _error_next_to(page, "selector-3-key")
    # nothing typed is lost: the page shows what was sent
    assert 'value="70000"' in page and 'value="not a key"' in page
    assert read(cluster, "services", "web", "shop")["spec"]["ports"][1]["port"] == 9090


def test_the_clusters_422_causes_are_shown_next_to_the_field(client, cluster, member):
    """A Service with several ports must name each: the form leaves that rule to the
    cluster, whose 422 cause (spec.ports[1].name) is shown next to that port's name."""
    create(cluster, "services", "web", SERVICE)
    client.force_login(member)
    fields, response = submit(
        client,
        edit_url(cluster, "services", "web", "shop"),
        {"ports-1-name": "", "ports-1-port": "9191"},
    )
    assert response.status_code == 422, response.content.decode()[:3000]
    page = response.content.decode()
    assert "Required" in _error_next_to(page, "ports-1-name")
    assert 'value="9191"' in page  # what was typed is still there
    assert read(cluster, "services", "web", "shop")["spec"]["ports"][1]["port"] == 9090


# -- authorization -----------------------------------------------------------------------------
@pytest.fixture
def project_namespace(tenant, cluster):
    project = Project.objects.create(tenant=tenant, name=PROJECT, display_name="Test")
    ProjectCluster.objects.create(project=project, cluster=cluster, hard={"pods": "20"})
    return ProjectNamespace.objects.create(
        tenant=tenant, project=project, cluster=cluster, namespace="web", hard={"pods": "10"},
        phase="Available",
    )  # fmt: skip


def test_a_project_member_creates_only_in_the_projects_namespaces(
    client, cluster, project_member, project_namespace
):
    client.force_login(project_member)
    body = {"name": "shop-config", "entries-0-key": "MODE", "entries-0-value": "fast"}
    url = new_url(cluster, "configmaps")
    page = client.get(url).content.decode()
    assert '<option value="web"' in page and '<option value="data"' not in page

    fields, response = submit(client, url, {**body, "namespace": "web"})
    assert saved(response), response.content.decode()[:3000]
    assert read(cluster, "configmaps", "web", "shop-config")["data"] == {"MODE": "fast"}

    response = client.post(url, {**fields, **body, "namespace": "data"})
    assert response.status_code == 400
    assert _error_next_to(response.content.decode(), "namespace")
    with pytest.raises(k8s.ClusterNotFound):
        read(cluster, "configmaps", "data", "shop-config")


def test_a_project_member_cannot_create_a_cluster_namespace(
    client, cluster, project_member, project_namespace
):
    """A Namespace is cluster-scoped: judged in the platform domain, as by the API, where a
    project member holds nothing (their project's namespaces come from the project)."""
    client.force_login(project_member)
    url = new_url(cluster, "namespaces")
    response = client.get(url)
    assert response.status_code == 403
    page = response.content.decode()
    assert 'id="why-link"' in page and "createNamespace" in page
    response = client.post(url, {"name": "sneaky"})
    assert response.status_code == 403
    with pytest.raises(k8s.ClusterNotFound):
        read(cluster, "namespaces", "", "sneaky")


def test_a_reader_cannot_edit(client, cluster, read_only_user):
    create(cluster, "configmaps", "web", CONFIGMAP)
    client.force_login(read_only_user)
    url = edit_url(cluster, "configmaps", "web", "shop-config")
    response = client.post(url, {"entries-0-key": "MODE", "entries-0-value": "x"})
    assert response.status_code == 403
    assert read(cluster, "configmaps", "web", "shop-config")["data"] == CONFIGMAP["data"]


def test_another_tenants_user_gets_404(client, cluster, other_user):
    create(cluster, "services", "web", SERVICE)
    client.force_login(other_user)
    url = edit_url(cluster, "services", "web", "shop")
    assert client.get(url).status_code == 404
    response = client.post(url, {"type": "ClusterIP"})
    assert response.status_code == 404
    assert read(cluster, "services", "web", "shop")["spec"]["type"] == "NodePort"


@pytest.fixture
def no_reveal(member, tenant):
    """The member, denied revealSecret: may write Secrets, never read their values."""
    from apps.authz.services import create_policy
    from tests.factories import bind

    create_policy(
        actor=None,
        tenant=tenant,
        name="no-reveal",
        statements=[{"actions": ["revealSecret"], "resources": ["*"], "effect": "deny"}],
    )
    bind(member, "no-reveal")
    return member


def test_without_reveal_secret_no_mode_shows_a_value(client, cluster, no_reveal):
    create(cluster, "secrets", "web", SECRET)
    client.force_login(no_reveal)
    url = edit_url(cluster, "secrets", "web", "shop-db")

    form_page = client.get(url).content.decode()
    yaml_page = client.get(f"{url}?mode=yaml").content.decode()
    fields, switched = submit(
        client,
        url,
        {
            "action": "yaml",
            "entries-5-key": "token",
            "entries-5-secret_value": SECRET_VALUES[2],
        },  # fmt: skip
    )

    assert "password" in form_page and 'id="yaml-manifest"' in yaml_page
    assert switched.status_code == 200 and 'id="yaml-manifest"' in switched.content.decode()
    for page in (form_page, yaml_page, switched.content.decode()):
        _no_secret_in(page)
    # an edit still keeps the values the user never saw
    typed = {"entries-5-key": "token", "entries-5-secret_value": SECRET_VALUES[2]}
    fields, response = submit(client, url, typed)
    assert saved(response), response.content.decode()[:3000]
    data = read(cluster, "secrets", "web", "shop-db")["data"]
    assert data["password"] == SECRET["data"]["password"]
    assert data["username"] == SECRET["data"]["username"]
    for event in AuditEvent.objects.filter(path__contains="/secrets/"):
        _no_secret_in(json.dumps(event.request_body) + event.message)


# -- HPA targets -------------------------------------------------------------------------------


class TestHPATargetsMatrix(ConsoleMatrix):
    url_name = "console:config-hpa-targets"
    expect = "data-hpa-targets"
    no_permission = "cluster_only"
    object_page = True

    def make_object(self, tenant):
        self.cluster = make_cluster(tenant, display_name="hpa-targets")
        return self.cluster

    def url_for(self, tenant):
        from apps.clusters.models import Cluster

        cluster = Cluster.objects.filter(display_name="hpa-targets").first()
        name = cluster.name if cluster else "cls-missing"
        return reverse("console:config-hpa-targets", kwargs={"cluster": name}) + "?namespace=web"


def test_hpa_targets_are_the_namespaces_workloads(client, cluster, member):
    client.force_login(member)
    url = reverse("console:config-hpa-targets", kwargs={"cluster": cluster.name})
    page = client.get(url, {"namespace": "web", "current": "Deployment/gone"}).content.decode()
    assert 'value="Deployment/frontend"' in page and 'value="Deployment/api"' in page
    assert 'value="Deployment/gone" selected' in page  # the live target stays offered
    other = client.get(url, {"namespace": "data"}).content.decode()
    assert 'value="Deployment/frontend"' not in other


def test_hpa_targets_say_when_the_cluster_is_unreachable(client, tenant, member):
    dead = make_cluster(tenant, display_name="dead")
    client.force_login(member)
    url = reverse("console:config-hpa-targets", kwargs={"cluster": dead.name})
    response = client.get(url, {"namespace": "web"})
    assert response.status_code == 200
    assert f"Cluster {dead.name} unreachable" in response.content.decode()


def test_an_hpa_created_through_the_form_scales_the_chosen_workload(client, cluster, member):
    client.force_login(member)
    fields, response = submit(
        client,
        new_url(cluster, "horizontalpodautoscalers"),
        {
            "namespace": "web",
            "name": "api",
            "target": "Deployment/api",
            "min_replicas": "2",
            "max_replicas": "6",
            "cpu": "60",
            "memory": "75",
        },  # fmt: skip
    )
    assert saved(response), response.content.decode()[:3000]
    spec = read(cluster, "horizontalpodautoscalers", "web", "api")["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"}
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 6)
    targets = {m["resource"]["name"]: m["resource"]["target"] for m in spec["metrics"]}
    assert targets == {
        "cpu": {"type": "Utilization", "averageUtilization": 60},
        "memory": {"type": "Utilization", "averageUtilization": 75},
    }


def test_an_ingress_created_through_the_form(client, cluster, member):
    client.force_login(member)
    fields, response = submit(
        client,
        new_url(cluster, "ingresses"),
        {
            "namespace": "web",
            "name": "shop",
            "ingress_class": "nginx",
            "rules-0-host": "shop.example.com",
            "rules-0-paths-0-path": "/",
            "rules-0-paths-0-path_type": "Prefix",
            "rules-0-paths-0-service": "frontend",
            "rules-0-paths-0-port": "80",
            "tls-0-hosts": "shop.example.com",
            "tls-0-secret_name": "shop-tls",
        },  # fmt: skip
    )
    assert saved(response), response.content.decode()[:3000]
    spec = read(cluster, "ingresses", "web", "shop")["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["rules"] == [
        {"host": "shop.example.com", "http": {"paths": [
            {"path": "/", "pathType": "Prefix",
             "backend": {"service": {"name": "frontend", "port": {"number": 80}}}}]}}
    ]  # fmt: skip
    assert spec["tls"] == [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}]


def test_a_secret_changed_meanwhile_is_a_conflict_without_revealing_anything(
    client, cluster, member
):
    create(cluster, "secrets", "web", SECRET)
    client.force_login(member)
    url = edit_url(cluster, "secrets", "web", "shop-db")
    fields = form_fields(client.get(url).content.decode())
    kind = resources.kind_for("secrets")
    with kube(cluster) as api:
        live = resources.get_object(api, kind, "web", "shop-db")
        live["data"]["password"] = base64.b64encode(b"rotated-elsewhere").decode()
        resources.replace_object(api, kind, "web", "shop-db", live)

    response = client.post(url, {**fields, "entries-5-key": "token",
                                 "entries-5-secret_value": "t"})  # fmt: skip

    assert response.status_code == 409
    page = response.content.decode()
    assert plain_hash(read(cluster, "secrets", "web", "shop-db")) not in page
    assert "rotated-elsewhere" not in page
    fields = form_fields(page)
    again = client.post(url, fields)  # the value typed is not on the page: asked again
    assert again.status_code == 400
    row = next(k for k, v in fields.items() if v == "token").rsplit("-", 1)[0]
    assert "Type the value" in _error_next_to(again.content.decode(), f"{row}-secret_value")
    again = client.post(url, {**fields, f"{row}-secret_value": "t"})
    assert saved(again), again.content.decode()[:3000]
    data = read(cluster, "secrets", "web", "shop-db")["data"]
    assert base64.b64decode(data["password"]) == b"rotated-elsewhere"  # not overwritten
    assert base64.b64decode(data["token"]) == b"t"


# -- boundary objects ------------------------------------------------------------------------------
def test_a_project_namespaces_portal_labels_stay_whatever_is_posted(client, cluster, tenant_admin):
    labels = {"team": "shop", "tkeportal.io/project": "prj-test", "tkeportal.io/tenant": "acme"}
    labelled = {**NAMESPACE, "metadata": {**NAMESPACE["metadata"], "labels": labels}}
    create(cluster, "namespaces", "", labelled)
    client.force_login(tenant_admin)
    url = edit_url(cluster, "namespaces", "", "shop-staging")
    page = client.get(url).content.decode()
    assert 'id="fixed-labels"' in page and "tkeportal.io/project=prj-test" in page
    fields = form_fields(page)
    assert "tkeportal.io/project" not in fields.values()  # not an editable row

    fields, refused = submit(
        client, url, {"labels-7-key": "tkeportal.io/project", "labels-7-value": "prj-other"}
    )
    assert refused.status_code == 400
    assert "kept by the portal" in _error_next_to(refused.content.decode(), "labels-7-key")

    team = next(k for k, v in fields.items() if v == "team")
    kept = {k: v for k, v in fields.items() if not k.startswith(team.rsplit("-", 1)[0])}
    assert saved(client.post(url, {k: v for k, v in kept.items() if "labels-7" not in k}))
    labels = read(cluster, "namespaces", "", "shop-staging")["metadata"]["labels"]
    assert "team" not in labels  # the row removed
    assert labels["tkeportal.io/project"] == "prj-test" and labels["tkeportal.io/tenant"] == "acme"


def test_a_service_capturing_traffic_is_judged_as_an_endpoints_write(
    client, cluster, member, tenant_admin
):
    """externalIPs (not on the form) come back with every edit, so every edit is judged as
    the power they carry (createEndpoints), as by the API: refused to a platform user,
    allowed to the administrator — and kept."""
    capturing = {**SERVICE, "spec": {**SERVICE["spec"], "externalIPs": ["203.0.113.7"]}}
    create(cluster, "services", "web", capturing)
    url = edit_url(cluster, "services", "web", "shop")

    client.force_login(member)
    fields, response = submit(client, url, {"ports-0-port": "8081"})
    assert response.status_code == 403
    assert "createEndpoints" in response.content.decode()
    assert read(cluster, "services", "web", "shop")["spec"]["ports"][0]["port"] == 80

    client.force_login(tenant_admin)
    fields, response = submit(client, url, {"ports-0-port": "8081"})
    assert saved(response), response.content.decode()[:3000]
    spec = read(cluster, "services", "web", "shop")["spec"]
    assert spec["ports"][0]["port"] == 8081 and spec["externalIPs"] == ["203.0.113.7"]


def test_the_hpa_form_loads_the_namespaces_workloads(client, cluster, member):
    create(cluster, "horizontalpodautoscalers", "web", HPA)
    client.force_login(member)
    page = client.get(edit_url(cluster, "horizontalpodautoscalers", "web", "frontend"))
    html = page.content.decode()
    targets = reverse("console:config-hpa-targets", kwargs={"cluster": cluster.name})
    assert f'hx-get="{targets}"' in html
    assert '<option value="Deployment/frontend" selected>' in html
    assert 'id="hpa-namespace" name="namespace" value="web"' in html
    new_page = client.get(new_url(cluster, "horizontalpodautoscalers")).content.decode()
    assert "change from:#id_namespace" in new_page


def test_a_service_turned_cluster_ip_loses_only_what_a_cluster_ip_cannot_have(
    client, cluster, member
):
    create(cluster, "services", "web", SERVICE)
    before = read(cluster, "services", "web", "shop")
    client.force_login(member)
    fields, response = submit(
        client, edit_url(cluster, "services", "web", "shop"), {"type": "ClusterIP"}
    )
    assert saved(response), response.content.decode()[:3000]
    after = read(cluster, "services", "web", "shop")
    assert after["spec"]["type"] == "ClusterIP"
    assert [p.get("nodePort") for p in after["spec"]["ports"]] == [None, None]
    assert "externalTrafficPolicy" not in after["spec"]
    assert [p["appProtocol"] for p in after["spec"]["ports"]] == ["http", "example.com/prometheus"]
    dropped = [("spec", "type"), ("spec", "externalTrafficPolicy"),
               ("spec", "ports", 0, "nodePort"), ("spec", "ports", 1, "nodePort")]  # fmt: skip
    assert without(after, dropped) == without(before, dropped)


def test_a_namespace_created_through_the_form(client, cluster, tenant_admin):
    client.force_login(tenant_admin)
    fields, response = submit(
        client,
        new_url(cluster, "namespaces"),
        {"name": "team-x", "labels-0-key": "team", "labels-0-value": "x"},
    )
    assert saved(response), response.content.decode()[:3000]
    labels = read(cluster, "namespaces", "", "team-x")["metadata"]["labels"]
    assert labels["team"] == "x"
    event = AuditEvent.objects.filter(action="createNamespace").latest("created_at")
    assert event.resource == f"cluster:{cluster.name}/namespace:team-x"


def test_hpa_targets_make_as_many_queries_for_many_workloads_as_for_one(client, cluster, member):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for index in range(5):
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": f"extra-{index}"},
            "spec": {
                "selector": {"matchLabels": {"app": f"extra-{index}"}},
                "template": {
                    "metadata": {"labels": {"app": f"extra-{index}"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            },
        }
        create(cluster, "deployments", "ml", deployment)
    client.force_login(member)
    url = reverse("console:config-hpa-targets", kwargs={"cluster": cluster.name})
    client.get(url, {"namespace": "data"})  # warm the policy caches
    with CaptureQueriesContext(connection) as few:
        one = client.get(url, {"namespace": "data"}).content.decode()
    with CaptureQueriesContext(connection) as many:
        lots = client.get(url, {"namespace": "ml"}).content.decode()
    assert lots.count('value="Deployment/extra-') == 5
    assert one.count('value="Deployment/extra-') == 0
    assert len(many.captured_queries) == len(few.captured_queries)


def test_an_immutable_configmaps_refusal_is_shown_and_nothing_changes(client, cluster, member):
    create(cluster, "configmaps", "web", {**CONFIGMAP, "immutable": True})
    client.force_login(member)
    url = edit_url(cluster, "configmaps", "web", "shop-config")
    assert 'id="immutable-note"' in client.get(url).content.decode()
    fields, response = submit(client, url, {"entries-0-value": "slow"})
    assert response.status_code == 422
    assert "immutable" in response.content.decode()
    assert form_fields(response.content.decode())["entries-0-value"] == "slow"  # kept
    assert read(cluster, "configmaps", "web", "shop-config")["data"] == CONFIGMAP["data"]


def test_an_external_name_service_keeps_its_type(client, cluster, member):
    external = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "db"},
        "spec": {"type": "ExternalName", "externalName": "db.example.com"},
    }
    create(cluster, "services", "web", external)
    before = read(cluster, "services", "web", "db")
    client.force_login(member)
    fields, response = submit(client, edit_url(cluster, "services", "web", "db"), {})
    assert saved(response), response.content.decode()[:3000]
    assert without(read(cluster, "services", "web", "db"), []) == without(before, [])


def test_an_hpa_scaling_another_kind_keeps_its_target(client, cluster, member):
    other = {**HPA, "metadata": {"name": "rs"}, "spec": {
        **HPA["spec"], "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                          "name": "legacy"}}}  # fmt: skip
    create(cluster, "horizontalpodautoscalers", "web", other)
    before = read(cluster, "horizontalpodautoscalers", "web", "rs")
    client.force_login(member)
    url = edit_url(cluster, "horizontalpodautoscalers", "web", "rs")
    fields, response = submit(client, url, {"max_replicas": "9"})
    assert saved(response), response.content.decode()[:3000]
    after = read(cluster, "horizontalpodautoscalers", "web", "rs")
    assert after["spec"]["scaleTargetRef"] == before["spec"]["scaleTargetRef"]
    assert after["spec"]["maxReplicas"] == 9
    # choosing another kind of target than a Deployment or StatefulSet is refused
    fields, response = submit(client, url, {"target": "DaemonSet/kube-proxy"})
    assert response.status_code == 400
    assert "Deployment or StatefulSet" in _error_next_to(response.content.decode(), "target")


def test_a_tls_secret_needs_its_keys(client, cluster, member):
    client.force_login(member)
    url = new_url(cluster, "secrets")
    body = {"namespace": "web", "name": "shop-tls", "type": "kubernetes.io/tls",
            "entries-0-key": "tls.crt", "entries-0-secret_value": "cert"}  # fmt: skip
    fields, response = submit(client, url, body)
    assert response.status_code == 400
    assert "tls.key" in _error_next_to(response.content.decode(), "type")
    fields, response = submit(
        client, url, {**body, "entries-1-key": "tls.key", "entries-1-secret_value": "key"}
    )
    assert saved(response), response.content.decode()[:3000]
    assert set(read(cluster, "secrets", "web", "shop-tls")["data"]) == {"tls.crt", "tls.key"}


@pytest.mark.parametrize(
    ("plural", "label"),
    [
        ("services", "会话保持"),
        ("ingresses", "添加规则"),
        ("configmaps", "添加条目"),
        ("secrets", "值从不显示"),
        ("namespaces", "添加标签"),
        ("horizontalpodautoscalers", "最大副本数"),
    ],
)
def test_the_forms_speak_chinese(client, cluster, member, plural, label):
    obj, namespace, _changes, _edited = ROUND_TRIPS[plural]
    create(cluster, plural, namespace, obj)
    client.force_login(member)
    client.post("/i18n/setlang/", {"language": "zh-hans"})
    page = client.get(edit_url(cluster, plural, namespace, obj["metadata"]["name"]))
    assert page.status_code == 200
    assert label in page.content.decode()
