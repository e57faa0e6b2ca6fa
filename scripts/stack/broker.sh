#!/usr/bin/env bash
# Local Kafka-protocol broker (tansu 0.6.0) on 127.0.0.1 for development and tests.
#
#   scripts/stack/broker.sh install                       build tansu into the cache (20-30 min cold on 2 cores)
#   scripts/stack/broker.sh bin                           print the tansu binary path (installs if needed)
#   scripts/stack/broker.sh start [--port P] [--data DIR] [--memory]
#   scripts/stack/broker.sh stop                          stop the broker started by `start`
#   scripts/stack/broker.sh status                        exit 0 if a broker answers, 3 if not
#
# Environment:
#   XINFANG_CACHE          tansu is installed into $XINFANG_CACHE/tansu-0.6.0/bin/tansu
#   XINFANG_RUN            logs in $XINFANG_RUN/logs/{broker,tansu-install}.log,
#                          pid in $XINFANG_RUN/broker.pid, data in $XINFANG_RUN/broker/
#   XINFANG_TANSU_BIN      use this tansu binary instead of the cached one
#   XINFANG_BROKER_PORT    default port for start (9092)
#   XINFANG_BROKER_DATA    default data directory for start ($XINFANG_RUN/broker)
#   XINFANG_BROKER_LOG     RUST_LOG filter given to the broker (warn)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TANSU_VERSION=0.6.0
TANSU_FEATURES=dynostore,libsql
TANSU_ROOT="$XINFANG_CACHE/tansu-$TANSU_VERSION"
TANSU_BIN="${XINFANG_TANSU_BIN:-$TANSU_ROOT/bin/tansu}"
TANSU_LOCK="$XINFANG_CACHE/tansu-$TANSU_VERSION.lock"
INSTALL_LOG="$XF_LOGS/tansu-install.log"
INSTALL_WAIT=5400

BROKER_HOST=127.0.0.1
BROKER_LOG="$XF_LOGS/broker.log"
PID_FILE="$XINFANG_RUN/broker.pid"
PORT_FILE="$XINFANG_RUN/broker.port"
CLUSTER_ID=xinfang
START_TIMEOUT=30
STOP_TIMEOUT=10

usage() {
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit "${1:-2}"
}

# --- install ---------------------------------------------------------------

tansu_works() {
    [[ -x "$TANSU_BIN" ]] || return 1
    (cd / && timeout 30 "$TANSU_BIN" --version) >/dev/null 2>&1
}

# pids of a `cargo install tansu` into our root started outside this script.
foreign_install_pids() {
    command -v pgrep >/dev/null 2>&1 || return 0
    pgrep -f -- "cargo install tansu .*--root $TANSU_ROOT" 2>/dev/null | grep -vx "$$" || true
}

find_cargo() {
    if command -v cargo >/dev/null 2>&1; then
        command -v cargo
    elif [[ -x "$HOME/.cargo/bin/cargo" ]]; then
        echo "$HOME/.cargo/bin/cargo"
    else
        return 1
    fi
}

cmd_install() {
    if tansu_works; then
        log "tansu $TANSU_VERSION present: $TANSU_BIN"
        echo "$TANSU_BIN"
        return 0
    fi
    [[ -z "${XINFANG_TANSU_BIN:-}" ]] || die "XINFANG_TANSU_BIN=$XINFANG_TANSU_BIN does not run (tried --version)"

    ensure_dirs
    mkdir -p "$XINFANG_CACHE" || die "cannot create cache directory $XINFANG_CACHE"
    exec 8>"$TANSU_LOCK"
    if ! flock -n 8; then
        log "another tansu install holds $TANSU_LOCK; waiting for it (up to ${INSTALL_WAIT}s)"
        flock -w "$INSTALL_WAIT" 8 || die "timed out waiting for the install lock $TANSU_LOCK"
    fi

    # An install into the same root started by hand (not through this script).
    local others waited=0
    others="$(foreign_install_pids)"
    if [[ -n "$others" ]]; then
        log "a cargo install into $TANSU_ROOT is already running (pid ${others//$'\n'/ }); waiting for it"
        while [[ -n "$(foreign_install_pids)" ]]; do
            ((waited >= INSTALL_WAIT)) && die "timed out after ${waited}s waiting for the running cargo install into $TANSU_ROOT"
            sleep 15
            waited=$((waited + 15))
            ((waited % 120 == 0)) && log "still waiting for the running tansu install (${waited}s)"
        done
    fi

    if tansu_works; then
        log "tansu $TANSU_VERSION present: $TANSU_BIN"
        echo "$TANSU_BIN"
        return 0
    fi

    local cargo
    cargo="$(find_cargo)" || die "cargo not found: install a Rust toolchain first (rustup)"
    log "installing tansu $TANSU_VERSION into $TANSU_ROOT with cargo install"
    log "this compiles from source and takes 20-30 minutes cold on 2 cores (log: $INSTALL_LOG)"
    {
        echo "=== $(date -Is) cargo install tansu --version $TANSU_VERSION --locked --features $TANSU_FEATURES --root $TANSU_ROOT"
    } >"$INSTALL_LOG"
    "$cargo" install tansu --version "$TANSU_VERSION" --locked --features "$TANSU_FEATURES" \
        --root "$TANSU_ROOT" >>"$INSTALL_LOG" 2>&1 8>&- </dev/null &
    local cpid=$! rc=0 start=$SECONDS
    trap 'kill "$cpid" 2>/dev/null || true' INT TERM
    while kill -0 "$cpid" 2>/dev/null; do
        sleep 5
        if (((SECONDS - start) % 120 < 5)) && kill -0 "$cpid" 2>/dev/null; then
            log "still installing tansu ($(((SECONDS - start) / 60)) min): $(grep -c '^ *Compiling' "$INSTALL_LOG" || true) crates compiled"
        fi
    done
    wait "$cpid" || rc=$?
    trap - INT TERM
    if [[ $rc -ne 0 ]]; then
        die_log "cargo install tansu $TANSU_VERSION failed with exit code $rc (build packages missing? try scripts/stack/deps.sh)" "$INSTALL_LOG"
    fi
    tansu_works || die_log "tansu was installed but $TANSU_BIN --version fails" "$INSTALL_LOG"
    log "tansu $TANSU_VERSION installed in $(((SECONDS - start) / 60)) min: $TANSU_BIN"
    echo "$TANSU_BIN"
}

cmd_bin() {
    if tansu_works; then
        echo "$TANSU_BIN"
    else
        cmd_install
    fi
}

# --- process helpers -------------------------------------------------------

pid_is_tansu() {
    local pid="$1"
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'tansu'
}

# Prints the pid from the pid file when that process is our running broker.
our_pid() {
    local pid
    [[ -f "$PID_FILE" ]] || return 1
    pid="$(head -n1 "$PID_FILE" 2>/dev/null || true)"
    pid_alive "$pid" && pid_is_tansu "$pid" || return 1
    echo "$pid"
}

recorded_port() {
    local p
    p="$(head -n1 "$PORT_FILE" 2>/dev/null || true)"
    [[ "$p" =~ ^[0-9]+$ ]] && echo "$p" || echo "${XINFANG_BROKER_PORT:-9092}"
}

# --- start / stop / status -------------------------------------------------

# Serialise start/stop of this checkout's broker.
lock_run() {
    mkdir -p "$XINFANG_RUN" || die "cannot create $XINFANG_RUN"
    exec 7>"$XINFANG_RUN/broker.lock"
    flock -w 120 7 || die "timed out waiting for the lock $XINFANG_RUN/broker.lock"
}

# die_since MESSAGE LINE: fail, showing the broker log from LINE on (this start).
die_since() {
    printf '==> broker log since this start (%s):\n' "$BROKER_LOG" >&2
    tail -n "+$2" "$BROKER_LOG" | tail -n 40 | sed 's/^/    /' >&2
    die "$1 (log: $BROKER_LOG)"
}

cmd_start() {
    local port="${XINFANG_BROKER_PORT:-9092}" data="${XINFANG_BROKER_DATA:-$XINFANG_RUN/broker}" memory=0
    while [[ $# -gt 0 ]]; do
        case "$1" in
        --port)
            [[ $# -ge 2 ]] || die "--port needs a value"
            port="$2"
            shift 2
            ;;
        --port=*)
            port="${1#--port=}"
            shift
            ;;
        --data)
            [[ $# -ge 2 ]] || die "--data needs a value"
            data="$2"
            shift 2
            ;;
        --data=*)
            data="${1#--data=}"
            shift
            ;;
        --memory)
            memory=1
            shift
            ;;
        *) die "unknown option for start: $1 (expected --port P, --data DIR, --memory)" ;;
        esac
    done
    [[ "$port" =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) || die "invalid port: $port"
    lock_run

    if port_open "$BROKER_HOST" "$port"; then
        local pid
        if pid="$(our_pid)"; then
            log "broker already running (pid $pid) on $BROKER_HOST:$port"
        else
            log "something already answers on $BROKER_HOST:$port; not starting another broker"
        fi
        return 0
    fi

    ensure_dirs
    local pid
    if pid="$(our_pid)"; then
        # Started earlier but not answering (yet): give it the start timeout.
        log "broker process $pid exists but $BROKER_HOST:$port does not answer yet; waiting ${START_TIMEOUT}s"
        if wait_port "$BROKER_HOST" "$port" "$START_TIMEOUT" "$pid"; then
            log "broker answers on $BROKER_HOST:$port (pid $pid)"
            return 0
        fi
        die_log "broker pid $pid (from $PID_FILE) does not answer on $BROKER_HOST:$port; run '$0 stop' and retry" "$BROKER_LOG"
    fi
    rm -f "$PID_FILE"

    local bin
    bin="$(cmd_bin)" || die "tansu binary not available (see $INSTALL_LOG)"

    local storage
    if [[ $memory -eq 1 ]]; then
        storage="memory://tansu/"
    else
        mkdir -p "$data" || die "cannot create broker data directory $data"
        data="$(cd "$data" && pwd)"
        # tansu resolves the sqlite path against its working directory, which is /.
        storage="sqlite://$data/tansu.db"
    fi

    local url="tcp://$BROKER_HOST:$port" log_start
    touch "$BROKER_LOG"
    log_start=$(($(wc -l <"$BROKER_LOG") + 1))
    {
        echo
        echo "=== $(date -Is) starting $bin broker --listener-url $url --storage-engine $storage"
    } >>"$BROKER_LOG"
    log "starting tansu broker on $url (storage: $storage, log: $BROKER_LOG)"
    (
        # Run from / so tansu's .env lookup cannot pick up a project .env file;
        # drop the env vars tansu reads so only the flags below apply.
        cd /
        exec env -u CLUSTER_ID -u LISTENER_URL -u ADVERTISED_LISTENER_URL -u STORAGE_ENGINE \
            -u SCHEMA_REGISTRY -u OTEL_EXPORTER_OTLP_ENDPOINT -u DATA_LAKE \
            RUST_LOG="${XINFANG_BROKER_LOG:-warn}" NO_COLOR=1 \
            setsid nohup "$bin" broker \
            --cluster-id "$CLUSTER_ID" \
            --listener-url "$url" \
            --advertised-listener-url "$url" \
            --storage-engine "$storage" \
            </dev/null >>"$BROKER_LOG" 2>&1
    ) 7>&- 8>&- 9>&- &
    pid=$!
    echo "$pid" >"$PID_FILE"
    echo "$port" >"$PORT_FILE"

    local rc=0
    wait_port "$BROKER_HOST" "$port" "$START_TIMEOUT" "$pid" || rc=$?
    case $rc in
    0)
        if [[ $memory -eq 0 ]]; then
            index_sqlite "$data/tansu.db" || {
                kill -TERM "$pid" 2>/dev/null || true
                rm -f "$PID_FILE" "$PORT_FILE"
                die "cannot index the broker's sqlite storage ($data/tansu.db)"
            }
        fi
        log "broker running (pid $pid) on $BROKER_HOST:$port"
        ;;
    2)
        rm -f "$PID_FILE" "$PORT_FILE"
        die_since "broker exited during startup" "$log_start"
        ;;
    *)
        kill -TERM "$pid" 2>/dev/null || true
        sleep 1
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$PID_FILE" "$PORT_FILE"
        die_since "broker did not answer on $BROKER_HOST:$port within ${START_TIMEOUT}s; stopped it" "$log_start"
        ;;
    esac
}

# The index tansu's sqlite storage lacks (see tansu-sqlite.sql); tansu has created its
# tables by the time it listens.
index_sqlite() {
    local db="$1" i
    for i in $(seq 1 50); do
        if sqlite3 -cmd ".timeout 30000" "$db" "select 1 from sqlite_master where name = 'header'" 2>/dev/null | grep -q 1; then
            sqlite3 -cmd ".timeout 30000" "$db" <"$(dirname "${BASH_SOURCE[0]}")/tansu-sqlite.sql"
            return
        fi
        sleep 0.2
    done
    return 1
}

cmd_stop() {
    lock_run
    if [[ ! -f "$PID_FILE" ]]; then
        log "broker not running (no pid file $PID_FILE)"
        return 0
    fi
    local pid
    if ! pid="$(our_pid)"; then
        log "broker not running (removing stale pid file $PID_FILE)"
        rm -f "$PID_FILE" "$PORT_FILE"
        return 0
    fi
    log "stopping broker (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while pid_alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
    if pid_alive "$pid"; then
        warn "broker (pid $pid) still running after ${STOP_TIMEOUT}s; sending KILL"
        kill -KILL "$pid" 2>/dev/null || true
        deadline=$((SECONDS + 5))
        while pid_alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
        pid_alive "$pid" && die_log "broker (pid $pid) survived KILL" "$BROKER_LOG"
    fi
    rm -f "$PID_FILE" "$PORT_FILE"
    log "broker stopped"
}

cmd_status() {
    local port pid
    port="$(recorded_port)"
    if pid="$(our_pid)"; then
        if port_open "$BROKER_HOST" "$port"; then
            echo "broker: running (pid $pid, $BROKER_HOST:$port)"
        else
            echo "broker: running (pid $pid) but $BROKER_HOST:$port does not answer"
        fi
        return 0
    fi
    if port_open "$BROKER_HOST" "$port"; then
        echo "broker: not started by this script, but $BROKER_HOST:$port answers"
        return 0
    fi
    echo "broker: not running"
    exit 3
}

[[ $# -ge 1 ]] || usage
cmd="$1"
shift
case "$cmd" in
install) cmd_install "$@" ;;
bin) cmd_bin "$@" ;;
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
status) cmd_status "$@" ;;
-h | --help | help) usage 0 ;;
*)
    echo "==> ERROR ($XF_PROG): unknown command '$cmd'" >&2
    usage
    ;;
esac
