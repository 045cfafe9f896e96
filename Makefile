# Zhiwang: `make run` serves the demo city, `make test` runs everything CI runs.
SHELL := /bin/bash
# The first Python >= 3.11 that actually runs (pyenv shims exist for versions that are not installed).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
  if $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then echo $$p; break; fi; done)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint contracts messages benchmarks clean

$(STAMP): pyproject.toml requirements.lock frontend/package-lock.json
	@test -n "$(PYTHON)" || { echo "Zhiwang needs Python >= 3.11 (python3 on the PATH)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix frontend --no-audit --no-fund --loglevel=error; \
	  else echo "WARNING: npm not found: htmx and ECharts are missing (install Node.js >= 18, then 'make install')"; fi
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/zhiwang migrate --no-input
	$(BIN)/zhiwang demo --if-empty --scale small
	$(BIN)/zhiwang serve

test: install
	bash scripts/test.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

contracts: install
	$(BIN)/lint-imports

messages: install
	cd zhiwang && ../$(BIN)/django-admin makemessages -l zh_Hans --settings=zhiwang.settings --pythonpath=.. && ../$(BIN)/django-admin compilemessages --settings=zhiwang.settings --pythonpath=..

benchmarks: install
	$(BIN)/python benchmarks/locate_bench.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
