# The two commands a newcomer needs: `make lab` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup lab test test-fast lint format bench gpu-check clean

# Create the virtual environment once; reuse it afterwards.
$(PY):
	$(PYTHON) -m venv $(VENV)

# Install (again) only when the package metadata or the pins change.
$(STAMP): pyproject.toml constraints.txt | $(PY)
	$(PY) -m pip install -qq -c constraints.txt -e ".[lab,test]"
	touch $(STAMP)

setup: $(STAMP)

lab: setup
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

# Unit tests, then every notebook executed by nbval in FAST mode.
test: setup
	VAELAB_FAST=1 $(PY) -m pytest -q tests
	VAELAB_FAST=1 $(PY) -m pytest -q --nbval-lax --nbval-current-env -p no:cacheprovider notebooks \
		|| [ $$? -eq 5 ]

test-fast: setup
	$(PY) -m pytest -q -m "not slow" tests

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: setup
	$(PY) benchmarks/train_throughput.py

# Every CUDA path (fit with amp/compile, the NaN stop, the lessons, the benchmark): one table.
gpu-check: setup
	$(PY) benchmarks/gpu_check.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
