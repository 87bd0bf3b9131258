# Fundtrace. `make run` and `make test` work on a fresh clone: with DATABASE_URL unset they use a
# PostgreSQL server of their own under var/postgres (backoffice/embedded_db.py), no system service.
PYTHON ?= python3
PORT ?= 8000
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install migrate seed lint format bench clean requirements

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: install
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py seed_demo
	@echo "Fundtrace back office: http://127.0.0.1:$(PORT)/admin/"
	DEBUG=1 SITE_URL=$${SITE_URL:-http://127.0.0.1:$(PORT)} $(PY) manage.py runserver 127.0.0.1:$(PORT)

# Three processes on two cores, as tests wait on PostgreSQL and Chromium; worksteal hands queued tests
# to an idle process, so the slow browser tests at the end do not leave one waiting.
test: install
	$(VENV)/bin/pytest -n 3 --dist worksteal

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# After editing the dependencies in pyproject.toml: pin them, and what they need, again.
requirements: install
	$(VENV)/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links -o requirements.txt pyproject.toml
	$(VENV)/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --extra dev -o requirements-dev.txt pyproject.toml

bench: install
	$(PY) bench/run.py

# The embedded server stops before its data folder goes.
clean:
	if [ -x $(PY) ]; then $(PY) -m backoffice.embedded_db stop; fi
	rm -rf $(VENV) var
