# Two entry points for a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
EXAMPLE ?= examples/three-tier-web-app.yaml
BIN := $(VENV)/bin

# durable-rules 2.0.28 (an sdist compiled at install time) calls PyEval_CallObject, which
# Python 3.13 removed. Aliasing it to PyObject_CallObject builds on 3.13 and is harmless on
# 3.10-3.12, where the header's own definition takes over. setup.py overwrites CFLAGS, so the
# alias must travel in CPPFLAGS.
export CPPFLAGS := -DPyEval_CallObject=PyObject_CallObject $(CPPFLAGS)

.PHONY: demo test install install-test chromium lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'

demo: install
	$(BIN)/advisor recommend $(EXAMPLE)

# The browser test drives Debian's Chromium; install it when missing (root, or sudo).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y --no-install-recommends chromium \
		|| { $$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends chromium; }; }

test: install-test chromium
	$(BIN)/python -m pytest -q
	$(BIN)/python -m mypy
	$(BIN)/python -m ruff check src tests bench

# Every speed and memory target beside its figure (about 20 minutes; bench/run.py has the
# per-backend detail, bench/serve.py and bench/batch.py their own options).
bench: install
	$(BIN)/python bench/targets.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info
