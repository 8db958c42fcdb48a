# Two commands for a fresh machine:
#   make demo   install, land the demo data, build and publish the warehouse, serve the app on :8501
#   make test   install (with the system packages the tests need) and run the whole suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: demo test install install-test system-deps build wheel lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Stamps re-run the install only when pyproject.toml changes, so re-running `make demo` is fast.
$(VENV)/.installed-core: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed-core

install: $(VENV)/.installed-core
install-test: $(VENV)/.installed-test

demo: install
	$(BIN)/herald demo
	@echo ""
	@echo "  Herald is serving the demo warehouse on http://localhost:$(PORT)  (Ctrl-C stops it)"
	@echo ""
	$(BIN)/streamlit run app/streamlit_app.py --server.headless true --server.port $(PORT) \
		--browser.gatherUsageStats false

# PostgreSQL, Chromium and faketime (a demo built with the clock a year ahead) from Debian's packages (Java for
# Spark is already on the machine).
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v java >/dev/null || missing="$$missing default-jre-headless"; \
	command -v faketime >/dev/null || missing="$$missing faketime"; \
	if [ -n "$$missing" ]; then \
		echo "installing system packages:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# Two workers by default (the builds are single-threaded dbt work); tests sharing a slow world stay on one worker.
# The groups go out in the order tests/conftest.py gives them, the longest first (xdist would order them by their
# number of tests, and leave a single five-minute test for the end).
TEST_WORKERS ?= 2
test: system-deps install-test
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder --durations=25

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

build: install
	$(BIN)/herald build

# The wheel a team installs: the Python packages and Herald's dbt package (setup.py; docs/your-project.md).
wheel: install
	$(BIN)/pip wheel --no-deps -q -w dist .
	@ls dist/herald-*.whl

bench: install-test
	$(BIN)/python bench/bench_build.py

clean:
	rm -rf warehouse target logs build dist
