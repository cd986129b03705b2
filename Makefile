# Stateway: the two commands are `make dev` (the whole API on loopback) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv dev inspector test test-fast test-python test-frontend test-localstack lint token bench sam-build localstack-package clean

$(STAMP): pyproject.toml layers/stateway/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "pip>=24,<26.3"
	$(PY) -m pip install -q -r layers/stateway/requirements.txt -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

## The whole API on 127.0.0.1:8080 (Redis, a MongoDB-protocol server and S3 started on loopback).
dev: $(STAMP) inspector
	$(PY) -m stateway_local.run

## The inspector page (frontend/dist), built once when npm is there; the API runs without it.
inspector:
	@if [ ! -f frontend/dist/index.html ] && command -v npm >/dev/null 2>&1; then \
		(cd frontend && npm ci --no-audit --no-fund --silent && npx --no-install vite build --logLevel warn) \
		|| echo "inspector not built; the API runs without it"; fi

## Every test: lint, types, Python suites against real servers, infra checks, frontend.
test: $(STAMP)
	$(MAKE) lint
	$(MAKE) test-python
	$(MAKE) test-frontend

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test-python: $(STAMP)
	$(VENV)/bin/pytest

## Under a minute: the unit tests, and one session (init, update, state, end) over HTTP through
## the local gateway with Redis, the MongoDB-protocol server and S3 on loopback.
FAST_TESTS := tests/unit "tests/e2e/test_api.py::test_session_operations[single-node]"
test-fast: $(STAMP)
	$(VENV)/bin/pytest -q $(FAST_TESTS)

## The free-plan stack on a real LocalStack (host mode, no Docker): deployed with the SAM CLI, then
## the contract's main scenarios through its REST API. Part of test-python too.
test-localstack: $(STAMP)
	$(VENV)/bin/pytest -q tests/localstack

test-frontend: $(STAMP)
	@if [ -f frontend/package.json ]; then bash frontend/scripts/ci.sh; fi

## A development token: make token USER=alice CLIENT=acme
# USER is always in a shell's environment: only a USER given on make's command line counts.
token: $(STAMP)
	@if [ "$(origin USER)" != "command line" ] || [ -z "$(CLIENT)" ]; then \
		echo "usage: make token USER=<user id> CLIENT=<client id>" >&2; exit 2; fi
	@$(PY) -m stateway_local.devtoken --user "$(USER)" --client "$(CLIENT)"

bench: $(STAMP)
	$(PY) -m bench

## Build the deployable artefacts into .aws-sam/build: the SAM CLI in its own venv (.venv-sam), no Docker.
sam-build:
	bash infra/sam/build.sh

## The LocalStack deployment's functions, each with the stateway package and its dependencies (no
## layers), into build/localstack: what `sam deploy --config-env localstack` uploads.
localstack-package: $(STAMP)
	$(PY) -m stateway_local.localstack_package

clean:
	rm -rf $(VENV) .venv-sam .venv-localstack .venv-lambda build .aws-sam .pytest_cache .mypy_cache .ruff_cache .local
