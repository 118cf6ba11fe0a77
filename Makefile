# The two set-up commands of the README: `make serve` and `make test`.
# Each creates the virtual environment it needs on first use.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: serve test build lint bench system-deps

$(BIN)/amity: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

serve: $(BIN)/amity                ## build the default graph if needed, then serve it on 127.0.0.1:8000
	$(BIN)/amity serve

build: $(BIN)/amity                ## (re)build the default graph
	$(BIN)/amity build

system-deps:                       ## Debian packages the browser and Virtuoso tests need (installed when missing)
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }
	@command -v virtuoso-t >/dev/null 2>&1 && command -v isql-vt >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    virtuoso-opensource-7-bin >/dev/null; }

test: $(BIN)/amity system-deps     ## the whole test suite (the Virtuoso variants must run, not skip)
	$(BIN)/ruff check .
	AMITY_REQUIRE_VIRTUOSO=1 $(BIN)/pytest

bench: $(BIN)/amity                ## every benchmark, one after the other
	for script in benchmarks/*.py; do $(BIN)/python $$script || exit 1; done
