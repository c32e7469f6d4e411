# nrm-api — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
# the docs page's Swagger UI (npm), reinstalled whenever package-lock.json changes
UI_STAMP := node_modules/.installed-$(shell cat package-lock.json | sha256sum | cut -c1-12)
# the interop tests' independent JOSE stack (jose, canonicalize), likewise from its own lock file
INTEROP := tests/interop/node
INTEROP_STAMP := $(INTEROP)/node_modules/.installed-$(shell cat $(INTEROP)/package-lock.json | sha256sum | cut -c1-12)

# the web form's message catalogs (nrm_api/web/translations/<lang>/LC_MESSAGES/messages.po), compiled for run and test
WEB_T := nrm_api/web/translations
WEB_MO := $(patsubst %.po,%.mo,$(wildcard $(WEB_T)/*/LC_MESSAGES/messages.po))

# make test's pytest workers (pytest-xdist; a module's tests stay on one worker, with its served instance)
TEST_WORKERS ?= 2

.PHONY: run test bench openapi clean system-packages translations messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# ensurepip's pip and setuptools carry known CVEs: upgrade both before anything is installed with them
# (also in a .venv made before this line existed, since the stamp follows pyproject.toml)
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade "pip>=25.3" "setuptools>=78.1.1"
	$(BIN)/pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

# exactly what package-lock.json pins; --ignore-scripts: a dependency's install script would phone home
$(UI_STAMP): package-lock.json
	@command -v npm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

$(INTEROP_STAMP): $(INTEROP)/package-lock.json | $(UI_STAMP)
	cd $(INTEROP) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

## make translations: compile the web form's catalogs (.po, committed) into .mo (ignored by git)
translations: $(WEB_MO)

$(WEB_T)/%/LC_MESSAGES/messages.mo: $(WEB_T)/%/LC_MESSAGES/messages.po | $(STAMP)
	$(BIN)/pybabel compile -l $* -i $< -o $@

## make messages: after adding strings to pages or templates, extract them and update every catalog
## (then fill msgstr in ru and be; tests/web/test_translations.py fails for any left empty or fuzzy)
messages: $(STAMP)
	$(BIN)/pybabel extract -F nrm_api/web/babel.cfg -k lazy_gettext -k N_ --no-location --sort-output --width 120 \
	  --project nrm-api -o $(WEB_T)/messages.pot nrm_api/web
	$(BIN)/pybabel update -i $(WEB_T)/messages.pot -d $(WEB_T) --no-fuzzy-matching --width 120 --ignore-obsolete

## make run: set up the embedded demo (SQLite, local keyring, seeded network) and serve it
run: $(STAMP) $(UI_STAMP) translations
	$(BIN)/nrm-api demo setup
	set -a && . instance/demo.env && set +a && exec $(BIN)/nrm-api serve --host 127.0.0.1 --port 8000

## system packages the tests need (Debian): SoftHSM2 for the PKCS#11 keyring, pg_dump for the canary scan,
## chromium for the docs page test (Playwright drives it; no browser is ever downloaded), npm for Swagger UI,
## nginx (deploy/nginx checked with nginx -t and run in front of the nodes), systemd-analyze for deploy/systemd
system-packages:
	@missing=""; \
	command -v softhsm2-util >/dev/null || missing="$$missing softhsm2"; \
	command -v pg_dump >/dev/null || missing="$$missing postgresql-client"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	command -v systemd-analyze >/dev/null || missing="$$missing systemd"; \
	if [ -n "$$missing" ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

## make test: lint, type-check and run the whole suite (PostgreSQL when it answers, and SQLite);
## here the browser test may not skip: everything it needs was installed above
test: system-packages $(STAMP) $(UI_STAMP) $(INTEROP_STAMP) translations
	$(BIN)/ruff check nrm_api tests benchmarks
	$(BIN)/mypy nrm_api
	$(BIN)/lint-imports
	NRM_TEST_REQUIRE_BROWSER=1 NRM_TEST_REQUIRE_NGINX=1 $(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope

## make bench: the benchmarks on PostgreSQL; each figure is one JSON line on standard output
bench: $(STAMP)
	command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time; }
	$(BIN)/python -m benchmarks.audit
	$(BIN)/python -m benchmarks.forms
	$(BIN)/python -m benchmarks.referrals
	$(BIN)/python -m benchmarks.accounts
	$(BIN)/python -m benchmarks.hosted
	$(BIN)/python -m benchmarks.web_forms

openapi: $(STAMP)
	$(BIN)/nrm-api openapi write

clean:
	rm -rf $(VENV) node_modules $(INTEROP)/node_modules .pytest_cache .mypy_cache .ruff_cache
