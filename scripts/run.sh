#!/usr/bin/env bash
# `make run`: migrate, seed the demo tenant, start the portal (and Celery when a broker is
# configured). Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-tkeportal.settings.dev}"
PY=.venv/bin/python
HOST="${PORTAL_HOST:-127.0.0.1}"
PORT="${PORTAL_PORT:-8000}"

$PY manage.py migrate --noinput -v 0
PORTAL_HOST="$HOST" PORTAL_PORT="$PORT" $PY manage.py seeddemo

pids=()
stop() {
  trap - INT TERM EXIT
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

# Ask Django (which also reads .env) whether a broker is configured.
broker=$($PY -c 'import django; django.setup(); from django.conf import settings; print(settings.CELERY_BROKER_URL)')
if [ -n "$broker" ]; then
  echo "Broker configured: starting a Celery worker and beat"
  .venv/bin/celery -A tkeportal worker -Q default,cluster-ops,metrics,notify -l warning &
  pids+=($!)
  .venv/bin/celery -A tkeportal beat -l warning &
  pids+=($!)
else
  echo "No REDIS_URL: Celery tasks run in-process, channel layer and cache in memory"
fi

echo "Portal on http://$HOST:$PORT/  (admin: /admin/, API docs: /api/docs/)"
.venv/bin/uvicorn tkeportal.asgi:application --host "$HOST" --port "$PORT" --lifespan off &
pids+=($!)
wait -n "${pids[@]}"
