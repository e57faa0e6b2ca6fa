# shellcheck shell=bash
# Shared helpers for scripts/stack/*.sh. Source it, do not run it.
#
# Environment:
#   XINFANG_CACHE  cached tools            (default: $HOME/.cache/xinfang)
#   XINFANG_RUN    runtime state and logs  (default: <repo>/.run)

XF_STACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
XF_REPO="$(cd "$XF_STACK_DIR/../.." && pwd)"

: "${HOME:=/root}"
XINFANG_CACHE="${XINFANG_CACHE:-$HOME/.cache/xinfang}"
XINFANG_RUN="${XINFANG_RUN:-$XF_REPO/.run}"
# Absolute, so that it holds after the scripts change directory (the broker runs from /).
case "$XINFANG_RUN" in /*) ;; *) XINFANG_RUN="$PWD/$XINFANG_RUN" ;; esac
XF_LOGS="$XINFANG_RUN/logs"
export XINFANG_CACHE XINFANG_RUN

XF_PROG="$(basename "$0")"

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf '==> WARNING: %s\n' "$*" >&2; }
die() {
    printf '==> ERROR (%s): %s\n' "$XF_PROG" "$*" >&2
    exit 1
}

# die_log MESSAGE LOGFILE [LINES]: fail, pointing at a log and showing its tail.
die_log() {
    local msg="$1" logfile="$2" lines="${3:-30}"
    if [[ -s "$logfile" ]]; then
        printf '==> last %s lines of %s:\n' "$lines" "$logfile" >&2
        tail -n "$lines" "$logfile" | sed 's/^/    /' >&2
    fi
    die "$msg (log: $logfile)"
}

ensure_dirs() {
    mkdir -p "$XF_LOGS" || die "cannot create log directory $XF_LOGS"
}

# Run a command as root: directly when we are root, else through sudo.
as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

# Is a Debian package installed?
pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

XF_APT_UPDATED=0
# apt_install LOGFILE PKG...: one `apt-get update` per process, then install.
apt_install() {
    local logfile="$1"
    shift
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $* by hand"
    mkdir -p "$(dirname "$logfile")"
    echo "=== $(date -Is) apt-get install -y $*" >>"$logfile"
    if [[ $XF_APT_UPDATED -eq 0 ]]; then
        log "apt-get update (log: $logfile)"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update 9>&- \
            >>"$logfile" 2>&1 || die_log "apt-get update failed" "$logfile"
        XF_APT_UPDATED=1
    fi
    log "apt-get install -y $* (log: $logfile)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y "$@" 9>&- \
        >>"$logfile" 2>&1 || die_log "apt-get install $* failed" "$logfile"
}

# port_open HOST PORT: 0 when something accepts TCP connections there.
port_open() {
    local host="$1" port="$2"
    if command -v timeout >/dev/null 2>&1; then
        timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null
    else
        bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null
    fi
}

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
    local pid="$1" state
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
    [[ "$state" != Z ]]
}

# wait_port HOST PORT TIMEOUT_SECONDS [PID]: 0 once open; 1 on timeout;
# 2 if PID (when given) exits before the port opens.
wait_port() {
    local host="$1" port="$2" timeout="$3" pid="${4:-}"
    local deadline=$((SECONDS + timeout))
    while true; do
        port_open "$host" "$port" && return 0
        if [[ -n "$pid" ]] && ! pid_alive "$pid"; then
            return 2
        fi
        ((SECONDS >= deadline)) && return 1
        sleep 0.5
    done
}
