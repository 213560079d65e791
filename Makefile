# `make pipeline` sets up and runs the whole pipeline; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: pipeline test test-fast docs setup test-setup offline-data test-packages

pipeline: setup offline-data
	dvc repro --all-pipelines

test: test-setup test-packages
	ruff check .
	pytest

# The tests not marked slow: the unit tests, without the end-to-end runs of DVC (see docs/developing.md).
test-fast: test-setup test-packages
	ruff check .
	pytest -m "not slow"

# The docs site at http://127.0.0.1:8000, rebuilt as a page changes (mkdocs.yml; MkDocs with the Material theme).
docs: test-setup
	NO_MKDOCS_2_WARNING=1 mkdocs serve

# What running needs: the pipeline's pinned requirements, both Keras backends, and this project
# installed in place, which gives the `fashion-mnist` command.
setup: $(VENV)/installed

$(VENV)/installed: requirements.txt requirements-training.txt requirements-jax.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt -r requirements-jax.txt -c constraints.txt
	$(VENV)/bin/pip install --quiet --editable . -c constraints.txt
	touch $@

# What testing adds: pytest, ruff, the S3 test server.
test-setup: $(VENV)/installed-dev

$(VENV)/installed-dev: $(VENV)/installed requirements-dev.txt
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

# What the tests need from the system: the real data (tests/test_real_data.py), an SSH server (the SSH
# remote of tests/test_remotes.py) and a browser (tests/test_plots_page.py, tests/test_serve.py). As root
# with apt-get they are installed; otherwise the tests do not start, and the command that installs them is printed.
test-packages:
	@missing=""; \
	[ -d /usr/share/datasets/fashion-mnist ] || missing="$$missing dataset-fashion-mnist"; \
	[ -x /usr/sbin/sshd ] || missing="$$missing openssh-server"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing >/dev/null; \
	  else \
	    echo "error: the tests need these Debian packages:$$missing. Install them with:" >&2; \
	    echo "  sudo apt-get install -y$$missing" >&2; \
	    exit 1; \
	  fi; \
	fi
