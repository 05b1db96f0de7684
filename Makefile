# Two commands matter: `make run` (the product on http://localhost:8000, SQLite, demo org) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test lint format install install-dev idp idp-deps e2e clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Development server and background worker (Huey consumer; queue in db-huey.sqlite3 beside db.sqlite3 unless
# HUEY_URL or a Redis CACHE_URL says otherwise): DEBUG on, SQLite unless DATABASE_URL says otherwise, demo org
# seeded once. Ctrl-C stops both. `make run PORT=8010` serves elsewhere (PUBLIC_BASE_URL follows unless it is set).
# Links use localhost, not 127.0.0.1: browsers refuse an IP address as the WebAuthn RP ID, so passkeys only work
# on a host name.
PORT ?= 8000
RUN_ENV = DEBUG=$${DEBUG:-1} PUBLIC_BASE_URL=$${PUBLIC_BASE_URL:-http://localhost:$(PORT)}
run: install
	$(RUN_ENV) $(BIN)/python manage.py migrate --noinput
	$(RUN_ENV) $(BIN)/python manage.py seed_demo --verify-domain
	$(RUN_ENV) $(BIN)/python manage.py run_with_worker 127.0.0.1:$(PORT)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The whole suite: lint, migration check, tests (PostgreSQL when DATABASE_URL is set, SQLite otherwise).
test: lint
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory idp-deps; \
	else echo "make test: npm is not installed, so the OIDC provider tests will skip (CI installs it)"; fi
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Local IdPs for the demo org (README "End-to-end tests and local IdPs"): SimpleSAMLphp on 127.0.0.1:8080 and
# node-oidc-provider on 127.0.0.1:8081 (SAML_IDP_PORT, OIDC_PROVIDER_PORT, APP_URL, ORG override). Ctrl-C stops both.
OIDC_PROVIDER_DIR := tests/e2e/oidc_provider
$(OIDC_PROVIDER_DIR)/node_modules/.package-lock.json: $(OIDC_PROVIDER_DIR)/package.json $(OIDC_PROVIDER_DIR)/package-lock.json
	npm ci --prefix $(OIDC_PROVIDER_DIR) --no-audit --no-fund
	touch $@

idp-deps: $(OIDC_PROVIDER_DIR)/node_modules/.package-lock.json

idp: install idp-deps
	$(BIN)/python -m tests.e2e.devidp

# Only the browser tests (they also run in `make test`).
e2e: install-dev idp-deps
	$(BIN)/python -m pytest -m e2e tests/e2e $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 db-huey.sqlite3* huey.sqlite3* .pytest_cache $(OIDC_PROVIDER_DIR)/node_modules tests/e2e/.run
