#!/usr/bin/env bash
# Install the OpenID Connect provider the console's sign-in is tested against
# (panva/oidc-provider, pinned with its whole dependency tree by package-lock.json,
# from the npm registry) into the cache, and print its folder:
#
#   scripts/oidc/install.sh      # prints the folder holding provider.mjs and node_modules
#
# Idempotent: an install matching the lock file is kept.
set -euo pipefail
# shellcheck source=../stack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../stack/lib.sh"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOCK_SUM="$(cat "$HERE/package.json" "$HERE/package-lock.json" | sha256sum | cut -c1-16)"
DIR="$XINFANG_CACHE/oidc-provider-$LOCK_SUM"

if [[ ! -f "$DIR/.installed" ]]; then
    command -v npm >/dev/null 2>&1 || die "npm is needed for the test identity provider (apt-get install npm)"
    rm -rf "$DIR"
    mkdir -p "$DIR"
    cp "$HERE/package.json" "$HERE/package-lock.json" "$DIR/"
    log "installing the test OIDC provider (npm ci, log: $XF_LOGS/oidc-npm.log)"
    (cd "$DIR" && npm ci --no-audit --no-fund --silent) >"$XF_LOGS/oidc-npm.log" 2>&1 \
        || die "npm ci for the test OIDC provider failed (see $XF_LOGS/oidc-npm.log)"
    touch "$DIR/.installed"
fi
# The provider script itself is always the checkout's.
cp "$HERE/provider.mjs" "$DIR/provider.mjs"
echo "$DIR"
