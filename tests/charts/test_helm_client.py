"""Helm itself against the live portal (HTTPS, the throwaway CA): upload with curl's form
(requests), then the Helm v4 engine (helm_python, run in its own process like the helm CLI)
reads the repository index and pulls the archive with ``<tenant>/<username>`` + an API key.

TLS is verified, not skipped: the Helm process gets ``SSL_CERT_FILE`` pointing at the portal's
CA (Go's crypto/x509 reads it on Linux; it must be in the environment when the Go runtime
starts, hence a process of its own rather than os.environ in this one)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest
import requests

from apps.audit.models import AuditEvent
from apps.charts.choices import ChartVisibility
from apps.charts.models import Chart, ChartGroup, ChartVersion
from tests.charts.helpers import package_chart
from tests.factories import make_api_key
from tests.live import portal  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = """
import json, sys
import helm_python
op, kwargs = sys.argv[1], json.loads(sys.argv[2])
try:
    out = helm_python.repo_index(**kwargs) if op == "index" else helm_python.pull(**kwargs)
except helm_python.HelmError as exc:  # the SDK's refusals; anything else is a traceback
    print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
    sys.exit(1)
print(json.dumps(out))
"""


class Helm:
    def __init__(self, server, home):
        self.portal, self.home = server, home

    def run(self, op: str, **kwargs) -> subprocess.CompletedProcess:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "SSL_CERT_FILE": self.portal.ca_file,
        }
        return subprocess.run(
            [sys.executable, "-c", SCRIPT, op, json.dumps(kwargs)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def index(self, repo: str, **kwargs) -> dict:
        result = self.run("index", repo_url=f"{self.portal.url}/chart/{repo}", **kwargs)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def pull(self, repo: str, name: str, version: str, destination, **kwargs):
        return self.run(
            "pull",
            chart_ref=name,
            repo_url=f"{self.portal.url}/chart/{repo}",
            version=version,
            destination=str(destination),
            **kwargs,
        )


@pytest.fixture
def helm(portal, tmp_path):  # noqa: F811
    home = tmp_path / "helm-home"
    home.mkdir()
    return Helm(portal, home)


@pytest.fixture
def charts(tenant, other_tenant):
    return {
        "team": ChartGroup.objects.create(tenant=tenant, name="team"),
        "pub": ChartGroup.objects.create(
            tenant=tenant, name="pub", visibility=ChartVisibility.PUBLIC
        ),
        "globex": ChartGroup.objects.create(tenant=other_tenant, name="team"),
    }


def _upload(portal, repo, path, login, key):  # noqa: F811
    with open(path, "rb") as handle:
        return requests.post(
            f"{portal.url}/chart/api/{repo}/charts",
            files={"chart": (path.name, handle)},
            auth=(login, key),
            verify=portal.ca_file,
            timeout=30,
        )


def test_helm_lists_and_pulls_with_an_api_key(portal, helm, charts, member, tmp_path):  # noqa: F811
    _, key = make_api_key(member)
    path = package_chart(tmp_path, "demo", "0.1.0")
    uploaded = _upload(portal, "acme/team", path, "acme/bob", key)
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json() == {"saved": True}

    index = helm.index("acme/team", username="acme/bob", password=key)
    (entry,) = index["entries"]["demo"]
    assert entry["version"] == "0.1.0" and entry["urls"] == ["charts/demo-0.1.0.tgz"]
    stored = ChartVersion.objects.get(chart__name="demo")
    assert entry["digest"] == stored.digest

    out = tmp_path / "pulled"
    out.mkdir()
    result = helm.pull("acme/team", "demo", "0.1.0", out, username="acme/bob", password=key)
    assert result.returncode == 0, result.stderr
    pulled = out / "demo-0.1.0.tgz"
    assert pulled.read_bytes() == path.read_bytes()
    assert hashlib.sha256(pulled.read_bytes()).hexdigest() == entry["digest"]
    assert Chart.objects.get(name="demo").pull_count == 1
    event = AuditEvent.objects.get(action="pullChart")
    assert event.user == member and event.resource.endswith("chart:demo/version:0.1.0")


def test_anonymous_helm_reads_public_groups_only(portal, helm, charts, member, tmp_path):  # noqa: F811
    _, key = make_api_key(member)
    for repo in ("acme/pub", "acme/team"):
        path = package_chart(tmp_path / repo.replace("/", "-"), "demo", "0.1.0")
        assert _upload(portal, repo, path, "acme/bob", key).status_code == 201
    assert "demo" in helm.index("acme/pub")["entries"]
    out = tmp_path / "anon"
    out.mkdir()
    assert helm.pull("acme/pub", "demo", "0.1.0", out).returncode == 0
    assert (out / "demo-0.1.0.tgz").exists()
    refused = helm.run("index", repo_url=f"{portal.url}/chart/acme/team")
    assert refused.returncode != 0 and "401" in refused.stderr, refused.stderr
    private = helm.pull("acme/team", "demo", "0.1.0", tmp_path / "none")
    assert private.returncode != 0 and "401" in private.stderr, private.stderr


def test_another_tenants_key_gets_404(portal, helm, charts, member, other_user, tmp_path):  # noqa: F811
    _, key = make_api_key(member)
    path = package_chart(tmp_path, "demo", "0.1.0")
    assert _upload(portal, "acme/team", path, "acme/bob", key).status_code == 201
    _, theirs = make_api_key(other_user)
    result = helm.run(
        "index",
        repo_url=f"{portal.url}/chart/acme/team",
        username="globex/mallory",
        password=theirs,
    )
    assert result.returncode != 0 and "404" in result.stderr, result.stderr
    # nor can they upload there
    assert _upload(portal, "acme/team", path, "globex/mallory", theirs).status_code == 404
