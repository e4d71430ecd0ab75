# driftlake — entry points. `make demo` runs the main job on the embedded
# default; `make test` runs every test (what CI runs).
SHELL := /bin/bash
.DEFAULT_GOAL := help

CACHE        ?= $(HOME)/.cache/driftlake
# Builds share one target dir outside the clone so repeated runs (and CI on a
# fresh clone of this machine) reuse it; without it cargo builds from scratch.
export CARGO_TARGET_DIR ?= $(CACHE)/target
VENV         ?= $(CACHE)/venv
PY           := $(VENV)/bin/python
PY_STAMP     := $(VENV)/.driftlake-requirements-$(shell sha256sum tools/requirements.txt | cut -c1-12)
BIN_RELEASE  := $(CARGO_TARGET_DIR)/release/driftlake
CARGO        ?= cargo

.PHONY: help demo test test-rust test-python venv build release bench fuzz fmt clippy check-layers bless clean-lake

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

demo: release ## run the main job on the embedded default (fixtures/ in, ./lake out)
	$(BIN_RELEASE) run jobs/demo.toml

release: ## release build of the binary
	$(CARGO) build --release --locked

build: ## debug build
	$(CARGO) build --locked

venv: $(PY_STAMP) ## the cached Python venv: reference oracle, registry, polars

$(PY_STAMP): tools/requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -r tools/requirements-nodeps.txt
	$(PY) -m pip install -q --disable-pip-version-check -r tools/requirements.txt
	touch $@

test: venv check-layers test-rust test-python ## every test (CI runs this)

test-rust: venv ## cargo tests (unit, integration, differential with the live oracle)
	DRIFTLAKE_ORACLE=$(PY) $(CARGO) test --locked

test-python: venv test-rust ## registry conformance of the demo lake (behave-shell's Observation model); the notebooks
	# The debug binary comes from `cargo test` (same feature set: no second build).
	rm -rf $(CACHE)/demo-lake
	$(CARGO_TARGET_DIR)/debug/driftlake run jobs/demo.toml --lake $(CACHE)/demo-lake -q
	$(PY) tools/oracle/validate_observations.py $(CACHE)/demo-lake
	# The notebooks, executed against the demo lake (nbmake).
	DRIFTLAKE_LAKE=$(CACHE)/demo-lake DRIFTLAKE_BIN=$(CARGO_TARGET_DIR)/debug/driftlake \
	  $(PY) -m pytest -q -p no:cacheprovider --nbmake notebooks/

check-layers: ## the pure middle never does I/O (STYLE.md §1)
	@# Test-only files (tests.rs) may read fixtures; comments may name things.
	@bad=$$(grep -rnE 'object_store|tokio::fs|std::fs|std::env|SystemTime|Instant::now|Utc::now|rand::' \
	   src/decode src/extract src/model src/engine/udf src/drift src/report 2>/dev/null \
	   | grep -vE '^[^:]+/tests\.rs:|^[^:]+:[0-9]+:\s*//' || true); \
	if [ -n "$$bad" ]; then echo "layer violation:"; echo "$$bad"; exit 1; fi; echo "check-layers: ok"

bench: venv ## release benchmarks (figures go in the README; BENCH_ONLY="telemetry report" runs some)
	bash tools/bench/run.sh

FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= sessrec asciicast otlp agent
FUZZ_DIR     := $(CACHE)/fuzz
fuzz: ## cargo-fuzz on the decoders, FUZZ_SECONDS each (nightly toolchain; not part of make test)
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	# The corpora live in the cache and start from the fixtures of each format.
	mkdir -p $(FUZZ_DIR)/corpus/sessrec $(FUZZ_DIR)/corpus/asciicast $(FUZZ_DIR)/corpus/otlp $(FUZZ_DIR)/corpus/agent
	find fixtures/demo/artifacts fixtures/golden fixtures/calibration -name '*.jsonl' -size -64k -exec cp -n {} $(FUZZ_DIR)/corpus/sessrec/ \;
	find fixtures -name '*.cast' -size -64k -exec cp -n {} $(FUZZ_DIR)/corpus/asciicast/ \;
	find fixtures/otlp fixtures/demo/otlp -type f -size -64k -exec cp -n {} $(FUZZ_DIR)/corpus/otlp/ \;
	find fixtures/demo/agents -type f -size -64k -exec cp -n {} $(FUZZ_DIR)/corpus/agent/ \;
	cd fuzz && for t in $(FUZZ_TARGETS); do \
	  CARGO_TARGET_DIR=$(FUZZ_DIR)/target $(CARGO) +nightly fuzz run $$t $(FUZZ_DIR)/corpus/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/artifacts-$$t- \
	    2>&1 | tee $(FUZZ_DIR)/$$t.log | grep -E '^(#[0-9]+ +DONE|Done|stat::number_of_executed_units|stat::new_units_added|==[0-9]+==ERROR|SUMMARY)' ; \
	  echo "$$t: corpus $$(ls $(FUZZ_DIR)/corpus/$$t | wc -l) files"; \
	  ! grep -q 'ERROR: libFuzzer\|==ERROR' $(FUZZ_DIR)/$$t.log || exit 1; \
	done

fmt: ## format
	$(CARGO) fmt

clippy: ## lint
	$(CARGO) clippy --all-targets -- -D warnings

bless: ## rewrite SQL golden files after a reviewed change
	BLESS=1 $(CARGO) test --locked --test it sql

clean-lake: ## remove the demo lake
	rm -rf lake
