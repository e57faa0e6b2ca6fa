#!/usr/bin/env bash
# Installs an independent Open311 GeoReport v2 client (the `georeport` package from
# PyPI) into a cached venv, used by services/intake/tests/open311.rs through flow.py.
#
# Idempotent: installs once per pinned version; later runs only check the venv.
# Prints the venv's python on its last line.
#
# Environment:
#   XINFANG_CACHE       cache root (default: $HOME/.cache/xinfang)
#   GEOREPORT_VERSION   PyPI version (default pinned below)
set -euo pipefail

GEOREPORT_VERSION="${GEOREPORT_VERSION:-0.3.1}"
CACHE_ROOT="${XINFANG_CACHE:-$HOME/.cache/xinfang}"
VENV_DIR="${CACHE_ROOT}/tools/open311-venv"
STAMP="${VENV_DIR}/.georeport-${GEOREPORT_VERSION}"

log() { printf '[open311-client] %s\n' "$*" >&2; }

if [[ -f "${STAMP}" && -x "${VENV_DIR}/bin/python" ]] \
  && "${VENV_DIR}/bin/python" -c 'import georeport' 2>/dev/null; then
  log "georeport ${GEOREPORT_VERSION}: cached in ${VENV_DIR}"
else
  command -v python3 >/dev/null || { log "python3 is required"; exit 1; }
  log "installing georeport ${GEOREPORT_VERSION} into ${VENV_DIR}"
  rm -rf "${VENV_DIR}"
  mkdir -p "$(dirname "${VENV_DIR}")"
  python3 -m venv "${VENV_DIR}"
  "${VENV_DIR}/bin/python" -m pip install --quiet --disable-pip-version-check \
    "georeport==${GEOREPORT_VERSION}"
  "${VENV_DIR}/bin/python" -c 'import georeport'
  touch "${STAMP}"
fi
echo "${VENV_DIR}/bin/python"
