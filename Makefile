# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv and install
# what they need on first use; `make test` also installs Debian's Chromium when it is missing
# (Playwright's own browser download is not possible everywhere).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test install browser redis lint wheel-check clean vendor

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

# The browsers for the browser tests: Chromium (THINGAPP_CHROMIUM, Debian's package, or
# Playwright's build), and Debian's Firefox ESR, WebKitGTK's WebDriver with its MiniBrowser, and
# Xvfb for the per-engine tests (Playwright's own Firefox and WebKit can't be downloaded here).
BROWSER_PACKAGES := chromium:chromium firefox-esr:firefox-esr WebKitWebDriver:webkit2gtk-driver Xvfb:xvfb
browser: install
	@missing=""; for pair in $(BROWSER_PACKAGES); do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$THINGAPP_CHROMIUM" ]; then missing=$$(echo $$missing | sed 's/\bchromium\b//'); fi; \
	if [ -z "$$(echo $$missing)" ]; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing Debian's$$missing for the browser tests"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "Install$$missing for the browser tests (or Playwright's: $(BIN)/playwright install chromium)"; exit 1; fi

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

# The 3D preview's three.js, from the npm registry at the version pinned in the script.
vendor:
	scripts/vendor-three

clean:
	rm -rf $(VENV) test-output .pytest_cache
