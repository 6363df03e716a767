# Two commands matter: `make demo` and `make test`. Everything installs itself into .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The scheduler's compiled tabu search, loaded through ctypes (scheduler/tabu_c.py).
NATIVE := scheduler/csrc/libtabu.so
# The ingest benchmark's replay of its writes through SQLite's C API (bench/ingest_floor.py).
REPLAYER := bench/csrc/sqlite_replay
CFLAGS ?= -O2 -Wall -Wextra

.PHONY: install demo test lint typecheck unit bench neo4j-fetch clean

$(STAMP): pyproject.toml scripts/fetch-web-assets
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	scripts/fetch-web-assets
	touch $(STAMP)

# Without a compiler the scheduler still works, on its slower Python search (the tests say so).
$(NATIVE): scheduler/csrc/tabu.c
	@echo "$(CC) $(CFLAGS) $< -> $@"
	@$(CC) $(CFLAGS) -std=gnu11 -shared -fPIC -o $@ $< || \
		echo "warning: $(NATIVE) not built; the scheduler uses its Python search" >&2

# Needs SQLite's headers (Debian: libsqlite3-dev); without them the benchmark skips that row.
$(REPLAYER): bench/csrc/sqlite_replay.c
	@echo "$(CC) $(CFLAGS) $< -> $@"
	@$(CC) $(CFLAGS) -std=gnu11 -o $@ $< -lsqlite3 || \
		echo "warning: $(REPLAYER) not built; bench.ingest_phases skips the C replay" >&2

install: $(STAMP) $(NATIVE)

demo: $(STAMP) $(NATIVE)
	$(BIN)/tracegraph demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) $(NATIVE) $(REPLAYER)
	$(BIN)/pytest

test: lint typecheck unit

# The plant-scale run generates its plants (up to a million items) once into a scratch folder and
# reuses them; it starts a local Neo4j unless NEO4J_URI names a scratch server (which it wipes).

bench: $(STAMP) $(NATIVE) $(REPLAYER)
	$(BIN)/pip install -q -e '.[dev,bench]'
	$(BIN)/python -m bench.core --out bench/results/core.md
	$(BIN)/python -m bench.identifiers --out bench/results/identifiers.md
	$(BIN)/python -m bench.scale --out bench/results
	$(BIN)/python -m bench.ingest_phases --out bench/results/ingest_phases.md
	$(BIN)/python -m bench.store_copy --out bench/results/store_copy.md

neo4j-fetch:
	scripts/neo4j-local/neo4j-local fetch

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache $(NATIVE) $(REPLAYER)
