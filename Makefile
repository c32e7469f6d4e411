# nrm-api — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

.PHONY: run test bench openapi clean system-packages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

## make run: set up the embedded demo (SQLite, local keyring, seeded network) and serve it
run: $(STAMP)
	$(BIN)/nrm-api demo setup
	set -a && . instance/demo.env && set +a && exec $(BIN)/nrm-api serve --host 127.0.0.1 --port 8000

## system packages the tests need (Debian): SoftHSM2 for the PKCS#11 keyring, pg_dump for the canary scan
system-packages:
	@command -v softhsm2-util >/dev/null && command -v pg_dump >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2 postgresql-client; }

## make test: lint, type-check and run the whole suite (PostgreSQL when it answers, and SQLite)
test: system-packages $(STAMP)
	$(BIN)/ruff check nrm_api tests benchmarks
	$(BIN)/mypy nrm_api
	$(BIN)/pytest

## make bench: the benchmarks on PostgreSQL; each figure is one JSON line on standard output
bench: $(STAMP)
	command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time; }
	$(BIN)/python -m benchmarks.audit
	$(BIN)/python -m benchmarks.forms
	$(BIN)/python -m benchmarks.referrals

openapi: $(STAMP)
	$(BIN)/nrm-api openapi write

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
