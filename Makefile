# Two commands matter: `make demo` and `make test`. Everything installs itself into .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test lint typecheck unit bench neo4j-fetch clean

$(STAMP): pyproject.toml scripts/fetch-web-assets
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	scripts/fetch-web-assets
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/tracegraph demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck unit

# The plant-scale run generates its plants (up to a million items) once into a scratch folder and
# reuses them; it starts a local Neo4j unless NEO4J_URI names a scratch server (which it wipes).

bench: $(STAMP)
	$(BIN)/pip install -q -e '.[dev,bench]'
	$(BIN)/python -m bench.core --out bench/results/core.md
	$(BIN)/python -m bench.identifiers --out bench/results/identifiers.md
	$(BIN)/python -m bench.scale --out bench/results

neo4j-fetch:
	scripts/neo4j-local/neo4j-local fetch

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
