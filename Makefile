# Everything runs from a fresh clone: each target creates the virtualenv it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench install clean

# Poetry installs the dependencies at the versions poetry.lock pins. It lives in a virtualenv of its own (installed in
# the project's, it would change its own dependencies to the lock's while it runs), kept inside $(VENV) so that
# `make clean` removes it and Airbyte's checks skip it; its version is the Dockerfile's.
POETRY_VENV ?= $(VENV)/poetry
POETRY := $(POETRY_VENV)/bin/poetry
POETRY_VERSION := $(shell sed -n 's/^ARG POETRY_VERSION=//p' Dockerfile)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(POETRY):
	$(PYTHON) -m venv $(POETRY_VENV)
	$(POETRY_VENV)/bin/pip install --quiet "poetry==$(POETRY_VERSION)"

## The locked dependencies (runtime and dev) into $(VENV), then the connector itself (not editable: the tests run the
## installed console script).
install: $(BIN)/python $(POETRY)
	VIRTUAL_ENV="$(abspath $(VENV))" POETRY_VIRTUALENVS_CREATE=false $(POETRY) sync --quiet --no-root --with dev
	$(BIN)/pip install --quiet --no-deps .

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
