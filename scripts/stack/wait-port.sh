#!/usr/bin/env bash
# Wait until HOST:PORT accepts TCP connections.
#
#   scripts/stack/wait-port.sh HOST PORT TIMEOUT_SECONDS
#
# Exit codes: 0 port open, 1 timed out, 2 usage error.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ $# -ne 3 || ! "$2" =~ ^[0-9]+$ || ! "$3" =~ ^[0-9]+$ ]]; then
    echo "usage: $XF_PROG HOST PORT TIMEOUT_SECONDS" >&2
    exit 2
fi

host="$1" port="$2" timeout="$3"
log "waiting up to ${timeout}s for $host:$port"
if wait_port "$host" "$port" "$timeout"; then
    log "$host:$port is answering"
    exit 0
fi
printf '==> ERROR (%s): nothing answered on %s:%s within %ss\n' "$XF_PROG" "$host" "$port" "$timeout" >&2
exit 1
