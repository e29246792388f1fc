# The README's two commands: `make run` and `make test`. Both build .venv from scratch.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test lint unit fmt bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## run: the service on the embedded default (SQLite file, in-process messaging)
run: install
	$(BIN)/orderly db upgrade
	$(BIN)/orderly serve

## test: lint, types, architecture contracts, then the whole test suite
test: lint
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## unit: the fast in-memory suite only, for the edit loop (`make test` runs it in full):
## - only the plugins it uses (hypothesis, timeout), named rather than auto-loaded:
##   importing schemathesis, faker and anyio (installed for e2e and contract tests)
##   costs about 1.5-2.5 s of CPU, and a plugin installed later stays out too;
## - bytecode is cached even where PYTHONDONTWRITEBYTECODE is set, so the project's
##   modules are not compiled, nor the tests' asserts rewritten, on every run;
## - the property state machine runs a quarter of its examples, the plain properties a
##   third (ORDERLY_QUICK_PROPERTIES); the figures are in benchmarks/README.md.
UNIT_PLUGINS := -p _hypothesis_pytestplugin -p pytest_timeout

unit: install
	PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 PYTHONDONTWRITEBYTECODE= ORDERLY_QUICK_PROPERTIES=1 \
		$(BIN)/pytest tests/unit -q $(UNIT_PLUGINS)

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache orderly.db*
