# syntax=docker/dockerfile:1
#
# One image, six binaries: /usr/local/bin/xf-intake, xf-routing, xf-supervision,
# xf-scheduling, xf-reporting and the web console xf-console. The services share almost all of their dependency
# tree (rdkafka, sqlx, actix, OpenTelemetry), so one build compiles it once, one image
# is scanned, signed and promoted, and nodes pull one set of layers. The Helm chart
# picks the binary per Deployment (`command: [/usr/local/bin/xf-<service>]`,
# `args: [serve]`, or `[migrate]` in the migration hook Job).
#
#   docker build -t registry.example/xinfang/xinfang:0.1.0 .

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# ---- builder ------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS builder

# librdkafka is built from source by rdkafka's cmake-build feature.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      cmake build-essential zlib1g-dev libcurl4-openssl-dev pkg-config npm \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# The deployables come from the one list the Makefile and scripts read. Queries are
# checked at run time against the migrated schema (no database is needed to build).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    services="$(awk '!/^#/ && NF {print $1}' scripts/services.list)" \
 && cargo build --release --locked $(printf -- '-p xf-%s ' $services) \
 && mkdir -p /out \
 && for s in $services; do cp "target/release/xf-$s" /out/; done
# The console's pinned chart library (checksum verified), served by the console itself.
RUN XINFANG_CACHE=/assets bash scripts/console/assets.sh

# ---- runtime ------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime

# ca-certificates for TLS to Postgres/Kafka/OTLP; libcurl4 and zlib1g for librdkafka.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libcurl4 zlib1g tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 xinfang \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin xinfang

COPY --from=builder /out/ /usr/local/bin/
COPY --from=builder /assets/console-assets/echarts.min.js /usr/local/share/xinfang/console-assets/

# Fail the build if a binary misses a shared library in this image.
RUN for b in /usr/local/bin/xf-*; do \
      if ldd "$b" | grep -q 'not found'; then ldd "$b"; exit 1; fi; \
    done

LABEL org.opencontainers.image.title="xinfang" \
      org.opencontainers.image.description="Xinfang services: xf-intake, xf-routing, xf-supervision, xf-scheduling, xf-reporting, xf-console" \
      org.opencontainers.image.licenses="Apache-2.0"

# Numeric user so Kubernetes can enforce runAsNonRoot.
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080 8081 8082 8083 8084 8085
# No default service: run one of the binaries, e.g.
#   docker run --rm IMAGE xf-routing config-keys
CMD ["xf-intake", "config-keys"]
