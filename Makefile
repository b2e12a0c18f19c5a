# Portcullis: `make run` starts the demo, `make test` runs the whole suite. Both create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench bench-quick clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/portcullis demo --traffic

test: $(STAMP)
	$(BIN)/ruff check gateway guardrails ui schemas tests bench
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check gateway guardrails ui schemas tests bench

bench: $(STAMP)
	$(BIN)/python -m bench.run --profile full

bench-quick: $(STAMP)
	$(BIN)/python -m bench.run --profile quick

clean:
	rm -rf $(VENV) .portcullis .pytest_cache
