# The two commands of the README, and a few more.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-stamp
export SALES_GRAPH_DATA_DIR ?= .demo

.PHONY: demo test fuzz soak check bench services-up services-down schema clean

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test,bench,lint]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/sales-graph serve --demo

test: $(STAMP)
	scripts/services up
	eval "$$(scripts/services env)" && $(VENV)/bin/pytest

# The fuzz suite's long profile (tests/fuzz, docs/testing.md): schemathesis against REST and
# GraphQL as every kind of caller, on PostgreSQL and SQLite. FUZZ_SEED=<n> looks somewhere new.
fuzz: $(STAMP)
	scripts/services up
	eval "$$(scripts/services env)" && FUZZ_PROFILE=long $(VENV)/bin/pytest -m fuzz tests/fuzz $(FUZZ_ARGS)

# The soak's long profile (docs/reliability.md): about 35 minutes of load and faults against its
# own PostgreSQL, Redis and Kafka, then the audit. `make test` runs the short one (tests/soak).
soak: $(STAMP)
	scripts/services up toxiproxy
	$(VENV)/bin/python -m soak.run --profile $(or $(SOAK_PROFILE),long) $(SOAK_ARGS)

check: $(STAMP)
	scripts/check

# Benchmarks (bench/README.md): about 11 minutes; writes bench/results/ and docs/performance.md.
bench: $(STAMP)
	$(VENV)/bin/python -m bench.run $(BENCH_ARGS)

schema: $(STAMP)
	$(VENV)/bin/sales-graph export-schema

services-up:
	scripts/services up

services-down:
	scripts/services down

clean:
	rm -rf .demo .pytest_cache .mypy_cache .ruff_cache
