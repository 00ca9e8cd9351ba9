# The two commands the README starts with: `make run` and `make test`.
# Both create .venv when it is missing and install quorumd into it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The mypyc-compiled copy of the server's hot path (tools/build_compiled.py). `make run`
# uses it when this machine can build it; BUILD=interpreted runs the source tree as is.
COMPILED := build/compiled
BUILD ?= compiled

.PHONY: run test lint typecheck imports unit paxos compiled test-compiled clean bytecode

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

# Rebuilt only when the source (or mypy) changed since the last build.
compiled: $(STAMP)
	$(BIN)/python tools/build_compiled.py --if-stale --out $(COMPILED)

# Start a local 3-node cluster (Ctrl-C stops it). The first run compiles (~2 min); a
# machine that cannot compile runs the interpreted build, which is the same code.
run: $(STAMP) bytecode
	@if [ "$(BUILD)" = compiled ] && $(BIN)/python tools/build_compiled.py --if-stale --out $(COMPILED); then \
	  PYTHONPATH="$(CURDIR)/$(COMPILED)/src" exec $(BIN)/quorumd cluster --nodes 3; \
	else \
	  [ "$(BUILD)" = compiled ] && echo "running the interpreted build instead"; \
	  exec $(BIN)/quorumd cluster --nodes 3; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check $(wildcard src tests bench tools)

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP) bytecode
	$(BIN)/python -m pytest -q

# The integration suites (real processes, kazoo, failover, locks) again on Multi-Paxos.
paxos: $(STAMP) bytecode
	QUORUMD_CONSENSUS=paxos $(BIN)/python -m pytest -q -m integration tests/server tests/client

# The whole suite, then the Multi-Paxos integration suites, against the compiled build.
# A machine with no C compiler or Python headers says so and skips this step; with them,
# a build that fails, fails the step.
test-compiled: $(STAMP)
	@$(BIN)/python tools/build_compiled.py --if-stale --out $(COMPILED); rc=$$?; \
	if [ $$rc -eq 3 ]; then echo "test-compiled: NOT RUN, this machine cannot compile (above)"; exit 0; fi; \
	[ $$rc -eq 0 ] || exit $$rc; \
	export PYTHONPATH="$(CURDIR)/$(COMPILED)/src"; \
	$(BIN)/python -c 'import quorumd, sys; b = quorumd.build(); print("build:", b); sys.exit(b != "compiled")' && \
	$(BIN)/python -m pytest -q -p no:cacheprovider && \
	QUORUMD_CONSENSUS=paxos $(BIN)/python -m pytest -q -p no:cacheprovider -m integration tests/server tests/client

# Everything CI checks, in order: style, types, layering, the tests on both engines,
# then all of it again against the compiled build.
test: lint typecheck imports unit paxos test-compiled

clean:
	rm -rf $(VENV) build .mypy_cache .pytest_cache .ruff_cache .hypothesis
