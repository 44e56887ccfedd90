"""Schemathesis over the whole OpenAPI document, as a tenant administrator and as a plain user.

Class: unexpected input reaching a handler that was never written for it. Every operation
answers what its own schema allows (and much it does not) with a success or a 4xx, never a
5xx nor a swallowed error in the log, and every answer has a documented status, a documented
media type and a body that matches the schema, errors included (``{"code", "detail",
"fields"}``). No single public advisory names this class; it is how crash and information-leak
bugs of API servers are found before an attacker finds them, and a response that contradicts
the document breaks every client generated from it.

Checks: ``not_a_server_error``, ``status_code_conformance``, ``content_type_conformance``,
``response_schema_conformance``, plus "nothing logged at ERROR by the portal while answering".
Status-code conformance is kept: once ``apps/core/api/schema.py`` documents each operation's
error answers it reports only real drift.

How it runs:

- the schema is the one the portal serves at ``/api/schema/``; requests go in-process through
  Django's WSGI handler (all middleware, the real exception handler, the real database), with
  a real API key in ``Authorization: Bearer`` for each persona;
- the tenant holds an imported kubesim cluster (with a CRD and a custom resource), a custom
  policy, a role, a group, a binding and a spare API key; about a third of the examples aim
  valid requests at those objects by name (a detail route's namespace, kind and name drawn
  together from the objects that exist), so detail routes reach real rows and real
  Kubernetes objects instead of stopping at 404; each GET among them is also sent once,
  before the generated examples, at the first such object, so that the reads of
  ``MUST_SUCCEED`` succeed whatever Hypothesis draws;
- each request runs in a savepoint that is rolled back, so a fuzzed DELETE of the cluster or
  of the persona's own key does not change what the following requests see (the authorization
  cache keys on a random per-tenant version, so a rollback cannot leave a stale decision);
  objects deleted inside kubesim stay deleted, and later examples get a valid 404;
- Hypothesis runs derandomized, with explicit phases, no shrinking and no example database:
  the same code sends the same requests on every run;
- no connection leaves loopback: cluster imports with fuzzed server URLs get "cannot resolve"
  or "connection refused" from a guard on ``getaddrinfo`` and ``socket.connect``, before any
  packet (a DNS query included) is sent.

A failure lists every distinct (operation, check, status) with the curl command that
reproduces it; the run also fails when it hardly reached the API (see ``MUST_SUCCEED``).
"""

from __future__ import annotations

import ipaddress
import itertools
import logging
import socket
import time
from datetime import timedelta

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, Verbosity, given
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.accounts import services as account_services
from apps.authz import services as authz_services
from apps.clusters import k8s, resources
from apps.clusters import services as cluster_services
from tests.clusters.test_resources import WIDGET_CRD
from tests.conftest import persona
from tests.factories import make_api_key

pytestmark = pytest.mark.django_db

# Generated examples per operation and persona (besides the explicit read of a seeded object).
# ~230 operations × 2 personas × this: each example costs ~65 CPU-seconds over the whole run
# (half of it Hypothesis drawing the request), on top of ~60 s of fixed cost; the run was the
# suite's largest single cost. 3 still give every operation schema-valid and schema-violating
# requests (Hypothesis draws the first example at the schema's simplest, then varies). What
# must succeed does not rest on the number of examples (see explicit_cases), so fewer do not
# make the run pass by luck.
MAX_EXAMPLES = 3

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# -- no connection leaves loopback ----------------------------------------------------------------
def _loopback(host) -> bool:
    if host in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def loopback_only(monkeypatch):
    """Fuzzed cluster URLs name any host: refuse to resolve or connect to anything but
    loopback, before a packet is sent (a DNS query is a packet too)."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and not _loopback(name):
            try:
                ipaddress.ip_address(name.split("%")[0])  # a literal is no query; connect guards
            except ValueError:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            raise ConnectionRefusedError(111, "Connection refused (test: loopback only)")
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)


# -- the tenant under test ------------------------------------------------------------------------
WIDGET = {
    "apiVersion": "example.com/v1",
    "kind": "Widget",
    "metadata": {"name": "w1"},
    "spec": {"size": 2},
}


def _install_widgets(cluster) -> None:
    """A CRD and one custom resource, so the custom-resource routes reach a real kind."""
    with cluster_services.client_for(cluster) as client:
        crds = resources.kind_for("customresourcedefinitions")
        resources.create_object(client, crds, None, WIDGET_CRD)
        widgets = resources.custom_kind(client, "example.com", "v1", "widgets")
        deadline = time.monotonic() + 5
        while True:  # kubesim serves a new CRD's resources shortly after creating it
            try:
                resources.create_object(client, widgets, "web", WIDGET)
                return
            except k8s.ClusterNotFound:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


@pytest.fixture
def world(tenant, other_tenant, sim_cluster, settings):
    """A tenant with something behind every route, and the values that name those things."""
    settings.PORTAL_ALLOW_LOOPBACK_CLUSTERS = True
    alice = persona(tenant, "alice", "administrator", is_staff=True)
    bob = persona(tenant, "bob", "platform-user")
    carol = persona(tenant, "carol", "read-only")
    persona(other_tenant, "mallory", "administrator", is_staff=True)
    cluster = cluster_services.import_cluster(
        actor=None,
        tenant=tenant,
        display_name="fuzz",
        spec=k8s.Connection(
            server=sim_cluster.url, token=sim_cluster.token, ca_data=sim_cluster.ca_data
        ),
    )
    _install_widgets(cluster)
    cluster_services.sync_nodes(cluster)
    policy = authz_services.create_policy(
        actor=alice,
        tenant=tenant,
        name="configmap-readers",
        statements=[
            {"actions": ["get*", "list*"], "resources": ["cluster:*/namespace:*/configmap:*"]}
        ],
    )
    role = authz_services.create_role(actor=alice, tenant=tenant, name="readers", policies=[policy])
    group = account_services.create_group(actor=alice, tenant=tenant, name="ops", members=[carol])
    binding = authz_services.create_binding(actor=alice, tenant=tenant, group=group, role=role)
    spare_key, _ = make_api_key(carol, expires_in=timedelta(days=1), description="spare")
    keys = {
        "tenant_admin": make_api_key(alice, expires_in=timedelta(days=1))[1],
        "member": make_api_key(bob, expires_in=timedelta(days=1))[1],
    }
    nodes = list(cluster.nodes.values_list("name", flat=True))
    from apps.audit.models import AuditEvent

    audit_ids = list(AuditEvent.objects.filter(tenant=tenant).values_list("pk", flat=True)[:3])
    known = {
        "cluster": [cluster.name],
        "namespace": ["web", "default"],
        "kind": ["deployments", "configmaps", "secrets", "pods", "services", "nodes"],
        "username": ["alice", "bob", "carol", "mallory"],
        "slug": [tenant.slug, other_tenant.slug],
        "group": ["example.com", "apiextensions.k8s.io"],
        "version": ["v1"],
        "plural": ["widgets", "customresourcedefinitions"],
        # `name` and `id` name different things in different collections
        "name:clusters": [cluster.name],
        "name:groups": [group.name],
        "name:policies": [policy.name, "administrator"],
        "name:roles": [role.name],
        "name:nodes": nodes[:2],
        "id:bindings": [binding.pk],
        "id:api-keys": [spare_key.pk],
        "id:audit-events": audit_ids,
    }
    # Objects that exist, by the path parameters that name them together: a detail route's
    # namespace, kind and name are drawn as one row, so every such draw reaches a real object
    # (an independent product of namespaces × kinds × names hit one in sixteen).
    crd = {"group": "apiextensions.k8s.io", "version": "v1", "plural": "customresourcedefinitions"}
    widgets = {"group": "example.com", "version": "v1", "plural": "widgets"}
    known["objects:resources"] = [
        {"namespace": "web", "kind": "deployments", "name": "frontend"},
        {"namespace": "web", "kind": "configmaps", "name": "frontend-config"},
        {"namespace": "web", "kind": "services", "name": "frontend"},
        {"namespace": "web", "kind": "deployments", "name": "api"},
        {"namespace": "default", "kind": "services", "name": "kubernetes"},
        {"kind": "namespaces", "name": "web"},
        *({"kind": "nodes", "name": node} for node in nodes[:2]),
        {"namespace": "web", **widgets, "name": "w1"},
        {"namespace": "web", **widgets},
        {"namespace": "default", **widgets},
        {**crd, "name": "widgets.example.com"},
        crd,
        widgets,
    ]
    return {"keys": keys, "known": known}


def _collection(path: str) -> str:
    if path.startswith("/api/v1/clusters/{cluster}/nodes/"):
        return "nodes"
    if path.startswith("/api/v1/clusters/{cluster}/"):
        return "resources"
    return path.split("/")[3]  # /api/v1/<collection>/...


def known_path_parameters(operation, known) -> list[dict]:
    """Combinations of real names for this operation's path parameters (bounded): rows of
    ``objects:<collection>`` that name exactly the parameters they share with the path, or
    else the product of each parameter's known values."""
    collection = _collection(operation.path)
    names = [parameter.name for parameter in operation.path_parameters]
    if not names:
        return []
    rows = known.get(f"objects:{collection}", [])
    in_rows = set().union(*rows) & set(names)
    matching = [row for row in rows if set(row) == in_rows] if in_rows else []
    rest = [name for name in names if not matching or name not in in_rows]
    choices = []
    for name in rest:
        values = known.get(f"{name}:{collection}") or known.get(name)
        if not values:
            return []
        choices.append([(name, str(v)) for v in values])
    combos = [dict(combo) for combo in itertools.islice(itertools.product(*choices), 48)]
    if matching:
        combos = [
            {**combo, **{k: str(v) for k, v in row.items()}} for row in matching for combo in combos
        ][:48]
    return combos


def strategy_for(operation, known):
    """Schema-valid requests, schema-violating requests, and (where the path names objects)
    valid requests aimed at the seeded objects."""
    options = [
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE),
    ]
    real = known_path_parameters(operation, known)
    if real:
        options.append(
            st.sampled_from(real).flatmap(
                lambda params: operation.as_strategy(path_parameters=params)
            )
        )
    return st.one_of(*options)


def explicit_cases(operation, known) -> list:
    """A read of each operation whose path names seeded objects, aimed at the first of them
    with no query: run before the generated examples, so that whether a read of a real object
    succeeds (``MUST_SUCCEED``) does not depend on what Hypothesis happens to draw."""
    real = known_path_parameters(operation, known)
    if operation.method.upper() != "GET" or not real:
        return []
    return [operation.Case(path_parameters=real[0])]


class _ErrorLog(logging.Handler):
    """Errors the portal logs while answering: a swallowed failure (an audit row that could
    not be written, say) is a server error the status code does not show."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        # The portal's own loggers; django.request (every 5xx) is not_a_server_error's, and
        # kubesim, a test double in another thread, is not under test here.
        portal = record.name.startswith(("tkeportal", "apps.", "django.db", "django.security"))
        if portal and not record.name.startswith("apps.sandbox"):
            self.records.append(record)


@pytest.fixture
def error_log():
    handler = _ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


@pytest.fixture
def wsgi_app():
    """Django's WSGI handler, minus the per-request connection recycling: like Django's test
    client, so every request shares the test's transaction (and sees the seeded rows)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def fuzz(operation, strategy, auth, error_log, failures, answered, explicit=()):
    """Run one operation's examples; record each distinct failure once, with its curl."""

    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    @given(case=strategy)
    def exercise(case):
        # Each case's writes are undone. The test's own transaction, like Django's per-test
        # one: marked so that the guard against cluster calls inside the portal's
        # transactions (apps.clusters.k8s) does not count it.
        undo = transaction.atomic()
        undo._from_testcase = True
        with undo:
            logged = len(error_log.records)
            response = case.call(headers=auth)
            answered.setdefault(operation.label, set()).add(response.status_code)
            try:
                case.validate_response(response, checks=CHECKS, headers=auth)
            except FailureGroup as group:
                for failure in group.exceptions:
                    key = (operation.label, type(failure).__name__, response.status_code)
                    failures.setdefault(key, str(group))
            for record in error_log.records[logged:]:
                first_line = record.getMessage().splitlines()[0][:200]
                key = (operation.label, f"error logged by {record.name}", response.status_code)
                failures.setdefault(key, f"{first_line}\n{case.as_curl_command(headers=auth)}")
            transaction.set_rollback(True)

    for case in explicit:
        exercise = hypothesis.example(case=case)(exercise)
    exercise()


# Reads both personas may make: if one of these never succeeds, the run tested a wall of
# 401/403/404 answers, not the API.
MUST_SUCCEED = [
    "GET /api/v1/me/",
    "GET /api/v1/clusters/",
    "GET /api/v1/clusters/{name}/",
    "GET /api/v1/clusters/{cluster}/namespaces/{namespace}/{kind}/",
    "GET /api/v1/clusters/{cluster}/namespaces/{namespace}/{kind}/{name}/",
    "GET /api/v1/clusters/{cluster}/namespaces/{namespace}/custom/{group}/{version}/{plural}/",
    "GET /api/v1/users/",
    "GET /api/v1/users/{username}/",
    "GET /api/v1/policies/{name}/",
]


# Each persona's run is split in SHARDS tests (every SHARDS-th operation in the document), so
# that pytest-xdist spreads the largest test of the suite over its workers instead of leaving
# one worker a two-minute tail. Together the shards cover every operation (checked below).
SHARDS = 3


@pytest.mark.parametrize("shard", range(SHARDS))
@pytest.mark.parametrize("who", ["tenant_admin", "member"])
def test_every_operation_answers_within_its_schema(
    who, shard, world, wsgi_app, loopback_only, error_log
):
    """Zero 5xx, zero answers outside the schema (status, media type, body) and zero errors
    logged, for a tenant administrator and for a plain user (``platform-user``), over every
    operation of the served OpenAPI document (one shard of it per test)."""
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)
    auth = {"Authorization": f"Bearer {world['keys'][who]}"}
    # in the document's order: a path's reads come before its DELETE, which would remove the
    # object they aim at (kubesim's objects are not rolled back)
    everything = [result.ok() for result in schema.get_all_operations()]
    assert len(everything) > 80  # the whole API, not a filtered corner of it
    # a renamed route must not drop out of MUST_SUCCEED unnoticed
    assert set(MUST_SUCCEED) <= {operation.label for operation in everything}
    operations = everything[shard::SHARDS]
    assert sum(len(everything[i::SHARDS]) for i in range(SHARDS)) == len(everything)
    failures: dict[tuple, str] = {}
    answered: dict[str, set[int]] = {}

    for operation in operations:
        fuzz(
            operation,
            strategy_for(operation, world["known"]),
            auth,
            error_log,
            failures,
            answered,
            explicit_cases(operation, world["known"]),
        )

    problems = [
        f"--- {label} · {check} · {status}\n{detail}"
        for (label, check, status), detail in sorted(failures.items())
    ]
    succeeded = {label for label, codes in answered.items() if any(200 <= c < 300 for c in codes)}
    in_shard = {operation.label for operation in operations}
    if missing := sorted((set(MUST_SUCCEED) & in_shard) - succeeded):
        problems.append(f"--- these never succeeded, so the run hardly reached the API: {missing}")
    # A plain user may write little (41 of 93 operations succeeded for one when the API had
    # 93, 50-odd for an administrator; one shard of 45 saw 11 for the plain user): a fifth of
    # the shard is still far above a run that hit a wall of 401/403/404 (none or a handful).
    if len(succeeded) < len(operations) // 5:
        problems.append(f"--- only {len(succeeded)} of {len(operations)} operations succeeded")
    assert not problems, f"{len(problems)} problems as {who}:\n" + "\n".join(problems)


def test_schema_documents_every_error_answer(client):
    """The served document gives every operation its error answers, each with the one error
    body, and anchors path patterns as a whole (``^(?:a|b)$``, not ``^a|b$``), so clients
    generated from it neither choke on a 4xx nor build paths the portal never routes."""
    import re

    document = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "detail", "fields"]
    reference = {"$ref": "#/components/schemas/Error"}
    # The Prometheus-compatible API answers in Prometheus' own error shape (Grafana reads it).
    prometheus = {"$ref": "#/components/schemas/PrometheusError"}
    prometheus_paths = {
        "/api/v1/query",
        "/api/v1/query_range",
        "/api/v1/series",
        "/api/v1/labels",
        "/api/v1/label/{name}/values",
        "/api/v1/metadata",
        "/api/v1/status/buildinfo",
    }
    operations = [
        (f"{method.upper()} {path}", path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]
    assert len(operations) > 80
    assert prometheus_paths <= {path for _, path, _ in operations}
    for label, path, operation in operations:
        responses = operation["responses"]
        assert {"401", "403", "503"} <= set(responses), label
        expected = prometheus if path in prometheus_paths else reference
        for status, response in responses.items():
            if status[0] in "45":
                assert response["content"]["application/json"]["schema"] == expected, label
    scale = document["paths"][
        "/api/v1/clusters/{cluster}/namespaces/{namespace}/{kind}/{name}/scale/"
    ]
    kind = next(p for p in scale["post"]["parameters"] if p["name"] == "kind")
    assert re.search(kind["schema"]["pattern"], "deployments")
    assert not re.search(kind["schema"]["pattern"], "deploymentsX")
    assert not re.search(kind["schema"]["pattern"], "Xpods")  # JSON Schema searches
    assert {"404", "422", "502"} <= set(scale["post"]["responses"])
