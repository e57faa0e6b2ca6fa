# Helm chart checks (included by the main Makefile).
#
#   make charts-tools   install helm, kubectl, kubernetes-validate and the CRD
#                       validators into $(XINFANG_CACHE)/tools (cached, offline after)
#   make charts-check   lint, render and validate charts/xinfang, the negative schema
#                       checks, and the chart/binary agreement against the service
#                       binaries in $(XF_BIN_DIR) (built first if missing)

XF_BIN_DIR ?= target/debug
XINFANG_CACHE ?= $(HOME)/.cache/xinfang
export XINFANG_CACHE

CHARTS_SERVICES := $(shell awk '!/^\#/ && NF {print $$1}' scripts/services.list)
CHARTS_BINARIES := $(addprefix $(XF_BIN_DIR)/xf-,$(CHARTS_SERVICES))

.PHONY: charts-tools charts-check

charts-tools:
	bash scripts/charts/install-tools.sh

charts-check: charts-tools $(CHARTS_BINARIES)
	XF_BIN_DIR=$(XF_BIN_DIR) bash scripts/charts/check.sh $(XF_BIN_DIR)

# The agreement check runs `xf-<service> config-keys`; build a missing binary with the
# dev profile (the main Makefile normally has built them already).
$(XF_BIN_DIR)/xf-%:
	@if [ "$(XF_BIN_DIR)" = "target/debug" ]; then \
	  echo "cargo build -p xf-$*"; cargo build -p xf-$*; \
	else \
	  echo "missing $@: build the services into $(XF_BIN_DIR) first" >&2; exit 1; \
	fi
