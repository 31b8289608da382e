# The two commands a newcomer needs:
#   make demo   — install, create the demo database, load the demo network, serve on 127.0.0.1:8000
#   make test   — install, run the whole test suite
# Both create .venv/ on first use (Python 3.11 or 3.12 must be on the PATH as python3).

VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: demo test install lint messages worker screenshots fault-injection

$(VENV)/.installed: pyproject.toml
	bash scripts/system-packages.sh
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_load
	$(PY) manage.py runserver 127.0.0.1:8000

test: install
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check .
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/lint-imports

messages: install
	$(PY) manage.py makemessages -l fr --ignore=.venv --ignore=bench --ignore=tests --no-obsolete
	$(PY) manage.py compilemessages --ignore=.venv

worker: install
	$(VENV)/bin/celery -A config worker --loglevel=info

# The browser journeys (tests/in_browser/test_journeys.py) save their screens into docs/screenshots/<lang>/ (tablet)
# and docs/screenshots/<lang>/phone/ (390 × 844).
screenshots: install
	RELAIS_SCREENSHOTS=docs/screenshots $(VENV)/bin/pytest tests/in_browser/test_journeys.py

# Opt-in: a 100,000-recipient send while workers are killed, PostgreSQL restarts and the broker is
# down 60 s (docs/robustness.md). Restarts the machine's PostgreSQL; about 8 minutes on 2 cores.
fault-injection: install
	bash scripts/fault-injection.sh
