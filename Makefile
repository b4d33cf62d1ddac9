# The two commands that matter: `make demo` and `make test`. Everything they need is installed here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Tests use real services; override to point elsewhere.
export ENTENTE_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export ENTENTE_TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
PYTEST_ARGS ?=

.PHONY: demo test test-all install install-test browser lint typecheck pytest pytest-slow serve clean lock

demo: $(VENV)/.installed  ## set up and run the demo hub on SQLite with sample data
	$(BIN)/entente demo --host $(HOST) --port $(PORT)

serve: $(VENV)/.installed
	$(BIN)/entente serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-test browser lint typecheck pytest  ## every check but the slow tests (< 15 min)

# What CI runs (.ci/run): `make test`, then the tests marked slow (the TAXII client end to
# end, schemathesis, killed stream workers, ...) and every property test again at the size
# of Hypothesis's "ci" profile (ten times "dev"'s, which `make test` uses).
test-all: test pytest-slow  ## every check and every test, property tests at full size

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade 'pip==26.3'
	touch $@

$(VENV)/.installed: $(VENV)/.created pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

# Debian's Chromium for the Playwright UI tests (Playwright's own browser download cannot work offline).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq; $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi
	@/usr/bin/chromium --version

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

pytest: $(VENV)/.installed-test
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-dev} $(BIN)/pytest -n 2 --dist loadgroup -m "not slow" $(PYTEST_ARGS)

pytest-slow: $(VENV)/.installed-test browser
	$(BIN)/pytest -n 2 --dist loadgroup -m "slow or hypothesis" $(PYTEST_ARGS)

# The sharing benchmark on the PostgreSQL above (a scratch database, dropped afterwards):
# one name=value line per figure. BENCH_ARGS="--indicators 100000 --events 5000" runs it small.
.PHONY: bench
BENCH_ARGS ?=
bench: $(VENV)/.installed-test  ## the sharing benchmark on PostgreSQL (its API client, httpx, is a test extra)
	$(BIN)/python bench/sharing_bench.py --admin-url $(ENTENTE_TEST_POSTGRES_URL) $(BENCH_ARGS)

# The pipeline benchmark (issue 5): a generated Shadowserver scan_http file through `ingest_file` on a
# scratch SQLite hub, beside pyarrow's parse ceiling and IntelMQ 3.5.0 (installed into
# bench/.venv-intelmq on first use). BENCH_ARGS="--rows 200000 --skip-intelmq" runs it small;
# BENCH_ARGS="--rss-rows 10000000" adds the peak-memory run.
.PHONY: bench-pipeline
bench-pipeline: $(VENV)/.installed  ## the pipeline benchmark (speed, memory, IntelMQ side by side)
	$(BIN)/python bench/pipeline_bench.py $(BENCH_ARGS)

# Re-pin every dependency to what resolves today (run by hand when upgrading, then commit).
lock:
	$(PYTHON) -m venv /tmp/entente-lock && /tmp/entente-lock/bin/pip install --quiet -e '.[test]'
	/tmp/entente-lock/bin/pip freeze --exclude-editable | grep -v '^entente' > constraints.txt
	rm -rf /tmp/entente-lock

clean:
	rm -rf $(VENV) var test-artifacts .pytest_cache .mypy_cache .ruff_cache
