# The commands the README names. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The workspace's members, lowest layer first (see the README's layout).
MEMBERS := firmware-contracts storage gateway backend device-sim launcher
MANIFESTS := pyproject.toml $(addsuffix /pyproject.toml,$(MEMBERS))

.PHONY: install system-packages run test lint format check bench bench-ingest bench-connections bench-dynsec capacity bench-alarms bench-console bench-calls bench-vitals bench-falls drills generate clean

install: $(VENV)/.installed

# One editable install per member: each src folder goes on the path as it is, so a file's path is its
# import path. `uv sync` does the same from the workspace in pyproject.toml. pip's progress is shown as a line per
# stage (what it is resolving, building and installing, and how many); its whole log is kept in $(VENV)/pip.log.
$(VENV)/.installed: $(MANIFESTS)
	@test -d $(VENV) || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@echo "installing pip, then homecare's six packages and their dependencies into $(VENV) (about a minute)"
	@$(BIN)/python deploy/pip_progress.py $(VENV)/pip.log $(BIN)/pip install --upgrade pip
	@$(BIN)/python deploy/pip_progress.py $(VENV)/pip.log $(BIN)/pip install \
		$(foreach m,$(MEMBERS),-e ./$(m)) 'homecare-contracts[calls,generate]' --group dev
	@touch $@

system-packages:
	@bash deploy/system-packages.sh

run: install
	$(BIN)/homecare run

# The TimescaleDB build for the embedded server (see its README); the suite's second pass installs it into a copy.
TIMESCALEDB ?= ../shared/timescaledb

# Everything on plain PostgreSQL, then the integration tests again on TimescaleDB when its build is here; each
# pass spreads its tests over one worker per core (most of a test's time is spent waiting on real services).
PYTEST_WORKERS ?= auto
test: install system-packages
	$(BIN)/pytest -n $(PYTEST_WORKERS) --durations=20
	@if [ -f $(TIMESCALEDB)/install.sh ]; then \
		echo "== the integration tests again, on TimescaleDB ($(TIMESCALEDB)) =="; \
		HOMECARE_TEST_TIMESCALEDB=$(TIMESCALEDB) $(BIN)/pytest -n $(PYTEST_WORKERS) --durations=20 tests/integration --storage=timescale; \
	else \
		echo "TimescaleDB pass skipped: $(TIMESCALEDB)/install.sh (TimescaleDB built for the embedded server) is not here"; \
	fi

# What CI checks before the tests: formatting, lint, strict types over every distribution, and layers.
check: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q -p no:cacheprovider tests/unit/test_layers.py

lint: check

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

generate: install
	$(BIN)/python -m homecare.contracts.generate

# The capacity plan last: it is computed from the others' results.
bench: bench-ingest bench-connections bench-dynsec bench-alarms bench-console bench-calls bench-vitals bench-falls capacity

bench-ingest: install system-packages
	$(BIN)/python -m bench.ingest

bench-connections: install system-packages
	$(BIN)/python -m bench.connections

bench-dynsec: install system-packages
	$(BIN)/python -m bench.dynsec

# docs/capacity.md from bench/results/ (options: python -m bench.capacity --help).
capacity: install
	$(BIN)/python -m bench.capacity

bench-alarms: install system-packages
	$(BIN)/python -m bench.alarms

bench-console: install system-packages
	$(BIN)/python -m bench.console

bench-calls: install system-packages
	$(BIN)/python -m bench.calls

bench-vitals: install system-packages
	$(BIN)/python -m bench.vitals

bench-falls: install
	$(BIN)/python -m bench.falls

# Fault drills on the production-shaped stack (about 15 minutes, so not part of `make test`): alarms while parts
# are killed, stopped, replaced and cut off; fails if an acknowledged alarm is lost or duplicated. Figures in
# bench/results/drills.json.
drills: install system-packages
	$(BIN)/python -m bench.drills

clean:
	rm -rf var test-artifacts .pytest_cache
