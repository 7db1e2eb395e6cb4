# Incident Desk — `make run` and `make test` are all a newcomer needs.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: run test install install-dev migrate demo lint check-deploy bench clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(PY) manage.py migrate --no-input
	$(PY) manage.py collectstatic --no-input --verbosity 0

# Links in the demo's messages point at the server `make run` starts, unless SITE_URL is set.
demo run: export SITE_URL ?= http://$(HOST):$(PORT)
demo: migrate
	$(PY) manage.py load_demo_data

# Web server, Celery worker and beat together; Ctrl-C stops all three. The worker's log and the
# demo's mail go to var/ so the terminal keeps the web server's requests and, last, the URL and
# logins. Background jobs of a script ignore Ctrl-C's SIGINT, so the trap stops them by their ids
# and exits 0: make reports no error.
RUN_LOG := var/log/worker.log
RUN_MAIL := var/mail
run: demo
	@mkdir -p var/log $(RUN_MAIL)
	@trap 'trap - INT TERM EXIT; kill -TERM $$worker $$web 2>/dev/null; wait; echo "  Incident Desk stopped."; exit 0' INT TERM EXIT; \
	export DEBUG=$${DEBUG:-1} EMAIL_URL=$${EMAIL_URL:-file://$(CURDIR)/$(RUN_MAIL)}; \
	$(VENV)/bin/celery -A config worker -B --loglevel=INFO --concurrency=2 >>$(RUN_LOG) 2>&1 & worker=$$!; \
	$(PY) manage.py runserver $(HOST):$(PORT) & web=$$!; \
	$(PY) -m config.wait_for_web "http://$(HOST):$(PORT)/health" && { \
	echo ""; \
	echo "  Worker and beat log: $(RUN_LOG); demo mail: $(RUN_MAIL)/ (unless EMAIL_URL is set)"; \
	echo "  Incident Desk: http://$(HOST):$(PORT)/"; \
	echo "  Log in as admin (or lead, oncall, comms, viewer), password: incident-desk-demo"; \
	echo "  Ctrl-C stops the web server, the worker and beat."; \
	echo ""; }; \
	wait -n

# Three pytest-xdist workers on two cores: many tests wait on a browser, a worker or a socket, and
# measured here three finish the suite about 15 % sooner than two (each has its own test database
# and Redis database; -n 0 runs in one process).
# PYTHONDONTWRITEBYTECODE is cleared for the run: with it, every run and each worker compiles the
# project and rewrites the asserts of ~520 test modules again (about 7 s of CPU per process here);
# without it, they are cached in __pycache__ (git ignores it) from the second run on.
TEST_WORKERS ?= 3
test: install-dev
	PYTHONDONTWRITEBYTECODE= $(VENV)/bin/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .

check-deploy: install
	DEBUG=false SECRET_KEY=$${SECRET_KEY:-$$(head -c 48 /dev/urandom | base64)} SECURE_HSTS_PRELOAD=true \
		$(PY) manage.py check --deploy --fail-level WARNING

# Load benchmark (bench/README.md): creates, migrates and fills the PostgreSQL database on the first
# run (10,000 incidents, 1,000,000 timeline events; later runs reuse it), then measures the pages
# against a bare view with gunicorn and wrk, then the public status page against a static file.
# Results: bench/results/latest.json and bench/results/status_page.json.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/incident_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/1
BENCH_ENV = DJANGO_SETTINGS_MODULE=bench.settings DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL)
# Runbook search (bench/README.md): 5,000 runbooks in their own database, search p95 against 30 ms.
RUNBOOK_BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/runbook_bench
# The API as the incident table grows (1,000 / 10,000 / 100,000 incidents), in its own database.
GROWTH_BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/incident_bench_growth
# Who is on call: 100 services x 10 schedules, selector p95 against 5 ms, in its own database.
ONCALL_BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/oncall_bench
bench: install-dev
	$(BENCH_ENV) $(PY) -m bench.generate --setup --if-missing --incidents 10000 --events 1000000
	$(BENCH_ENV) $(PY) -m bench.load $(BENCH_ARGS)
	$(BENCH_ENV) $(PY) -m bench.status_page $(BENCH_STATUS_ARGS)
	DJANGO_SETTINGS_MODULE=bench.settings DATABASE_URL=$(RUNBOOK_BENCH_DATABASE_URL) \
		$(PY) -m bench.runbook_search --setup --if-missing
	DJANGO_SETTINGS_MODULE=bench.settings DATABASE_URL=$(GROWTH_BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) \
		$(PY) -m bench.growth
	DJANGO_SETTINGS_MODULE=bench.settings DATABASE_URL=$(ONCALL_BENCH_DATABASE_URL) \
		$(PY) -m bench.oncall --setup

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache
