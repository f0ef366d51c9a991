# The two front-door commands: `make run` and `make test`. Everything else is set up by them.
SHELL := /bin/bash
PYTHON ?= python3
UV_BOOTSTRAP := .ipb/uv-bootstrap
UV := $(shell command -v uv 2>/dev/null || echo $(UV_BOOTSTRAP)/bin/uv)
VENV := .venv
IPB := $(VENV)/bin/ipb
export IPB_DEMO_MODE ?= 1
export AIRFLOW__COSMOS__ENABLE_TELEMETRY := False
export GX_ANALYTICS_ENABLED := false
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test test-fast setup lint warehouse-start warehouse-stop clean bench airflow

run: setup warehouse-start  ## set up, start the warehouse, run the nightly pipeline on sample data
	$(IPB) prepare
	$(IPB) demo

test: setup lint warehouse-start  ## set up, start what the tests need, run the whole test suite
	$(IPB) prepare
	$(VENV)/bin/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# The fast loop (CONTRIBUTING.md): about a minute, not the gate. `make test` stays what CI runs.
FAST_SQL_PATHS := 'dbt_project/models/*.sql' 'dbt_project/macros/*.sql' 'dbt_project/snapshots/*.sql' 'src/ipb/sql/*.sql' \
	'src/ipb/quality/sql/*.sql'
FAST_SQL := git diff --name-only --diff-filter=d HEAD -- $(FAST_SQL_PATHS); git ls-files --others --exclude-standard -- $(FAST_SQL_PATHS)
test-fast: setup warehouse-start  ## ruff, sqlfluff on changed SQL, the tests marked fast, the dbt unit tests once
	$(VENV)/bin/ruff check src dags tests bench expectations
	@sql="$$($(FAST_SQL))"; if [ -n "$$sql" ]; then echo "sqlfluff lint (changed SQL)"; \
		$(VENV)/bin/sqlfluff lint --disable-progress-bar --processes 2 $$sql; fi
	$(VENV)/bin/pytest -q -p no:cacheprovider -m fast $(PYTEST_ARGS)
	$(VENV)/bin/python -m tests.dbt_unit_tests

airflow: setup warehouse-start  ## run Airflow for real: scheduler, DAG processor, triggerer, UI (stop: ipb airflow down)
	$(IPB) prepare
	$(IPB) airflow up

setup: $(VENV)/.synced

$(UV_BOOTSTRAP)/bin/uv:
	@mkdir -p .ipb
	$(PYTHON) -m venv $(UV_BOOTSTRAP)
	$(UV_BOOTSTRAP)/bin/pip install --quiet --disable-pip-version-check uv

# --compile-bytecode: these machines set PYTHONDONTWRITEBYTECODE, so without it every process (each dbt call, the
# gate, Airflow) recompiles its imports from source: ~5 s for Great Expectations, ~2 s each for dbt and Airflow.
$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet --compile-bytecode
	@touch $@

lint: setup
	$(VENV)/bin/ruff check src dags tests bench expectations
	$(VENV)/bin/sqlfluff lint --disable-progress-bar --processes 2 $(wildcard dbt_project/models dbt_project/macros dbt_project/snapshots) src/ipb/sql \
		src/ipb/quality/sql

warehouse-start: setup
	$(IPB) warehouse start

warehouse-stop: setup
	$(IPB) warehouse stop

bench: setup warehouse-start  ## the benchmarks at a size that finishes in minutes (see bench/README.md for national)
	$(VENV)/bin/python bench/generate.py
	$(VENV)/bin/python bench/ingest.py
	$(VENV)/bin/python bench/night.py --people 100000
	$(VENV)/bin/python bench/incremental.py --people 100000

clean: warehouse-stop
	rm -rf .ipb $(VENV) dbt_project/target dbt_project/logs
