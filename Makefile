# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv and install
# what they need on first use; `make test` also installs Debian's Chromium when it is missing
# (Playwright's own browser download is not possible everywhere).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test install browser redis lint wheel-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --quiet --upgrade pip

# Editable in "compat" mode: the checkout itself is on the path (no setuptools banner), and
# pip says only what fails.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --quiet -e '.[test,lint]' --config-settings editable_mode=compat
	touch $@

install: $(VENV)/.installed

# Flags go through ARGS, e.g. make demo ARGS="--app-port 18000 --sandbox-port 18800".
demo: install
	$(BIN)/thingapp demo $(ARGS)

# A Chromium for the browser tests: THINGAPP_CHROMIUM, Debian's package, or Playwright's build.
browser: install
	@if [ -n "$$THINGAPP_CHROMIUM" ] || command -v chromium >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing Debian's chromium for the browser tests"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else $(BIN)/playwright install chromium; fi

# redis-server for the Redis store's tests (started on a free port by the tests themselves).
redis: install
	@if command -v redis-server >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing Debian's redis-server for the store tests"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	else echo "Install redis-server (e.g. brew install redis) for the store tests"; exit 1; fi

test: browser redis
	$(BIN)/pytest

# Code health: ruff's rules and mypy --strict, as pyproject.toml configures them.
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# The wheel as an operator installs it, served from outside the source tree.
wheel-check: install
	PYTHON=$(abspath $(BIN)/python) .ci/wheel-check

clean:
	rm -rf $(VENV) test-output .pytest_cache
