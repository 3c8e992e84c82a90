# Set-up commands for a fresh machine (Python 3.11 on PATH as python3).
#   make run   - the main job: Telegram bot if TELEGRAM_BOT_TOKEN is set, else the console on seeds/
#   make test  - install everything, run the linters and type checks (make lint), then the test suite
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python

.PHONY: run test lint install index eval bench clean lock

# Exact versions from requirements.lock (refresh it with `make lock` after changing dependencies).
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -m bot run

# ruff (lint, and the format check) and mypy, configured in pyproject.toml; a few seconds.
lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

test: install lint
	$(PY) -m pytest -q

index: install
	$(PY) -m bot index

eval: install
	$(PY) -m bot eval ../shared/eval/seeds_dev.yaml

# Re-resolve the exact versions of every dependency (pyproject.toml's ranges) into requirements.lock.
lock: install
	$(PY) -m pip install --quiet pip-tools
	$(PY) -m piptools compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --extra test \
		--output-file=requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache *.egg-info
