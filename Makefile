# Set-up is part of every target: a fresh machine goes from nothing to green with `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: demo test bench lint docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and pinned: the CPU wheel on disk, never a CUDA build pulled in by a range.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]' torch==2.13.0
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/whyload demo

test: $(STAMP) lint
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/mypy src

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[bench]' torch==2.13.0
	touch $(BENCH_STAMP)

# Every benchmark, side by side with what a user would otherwise run (~30 minutes); each writes
# its docs/benchmarks*.md and exits 1 when it misses a target.
bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/verify.py
	$(BIN)/python benchmarks/explain.py
	$(BIN)/python benchmarks/load_sandbox.py
	$(BIN)/python benchmarks/security.py

docs: $(STAMP)
	$(BIN)/python -m whyload rules --format markdown > docs/findings.md

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
