# Two commands do everything: `make demo` (set up + run the demo) and `make test` (set up + test).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ganviz-installed
OUT ?= demo_out

.PHONY: demo demo-quick test lint bench setup clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[train,tf,dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/ganviz demo --out $(OUT)

demo-quick: $(STAMP)
	$(BIN)/ganviz demo --out $(OUT) --quick

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/mypy src/ganviz/ir src/ganviz/render

test: $(STAMP) lint
	GANVIZ_CHECK_COLLECTION=1 $(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e ".[train,tf,dev,bench]"
	bash benchmarks/debian_graphviz.sh
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(OUT) build *.egg-info src/*.egg-info
