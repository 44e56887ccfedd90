"""Security review of the console (issue 12): each test names a bug class the earlier review
of the API found (path walking, Secret values leaking, users acting above themselves) and
checks the console against it with real kubesim and the real database.

Findings fixed here (each test failed before its fix):
- ``test_a_client_key_never_reaches_the_audit_trail``: the import and rotation forms' client
  key (a kubeconfig's ``client-key-data``, base64) was stored in the audit row.
- ``test_a_namespace_filter_that_is_no_namespace_name_is_404``: a namespace filter such as
  ``web/../other`` was judged in the project domain of ``web`` and sent to the cluster.
"""

from __future__ import annotations

import base64

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.authz.models import Binding, Policy
from tests.console import test_clusters
from tests.console.test_clusters import make_pod
from tests.factories import UserFactory

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
