#!/usr/bin/env bash
# Starts, stops and reports the five services of the local stack and the console.
#   scripts/services.sh start|stop|restart|status
# Binaries come from ${XF_BIN_DIR:-target/debug}; logs go to $XINFANG_RUN/logs/<service>.log.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUN="${XINFANG_RUN:-$ROOT/.run}"
BIN_DIR="${XF_BIN_DIR:-$ROOT/target/debug}"
mapfile -t SERVICES < <(awk '!/^#/ && NF {print $1 ":" $2}' "$ROOT/scripts/services.list")
port_of() { awk -v n="$1" '!/^#/ && $1 == n {print $2}' "$ROOT/scripts/services.list"; }
mkdir -p "$RUN/logs"

say() { echo "==> $*" >&2; }

alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_one() {
  local name="$1" port="$2"
  if alive "$name"; then say "$name already running (pid $(cat "$RUN/$name.pid"))"; return; fi
  if port_open "$port"; then
    say "port $port is taken by another process; cannot start $name"; return 1
  fi
  local bin="$BIN_DIR/xf-$name"
  [ -x "$bin" ] || { say "missing $bin (run: cargo build --bins)"; return 1; }
  say "starting $name on :$port (log: $RUN/logs/$name.log)"
  if [ "$name" = console ]; then start_console "$bin" "$port"; return; fi
  local peers=""
  if [ "$name" = intake ]; then
    # intake reads replies from routing (an overseer's token of the demo county) and
    # due dates from supervision's public deadline preview.
    "$BIN_DIR/xinfang-token" --sub intake-peer --roles supervisor --jurisdiction "${XF_DEMO_COUNTY:-330122}" \
      --ttl $((30 * 24 * 3600)) --key "$ROOT/dev/keys/dev-ed25519-private.pem" > "$RUN/intake-peer.token"
    peers="XF_PEERS__ROUTING_URL=http://127.0.0.1:$(port_of routing) XF_PEERS__SUPERVISION_URL=http://127.0.0.1:$(port_of supervision) XF_PEERS__TOKEN_FILE=$RUN/intake-peer.token"
  fi
  # Unset any XF_ variables of the caller so only the ones below apply.
  env $(env | grep -o '^XF_[A-Z0-9_]*' | sed 's/^/-u /') \
    XF_DATABASE__URL="$("$ROOT/scripts/stack/postgres.sh" url "$name")" \
    XF_AUTH__PUBLIC_KEY_FILE="$ROOT/dev/keys/dev-ed25519-public.pem" \
    XF_HTTP__PORT="$port" \
    $peers \
    $( [ "$name" = intake ] && echo "XF_VAULT__KEY_FILE=$ROOT/dev/keys/dev-vault.key XF_VAULT__PSEUDONYM_KEY_FILE=$ROOT/dev/keys/dev-pseudonym.key XF_OPEN311__API_KEYS_FILE=$ROOT/scripts/open311-client/dev-open311-keys.txt" ) \
    setsid "$bin" serve >>"$RUN/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$RUN/$name.pid"
}

# The console owns no data: no database, no broker; it calls the services above.
start_console() {
  local bin="$1" port="$2" key
  bash "$ROOT/scripts/console/assets.sh" >/dev/null || say "the console's chart assets are missing (npm); charts show as tables"
  key="$(grep -v '^#' "$ROOT/scripts/open311-client/dev-open311-keys.txt" | grep -v '^$' | head -1 | cut -f1)"
  env $(env | grep -o '^XF_[A-Z0-9_]*' | sed 's/^/-u /') \
    XF_HTTP__PORT="$port" \
    XF_AUTH__PUBLIC_KEY_FILE="$ROOT/dev/keys/dev-ed25519-public.pem" \
    XF_DEV_SIGNIN__PRIVATE_KEY_FILE="$ROOT/dev/keys/dev-ed25519-private.pem" \
    XF_PUBLIC__OPEN311_API_KEY="$key" \
    setsid "$bin" serve >>"$RUN/logs/console.log" 2>&1 < /dev/null &
  echo $! > "$RUN/console.pid"
}

stop_one() {
  local name="$1"
  if alive "$name"; then
    local pid; pid="$(cat "$RUN/$name.pid")"
    say "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN/$name.pid"
}

wait_ready() {
  local name="$1" port="$2"
  for _ in $(seq 1 300); do
    if curl -fsS "http://127.0.0.1:$port/health/readyz" >/dev/null 2>&1; then return 0; fi
    if ! alive "$name"; then say "$name exited; last lines of its log:"; tail -20 "$RUN/logs/$name.log" >&2; return 1; fi
    sleep 0.2
  done
  say "$name not ready after 60 s; last lines of its log:"; tail -20 "$RUN/logs/$name.log" >&2; return 1
}

case "${1:-status}" in
  start)
    for s in "${SERVICES[@]}"; do start_one "${s%%:*}" "${s##*:}"; done
    for s in "${SERVICES[@]}"; do wait_ready "${s%%:*}" "${s##*:}"; done
    say "all five services and the console ready" ;;
  stop)
    for s in "${SERVICES[@]}"; do stop_one "${s%%:*}"; done ;;
  restart)
    "$0" stop; "$0" start ;;
  status)
    for s in "${SERVICES[@]}"; do
      n="${s%%:*}"; p="${s##*:}"
      if alive "$n"; then echo "$n: running (pid $(cat "$RUN/$n.pid"), http://127.0.0.1:$p)"; else echo "$n: stopped"; fi
    done ;;
  links)
    # The console's address and a signed-in link per demo role (development sign-in).
    "$BIN_DIR/xf-console" dev-links ;;
  *) echo "usage: $0 start|stop|restart|status|links" >&2; exit 2 ;;
esac
