PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make run PORT=5601`, or PORT in the environment.
PORT ?= 5000

.PHONY: run test test-api lint format bench faults clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/cartfleet dev --port $(PORT)

test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

# Schemathesis against /api/openapi.json (slow; left out of `make test` by its marker).
test-api: $(STAMP)
	$(BIN)/pytest -m api_contract tests/web/test_openapi_contract.py $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

faults: $(STAMP)
	$(BIN)/python -m tests.faults.run --mode full --report docs/reliability.md

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
