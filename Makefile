# The two commands are `make demo` and `make test`; everything else is what they need.
# Every target does its own set-up, and set-up is idempotent: a second run is a fast no-op.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# brownie launches anvil/ganache from PATH; the venv links them from node_modules.
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: help setup demo test bench lint compile slither invariants fuzz-deep portal clean

help:
	@echo "make demo   - the main job on the embedded local chain (anvil launched by brownie)"
	@echo "make test   - the whole suite: lint, contract and Python tests"
	@echo "make bench  - gas and pipeline benchmarks (benchmarks/results/*.json, README, docs/scaling.md)"
	@echo "make portal - build the customer portal page (then: streamledger portal --deployment ...)"
	@echo "make fuzz-deep - the invariant suite at 1,700,000 calls (about half an hour; not in make test)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The solc shim, chain binaries on PATH and the project's brownie networks (tools/setup_toolchain.py).
$(VENV)/.toolchain: $(VENV)/.installed node_modules/.installed tools/setup_toolchain.py tools/solc-wrapper.js brownie-config.yaml
	$(BIN)/python tools/setup_toolchain.py
	touch $@

setup: $(VENV)/.toolchain

# The customer portal: portal/ bundled with ethers (npm) by esbuild into build/portal/, served by
# `streamledger portal`. Nothing is fetched from anywhere at run time.
PORTAL_SRC := $(wildcard portal/*.html portal/*.css portal/src/*.js)
build/portal/app.js: $(PORTAL_SRC) node_modules/.installed
	npx --no-install esbuild portal/src/main.js --bundle --format=esm --target=es2022 --minify \
		--log-level=warning --outfile=build/portal/app.js
	cp portal/index.html portal/style.css build/portal/

portal: build/portal/app.js

compile: setup
	$(BIN)/brownie compile

lint: setup
	$(BIN)/ruff check streamledger scripts tests tools
	$(BIN)/ruff format --check streamledger scripts tests tools
	npx --no-install solhint --max-warnings 0 'contracts/**/*.sol' 'interfaces/**/*.sol'

demo: compile
	$(BIN)/brownie run scripts/demo.py

# Static analysis: 0 untriaged findings (docs/slither-triage.md), and at least one contract analysed.
slither: setup
	$(BIN)/python tools/slither_check.py

# The invariant suite (tests/invariant/, forge from npm, offline): at least 10,000 state transitions.
invariants: setup
	$(BIN)/python tools/invariants.py

fuzz-deep: setup
	$(BIN)/python tools/invariants.py --deep

# Lint, static analysis, the invariant suite, the whole suite on anvil, then the contract suite again on
# ganache (same bytecode, shanghai).
test: lint compile slither invariants portal
	$(BIN)/brownie test tests
	$(BIN)/brownie test tests/unit tests/integration/test_smoke.py tests/integration/test_usage_smoke.py --network ganache

# Numbers, not pass/fail: gas per subscriber and per usage line beside the pull baseline, the feeder on 1M
# records beside a bare csv.reader pass, reconciliation of 10,000 customers over a month; then the README's
# table and docs/scaling.md are rewritten from the results.
bench: compile
	$(BIN)/brownie run scripts/bench_gas.py
	$(BIN)/python -m streamledger.bench.pipeline feeder
	$(BIN)/brownie run scripts/bench_reconcile.py
	if command -v wrk >/dev/null; then $(BIN)/python -m streamledger.bench.auth --connections 16 64 256; \
	else echo "wrk not installed (apt-get install wrk): the auth backend benchmark is skipped"; fi
	$(BIN)/python -m streamledger.bench.publish

clean:
	rm -rf build reports out .stamp-* $(VENV)/.toolchain
