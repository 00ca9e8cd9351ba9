# The two commands the README starts with: `make run` and `make test`.
# Both create .venv when it is missing and install quorumd into it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck imports unit paxos clean bytecode

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

# An editable install leaves bytecode to the interpreter, which does not write it when
# PYTHONDONTWRITEBYTECODE is set: every quorumd process (the tests start hundreds) would
# compile the package again. Write it once; only changed modules are redone.
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q src/quorumd > /dev/null

# Start a local 3-node cluster (Ctrl-C stops it).
run: $(STAMP) bytecode
	$(BIN)/quorumd cluster --nodes 3

lint: $(STAMP)
	$(BIN)/ruff check $(wildcard src tests bench)

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP) bytecode
	$(BIN)/python -m pytest -q

# The integration suites (real processes, kazoo, failover, locks) again on Multi-Paxos.
paxos: $(STAMP) bytecode
	QUORUMD_CONSENSUS=paxos $(BIN)/python -m pytest -q -m integration tests/server tests/client

# Everything CI checks, in order: style, types, layering, then the tests (both engines).
test: lint typecheck imports unit paxos

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
