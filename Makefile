# Two commands for a newcomer: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install install-dev install-bench install-node run migrate test lint typecheck contracts pytest bench bench-inprocess bench-instructions bench-bulk clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The stamps re-run the install whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	@touch $@ $(VENV)/.installed

# Outside tools the tests point at the served OpenAPI document (tests/ecosystem/): Spectral, its
# OWASP ruleset, openapi-typescript and tsc, pinned by the lock file, in .venv/node.
$(VENV)/node/.installed: tests/ecosystem/package.json tests/ecosystem/package-lock.json | $(BIN)/python
	mkdir -p $(VENV)/node
	cp tests/ecosystem/package.json tests/ecosystem/package-lock.json $(VENV)/node/
	cd $(VENV)/node && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

install-bench: $(VENV)/.installed-bench

install-node: $(VENV)/node/.installed

migrate: install
	$(BIN)/students migrate

run: migrate
	$(BIN)/students serve --host $(HOST) --port $(PORT)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/mypy

contracts: install-dev
	$(BIN)/lint-imports

pytest: install-dev install-node
	$(BIN)/pytest

test: lint typecheck contracts pytest

# Needs PostgreSQL 15 at 127.0.0.1:5432 and wrk; see bench/README.md. BENCH_DURATION=3 for a quick run.
bench: install-bench
	$(BIN)/python -m bench

# Where one request's CPU goes, part by part, in process (bench/inprocess.py). Same database as bench.
bench-inprocess: install-bench
	$(BIN)/python -m bench.inprocess

# Instructions counted by callgrind, repeatable on a busy machine; needs valgrind. Per use-case call
# (bench/instructions.py), then per HTTP request for the service and both other apps
# (bench/http_instructions.py, on the database `make bench` prepares).
bench-instructions: install-bench
	$(BIN)/python -m bench.instructions
	$(BIN)/python -m bench.pool_instructions
	$(BIN)/python -m bench.http_instructions

# Bulk import and export rates on PostgreSQL (beside psql \copy), SQLite and MariaDB (bench/bulk.py).
bench-bulk: install-bench
	$(BIN)/python -m bench.bulk

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
