# Two entry points (see README): `make demo` and `make test`. Each creates .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CORES  ?= 2

.PHONY: demo test report lint clean-results

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

## Set up and run the whole workflow on the built-in demo data.
demo: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)

## Set up and run the test suite (after the rule files' formatting and Snakemake's linter).
test: $(STAMP)
	$(BIN)/snakefmt --check .
	$(BIN)/snakemake --lint
	$(BIN)/python -m pytest

report: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --report results/report.html

lint: $(STAMP)
	$(BIN)/snakemake --lint

clean-results:
	rm -rf results/*/ .snakemake
