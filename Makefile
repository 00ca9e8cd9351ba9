# The two commands the README starts with: `make run` and `make test`.
# Both create .venv when it is missing and install quorumd into it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck imports unit paxos clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

# Start a local 3-node cluster (Ctrl-C stops it).
run: $(STAMP)
	$(BIN)/quorumd cluster --nodes 3

lint: $(STAMP)
	$(BIN)/ruff check $(wildcard src tests bench)

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/python -m pytest -q

# The integration suites (real processes, kazoo, failover, locks) again on Multi-Paxos.
paxos: $(STAMP)
	QUORUMD_CONSENSUS=paxos $(BIN)/python -m pytest -q -m integration tests/server tests/client

# Everything CI checks, in order: style, types, layering, then the tests (both engines).
test: lint typecheck imports unit paxos

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
