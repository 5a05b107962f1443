# The commands a newcomer needs. `make run` serves the site on SQLite;
# `make test` runs the whole suite (add DATABASE_URL=postgres://... for PostgreSQL).
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
DEV := DEBUG=1

.PHONY: install system-deps run demo test lint bench messages

$(VENV)/.installed: requirements.txt requirements-dev.txt .python-version
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

# Debian's Chromium drives the browser tests; gettext checks the catalogues.
system-deps:
	@if ! command -v chromium >/dev/null || ! command -v msgfmt >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium gettext >/dev/null; \
		else echo "Install Debian's chromium and gettext: sudo apt-get install chromium gettext"; exit 1; fi; \
	fi

# The site on SQLite at http://127.0.0.1:$(PORT), with a first admin account,
# and the worker (Midjourney's polling) beside it; Ctrl+C stops both.
run: install
	$(DEV) $(PY) manage.py migrate --noinput
	$(DEV) $(PY) manage.py ensure_admin
	$(DEV) $(PY) manage.py worker --no-reload & trap "kill $$!" EXIT; \
	$(DEV) $(PY) manage.py runserver 127.0.0.1:$(PORT)

# The same, chatting with the fake AITRE server from the tests (no API key needed).
demo: install
	$(PY) -m tests.fake_aitre --port 8765 --rate 40 & trap "kill $$!" EXIT; \
	$(DEV) AITRE_BASE_URL=http://127.0.0.1:8765 AITRE_API_KEY=demo $(MAKE) --no-print-directory run

test: lint system-deps
	$(VENV)/bin/pytest

# ruff for lint and format; mypy (strict, with django-stubs) for the app's types.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(DEV) $(VENV)/bin/mypy

# Rebuild the translation catalogues after changing user-facing strings.
messages: install
	$(DEV) $(PY) manage.py makemessages -l zh_Hans --ignore=.venv --ignore=tests --ignore=staticfiles
	$(DEV) $(PY) manage.py compilemessages -l zh_Hans --ignore=.venv

# The benchmark: the Procfile's app under load against the fake API, on
# PostgreSQL and SQLite, then the usage dashboard over a million records and the
# media library over 2,000 images (about
# twelve minutes). `make bench ARGS=--quick` for a smoke run.
bench: install
	$(PY) -m bench $(ARGS)
