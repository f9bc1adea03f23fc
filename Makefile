# Set-up is part of every target: a fresh machine goes from nothing to green with `make test`.
#
# requirements-lock.txt pins every package the tests and benchmarks use, torch, pip and setuptools
# included, so a fresh clone installs exactly what was tested whatever the registry published
# since. `make lock` refreshes it on purpose; `make test-latest` and `make test-min` try the
# newest and the lowest versions pyproject.toml allows, each in a venv of its own (not in CI).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint docs specs errors lock test-latest test-min clean fuzz

# Exactly the locked set, torch's CPU wheel included (pip first, so it can read the lock), then
# whyload itself without resolving anything. setuptools comes from the lock too (no build
# isolation), so the editable install is reproducible.
$(STAMP): pyproject.toml requirements-lock.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c requirements-lock.txt pip
	$(BIN)/pip install -q -r requirements-lock.txt
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/whyload demo

test: $(STAMP) lint
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts benchmarks fuzz
	$(BIN)/mypy src

# Every benchmark, side by side with what a user would otherwise run (~30 minutes); each writes
# its docs/benchmarks*.md and exits 1 when it misses a target.
bench: $(STAMP)
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/verify.py
	$(BIN)/python benchmarks/explain.py
	$(BIN)/python benchmarks/load_sandbox.py
	$(BIN)/python benchmarks/security.py
	$(BIN)/python benchmarks/remote.py
	$(BIN)/python benchmarks/differential.py
	$(BIN)/python benchmarks/audit.py

# A short fuzzing campaign (a few minutes on one core): seeds rebuilt from real files, then every
# reader's atheris target and the three differential harnesses, FUZZ_RUNS inputs each; fails
# when a target leaves a crash input in fuzz/out/crashes/. The long campaign: fuzz/README.md.
FUZZ_RUNS ?= 20000
FUZZ_TARGETS ?= safetensors torch pickle index json tokenizer sniff \
	diff-pickle diff-safetensors diff-torch
fuzz: $(STAMP)
	$(BIN)/python fuzz/make_corpus.py
	rm -rf fuzz/out/logs/summary.tsv fuzz/out/crashes
	PY=$(BIN)/python fuzz/campaign.sh $(FUZZ_RUNS) $(FUZZ_TARGETS); \
	  status=$$?; cat fuzz/out/logs/summary.tsv; exit $$status

# Regenerate what whyload knows of every architecture from the installed transformers (run it
# when the lock moves transformers; the old release's specs stay for its users).
specs: $(STAMP)
	$(BIN)/python scripts/gen_model_classes.py
	$(BIN)/python scripts/gen_arch_specs.py --shard 0/2 & \
	  $(BIN)/python scripts/gen_arch_specs.py --shard 1/2; wait

# Mine the error messages of the loading stack's releases (wheels downloaded with pip into
# ~/.cache/whyload-mine, never installed) into knowledge/error_templates.json.gz and
# docs/error-coverage.md; the mapping to codes is the script's rules plus
# scripts/error_text_overrides.json.
errors: $(STAMP)
	$(BIN)/python scripts/mine_error_texts.py

docs: $(STAMP)
	$(BIN)/python -m whyload rules --format markdown > docs/findings.md

# Resolve the newest versions pyproject.toml allows (every extra) in a scratch venv and pin them.
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install -q --upgrade pip setuptools wheel
	.venv-lock/bin/pip install -q 'torch==2.13.0'
	.venv-lock/bin/pip install -q -e '.[bench]' 'torch==2.13.0'
	.venv-lock/bin/python scripts/write_lock.py .venv-lock/bin/python > requirements-lock.txt
	rm -rf .venv-lock
	@echo "wrote requirements-lock.txt: review the diff, then run make clean test"

# Not in CI: the newest versions the registry has today, to see drift before the lock moves.
test-latest:
	rm -rf .venv-latest
	$(PYTHON) -m venv .venv-latest
	.venv-latest/bin/pip install -q --upgrade pip
	.venv-latest/bin/pip install -q 'torch==2.13.0'
	.venv-latest/bin/pip install -q --upgrade -e '.[test]' 'torch==2.13.0'
	.venv-latest/bin/python -m pytest -q

# The lowest versions pyproject.toml declares, to keep its lower bounds honest: uv resolves every
# direct requirement to its lowest allowed version (pip's resolver backtracks for hours over old
# releases); torch stays the CPU wheel the lock pins.
test-min:
	rm -rf .venv-min
	$(PYTHON) -m venv .venv-min
	.venv-min/bin/pip install -q -c requirements-lock.txt uv torch
	.venv-min/bin/uv pip install -q --python .venv-min/bin/python --resolution lowest-direct \
		-e '.[test]'
	.venv-min/bin/python -m pytest -q

clean:
	rm -rf $(VENV) .venv-lock .venv-latest .venv-min build *.egg-info src/*.egg-info
