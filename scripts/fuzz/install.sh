#!/usr/bin/env bash
# Installs schemathesis (the OpenAPI fuzzer, from PyPI) into a cached venv and prints
# the path of its `st` command. Idempotent: an existing venv of the pinned version is
# reused.
set -euo pipefail
VERSION=4.32.5
CACHE="${XINFANG_CACHE:-$HOME/.cache/xinfang}"
VENV="$CACHE/schemathesis-$VERSION"
if [[ ! -x "$VENV/bin/st" ]]; then
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install -q "schemathesis==$VERSION" >&2
fi
echo "$VENV/bin/st"
