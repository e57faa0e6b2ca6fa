#!/usr/bin/env bash
# Offline checks of charts/xinfang:
#   1. helm lint --strict (default values and each example);
#   2. helm template with the default values, examples/production.yaml and
#      examples/minimal.yaml, for Kubernetes 1.29.0 and 1.33.0;
#   3. kubernetes-validate --strict on every render (built-in kinds);
#   4. the custom resources (ScaledObject, ServiceMonitor, KafkaTopic) of every render
#      against their own validators (crd_check.py);
#   5. negative checks: every values file in scripts/charts/testdata/bad-*.yaml must be
#      refused with the error its "# expect:" line names — the check fails if one renders;
#   6. chart/binary agreement (agreement.py): every XF_ variable the chart sets is
#      accepted by the service binary and every required one is set, using
#      `<bin> config-keys` from the built binaries.
#
# Usage: scripts/charts/check.sh [BIN_DIR]     (default: $XF_BIN_DIR or target/debug)
# Exit status is non-zero when any check fails; a summary table is printed last.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="${ROOT}/scripts/charts"
CHART="${ROOT}/charts/xinfang"
BIN_DIR="${1:-${XF_BIN_DIR:-target/debug}}"
case "${BIN_DIR}" in /*) ;; *) BIN_DIR="${ROOT}/${BIN_DIR}" ;; esac
KUBE_VERSIONS=(1.29.0 1.33.0)
RELEASE=xinfang
NAMESPACE=xinfang

TOOLS_BIN="$(bash "${HERE}/install-tools.sh")" || { echo "installing chart tools failed" >&2; exit 1; }
TOOLS="$(dirname "${TOOLS_BIN}")"
HELM="${TOOLS_BIN}/helm"
KV="${TOOLS_BIN}/kubernetes-validate"
PY="${TOOLS_BIN}/python"

OUT="${ROOT}/target/charts-check"
rm -rf "${OUT}"
mkdir -p "${OUT}/helm"
# Helm keeps no state between runs and needs no repositories.
export HELM_CACHE_HOME="${OUT}/helm/cache" HELM_CONFIG_HOME="${OUT}/helm/config" HELM_DATA_HOME="${OUT}/helm/data"

declare -a SUMMARY=()
PASSED=0
FAILED=0
record() { # record NAME PASS|FAIL [DETAIL]
  SUMMARY+=("$(printf '%-52s %-6s %s' "$1" "$2" "${3:-}")")
  if [[ "$2" == PASS ]]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); fi
}
section() { printf '\n=== %s\n' "$*"; }

declare -A VALUES=(
  [default]=""
  [production]="${CHART}/examples/production.yaml"
  [minimal]="${CHART}/examples/minimal.yaml"
)
RENDERS=(default production minimal)
values_args() { [[ -n "${VALUES[$1]}" ]] && printf -- '-f\n%s\n' "${VALUES[$1]}"; }

# --- 1. lint ------------------------------------------------------------------------
for r in "${RENDERS[@]}"; do
  section "helm lint --strict (${r})"
  mapfile -t va < <(values_args "$r")
  if "${HELM}" lint --strict "${CHART}" "${va[@]}" --namespace "${NAMESPACE}"; then
    record "lint --strict (${r})" PASS
  else
    record "lint --strict (${r})" FAIL
  fi
done

# --- 2-4. template + validate -----------------------------------------------------
for r in "${RENDERS[@]}"; do
  mapfile -t va < <(values_args "$r")
  for k in "${KUBE_VERSIONS[@]}"; do
    file="${OUT}/${r}-${k}.yaml"
    section "helm template (${r}, kube ${k})"
    if "${HELM}" template "${RELEASE}" "${CHART}" "${va[@]}" --namespace "${NAMESPACE}" \
         --kube-version "${k}" >"${file}" 2>"${file}.err"; then
      count="$(grep -c '^kind:' "${file}")"
      echo "rendered ${count} resources -> ${file#"${ROOT}/"}"
      record "template (${r}, ${k})" PASS "${count} resources"
    else
      cat "${file}.err"
      record "template (${r}, ${k})" FAIL
      continue
    fi
    section "kubernetes-validate --strict -k ${k} (${r})"
    # Custom kinds are reported as warnings by kubernetes-validate and validated below.
    "${KV}" --strict --quiet -k "${k}" "${file}" >"${file}.validate" 2>&1
    kv_rc=$?
    grep -v "Couldn't find schema for kind" "${file}.validate"
    if [[ ${kv_rc} -eq 0 ]]; then
      record "kubernetes-validate (${r}, ${k})" PASS
    else
      record "kubernetes-validate (${r}, ${k})" FAIL
    fi
  done
done

section "custom resources (ScaledObject, ServiceMonitor, KafkaTopic)"
crd_args=()
for r in "${RENDERS[@]}"; do
  f="${OUT}/${r}-${KUBE_VERSIONS[-1]}.yaml"
  [[ -s "$f" ]] && crd_args+=("${r}=${f}")
done
if "${PY}" "${HERE}/crd_check.py" "${TOOLS}/node_modules" "${crd_args[@]}"; then
  record "custom resources (all renders)" PASS
else
  record "custom resources (all renders)" FAIL
fi

# --- 5. negative checks -------------------------------------------------------------
for bad in "${HERE}"/testdata/bad-*.yaml; do
  name="$(basename "${bad}")"
  section "must be refused: ${name}"
  if "${HELM}" template "${RELEASE}" "${CHART}" -f "${bad}" >/dev/null 2>"${OUT}/${name}.err"; then
    echo "ERROR: ${name} rendered, but the chart must refuse it"
    record "refused: ${name}" FAIL "rendered"
  else
    sed 's/^/  /' "${OUT}/${name}.err"
    # Each file names the error it must cause ("# expect: <text>"), so a file refused
    # for an unrelated reason does not pass.
    expect="$(sed -n 's/^# expect: //p' "${bad}" | head -n1)"
    if [[ -z "${expect}" ]] || grep -qF -- "${expect}" "${OUT}/${name}.err"; then
      record "refused: ${name}" PASS
    else
      echo "ERROR: refused, but not with the expected error: ${expect}"
      record "refused: ${name}" FAIL "wrong error"
    fi
  fi
done

# --- 6. chart/binary agreement -------------------------------------------------------
section "chart/binary agreement (binaries in ${BIN_DIR})"
agree_args=()
for r in "${RENDERS[@]}"; do
  f="${OUT}/${r}-${KUBE_VERSIONS[-1]}.yaml"
  [[ -s "$f" ]] && agree_args+=("${r}=${f}")
done
if "${PY}" "${HERE}/agreement.py" --bin-dir "${BIN_DIR}" --expect-all default "${agree_args[@]}"; then
  record "chart/binary agreement" PASS
else
  record "chart/binary agreement" FAIL
fi

# --- summary ------------------------------------------------------------------------
section "summary"
printf '%-52s %s\n' "check" "result"
printf '%-52s %s\n' "----------------------------------------------------" "------"
for line in "${SUMMARY[@]}"; do echo "${line}"; done
echo
echo "charts: ${PASSED} passed, ${FAILED} failed"
[[ ${FAILED} -eq 0 ]]
