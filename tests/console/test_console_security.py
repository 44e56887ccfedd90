"""Security review of the console (issue 12): each test names a bug class the earlier review
of the API found (path walking, Secret values leaking, users acting above themselves) and
checks the console against it with real kubesim and the real database.

Findings fixed here (each test failed before its fix):
- ``test_a_client_key_never_reaches_the_audit_trail``: the import and rotation forms' client
  key (a kubeconfig's ``client-key-data``, base64) was stored in the audit row.
- ``test_a_namespace_filter_that_is_no_namespace_name_is_404``: a namespace filter such as
  ``web/../other`` was judged in the project domain of ``web`` and sent to the cluster
  (and ``test_the_pods_namespace_filter_is_a_namespace_name``, the pods page's filter).
- ``test_the_pods_page_lists_no_namespaces_to_one_denied_list_namespaces``: the pods page
  listed every namespace name to one denied listNamespaces.
- ``test_a_password_in_the_server_url_is_neither_echoed_nor_audited``: a refused server URL
  holding a password was shown back in the form and stored in the audit row.

The other tests are what was checked and found sound, kept as regression tests.
"""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.authz.models import Binding, Policy
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from tests.console import test_clusters
from tests.console.test_clusters import make_pod
from tests.factories import UserFactory, make_cluster

# The cluster pages' fixtures (a kubesim cluster, prj-test owning its namespace ``web``).
cluster = pytest.fixture(test_clusters.cluster.__wrapped__, name="cluster")
project = pytest.fixture(test_clusters.project.__wrapped__, name="project")
kube = pytest.fixture(test_clusters.kube.__wrapped__, name="kube")

pytestmark = pytest.mark.django_db

# A kubeconfig's client-key-data: the private key's PEM, base64-encoded (no PEM markers left).
PEM = (
    b"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq0x3c1pqzP\n"
    b"-----END RSA PRIVATE KEY-----\n"
)
CLIENT_KEY = base64.b64encode(PEM).decode()


def _namespace(kube, name):
    if name not in {n.metadata.name for n in kube.list_namespace().items}:
        kube.create_namespace({"metadata": {"name": name}})


def _secret(kube, namespace, name, value):
    _namespace(kube, namespace)
    data = {"k": base64.b64encode(value.encode()).decode()}
    kube.create_namespaced_secret(namespace, {"metadata": {"name": name}, "data": data})


# -- Secret values: the audit trail -------------------------------------------------------------
def test_a_client_key_never_reaches_the_audit_trail(client, tenant_admin, cluster):
    """Importing a cluster and rotating its credential with a client certificate: the key
    (as a kubeconfig holds it, base64) is neither in the answer nor in the audit rows."""
    client.force_login(tenant_admin)
    imported = client.post(
        reverse("console:clusters"),
        {
            "display_name": "keyed",
            "server": "https://127.0.0.1:1",
            "client_cert": "Y2VydA==",
            "client_key": CLIENT_KEY,
        },
    )
    rotated = client.post(
        reverse("console:cluster-rotate", kwargs={"cluster": cluster.name}),
        {"client_cert": "Y2VydA==", "client_key": CLIENT_KEY},
    )
    assert imported.status_code == 400 and rotated.status_code == 400  # both probes fail
    for response in (imported, rotated):
        assert CLIENT_KEY not in response.content.decode()
    rows = {
        e.action: e
        for e in AuditEvent.objects.filter(action__in=("createCluster", "updateCluster"))
    }
    assert set(rows) == {"createCluster", "updateCluster"}
    for row in rows.values():
        assert row.request_body["client_key"] == "[redacted]", row.request_body
        assert CLIENT_KEY[:24] not in str(row.request_body)
    assert rows["updateCluster"].resource == cluster.authz_resource


# -- path walking: a namespace filter is a namespace name ------------------------------------
WALKS = ["web/../other", "web/x", "web/../../other"]


@pytest.mark.parametrize("walk", WALKS)
def test_a_namespace_filter_that_is_no_namespace_name_is_404(
    client, project, project_member, cluster, kube, walk
):
    """The API takes a namespace only as a DNS label in its URL; the console's namespace
    filter is the same: anything else is 404, never judged (``web/..`` was judged in the
    domain of the project owning ``web``, and allowed) nor sent to the cluster."""
    _secret(kube, "other", "theirs", "v2")
    client.force_login(project_member)
    url = reverse("console:secrets", kwargs={"cluster": cluster.name})
    response = client.get(url, {"namespace": walk})
    assert response.status_code == 404, (response.status_code, response.content[:300])
    assert "theirs" not in response.content.decode()
    ok = client.get(url, {"namespace": "web"})  # the filter still works with a name
    assert ok.status_code == 200 and 'id="kind-namespace"' in ok.content.decode()


@pytest.mark.parametrize("walk", [*WALKS, "*", "web%2Fx"])
def test_the_pods_namespace_filter_is_a_namespace_name(client, member, cluster, kube, walk):
    """The same on the pods page, for someone who may list pods everywhere (whose filter
    was judged as given and sent to the cluster as one escaped segment)."""
    _namespace(kube, "web")
    client.force_login(member)
    url = reverse("console:pods", kwargs={"cluster": cluster.name})
    response = client.get(url, {"namespace": walk})
    assert response.status_code == 404, (response.status_code, response.content[:300])
    assert client.get(url, {"namespace": "web"}).status_code == 200


# -- users acting above themselves: the pods page's namespace choices ---------------------------
def test_the_pods_page_lists_no_namespaces_to_one_denied_list_namespaces(
    client, tenant, cluster, kube, api
):
    """Whoever may list pods everywhere but not namespaces (the API answers 403 to their
    namespace list) does not get the cluster's namespace names as the filter's choices."""
    kube.create_namespace({"metadata": {"name": "hidden-ns"}})
    policy = Policy.objects.create(
        tenant=tenant,
        name="pods-only",
        statements=[
            {"actions": ["getCluster", "listPods"], "resources": ["cluster:*"], "effect": "allow"},
            {"actions": ["listNamespaces"], "resources": ["*"], "effect": "deny"},
        ],
    )
    user = UserFactory(tenant=tenant, username="podder")
    Binding.objects.create(tenant=tenant, user=user, policy=policy)
    assert api(user).get(f"/api/v1/clusters/{cluster.name}/namespaces/").status_code == 403
    make_pod(kube, "default", "visible-pod")
    client.force_login(user)
    page = client.get(reverse("console:pods", kwargs={"cluster": cluster.name}))
    body = page.content.decode()
    assert page.status_code == 200 and 'data-pod="default/visible-pod"' in body
    assert "hidden-ns" not in body


# -- what was checked and found sound (kept as regression tests) ---------------------------------
def _node_unschedulable(kube, name="node-1") -> bool:
    return bool(kube.read_node(name).spec.unschedulable)


def _post_routes(cluster, project_name="prj-test"):
    c = cluster.name
    return [
        (reverse("console:cluster-health", kwargs={"cluster": c}), {}),
        (reverse("console:cluster-rotate", kwargs={"cluster": c}), {"token": "t"}),
        (reverse("console:node-op", kwargs={"cluster": c, "name": "node-1", "op": "cordon"}), {}),
        (reverse("console:node", kwargs={"cluster": c, "name": "node-1"}), {"labels": "x=y"}),
        (
            reverse("console:project-member-add", args=[project_name]),
            {"kind": "user", "name": "mallory", "roles": "project-owner"},
        ),
        (
            reverse("console:project-namespace-create", args=[project_name]),
            {"cluster": c, "namespace": "stolen"},
        ),
        (
            reverse("console:project-namespace-delete", args=[project_name, c, "web"]),
            {},
        ),
        (reverse("console:project-kubeconfig", args=[project_name]), {"lifetime": "1h"}),
    ]


def test_another_tenants_objects_are_404_to_every_post_and_fragment(
    client, project, other_user, cluster, kube
):
    """Another tenant's administrator: every page, HTMX fragment and POST action about this
    tenant's cluster and project is 404 (never 403, never content), and nothing changes."""
    make_pod(kube, "web", "api-1")
    client.force_login(other_user)
    c = cluster.name
    gets = [
        reverse("console:cluster", kwargs={"cluster": c}),
        reverse("console:pods", kwargs={"cluster": c}) + "?fragment=table&namespace=web",
        reverse("console:pod", kwargs={"cluster": c, "namespace": "web", "name": "api-1"}),
        reverse("console:node", kwargs={"cluster": c, "name": "node-1"}),
        reverse("console:kind-list", kwargs={"cluster": c, "kind": "secrets"}) + "?namespace=web",
        reverse(
            "console:object",
            kwargs={"cluster": c, "namespace": "web", "kind": "secrets", "name": "x"},
        ),
        reverse("console:project", args=["prj-test"]),
    ]
    for url in gets:
        response = client.get(url, HTTP_HX_REQUEST="true")
        assert response.status_code == 404, url
        assert "api-1" not in response.content.decode()
    for url, data in _post_routes(cluster):
        assert client.post(url, data, HTTP_HX_REQUEST="true").status_code == 404, url
    assert not _node_unschedulable(kube)
    assert not ProjectNamespace.objects.filter(namespace="stolen").exists()
    assert ProjectNamespace.objects.filter(namespace="web").exists()


def test_every_post_needs_the_csrf_token(project, tenant_admin, cluster, kube):
    """The console's POST actions are refused (403) without the CSRF token; nothing changes."""
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(tenant_admin)
    for url, data in _post_routes(cluster):
        response = csrf_client.post(url, data)
        assert response.status_code == 403, url
        assert b"CSRF" in response.content or b"csrf" in response.content.lower(), url
    switched = csrf_client.post(reverse("console:tenant-switch"), {"tenant": "acme"})
    assert switched.status_code == 403
    assert not _node_unschedulable(kube)
    assert not ProjectNamespace.objects.filter(namespace="stolen").exists()


def test_a_project_member_stays_inside_the_project(
    client, tenant, project, project_member, cluster, kube
):
    """Cluster-scoped kinds, node operations and edits, others' namespaces, escalating their
    own role: refused (the console's 403), and nothing changes."""
    _namespace(kube, "other")
    _secret(kube, "other", "theirs", "v2")
    client.force_login(project_member)
    c = cluster.name
    refused = [
        reverse("console:nodes", kwargs={"cluster": c}),
        reverse("console:node", kwargs={"cluster": c, "name": "node-1"}),
        reverse("console:kind-list", kwargs={"cluster": c, "kind": "persistentvolumes"}),
        reverse("console:kind-list", kwargs={"cluster": c, "kind": "storageclasses"}),
        reverse("console:crds", kwargs={"cluster": c}),
        reverse("console:pods", kwargs={"cluster": c}) + "?namespace=other",
        reverse("console:kind-list", kwargs={"cluster": c, "kind": "events"}) + "?namespace=other",
        reverse(
            "console:object",
            kwargs={"cluster": c, "namespace": "other", "kind": "secrets", "name": "theirs"},
        ),
    ]
    for url in refused:
        response = client.get(url)
        assert response.status_code == 403, url
        assert 'href="/why/?' in response.content.decode() or "/why/" in response.content.decode()
    for op in ("cordon", "drain"):
        url = reverse("console:node-op", kwargs={"cluster": c, "name": "node-1", "op": op})
        assert client.post(url).status_code == 403
    node = reverse("console:node", kwargs={"cluster": c, "name": "node-1"})
    assert client.post(node, {"labels": "pwned=yes"}).status_code == 403
    assert not _node_unschedulable(kube)
    assert "pwned" not in (kube.read_node("node-1").metadata.labels or {})
    # Their own role: they may not change it to owner, nor add themselves again as owner.
    update = reverse("console:project-member-update", args=["prj-test", "pete"])
    assert client.post(update, {"roles": "project-owner"}).status_code == 403
    add = reverse("console:project-member-add", args=["prj-test"])
    response = client.post(add, {"kind": "user", "name": "pete", "roles": "project-owner"})
    assert response.status_code == 403
    owners = Binding.objects.filter(user=project_member, policy__name="project-owner")
    assert not owners.exists()
    # The namespace list across namespaces: their project's only.
    secrets = client.get(reverse("console:secrets", kwargs={"cluster": c}))
    assert secrets.status_code == 200 and "theirs" not in secrets.content.decode()


def test_a_project_kubeconfig_of_a_project_one_is_not_in_is_404(client, tenant, project):
    """Another project of the same tenant: its kubeconfig is 404 to a member of prj-test."""
    from tests.conftest import persona

    Project.objects.create(tenant=tenant, name="prj-else", display_name="Else")
    pete = persona(tenant, "pete2", "project-member", "prj-test")
    client.force_login(pete)
    url = reverse("console:project-kubeconfig", args=["prj-else"])
    response = client.post(url, {"lifetime": "1h"})
    assert response.status_code == 404
    assert b"apiVersion" not in response.content


XSS = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


def test_kubernetes_labels_and_annotations_are_escaped(client, member, cluster, kube):
    """Names are DNS labels, but label and annotation values and event messages are free
    text: every page shows them escaped."""
    _namespace(kube, "web")
    kube.patch_namespace("web", {"metadata": {"labels": {"evil": "x"}}})
    kube.create_namespaced_config_map(
        "web",
        {"metadata": {"name": "cm", "annotations": {"note": XSS}}, "data": {"k": XSS}},
    )
    kube.patch_node("node-1", {"metadata": {"annotations": {"note": XSS}}})
    client.force_login(member)
    c = cluster.name
    pages = [
        reverse(
            "console:object",
            kwargs={"cluster": c, "namespace": "web", "kind": "configmaps", "name": "cm"},
        ),  # fmt: skip
        reverse("console:node", kwargs={"cluster": c, "name": "node-1"}),
        reverse("console:configmaps", kwargs={"cluster": c}) + "?search=" + XSS[:20],
        reverse("console:why") + "?action=getPod&resource=" + XSS,
    ]
    for url in pages:
        body = client.get(url).content.decode()
        assert "<script>alert(1)" not in body and "<img src=x" not in body, url
        assert "&lt;script&gt;alert(1)" in body or "&lt;script&gt;" in body, url


def test_the_tenant_switcher_is_the_platform_administrators_and_redirects_inside(
    client, tenant, other_tenant, tenant_admin, platform_admin
):
    """A tenant administrator's switch changes nothing; ``next`` never leaves the site."""
    from apps.console.scope import SESSION_KEY

    other = make_cluster(other_tenant, display_name="theirs")
    client.force_login(tenant_admin)
    response = client.post(
        reverse("console:tenant-switch"), {"tenant": "globex", "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    assert SESSION_KEY not in client.session
    assert client.get(reverse("console:cluster", kwargs={"cluster": other.name})).status_code == 404
    for target in ("//evil.example/", "/\\evil.example", "https:evil.example"):
        response = client.post(reverse("console:tenant-switch"), {"next": target})
        assert response["Location"] == "/", target
    client.force_login(platform_admin)
    client.post(reverse("console:tenant-switch"), {"tenant": "acme", "next": "/clusters/"})
    assert client.session[SESSION_KEY] == "acme"
    # Switched to acme: globex's cluster is out of scope for the console too.
    assert client.get(reverse("console:cluster", kwargs={"cluster": other.name})).status_code == 404


def test_secret_values_reach_no_page_of_one_without_reveal_secret(
    client, project, project_viewer, cluster, kube
):
    """A project viewer (get and list, no revealSecret): the Secret's page, YAML (with
    kubectl's last-applied annotation), the Secrets list, and a pod whose env reads the
    Secret show neither the value nor its base64."""
    value = "hunter2-value-xyz"
    encoded = base64.b64encode(value.encode()).decode()
    applied = (
        '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db","namespace":"web"},'
        f'"data":{{"password":"{encoded}"}},"stringData":{{"extra":"{value}"}}}}'
    )
    _namespace(kube, "web")
    kube.create_namespaced_secret(
        "web",
        {
            "metadata": {
                "name": "db",
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied},
            },
            "data": {"password": encoded},
        },
    )
    pod = {
        "metadata": {"name": "reader"},
        "spec": {
            "nodeName": "node-1",
            "containers": [
                {
                    "name": "main",
                    "image": "nginx:1.27",
                    "resources": {
                        "requests": {"cpu": "10m", "memory": "16Mi"},
                        "limits": {"cpu": "10m", "memory": "16Mi"},
                    },
                    "env": [
                        {
                            "name": "PASSWORD",
                            "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}},
                        }
                    ],
                    "envFrom": [{"secretRef": {"name": "db"}}],
                }
            ],
        },
    }
    kube.create_namespaced_pod("web", pod)
    client.force_login(project_viewer)
    c = cluster.name
    pages = {
        "object": reverse(
            "console:object",
            kwargs={"cluster": c, "namespace": "web", "kind": "secrets", "name": "db"},
        ),
        "list": reverse("console:secrets", kwargs={"cluster": c}) + "?namespace=web",
        "across": reverse("console:secrets", kwargs={"cluster": c}),
        "pod": reverse("console:pod", kwargs={"cluster": c, "namespace": "web", "name": "reader"}),
    }
    for what, url in pages.items():
        response = client.get(url)
        body = response.content.decode()
        assert response.status_code == 200, what
        assert value not in body and encoded not in body, what
    assert 'id="secret-masked"' in client.get(pages["object"]).content.decode()
    assert "secretKeyRef" in client.get(pages["pod"]).content.decode()  # the reference only


def test_the_import_form_echoes_no_kubeconfig_nor_token(client, tenant_admin):
    """A kubeconfig that does not parse, and a token with a server that does not answer: the
    form comes back with its errors, without the token, and the audit rows hold neither."""
    token = "tok-6f1d2c9e8a7b-never-shown"
    kubeconfig = (
        "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n"
        f"    token: {token}\n  : : [not yaml\n"
    )
    client.force_login(tenant_admin)
    url = reverse("console:clusters")
    for data in (
        {"display_name": "a", "kubeconfig": kubeconfig},
        {"display_name": "b", "server": "https://127.0.0.1:1", "token": token},
    ):
        response = client.post(url, data, HTTP_HX_REQUEST="true")
        body = response.content.decode()
        assert response.status_code == 200 and 'class="invalid-feedback' in body or "alert" in body
        assert token not in body
    rows = list(AuditEvent.objects.filter(action="createCluster"))
    assert len(rows) == 2
    assert all(token not in str(row.request_body) for row in rows)


def test_a_project_owner_moves_no_namespace_into_a_project_they_do_not_hold(
    client, tenant, project, project_owner
):
    """Moving ``web`` to a project of the tenant where the owner holds nothing: refused,
    and the namespace stays in prj-test."""
    Project.objects.create(tenant=tenant, name="prj-else", display_name="Else")
    client.force_login(project_owner)
    url = reverse(
        "console:project-namespace-move",
        args=["prj-test", project.clusters.get().cluster.name, "web"],
    )
    response = client.post(url, {"destination": "prj-else"}, HTTP_HX_REQUEST="true")
    # prj-else is not even visible to them: "no project named", as the API's 400 says.
    assert response.status_code == 200
    assert "No project named prj-else" in response.content.decode()
    # Seeing prj-else (a viewer there) is not creating namespaces in it: the console's refusal.
    from tests.factories import bind

    other = Project.objects.get(name="prj-else")
    ProjectCluster.objects.create(project=other, cluster=project.clusters.get().cluster, hard={})
    bind(project_owner, "project-viewer", "prj-else")
    response = client.post(url, {"destination": "prj-else"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "createProjectNamespace" in body
    assert "project:prj-else/cluster:" in body
    assert client.post(url, {"destination": "prj-else"}).status_code == 403
    row = ProjectNamespace.objects.get(namespace="web")
    assert row.project.name == "prj-test"


def _token(namespace: str) -> str:
    """A continue token of a list across namespaces, as resources.list_in_namespaces makes
    them, pointing at ``namespace``."""
    raw = json.dumps({"ns": namespace, "c": None}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize("page", ["console:pods", "console:secrets"])
def test_a_continue_token_crafted_to_another_namespace_reads_nothing_there(
    client, project, project_member, cluster, kube, page
):
    """A project member's list across their namespaces, resumed with a token naming another
    namespace: a message, none of that namespace's objects."""
    _secret(kube, "other", "theirs", "v2")
    make_pod(kube, "other", "their-pod")
    client.force_login(project_member)
    url = reverse(page, kwargs={"cluster": cluster.name})
    response = client.get(url, {"continue": _token("other")})
    body = response.content.decode()
    assert response.status_code == 200
    assert "theirs" not in body and "their-pod" not in body
    assert "continue token" in body


WALKING_PATHS = [
    "/clusters/{c}/namespaces/../secrets/x/",
    "/clusters/{c}/namespaces/web/secrets/..%2Fother/",
    "/clusters/{c}/namespaces/web%2F..%2Fother/secrets/x/",
    "/clusters/{c}/namespaces/web/secrets/*/",
    "/clusters/{c}/namespaces/web/pods/%2A/",
    "/clusters/{c}/namespaces/web/pods/a%2Fb/",
    "/clusters/{c}/namespaces/we\u0441/pods/x/",  # Cyrillic 's'
    "/clusters/{c}/namespaces/web/secrets/x\u2215y/",  # division slash
    "/clusters/{c}/nodes/..%2F..%2Fapi/",
    "/clusters/{c}/nodes/node-1%2Fproxy/",
    "/clusters/{c}/namespaces/-/persistentvolumes/..%2Fx/",
]


@pytest.mark.parametrize("path", WALKING_PATHS)
def test_names_that_walk_paths_never_reach_a_decision_or_the_cluster(client, member, cluster, path):
    """A name in a console URL is a Kubernetes name: dot segments, encoded separators,
    wildcards and look-alikes are 404 before anything is judged or asked."""
    client.force_login(member)
    response = client.get(path.format(c=cluster.name))
    assert response.status_code == 404, path
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("namespace", ["..", "web%2F..%2Fother", "*", "web\u2215x"])
def test_project_namespace_actions_take_only_the_projects_own_namespaces(
    client, project, project_owner, cluster, namespace
):
    """The project's namespace actions look the namespace up among the project's own
    rows: anything else is 404, and nothing is deleted."""
    client.force_login(project_owner)
    url = f"/projects/prj-test/namespaces/{cluster.name}/{namespace}/delete/"
    assert client.post(url).status_code == 404
    assert ProjectNamespace.objects.get(namespace="web").phase == "Available"


def test_a_password_in_the_server_url_is_neither_echoed_nor_audited(client, tenant_admin):
    """The import refuses a server URL holding credentials ("they do not belong in the
    URL"); the refused form must not show them back, nor the audit row keep them."""
    client.force_login(tenant_admin)
    server = "https://admin:hunter2-pw-in-url@127.0.0.1:6443"
    response = client.post(
        reverse("console:clusters"),
        {"display_name": "with-creds", "server": server, "token": "t0ken"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200 and "Credentials do not belong in the URL" in body
    assert "hunter2-pw-in-url" not in body
    row = AuditEvent.objects.get(action="createCluster")
    assert "hunter2-pw-in-url" not in str(row.request_body), row.request_body
    assert row.request_body["display_name"] == "with-creds"


def test_a_deactivated_tenants_user_reaches_nothing(client, tenant, project, member, cluster, kube):
    """A tenant switched off: its users' sessions are signed out of every page and action."""
    tenant.is_active = False
    tenant.save()
    client.force_login(member)
    c = cluster.name
    for url in (
        reverse("console:cluster", kwargs={"cluster": c}),
        reverse("console:pods", kwargs={"cluster": c}),
        reverse("console:project", args=["prj-test"]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url
    node_op = reverse("console:node-op", kwargs={"cluster": c, "name": "node-1", "op": "cordon"})
    assert client.post(node_op).status_code == 302
    assert not _node_unschedulable(kube)
