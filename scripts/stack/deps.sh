#!/usr/bin/env bash
# Install the Debian packages the Rust build needs, when missing.
#
#   scripts/stack/deps.sh [--browser] [EXTRA_PACKAGE...]
#
# --browser adds headless Chromium, its WebDriver and CJK fonts (the console's browser
# test: chromium chromium-driver fonts-noto-cjk), and Node.js with npm when no npm is
# on the PATH.
# Checks each package with dpkg first; only if one is missing does it run
# `apt-get update` (once) and `apt-get install -y` for the missing ones.
# Log: $XINFANG_RUN/logs/deps-apt.log. Exit 0 when all are installed.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

browser=()
if [[ "${1:-}" == --browser ]]; then
    browser=(chromium chromium-driver fonts-noto-cjk)
    # npm fetches the console's pinned assets and the test identity provider; a
    # machine with its own Node.js keeps it.
    command -v npm >/dev/null 2>&1 || browser+=(nodejs npm)
    shift
fi
packages=(cmake build-essential zlib1g-dev libcurl4-openssl-dev pkg-config curl jq sqlite3 "${browser[@]}" "$@")

command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script supports Debian/Ubuntu only"

missing=()
for p in "${packages[@]}"; do
    pkg_installed "$p" || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
    log "build packages present: ${packages[*]}"
    exit 0
fi

ensure_dirs
log "missing build packages: ${missing[*]}"
apt_install "$XF_LOGS/deps-apt.log" "${missing[@]}"

still=()
for p in "${missing[@]}"; do
    pkg_installed "$p" || still+=("$p")
done
[[ ${#still[@]} -eq 0 ]] || die_log "packages still not installed after apt-get: ${still[*]}" "$XF_LOGS/deps-apt.log"
log "installed: ${missing[*]}"
