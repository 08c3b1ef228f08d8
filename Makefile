# Everything runs from a fresh clone: each target creates the virtualenv it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet --constraint requirements.lock ".[dev]"

## Start the bundled Kustomer emulator and run spec, check, discover and a full read of every stream against it.
demo: install
	$(BIN)/python -m integration_tests.demo

## The whole test suite: unit, end-to-end (CLI against the emulator) and image tests (skipped without a container engine).
test: install
	$(BIN)/python -m pytest -q

## Throughput, rate-limit efficiency and memory figures against the emulator (see docs/performance.md).
bench: install
	$(BIN)/python -m integration_tests.bench

clean:
	rm -rf $(VENV) .venv-pyairbyte build dist *.egg-info .pytest_cache
