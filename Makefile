PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make run PORT=5601`, or PORT in the environment.
PORT ?= 5000
# The suites `make test` leaves to their own targets.
SLOW_MARKS := faults or browser or slow or api_contract
# uv installs the lock; the version bootstrapped into the venv is the one the lock holds.
UV_VERSION = $(shell sed -n '/^name = "uv"$$/{n;s/^version = "\(.*\)"$$/\1/p;}' uv.lock)

.PHONY: run test test-browser test-slow test-api test-faults check lint lock lock-check upgrade \
	format bench faults clean

# Exactly what uv.lock says, nothing newer: a release out today changes nothing here.
$(STAMP): uv.lock pyproject.toml devtools/pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv sync --frozen --extra dev --python $(BIN)/python --quiet
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/cartfleet dev --port $(PORT)

# Test runs keep their bytecode (and pytest's assertion-rewritten test modules) under
# var/pycache even where the environment sets PYTHONDONTWRITEBYTECODE: without it every
# pytest process, and every process a test starts, compiles its imports anew (seconds each).
PYTEST = PYTHONDONTWRITEBYTECODE= PYTHONPYCACHEPREFIX=$(CURDIR)/var/pycache $(BIN)/pytest

# The fast suite: unit and integration tests against the real PostgreSQL and Redis, in
# three pytest-xdist processes (each its own database and Redis db): the tests are mostly
# CPU-bound now, and each process pays for its own collection, but some wait on threads
# and timeouts, which a third process fills on two cores.
TEST_PROCESSES ?= 3
test: $(STAMP)
	$(PYTEST) -n $(TEST_PROCESSES) -m "not ($(SLOW_MARKS))" $(PYTEST_ARGS)

test-browser: $(STAMP)
	$(PYTEST) -m browser $(PYTEST_ARGS)

# Tests that start processes of their own (workers killed mid-job, schedulers taking
# over, Sentry from child processes), the guides' commands against gunicorn, and the
# production wheel installed on its own.
test-slow: $(STAMP)
	$(PYTEST) -m "slow and not browser" $(PYTEST_ARGS)

# The fault-injection suite (short mode): every scenario boots a whole fleet.
test-faults: $(STAMP)
	$(PYTEST) -m faults $(PYTEST_ARGS)

# Everything CI runs, in its order.
check: lint lock-check test test-slow test-browser test-api test-faults

# Schemathesis against /api/openapi.json (slow; left out of `make test` by its marker).
test-api: $(STAMP)
	$(PYTEST) -m api_contract tests/web/test_openapi_contract.py $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# The one way versions move: `lock` re-resolves what pyproject.toml changed, `upgrade`
# takes every newest release the ranges allow; the suite decides whether they land.
lock: $(STAMP)
	$(BIN)/uv lock

upgrade: $(STAMP)
	$(BIN)/uv lock --upgrade

lock-check: $(STAMP)
	$(BIN)/uv lock --check

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

faults: $(STAMP)
	$(BIN)/python -m tests.faults.run --mode full --report docs/reliability.md

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
