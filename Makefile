# The two commands of the README: `make demo` and `make test`. Both set up .venv first.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test test-fast lint format clean-venv

setup:  ## create or refresh .venv from constraints.txt (+ Debian packages when root)
	@VENV=$(VENV) bash scripts/setup.sh

demo: setup  ## run the main job on the embedded default
	$(BIN)/pesbench demo

test: setup lint  ## the whole test suite, slow end-to-end tests included (what CI runs)
	$(BIN)/python -m pytest -m "slow or not slow" $(PYTEST_ARGS)

test-fast: setup  ## the fast tests only
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/ruff format --check src tests scripts benchmarks
	$(BIN)/mypy

format: setup
	$(BIN)/ruff check --fix src tests scripts benchmarks
	$(BIN)/ruff format src tests scripts benchmarks

clean-venv:
	rm -rf $(VENV)
