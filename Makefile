# edgestats: `make demo` and `make test` are all a new user needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export EDGESTATS_HOME ?= $(CURDIR)/.edgestats

.PHONY: setup demo test test-fast bench lint fmt ui synth cdk-synth clean trino trino-up trino-down

setup: $(STAMP)

# Reinstall only when the venv is missing or pyproject.toml changed since the last install.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) >&2
	$(BIN)/python -m pip install --quiet --upgrade pip >&2
	$(BIN)/python -m pip install --quiet -e '.[dev]' >&2
	@touch $(STAMP)

demo: setup
	$(BIN)/edgestats demo

test: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

test-fast: setup
	$(BIN)/python -m pytest -q -x -m "not slow"

bench: setup
	$(BIN)/python -m tests.benchmarks

lint: setup
	$(BIN)/ruff check edge infra orchestration tests
	$(BIN)/lint-imports

fmt: setup
	$(BIN)/ruff format edge infra orchestration tests
	$(BIN)/ruff check --fix edge infra orchestration tests

ui: setup
	mkdir -p $(EDGESTATS_HOME)/dagster
	DAGSTER_HOME=$(EDGESTATS_HOME)/dagster $(BIN)/dagster dev -h 127.0.0.1 -p 3000

synth: setup
	$(BIN)/python -m infra.app

# The same synth through the CDK CLI (cdk.json), installed from npm into .cdk-cli/ (not in
# git). Offline: no telemetry, no notices, no EC2 metadata lookup for a default account.
CDK := .cdk-cli/node_modules/.bin/cdk
$(CDK):
	npm install --prefix .cdk-cli --no-audit --no-fund aws-cdk@2
cdk-synth: setup $(CDK)
	CDK_DISABLE_CLI_TELEMETRY=true AWS_EC2_METADATA_DISABLED=true $(CDK) synth --no-notices -q

# Trino over moto's S3 and Glue on 127.0.0.1 (orchestration/devstack.py): `make trino` fetches
# and verifies the pinned server into .cache/ (not in git); `eval "$$(make -s trino-up)"`
# starts it and sets EDGESTATS_BACKEND=trino and the rest in the shell; `make trino-down`.
trino: setup
	$(BIN)/python -m orchestration.devstack fetch
trino-up: setup
	@$(BIN)/python -m orchestration.devstack up
trino-down:
	@$(BIN)/python -m orchestration.devstack down

clean:
	rm -rf .edgestats cdk.out build .pytest_cache
