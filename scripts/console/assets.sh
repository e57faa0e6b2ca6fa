#!/usr/bin/env bash
# Fetch the console's pinned third-party scripts from the npm registry (npm pack), verify
# each package's SHA-256, and keep the files the console serves in the cache:
#
#   scripts/console/assets.sh        # prints the assets folder
#
# ECharts (the dashboard's charts) and axe-core (the browser tests' accessibility
# check). The console serves them itself, never from a CDN. Idempotent: files already
# in place are kept.
set -euo pipefail
# shellcheck source=../stack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../stack/lib.sh"

ECHARTS_VERSION=6.1.0
ECHARTS_SHA256=681aff88cc1038c3fa941a3a53d1b177a52250b05335efc607d6105ae13be481
AXE_VERSION=4.11.1
AXE_SHA256=5b86f813d96904f2d925fed5715877c75fc1cc140f89565fb42145e7801b2305

DIR="$XINFANG_CACHE/console-assets"
mkdir -p "$DIR"

# fetch NAME VERSION SHA256 PATH_IN_PACKAGE TARGET
fetch() {
    local name="$1" version="$2" sha="$3" inner="$4" target="$5"
    local stamp="$DIR/.$name-$version"
    if [[ -f "$DIR/$target" && -f "$stamp" ]]; then
        return 0
    fi
    command -v npm >/dev/null 2>&1 || die "npm is needed to fetch $name (apt-get install npm)"
    local tmp
    tmp="$(mktemp -d)"
    log "fetching $name@$version (npm pack)"
    (cd "$tmp" && npm pack "$name@$version" --silent >/dev/null) || die "npm pack $name@$version failed"
    local tgz="$tmp/$name-$version.tgz"
    local got
    got="$(sha256sum "$tgz" | cut -d' ' -f1)"
    [[ "$got" == "$sha" ]] || die "$name-$version.tgz has SHA-256 $got, expected $sha"
    tar -xzf "$tgz" -C "$tmp" "package/$inner" || die "$name-$version.tgz lacks $inner"
    cp "$tmp/package/$inner" "$DIR/$target"
    rm -f "$DIR"/."$name"-*
    touch "$stamp"
    rm -rf "$tmp"
}

fetch echarts "$ECHARTS_VERSION" "$ECHARTS_SHA256" dist/echarts.min.js echarts.min.js
fetch axe-core "$AXE_VERSION" "$AXE_SHA256" axe.min.js axe.min.js
echo "$DIR"
