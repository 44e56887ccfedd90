"""Charts as OCI artifacts in the image registry: the Helm v4 engine logs in to the real
docker-registry (tests/fixtures/registry.py) as ``acme/bob`` with an API key — the portal's
token service decides — pushes a packaged chart and pulls it back.

As in test_helm_client, Helm runs in its own process with ``SSL_CERT_FILE`` set to the portal's
CA: the registry is plain HTTP on loopback, but its token realm is the portal's HTTPS URL."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from apps.audit.models import AuditEvent
from apps.registry.models import RegistryNamespace
from tests.charts.helpers import package_chart
from tests.factories import make_api_key
from tests.live import portal  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = """
import json, sys
import helm_python
args = json.loads(sys.argv[1])
client = helm_python.RegistryClient(plain_http=True, credentials_file=args["credentials"])
try:
    if args.get("login"):
        client.login(args["host"], args["login"], args["password"], plain_http=True)
    if args["op"] == "push":
        out = helm_python.push(args["chart"], args["remote"], client=client, plain_http=True)
    else:
        out = helm_python.pull(
            args["ref"], client=client, version=args["version"],
            destination=args["destination"], plain_http=True,
        )
except helm_python.HelmError as exc:  # the SDK's refusals; anything else is a traceback
    print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
    sys.exit(1)
print(json.dumps(out))
"""


def _helm(registry_server, home, **args) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "SSL_CERT_FILE": registry_server.ca_file,
    }
    args.setdefault("credentials", str(home / "registry.json"))
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_push_and_pull_a_chart_as_an_oci_artifact(registry, tenant, member, tmp_path):
    RegistryNamespace.objects.create(tenant=tenant, name="team")
    _, key = make_api_key(member)
    home = tmp_path / "home"
    home.mkdir()
    host = registry.server.host
    chart = package_chart(tmp_path, "demo", "0.1.0")
    pushed = _helm(
        registry.server,
        home,
        op="push",
        host=host,
        login="acme/bob",
        password=key,
        chart=str(chart),
        remote=f"oci://{host}/acme/team",
    )
    assert pushed.returncode == 0, pushed.stderr
    out = tmp_path / "pulled"
    out.mkdir()
    pulled = _helm(
        registry.server,
        home,
        op="pull",
        ref=f"oci://{host}/acme/team/demo",
        version="0.1.0",
        destination=str(out),
    )
    assert pulled.returncode == 0, pulled.stderr
    assert (out / "demo-0.1.0.tgz").read_bytes() == chart.read_bytes()
    granted = AuditEvent.objects.filter(action="getRegistryToken", user=member, status_code=200)
    assert any("repository:acme/team/demo:" in e.message and "push" in e.message for e in granted)

    # without a login the private namespace refuses the pull
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    refused = _helm(
        registry.server,
        stranger,
        op="pull",
        ref=f"oci://{host}/acme/team/demo",
        version="0.1.0",
        destination=str(stranger),
    )
    assert refused.returncode != 0
    assert "unauthorized" in refused.stderr.lower() or "401" in refused.stderr, refused.stderr
