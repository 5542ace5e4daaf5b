# Two commands for a new user: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# No telemetry from any tool, anywhere.
export RUNTIME__DLTHUB_TELEMETRY := false
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DAGSTER_DISABLE_TELEMETRY := 1
export DO_NOT_TRACK := 1

.PHONY: setup java run test test-fast bench sim dagster dashboards clean lock

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

setup: $(STAMP) java ## create .venv with the locked dependencies (and Java 17 for Spark)

# Spark (the third engine, docs/engines.md) runs on a Java 17+ runtime: installed from
# Debian's openjdk-17-jre-headless when missing (as root, else through sudo); JAVA_HOME wins
# over PATH. Anything else ends in one error naming the fix.
JAVA_VERSION = $$( "$${JAVA_HOME:+$$JAVA_HOME/bin/}java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1 )
java:
	@v=$(JAVA_VERSION); if [ -z "$$v" ] || [ "$$v" -lt 17 ]; then \
	  if command -v apt-get >/dev/null; then \
	    if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	    echo "Spark needs Java 17 (found: $${v:-none}): installing Debian's openjdk-17-jre-headless"; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq openjdk-17-jre-headless >/dev/null; \
	  fi; \
	  v=$(JAVA_VERSION); if [ -z "$$v" ] || [ "$$v" -lt 17 ]; then \
	    echo "Spark needs Java 17 or newer; found: $${v:-no java}. Fix: install openjdk-17-jre-headless (or any Java 17+) and put its java first on PATH, or set JAVA_HOME to it." >&2; exit 1; \
	  fi; \
	fi

run: setup ## simulator -> warehouse -> marts -> checks, on the embedded DuckDB default
	$(BIN)/sei demo

test: setup ## the whole suite except benchmarks (what CI runs)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup --no-loadscope-reorder --durations=25

test-fast: setup ## quick subset for iterating
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup --no-loadscope-reorder -m "not slow and not benchmark"

bench: setup ## benchmarks; figures go to docs/benchmarks.md
	$(BIN)/python -m benchmarks.run

sim: setup ## serve the simulator in the foreground (size small, port 8765)
	$(BIN)/sei sim serve --size small --port 8765

dagster: setup ## the Dagster UI and daemon on http://127.0.0.1:3000, state in .dagster_home; after `make run`, demo mode (`sei dagster --help`)
	$(BIN)/sei dagster

dashboards: setup ## the Insights dashboards on http://127.0.0.1:8501: PRINCIPAL=<name> for a principal's published scope, else demo mode after `make run`
	$(BIN)/sei dashboards $(if $(PRINCIPAL),--principal $(PRINCIPAL),--demo)

lock: ## re-resolve dependencies from pyproject.toml into requirements.lock
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv && .lockenv/bin/pip install --quiet -e '.[test]' \
	  && .lockenv/bin/pip freeze --exclude-editable > requirements.lock && rm -rf .lockenv

clean:
	rm -rf $(VENV) warehouse .dagster_home dbt_project/target dbt_project/logs
