# Two commands do everything: `make demo` (set up + run the demo) and `make test` (set up + test).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ganviz-installed
OUT ?= demo_out

.PHONY: demo demo-quick test lint bench setup clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

# PyTorch for the torch runs of the tests: its CPU build, from a wheel on this machine's disk only
# (pip's find-links; --no-index), because the registry's torch is the CUDA build (~3 GB). Where that
# file is missing, one line says so, nothing is downloaded and the torch tests skip. `make TORCH=` skips it.
TORCH ?= torch==2.13.0

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[train,tf,dev]"
	@if [ -n "$(TORCH)" ]; then \
	  if $(BIN)/python -m pip install -q --no-index --no-deps "$(TORCH)" >/dev/null 2>&1; then \
	    $(BIN)/python -m pip install -q "$(TORCH)"; \
	  else \
	    echo "make: $(TORCH) (the CPU build) is not on this machine's disk, so it is not installed and the PyTorch tests skip; pip install $(TORCH) to run them"; \
	  fi; \
	fi
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
