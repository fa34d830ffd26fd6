# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FIXTURE ?= tests/fixtures/booking_call.wav
REPLAY_ARGS ?=

.PHONY: run test lint replay fixtures bench loadtest clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
# Silero VAD's ONNX model. --no-deps: the wheel requires torch, which only its Python
# wrapper uses; we run the model with onnxruntime and never import the package.
	$(BIN)/pip install --quiet --no-deps silero-vad==6.2.3
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
	$(BIN)/python -m receptionist.devtools.fixtures

bench: $(STAMP)
	$(BIN)/python -m receptionist.devtools.bench

# Several server processes, one PostgreSQL, LOADTEST_ARGS (e.g. --callers 20): nothing lost or doubled.
LOADTEST_ARGS ?=
loadtest: $(STAMP)
	$(BIN)/python -m receptionist.devtools.loadtest $(LOADTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
