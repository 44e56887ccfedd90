# TKE Portal — entry points. `make run` and `make test` work from a clean clone on Debian.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PIP_FLAGS := --disable-pip-version-check -q

.PHONY: run test lint bench screenshots install install-dev clean

$(VENV)/.installed: requirements.txt requirements-lock.txt
	scripts/apt-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install $(PIP_FLAGS) -r requirements.txt -c requirements-lock.txt
	touch $@

# The demo's extras (requirements-demo.txt: kubectl, so the commands `make run` prints work;
# Debian's docker-registry, the image registry `make run` starts).
$(VENV)/.installed-demo: $(VENV)/.installed requirements-demo.txt
	scripts/apt-deps.sh docker-registry
	$(PIP) install $(PIP_FLAGS) -r requirements-demo.txt -c requirements-lock.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	scripts/apt-deps.sh slapd ldap-utils chromium fonts-wqy-microhei docker-registry skopeo prometheus
	$(PIP) install $(PIP_FLAGS) -r requirements-dev.txt -c requirements-lock.txt
	touch $@

# The console's npm packages and compiled translations (scripts/assets.sh).
ASSETS := node_modules/.package-lock.json
$(ASSETS): $(VENV)/.installed package.json package-lock.json $(wildcard locale/*/LC_MESSAGES/django.po)
	scripts/assets.sh
	touch $@

install: $(VENV)/.installed $(ASSETS)
install-dev: $(VENV)/.installed-dev $(ASSETS)

## Start the portal on 127.0.0.1:8000 with a demo tenant (Ctrl-C stops everything).
run: install $(VENV)/.installed-demo
	scripts/run.sh

## Run the whole test suite against PostgreSQL and Redis (found or started), on
## PYTEST_WORKERS pytest-xdist workers (0: one process); idle workers take tests from busy ones.
## The portal's modules are byte-compiled first (both cores) and .pyc files are written even
## where PYTHONDONTWRITEBYTECODE is set: the workers and the many Python subprocesses the tests
## start (manage.py, Celery, uvicorn) then read them instead of compiling every module again.
PYTEST_WORKERS ?= 3
test: install-dev
	$(PY) -m compileall -q -j 0 apps tkeportal scripts
	PYTHONDONTWRITEBYTECODE= $(PY) scripts/with_services.py -- $(PY) -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DJANGO_SETTINGS_MODULE=tkeportal.settings.dev $(PY) manage.py check
	DJANGO_SETTINGS_MODULE=tkeportal.settings.dev $(PY) manage.py makemigrations --check --dry-run

## Run every benchmark under benchmarks/; figures go to benchmarks/results/<name>.json.
bench: install-dev
	$(PY) scripts/with_services.py -- $(PY) benchmarks/run.py $(BENCH)

## Save PNGs of the console's main pages, English and Chinese, under var/screenshots/<lang>/.
screenshots: install-dev
	scripts/apt-deps.sh chromium fonts-wqy-microhei
	$(PY) scripts/screenshots.py

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
