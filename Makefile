# Two commands do all set-up from a fresh clone: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KERNEL_STAMP := $(VENV)/.kernel
SAMPLE := data/sample

.PHONY: demo test audit lab bench lint format setup kernel sample-data clean system-deps

setup: $(STAMP) $(KERNEL_STAMP)

# Python caches each module's bytecode the first time it is imported, as it does by default:
# a machine that sets PYTHONDONTWRITEBYTECODE (this sandbox does) would otherwise compile every
# import again in every process. Compiling all 17,000 files of the environment at install
# instead (uv --compile-bytecode) took 53 s of a fresh clone's set-up; the first imports of
# the few thousand used cost about 17 s, once.
unexport PYTHONDONTWRITEBYTECODE

# A virtual environment with the project and its dev extras (about 40 s with uv).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e ".[dev]"
	touch $(STAMP)

# Register the `impact` kernel inside the venv so papermill and JupyterLab find the same one.
$(KERNEL_STAMP): $(STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix --name impact --display-name "Python (impact)"
	touch $(KERNEL_STAMP)

sample-data: setup
	$(BIN)/impact sample-data $(SAMPLE)

demo: setup sample-data
	$(BIN)/impact run-all
	@echo
	@echo "Open the reports: file://$(CURDIR)/reports/index.html"

# System packages some suites need (Chromium for the browser check, Java for Spark).
system-deps:
	bash scripts/system-deps.sh

# The dependency audit is a report here (a known vulnerability is printed, and fails only
# `make audit`); offline it says that nothing was audited.
test: setup system-deps
	-bash scripts/audit.sh
	$(BIN)/python -m pytest -n 2 --dist loadgroup

# Known vulnerabilities in the installed dependencies (pip-audit); exit 1 if any.
audit: setup
	bash scripts/audit.sh

lab: setup sample-data
	$(BIN)/jupyter lab notebooks/

bench: setup
	$(BIN)/python -m benchmarks

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) data reports/*/ reports/index.html .impact
