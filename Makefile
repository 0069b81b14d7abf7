# One Makefile for developers, CI and the README. Every target creates the virtualenv
# itself, so a fresh machine with only python3 needs nothing else.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := constraints.txt

.PHONY: demo test test-fast test-extended lint fmt bench check clean lock contracts

# Every dependency is installed at the version pinned in $(LOCK), as the Dockerfile does.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)  ## simulator + embedded broker + the service, with a live view of published events
	$(BIN)/openoms-allegro demo

test: $(STAMP)  ## the whole default test suite (unit, contract, integration, e2e)
	$(BIN)/pytest -q -p no:cacheprovider

test-fast: $(STAMP)  ## the edit-test loop: unit and contract tests (each port's contract still runs against its real adapters), ~1 min
	$(BIN)/pytest -q -p no:cacheprovider tests/unit tests/contract

test-extended: $(STAMP)  ## the minutes-long fault runs left out of `make test` (command path and stock burst under SIGKILLs, outages), ~9 min
	$(BIN)/pytest -q -p no:cacheprovider -m extended tests/faults

lint: $(STAMP)  ## ruff, formatting, mypy --strict, import-linter
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff format src tests bench tools
	$(BIN)/ruff check --fix src tests bench tools

contracts: $(STAMP)  ## regenerate contracts/ (JSON Schemas, AsyncAPI) from the message models
	$(BIN)/python -m tools.contracts

bench: $(STAMP)  ## performance figures (not part of the test run)
	$(BIN)/python bench/run.py

check: lint test

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

lock:  ## re-pin $(LOCK) after a change to pyproject.toml: resolves afresh in a scratch virtualenv
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -e '.[dev]'
	grep '^#' $(LOCK) > $(LOCK).new
	.lock-venv/bin/pip freeze --exclude-editable >> $(LOCK).new
	mv $(LOCK).new $(LOCK)
	rm -rf .lock-venv
