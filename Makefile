# Zhiwang: `make run` serves the demo city, `make test` runs everything CI runs.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.13 || command -v python3.12 || command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint contracts messages benchmarks clean

$(STAMP): pyproject.toml requirements.lock frontend/package-lock.json
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Zhiwang needs Python >= 3.11")'
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
