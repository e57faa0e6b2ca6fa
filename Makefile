# Xinfang — the two set-up commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

export XINFANG_CACHE ?= $(HOME)/.cache/xinfang
export XINFANG_RUN ?= $(CURDIR)/.run
export CARGO_TERM_COLOR ?= never
# Tests use the local database and broker started by `make stack`.
export XINFANG_TEST_DB ?= xinfang_test
export XINFANG_TEST_DATABASE_URL ?= postgres://xinfang:xinfang@127.0.0.1:5432/$(XINFANG_TEST_DB)
# A broker of their own (in memory, fresh each run) keeps tests apart from the demo's.
export XINFANG_TEST_BROKERS ?= 127.0.0.1:19092
TEST_BROKER_PORT := $(lastword $(subst :, ,$(XINFANG_TEST_BROKERS)))
TEST_BROKER := XINFANG_RUN=$(XINFANG_RUN)/test-broker bash scripts/stack/broker.sh

# The deployables, from the one list every script reads.
SERVICES := $(shell awk '!/^\#/ && NF {print $$1}' scripts/services.list)
SCHEMA_SERVICES := $(shell awk '!/^\#/ && $$3 == "schema" {print $$1}' scripts/services.list)

CARGO ?= cargo
XF_BIN_DIR ?= target/debug

include mk/charts.mk

.PHONY: help check demo test chaos browser test-broker open311-client fuzz-tool down reset stack deps build lint fmt bench status logs clean-test-schemas

help:
	@echo "make demo   — start Postgres, the broker, the five services and the console; register cases in a real county; show the flow"
	@echo "make test   — install/start what is missing and run every test, lint and chart check"
	@echo "make down   — stop the services and the broker;  make reset — also delete local data"
	@echo "make status — what is running;  make logs — tail the service logs"
	@echo "make bench  — benchmarks (tables)"
	@echo "make chaos  — 10,000 cases through the five services while each is killed, the broker and Postgres restarted; checks every schema (CHAOS_CASES=N)"
	@echo "make lint   — cargo fmt --check and clippy -D warnings;  make fmt — format the code"
	@echo "make check  — the fast loop: fmt, clippy and the unit tests (no database, no broker)"
	@echo "make charts-check — the Helm chart checks (offline)"

deps:
	@bash scripts/stack/deps.sh

# Postgres (started or installed if none answers on 127.0.0.1:5432) and the broker.
stack: deps
	@bash scripts/stack/postgres.sh ensure
	@bash scripts/stack/broker.sh install
	@bash scripts/stack/broker.sh start

build: deps
	@echo "==> cargo build (services, tools)"
	$(CARGO) build --workspace --bins

demo: stack build
	@bash scripts/services.sh restart
	@echo "==> driving cases through the stack"
	@$(XF_BIN_DIR)/xf-demo
	@echo
	@bash scripts/services.sh links
	@echo
	@echo "The stack keeps running: 'make status', 'make logs', 'make down'."

status:
	@bash scripts/services.sh status
	@bash scripts/stack/broker.sh status || true

logs:
	@tail -n 20 $(foreach s,$(SERVICES),$(XINFANG_RUN)/logs/$(s).log)

down:
	@bash scripts/services.sh stop
	@bash scripts/stack/broker.sh stop
	@$(TEST_BROKER) stop

# Development only: stop everything, delete the broker's data and the services' schemas.
reset: down
	@echo "==> deleting broker data ($(XINFANG_RUN)/broker) and the service schemas in database xinfang"
	@rm -rf $(XINFANG_RUN)/broker
	@for s in $(SCHEMA_SERVICES); do \
	  psql "$$(bash scripts/stack/postgres.sh url admin)" -qc "DROP SCHEMA IF EXISTS $$s CASCADE" || exit 1; \
	done
	@bash scripts/stack/postgres.sh ensure >/dev/null

clean-test-schemas:
	@bash scripts/stack/postgres.sh drop-test-schemas

fmt:
	$(CARGO) fmt --all

lint: deps
	@echo "==> cargo fmt --check"
	$(CARGO) fmt --all -- --check
	@echo "==> cargo clippy -D warnings"
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The fast loop while editing: formatting, lints and every crate's unit tests (the
# integration suites, which need Postgres and the broker, are `make test`).
check:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test --workspace --lib --bins

test-broker: stack
	@$(TEST_BROKER) stop
	@$(TEST_BROKER) start --memory --port $(TEST_BROKER_PORT)

# The independent Open311 client the Open311 tests drive (a Python venv, cached).
open311-client:
	@bash scripts/open311-client/install.sh >/dev/null

# The OpenAPI fuzzer (schemathesis from PyPI, a cached venv) the fuzz test drives.
fuzz-tool:
	@bash scripts/fuzz/install.sh >/dev/null

# Headless Chromium and its driver (Debian packages), the console's pinned assets and
# the OIDC provider its sign-in is tested against (npm), for the console's browser test.
browser:
	@bash scripts/stack/deps.sh --browser
	@bash scripts/console/assets.sh >/dev/null
	@bash scripts/oidc/install.sh >/dev/null

test: stack clean-test-schemas test-broker open311-client fuzz-tool browser
	@echo "==> cargo build (all targets)"
	$(CARGO) build --workspace --all-targets
	@echo "==> tests"
	XINFANG_TANSU_BIN="$$(bash scripts/stack/broker.sh bin)" XINFANG_FUZZ_ST="$$(bash scripts/fuzz/install.sh)" \
	  $(CARGO) test --workspace -- --test-threads=4 --skip pii_scan
	@echo "==> privacy scan: the end-to-end flow on the real binaries, then every topic, every non-intake schema and every log searched for the cases' personal data and text"
	$(CARGO) test -p xf-e2e --test pii_scan -- --nocapture
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory charts-check

bench: stack build
	@bash scripts/bench.sh

# The chaos run brings its own durable broker and its own Postgres cluster (temp folders,
# free ports): it needs the tansu binary and the postgresql package's server binaries,
# not the shared stack, which it leaves alone.
CHAOS_CASES ?= 10000
chaos: deps build
	@bash scripts/stack/postgres.sh ensure >/dev/null
	@bash scripts/stack/broker.sh install
	@echo "==> chaos: $(CHAOS_CASES) cases under faults"
	XINFANG_TANSU_BIN="$$(bash scripts/stack/broker.sh bin)" $(XF_BIN_DIR)/xf-chaos --cases $(CHAOS_CASES) --logs $(XINFANG_RUN)/logs/chaos
