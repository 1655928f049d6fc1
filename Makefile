# Two entry points: `make demo` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: demo test lint format bench clean

# the demo's user opens the dashboard and the API next, so they come with it
$(VENV)/.core: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) -e ".[dashboard,api]"
	touch $@

$(VENV)/.dev: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) -e ".[all]"
	touch $@ $(VENV)/.core

demo: $(VENV)/.core
	$(VENV)/bin/patron demo

test: $(VENV)/.dev
	$(VENV)/bin/ruff check src tests benchmarks
	$(PY) -m pytest

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

format: $(VENV)/.dev
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

# PyMC-Marketing, the CLV benchmark's slowest baseline, lives in a venv of its own
.venv-pymc:
	$(PYTHON) -m venv .venv-pymc
	.venv-pymc/bin/python -m pip install --quiet pymc-marketing

bench: $(VENV)/.dev .venv-pymc
	$(PIP) -e ".[bench]"
	$(PY) benchmarks/ingest.py
	$(PY) benchmarks/synth.py
	$(PY) benchmarks/features.py
	$(PY) benchmarks/clv.py
	$(PY) benchmarks/models.py
	$(PY) benchmarks/stream.py
	$(PY) benchmarks/api.py

clean:
	rm -rf $(VENV) demo .pytest_cache .ruff_cache build *.egg-info
