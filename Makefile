# dejavu-lab: two commands do all the set-up on a fresh Debian-like machine:
#   make demo   # install, build a small corpus of free music, fingerprint, recognise noisy clips
#   make test   # install, lint, type-check, build the docs and run the test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SYSTEM_STAMP := .system-deps.stamp
# System packages: decoders/encoders, speech for babble noise, PortAudio for PyAudio,
# PulseAudio for the virtual microphone, Chromium for the browser test.
APT_PACKAGES := ffmpeg lame sox espeak-ng portaudio19-dev pulseaudio pulseaudio-utils \
	libasound2-plugins alsa-utils chromium
export NUMBA_CACHE_DIR ?= $(CURDIR)/.numba-cache
export MPLBACKEND ?= Agg
LINT_PATHS := $(wildcard dejavu_lab tests experiments data benchmarks docs/conf.py docs/notebook_cache.py)

.PHONY: help install system-deps demo test lint format corpus corpus-small reproduce \
	reproduce-small bench docs clean

help:
	@echo "make demo | test | docs | lint | format | corpus | corpus-small | reproduce | reproduce-small | bench"

# Installs the Debian packages once (skipped where apt-get is missing, e.g. macOS/conda).
system-deps: $(SYSTEM_STAMP)
$(SYSTEM_STAMP):
	@if command -v apt-get >/dev/null 2>&1; then \
		missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
		if [ -n "$$missing" ]; then \
			echo "apt-get install:$$missing"; \
			SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
			$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		fi; \
	else echo "apt-get not found: install ffmpeg, portaudio and espeak-ng yourself (or use environment.yml)"; fi
	@touch $@

install: $(STAMP)
$(STAMP): pyproject.toml $(SYSTEM_STAMP)
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip 2>/dev/null
	$(PY) -m pip install -q -e '.[mic,notebooks,server,dev,docs,cluster]' 2>&1 | grep -v "is ignored" || true
	$(PY) -c "import dejavu_lab, duckdb, soundfile, soxr, pyaudio, sphinx, distributed"
	@touch $@

demo: install
	$(MAKE) --no-print-directory corpus-small || echo "corpus unavailable: the demo uses synthetic songs"
	$(PY) experiments/demo.py

lint: install
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix $(LINT_PATHS)
	$(VENV)/bin/ruff format $(LINT_PATHS)

# The notebooks run on the small free-music corpus (synthetic songs if it cannot be built).
# The docs build first, with warnings as errors; the browser test then opens them.
test: install lint
	$(MAKE) --no-print-directory corpus-small || echo "corpus unavailable: notebooks use synthetic songs"
	$(VENV)/bin/sphinx-build -b html -q -W --keep-going docs docs/_build/html
	$(PY) -m pytest -q

# HTML into docs/_build/html; the notebooks are executed on the small corpus, and their
# outputs cached (docs/_build/.jupyter_cache) until they change.
docs: install
	$(MAKE) --no-print-directory corpus-small || echo "corpus unavailable: notebooks use synthetic songs"
	$(VENV)/bin/sphinx-build -b html docs docs/_build/html
	@echo "open docs/_build/html/index.html"

corpus: install
	$(PY) data/build_corpus.py --size full

corpus-small: install
	$(PY) data/build_corpus.py --size small

reproduce: corpus
	$(PY) experiments/reproduce.py --size full

reproduce-small: corpus-small
	$(PY) experiments/reproduce.py --size small

bench: corpus
	$(PY) benchmarks/bench_core.py --size full

clean:
	rm -rf $(VENV) $(SYSTEM_STAMP) .numba-cache .pytest_cache .mypy_cache .ruff_cache
