#!/usr/bin/env bash
# Benchmarks against the running stack; prints one table of figures.
#   scripts/bench.sh            (or: make bench)
#
# What it does:
#   1. builds release binaries of the five services and of xf-load;
#   2. stops the services that run now (e.g. the dev-profile stack of `make demo`) and
#      starts the five services from target/release (Postgres and the broker must be up:
#      `make bench` starts them first);
#   3. runs every row of every section below with target/release/xf-load;
#   4. prints the table.
#
# Afterwards the RELEASE services keep running. `make demo` (or
# `scripts/services.sh restart`) goes back to the dev-profile binaries; `make down`
# stops everything.
#
# Rows register real cases in the local database (the county's figures in
# reporting grow accordingly).
#
# Columns: requests is the measured count (a short warm-up comes first and is not
# counted); errors are non-2xx answers and transport failures; req/s is measured
# successes over wall time; p50/p99 are latencies of the successful requests;
# drain s is the time from the last answer until reporting's /v1/stats counts every
# registered case as dispatched by routing (intake outbox → broker → routing →
# broker → reporting).
#
# Environment:
#   XINFANG_BENCH_QUICK=1   a tenth of the requests (a quick check, noisy figures)
#   XINFANG_BENCH_ONLY=intake|routing|scheduling|reporting|bus  one section only (routing: the national
#                           tree, routing decisions, the worklist at 1M cases, the sweeper;
#                           scheduling: the county's annual plans, the ICS feed under load;
#                           reporting: stats over 1M cases, event ingestion;
#                           bus: 200k events through the durable broker)
#   XINFANG_BENCH_SKIP_BUILD=1  use the release binaries already in target/release
#   XINFANG_BENCH_DRAIN_TIMEOUT longest drain wait per row, seconds (default 180);
#                           a row that does not drain shows ">N" in the drain column
#   CARGO                   cargo binary (default: cargo)
#
# Adding a benchmark: write a section_* function that calls `row` (or runs its own
# tool and appends lines in the same column layout to "$ROWS"), and list it in
# SECTIONS.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
CARGO="${CARGO:-cargo}"
RUN="${XINFANG_RUN:-$ROOT/.run}"
BIN_DIR="$ROOT/target/release"
LOAD="$BIN_DIR/xf-load"
mkdir -p "$RUN/logs"
ROWS="$(mktemp "${TMPDIR:-/tmp}/xf-bench.XXXXXX")"
trap 'rm -f "$ROWS"' EXIT
FAILED=0

say() { echo "==> $*" >&2; }

scale() {
    if [ "${XINFANG_BENCH_QUICK:-0}" = 1 ]; then echo $(($1 / 10)); else echo "$1"; fi
}

# row ARGS...: one xf-load run; its table line goes to $ROWS.
row() {
    local line
    if line="$("$LOAD" --no-header --drain-timeout "${XINFANG_BENCH_DRAIN_TIMEOUT:-180}" "$@")"; then
        echo "$line" >>"$ROWS"
    else
        FAILED=1
        echo "FAILED: xf-load $*" >>"$ROWS"
    fi
}

section_intake() {
    local n8 n32
    n8="$(scale 4000)"
    n32="$(scale 8000)"
    row --scenario intake-register --offices one --clients 8 --requests "$n8"
    row --scenario intake-register --offices one --clients 32 --requests "$n32"
    row --scenario intake-register --offices all --clients 8 --requests "$n8"
    row --scenario intake-register --offices all --clients 32 --requests "$n32"
}

SECTIONS=(section_intake)

# The national tree and routing: their own binaries, their own table ($ROWS2).
ROWS2="$(mktemp "${TMPDIR:-/tmp}/xf-bench2.XXXXXX")"
trap 'rm -f "$ROWS" "$ROWS2"' EXIT
section_routing() {
    local out
    say "national jurisdiction tree (parse, store, load, lookups)"
    if out="$("$BIN_DIR/xf-bench-tree" --no-header)"; then echo "$out" >>"$ROWS2"; else
        FAILED=1; echo "FAILED: xf-bench-tree" >>"$ROWS2"; fi
    say "routing decisions and the unit worklist (on a fresh in-memory broker, :19093)"
    XINFANG_RUN="$RUN/bench-broker" bash "$ROOT/scripts/stack/broker.sh" start --memory --port 19093 >&2
    if out="$(XINFANG_TEST_BROKERS=127.0.0.1:19093 "$BIN_DIR/xf-bench-routing" --no-header --decisions "$(scale 200000)" \
        --cases "$(scale 1000000)" --pages "$(scale 200)")"; then echo "$out" >>"$ROWS2"; else
        FAILED=1; echo "FAILED: xf-bench-routing" >>"$ROWS2"; fi
    say "supervision: sweeping and escalating overdue cases"
    if out="$(XINFANG_TEST_BROKERS=127.0.0.1:19093 "$BIN_DIR/xf-bench-sweep" --no-header \
        --cases "$(scale 20000)")"; then echo "$out" >>"$ROWS2"; else
        FAILED=1; echo "FAILED: xf-bench-sweep" >>"$ROWS2"; fi
    XINFANG_RUN="$RUN/bench-broker" bash "$ROOT/scripts/stack/broker.sh" stop >&2 || true
}
SECTIONS+=(section_routing)
# Scheduling: the county's annual plans and the ICS feed under load, in the second table.
section_scheduling() {
    local out
    say "scheduling: annual plans for every office of the county, the ICS feed under load (broker :19094)"
    XINFANG_RUN="$RUN/bench-broker-sched" bash "$ROOT/scripts/stack/broker.sh" start --memory --port 19094 >&2
    if out="$(XINFANG_TEST_BROKERS=127.0.0.1:19094 "$BIN_DIR/xf-bench-sched" --no-header \
        --requests "$(scale 2000)")"; then echo "$out" >>"$ROWS2"; else
        FAILED=1; echo "FAILED: xf-bench-sched" >>"$ROWS2"; fi
    XINFANG_RUN="$RUN/bench-broker-sched" bash "$ROOT/scripts/stack/broker.sh" stop >&2 || true
}
SECTIONS+=(section_scheduling)
# Reporting: statistics over a year of a large county and event ingestion.
section_reporting() {
    local out
    say "reporting: stats over $(scale 1000000) cases, event ingestion (broker :19095)"
    XINFANG_RUN="$RUN/bench-broker-report" bash "$ROOT/scripts/stack/broker.sh" start --memory --port 19095 >&2
    if out="$(XINFANG_TEST_BROKERS=127.0.0.1:19095 "$BIN_DIR/xf-bench-report" --no-header \
        --cases "$(scale 1000000)" --requests "$(scale 200)" --events "$(scale 20000)")"; then echo "$out" >>"$ROWS2"; else
        FAILED=1; echo "FAILED: xf-bench-report" >>"$ROWS2"; fi
    XINFANG_RUN="$RUN/bench-broker-report" bash "$ROOT/scripts/stack/broker.sh" stop >&2 || true
}
SECTIONS+=(section_reporting)
# The bus on the durable development broker: its own table ($ROWS3).
ROWS3="$(mktemp "${TMPDIR:-/tmp}/xf-bench3.XXXXXX")"
trap 'rm -f "$ROWS" "$ROWS2" "$ROWS3"' EXIT
section_bus() {
    say "bus: $(scale 200000) events through an outbox, the relay, a fresh durable tansu and a consumer"
    if ! XINFANG_TANSU_BIN="$(bash "$ROOT/scripts/stack/broker.sh" bin)" \
        "$BIN_DIR/xf-bench-bus" --events "$(scale 200000)" --batch 1,200 >"$ROWS3"; then
        FAILED=1; echo "FAILED: xf-bench-bus" >>"$ROWS3"; fi
}
SECTIONS+=(section_bus)
# XINFANG_BENCH_ONLY=intake|routing|scheduling|reporting|bus runs one section.
if [ -n "${XINFANG_BENCH_ONLY:-}" ]; then SECTIONS=("section_${XINFANG_BENCH_ONLY}"); fi

if [ "${XINFANG_BENCH_SKIP_BUILD:-0}" != 1 ]; then
    say "cargo build --release (services, xf-load)"
    mapfile -t PKGS < <(awk '!/^#/ && $3 == "schema" {print "-p"; print "xf-" $1}' "$ROOT/scripts/services.list")
    "$CARGO" build --release --bins "${PKGS[@]}" -p xf-e2e
fi
[ -x "$LOAD" ] || { say "missing $LOAD"; exit 1; }

say "restarting the services from target/release"
XF_BIN_DIR="$BIN_DIR" bash "$ROOT/scripts/services.sh" restart

for s in "${SECTIONS[@]}"; do "$s"; done

echo
if [ -s "$ROWS" ]; then
    "$LOAD" --print-header
    cat "$ROWS"
    echo
fi
if [ -s "$ROWS2" ]; then
    "$BIN_DIR/xf-bench-routing" --print-header
    cat "$ROWS2"
    echo
fi
if [ -s "$ROWS3" ]; then
    cat "$ROWS3"
    echo
fi
echo "machine: $(nproc) cores; services from target/release, still running (make down stops them)"
exit "$FAILED"
