#!/usr/bin/env bash
# `make run`: migrate, seed the demo tenant, start the portal (and Celery when a broker is
# configured). Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-tkeportal.settings.dev}"
PY=.venv/bin/python
HOST="${PORTAL_HOST:-127.0.0.1}"
PORT="${PORTAL_PORT:-8000}"

# One `make run` at a time: a second one says so and leaves the running one (its kubesim,
# kubeconfig and listeners) alone. The lock is held by this script and everything it starts.
mkdir -p var
exec 9>>var/run.lock
if ! flock -n 9; then
  echo "make run is already running (pid $(cat var/run.pid 2>/dev/null || echo '?')):" \
    "use it, or stop it (Ctrl-C in its terminal) before starting another." >&2
  exit 1
fi
echo $$ > var/run.pid

$PY manage.py migrate --noinput -v 0

pids=()
stop() {
  trap - INT TERM EXIT
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

# Simulated clusters for the demo (PORTAL_KUBESIM=0 to skip): kubesim serves "prod" (amd64,
# arm64 and GPU nodes) and "staging"; seeddemo imports them into the demo tenant.
seed_args=()
if [ "${PORTAL_KUBESIM:-1}" = "1" ]; then
  mkdir -p var
  kubeconfig=var/kubesim.kubeconfig
  rm -f "$kubeconfig"
  # The clusters' objects are kept in var/kubesim-state.json across restarts (delete it, or
  # set KUBESIM_STATE= , to start from the seeded demo).
  state=("--state" "${KUBESIM_STATE-var/kubesim-state.json}")
  [ -n "${state[1]}" ] || state=()
  $PY manage.py kubesim --clusters "${KUBESIM_CLUSTERS:-prod:4,staging:2}" \
    --port "${KUBESIM_PORT:-18080}" --kubeconfig "$kubeconfig" "${state[@]}" &
  pids+=($!)
  for _ in $(seq 1 100); do [ -s "$kubeconfig" ] && break; sleep 0.2; done
  [ -s "$kubeconfig" ] || { echo "kubesim did not start"; exit 1; }
  seed_args=(--kubeconfig "$kubeconfig")
  echo "kubesim: kubectl --kubeconfig $kubeconfig get nodes (direct, without the portal)"
fi
PORTAL_HOST="$HOST" PORTAL_PORT="$PORT" $PY manage.py seeddemo "${seed_args[@]}"

# Ask Django (which also reads .env) whether a broker is configured.
broker=$($PY -c 'import django; django.setup(); from django.conf import settings; print(settings.CELERY_BROKER_URL)')
if [ "$broker" != "memory://" ]; then
  echo "Broker configured: starting a Celery worker and beat"
  .venv/bin/celery -A tkeportal worker -Q default,cluster-ops,metrics,notify -l warning &
  pids+=($!)
  .venv/bin/celery -A tkeportal beat -l warning &
  pids+=($!)
else
  echo "No REDIS_URL: Celery tasks run in-process, channel layer and cache in memory;"
  echo "periodic work (health checks, reconciles) by manage.py runperiodic"
  $PY manage.py runperiodic &
  pids+=($!)
fi

# kubectl sends tokens over TLS only: the portal also listens with HTTPS (a throwaway CA
# kept in var/tls), and kubeconfigs it hands out embed that CA.
TLS_PORT="${PORTAL_TLS_PORT:-8443}"
mkdir -p var/tls
# (Made again when missing or from before it carried key identifiers: strict verifiers need them.)
$PY - <<'PYEOF'
import shutil
from pathlib import Path
from cryptography import x509
from apps.sandbox.kubesim.tls import serving_cert
crt = Path("var/tls/tls.crt")
try:
    x509.load_pem_x509_certificate(crt.read_bytes()).extensions.get_extension_for_class(
        x509.AuthorityKeyIdentifier
    )
    fresh = not Path("var/tls/tls.key").stat().st_size
except (OSError, ValueError, x509.ExtensionNotFound):
    fresh = True
if fresh:
    cert = serving_cert()
    for name in ("ca.crt", "tls.crt", "tls.key"):
        shutil.copy(cert.dir / name, f"var/tls/{name}")
PYEOF
PORTAL_KUBECONFIG_CA_DATA=$(base64 -w0 var/tls/ca.crt)
# Kubeconfigs point at the TLS listener whichever port they are fetched from.
TLS_HOST="$HOST"; [ "$TLS_HOST" = "0.0.0.0" ] && TLS_HOST=127.0.0.1
PORTAL_KUBECONFIG_SERVER="${PORTAL_KUBECONFIG_SERVER:-https://$TLS_HOST:$TLS_PORT}"
export PORTAL_KUBECONFIG_CA_DATA PORTAL_KUBECONFIG_SERVER

# The image registry (PORTAL_REGISTRY=0 to skip): Debian's docker-registry on
# REGISTRY_PORT (5000), the portal its token service (/registry/token) and the receiver of its
# notifications (/registry/events, with a shared secret kept in var/registry). Images are kept
# in var/registry/storage across restarts.
if [ "${PORTAL_REGISTRY:-1}" = "1" ]; then
  if command -v docker-registry >/dev/null; then
    mkdir -p var/registry
    if [ ! -s var/registry/events.secret ]; then
      (umask 077; $PY -c 'import secrets; print(secrets.token_urlsafe(32))' > var/registry/events.secret)
    fi
    REGISTRY_EVENTS_SECRET=$(cat var/registry/events.secret)
    REGISTRY_HOST="${REGISTRY_HOST:-$TLS_HOST:${REGISTRY_PORT:-5000}}"
    REGISTRY_URL="${REGISTRY_URL:-http://$REGISTRY_HOST}"
    REGISTRY_CONFIG_PATH="$PWD/var/registry/config.yml"
    REGISTRY_STORAGE_DIR="$PWD/var/registry/storage"
    export REGISTRY_EVENTS_SECRET REGISTRY_HOST REGISTRY_URL REGISTRY_CONFIG_PATH REGISTRY_STORAGE_DIR
    (umask 077; $PY manage.py registry_config --certbundle var/registry/rootcert.pem \
      --realm "http://$TLS_HOST:$PORT/registry/token" --listen "$REGISTRY_HOST" \
      --storage var/registry/storage > var/registry/config.yml)
    # Its own environment: distribution reads REGISTRY_* variables as configuration overrides
    # (REGISTRY_STORAGE_DIR would be storage.dir), and the portal's settings share the prefix.
    env -i PATH="$PATH" docker-registry serve var/registry/config.yml > var/registry/registry.log 2>&1 &
    pids+=($!)
    echo "Registry on $REGISTRY_HOST (plain HTTP, loopback): skopeo login --tls-verify=false" \
      "$REGISTRY_HOST -u <tenant>/<user> -p <API key>"
  else
    echo "docker-registry is not installed (apt-get install docker-registry): no image registry"
  fi
fi

echo "Portal on http://$HOST:$PORT/  (admin: /admin/, API docs: /api/docs/)"
.venv/bin/uvicorn tkeportal.asgi:application --host "$HOST" --port "$PORT" --lifespan on --ws wsproto &
pids+=($!)
.venv/bin/uvicorn tkeportal.asgi:application --host "$HOST" --port "$TLS_PORT" --lifespan on --ws wsproto \
  --ssl-certfile var/tls/tls.crt --ssl-keyfile var/tls/tls.key --log-level warning &
pids+=($!)
# The commands to try, with the demo clusters' real ids (each works verbatim).
$PY manage.py democommands --host "$TLS_HOST" --tls-port "$TLS_PORT" || true
wait -n "${pids[@]}"
