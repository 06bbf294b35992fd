# ragops developer commands. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
SCIFACT ?= ../shared/data/scifact

export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export ANONYMIZED_TELEMETRY := False

.PHONY: install run serve test test-unit test-integration lint format bench eval clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch 2.13.0 is the CPU build on this disk; an unpinned torch would pull CUDA (GBs).
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[local,aws,dev]'
	touch $(STAMP)

install: $(STAMP)

## run: install, ingest the sample documents (docs/), serve on 127.0.0.1:8000
run: $(STAMP)
	$(BIN)/ragops ingest docs
	$(BIN)/ragops serve --host $(HOST) --port $(PORT)

serve: $(STAMP)
	$(BIN)/ragops serve --host $(HOST) --port $(PORT)

## test: install what the tests need, lint, and run every test (unit and integration)
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q

test-unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

test-integration: $(STAMP)
	$(BIN)/pytest -q tests/integration

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[local,aws,dev,bench]'
	$(BIN)/python bench/retrieval.py
	$(BIN)/python bench/ingest.py

## eval: retrieval quality on SciFact (train split) in all three modes
eval: $(STAMP)
	for mode in hybrid vector bm25; do \
	  $(BIN)/ragops eval retrieval --dataset $(SCIFACT) --split train --mode $$mode --json; \
	done

clean:
	rm -rf $(VENV) .ragops .pytest_cache .ruff_cache
