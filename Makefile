# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FIXTURE ?= fixtures/booking_call.wav
REPLAY_ARGS ?=

.PHONY: run test lint replay fixtures clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/receptionist serve

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check receptionist stages tests
	$(BIN)/mypy

replay: $(STAMP)
	$(BIN)/receptionist replay $(FIXTURE) $(REPLAY_ARGS)

fixtures: $(STAMP)
	$(BIN)/python -m receptionist.fixtures

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
