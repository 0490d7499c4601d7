# LandLedger: `make run` serves the app on http://127.0.0.1:8000; `make test` runs the suite.
# Both install what is missing (Debian packages, the virtualenv), start PostgreSQL, migrate
# and load the demo; a second run skips what is already done.

VENV := .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run serve test setup system-packages browser-packages database migrate static demo demo-users lint reset-db load faults hostile restore-drill

# The app serves as a role that owns no table (scripts/setup_database.sh): it cannot turn
# off the register's guards. Migrations, the demo and the tests run as the owner. A
# DATABASE_URL given in the environment is used as it is, for both.
APP_DATABASE_URL := postgis://landledger_app:landledger_app@127.0.0.1:5432/landledger
AS_APP := DATABASE_URL="$${DATABASE_URL:-$(APP_DATABASE_URL)}"

run: setup demo-users
	@echo "LandLedger is starting on http://$(HOST):$(PORT)/ (Ctrl-C stops it)"
	$(AS_APP) $(PYTHON) manage.py runserver $(HOST):$(PORT)

# As in production: gunicorn with config/gunicorn.conf.py (DEBUG off; set SECRET_KEY and
# ALLOWED_HOSTS in the environment).
serve: setup
	$(AS_APP) $(VENV)/bin/gunicorn -c config/gunicorn.conf.py config.wsgi:application

# Test databases are cloned from a template migrated and loaded with the demo, built once
# for each version of the code (prepare_test_template) instead of in every test process.
# Two processes, each with a test database of its own; a file's tests stay together in one
# (a module's private PostgreSQL cluster, a browser session and a live server are made once).
# The API fuzzing runs on its own afterwards: schemathesis gives all its operations one test
# id, and xdist would run only one of them.
FUZZ_TESTS := tests/reliability/test_api_fuzz.py
test: setup browser-packages
	$(VENV)/bin/ruff check --quiet .
	$(VENV)/bin/mypy
	$(PYTHON) manage.py prepare_test_template
	$(PYTHON) -m pytest -n 2 --dist loadfile --ignore=$(FUZZ_TESTS)
	$(PYTHON) -m pytest $(FUZZ_TESTS)

setup: system-packages $(STAMP) database migrate static demo

system-packages:
	@bash scripts/install_system_packages.sh

browser-packages:
	@bash scripts/install_system_packages.sh --with-browser

# Reinstalled only when the dependency list changes. pip brings uv, which installs the
# pinned set in a fraction of pip's time.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet -c constraints.txt uv
	$(PYTHON) -m uv pip install --quiet --python $(PYTHON) -c constraints.txt -e ".[test]"
	@touch $(STAMP)

database:
	@bash scripts/setup_database.sh

migrate:
	@$(PYTHON) manage.py migrate --no-input -v0

static:
	@$(PYTHON) manage.py collectstatic --no-input -v0
	@$(PYTHON) manage.py compilemessages --ignore=.venv -v0

demo:
	@$(PYTHON) manage.py load_demo

demo-users:
	@$(PYTHON) manage.py create_demo_users

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The long runs of the reliability suites (docs/reliability.md); `make test` runs short ones.
load: setup
	$(PYTHON) bench/load_test.py --duration 600 --serve-as landledger_app --write-doc

faults: setup
	LANDLEDGER_FAULT_ROUNDS=5 $(PYTHON) -m pytest -p no:cacheprovider -m faults tests/reliability

hostile: setup
	RELIABILITY_LONG=1 $(PYTHON) -m pytest -p no:cacheprovider -m hostile tests/reliability

restore-drill: setup
	PYTHON=$(PYTHON) bash scripts/restore_drill.sh

# Drops the local register so that the next `make run` loads the demo afresh.
reset-db:
	@bash scripts/reset_database.sh
