# The two commands a newcomer needs: `make lab` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# JupyterLab refuses to start as root (containers, cloud machines) without --allow-root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
# Extra arguments for JupyterLab, e.g. make lab LAB_ARGS="--no-browser --port=8899".
LAB_ARGS ?=
# The lesson JupyterLab opens on.
LESSON ?= 00
LAB_LESSON = $(or $(firstword $(wildcard notebooks/$(LESSON)_*.ipynb)),\
	$(error no notebooks/$(LESSON)_*.ipynb: LESSON is a lesson number, e.g. make lab LESSON=05))

# The book: FAST=1 builds from quick runs (VAELAB_FAST=1), in a folder and execution cache
# of its own, so that quick and full runs never mix.
FAST ?=
BOOK_DIR := book/_build$(if $(filter 1,$(FAST)),/fast)
# Lessons executed side by side while the book is read (MyST-NB runs one kernel per Sphinx
# process), each kernel on one thread so that they do not fight over the cores.
BOOK_JOBS ?= 2
# $(call sphinx,BUILD_DIR): strict (warnings are errors, every reference must resolve).
sphinx = $(if $(filter 1,$(BOOK_JOBS)),,OMP_NUM_THREADS=1) \
	$(PY) -m sphinx -j $(BOOK_JOBS) -b html -W --keep-going -n -T -d $(1)/doctrees book $(1)/html

.PHONY: FORCE setup lab test test-fast test-lessons test-full book book-clean lint format bench gpu-check clean

# Create the virtual environment once; reuse it afterwards.
$(PY):
	$(PYTHON) -m venv $(VENV)

# Which installer: uv when it is on PATH or can be installed into .venv (much faster on a
# cold cache), else pip; INSTALLER=pip or INSTALLER=uv to choose. Same pins either way.
INSTALLER ?= auto
# TORCH=cpu: PyTorch's CPU-only wheels (no CUDA libraries), for machines without an NVIDIA
# GPU. Remembered in .venv: later targets keep the variant the environment was made with.
TORCH_INSTALLED := $(or $(shell cat $(VENV)/torch-variant 2>/dev/null),default)
TORCH ?= $(TORCH_INSTALLED)
# A variant other than the one installed forces a new install.
TORCH_CHANGED := $(if $(filter $(TORCH),$(TORCH_INSTALLED)),,FORCE)

# Install (again) only when the package metadata, the pins or the torch variant change.
$(STAMP): pyproject.toml constraints.txt $(TORCH_CHANGED) | $(PY)
	$(PY) tools/install.py --installer $(INSTALLER) --torch $(TORCH)
	touch $(STAMP)

FORCE:

setup: $(STAMP)

# JupyterLab on the course's folder (notebooks/, exercises/ side by side), opening lesson
# LESSON (make lab LESSON=05); FAST=1 gives quick runs: VAELAB_FAST=1 in the server's
# environment, which every kernel it starts inherits. .jupyter/ holds the course's JupyterLab
# defaults (no news pop-up, no update check); the learner's own settings still win.
lab: setup
	$(if $(filter 1,$(FAST)),VAELAB_FAST=1) \
	JUPYTER_CONFIG_PATH="$(CURDIR)/.jupyter$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
	$(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" $(ALLOW_ROOT) $(LAB_LESSON) $(LAB_ARGS)

# Two lines side by side (the browser tests mostly wait, so two cores do both in the time of
# the longer): the unit tests (their log in test-artifacts/unit-tests.log, printed when they
# end); and every lesson executed once, by the book built from FAST runs (an error in any cell
# fails the build), then that book and JupyterLab checked in headless Chromium. Fails if
# either fails.
UNIT_LOG := test-artifacts/unit-tests.log
test: setup
	@mkdir -p test-artifacts
	@echo "unit tests running beside the book (log: $(UNIT_LOG))"
	@VAELAB_FAST=1 $(PY) -m pytest -q -m "not book and not browser" tests > $(UNIT_LOG) 2>&1 & \
	unit=$$!; \
	VAELAB_FAST=1 $(call sphinx,book/_build/fast) \
		&& VAELAB_FAST=1 $(PY) -m pytest -q -m "book or browser" tests; \
	book=$$?; \
	wait $$unit; unit_status=$$?; \
	echo "---- unit tests (exit $$unit_status) ----"; cat $(UNIT_LOG); \
	echo "---- book and browser tests: exit $$book; unit tests: exit $$unit_status ----"; \
	[ $$book -eq 0 ] && [ $$unit_status -eq 0 ]

test-fast: setup
	$(PY) -m pytest -q -m "not slow and not book and not browser" tests

# Every notebook executed by nbval in FAST mode (make test executes them through the book).
test-lessons: setup
	VAELAB_FAST=1 $(PY) -m pytest -q --nbval-lax --nbval-current-env -p no:cacheprovider notebooks \
		|| [ $$? -eq 5 ]

# Every lesson run in full (no VAELAB_FAST) with all its claim assertions: one table (lesson,
# data, seed, seconds, claims held, smallest margin), also in test-artifacts/full-runs.md and
# .json; fails on a cell error or a claim that does not hold. Choose with LESSONS="04 07",
# SEEDS="0 1 2" (VAELAB_SEED), DATA="sample /work/mnist60k" (the 60,000-image stand-in that
# benchmarks/make_mnist_standin.py writes); FAST=1 gives the same table from quick runs.
LESSONS ?=
SEEDS ?= 0
DATA ?= sample
test-full: setup
	$(PY) benchmarks/full_runs.py --seeds $(SEEDS) --data $(DATA) \
		$(if $(LESSONS),--lessons $(LESSONS)) $(if $(filter 1,$(FAST)),--fast)

# The course as a static site in book/_build/html (FAST=1: book/_build/fast/html).
book: setup
	VAELAB_FAST=$(if $(filter 1,$(FAST)),1,) $(call sphinx,$(BOOK_DIR))
	@echo "open $(BOOK_DIR)/html/index.html"

book-clean:
	rm -rf book/_build book/lessons book/exercises book/quizzes.md book/api.md book/api book/_generated

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

clean: book-clean
	rm -rf $(VENV) .pytest_cache build *.egg-info test-artifacts
