# `make pipeline` sets up and runs the whole pipeline; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: pipeline test setup offline-data

pipeline: setup offline-data
	dvc repro

test: setup offline-data
	ruff check .
	pytest

setup: $(VENV)/installed

$(VENV)/installed: requirements.txt requirements-training.txt requirements-jax.txt requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $@

# Debian's copy of Fashion-MNIST is the last mirror in data/sources.yaml: the one that works offline.
offline-data:
	@if [ ! -d /usr/share/datasets/fashion-mnist ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist; \
	  else \
	    echo "note: no offline copy of Fashion-MNIST; download needs the internet (or: sudo apt-get install dataset-fashion-mnist)"; \
	  fi; \
	fi
