# The commands the README names. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install system-packages run test lint bench bench-ingest bench-alarms bench-console bench-calls generate clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

system-packages:
	@bash deploy/system-packages.sh

run: install
	$(BIN)/homecare run

test: install system-packages
	$(BIN)/pytest

# mypy cannot follow the editable install's import hook, so it reads a tree of links laid out as
# the `homecare` namespace.
lint: install
	$(BIN)/ruff check .
	@rm -rf build/typecheck && mkdir -p build/typecheck/homecare
	@ln -s ../../../firmware-contracts build/typecheck/homecare/contracts
	@ln -s ../../../gateway build/typecheck/homecare/gateway
	@ln -s ../../../backend build/typecheck/homecare/backend
	@ln -s ../../../device-sim build/typecheck/homecare/sim
	@ln -s ../../../web build/typecheck/homecare/web
	cd build/typecheck && ../../$(BIN)/mypy --config-file ../../pyproject.toml -p homecare

generate: install
	$(BIN)/python -m homecare.contracts.generate

bench: bench-ingest bench-alarms bench-console bench-calls

bench-ingest: install system-packages
	$(BIN)/python -m bench.ingest

bench-alarms: install system-packages
	$(BIN)/python -m bench.alarms

bench-console: install system-packages
	$(BIN)/python -m bench.console

bench-calls: install system-packages
	$(BIN)/python -m bench.calls

clean:
	rm -rf var test-artifacts .pytest_cache
