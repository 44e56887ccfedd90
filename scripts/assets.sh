#!/usr/bin/env bash
# The console's front-end assets, at setup time (make install / run / test):
# - the pinned npm packages (package-lock.json) into node_modules/, served by Django from there
#   (settings.VENDOR_ASSETS) — none of them is committed;
# - the compiled translations (locale/*/LC_MESSAGES/django.mo, from the committed .po files).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null; then
  echo "npm is needed for the console's assets (Debian: apt-get install npm)" >&2
  exit 1
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-tkeportal.settings.dev} \
  .venv/bin/python manage.py compilemessages --ignore=.venv --ignore=node_modules -v 0
