#!/usr/bin/env python3
"""Chart/binary agreement check.

For every workload the chart renders (Deployments and the migration hook Jobs), find
the service binary from the container's command, ask that binary which environment
variables it accepts (`<bin> config-keys`, lines "NAME<TAB>required|optional"), and
fail when

  * the chart sets an XF_* (or XINFANG_*) variable the binary does not accept
    (the services refuse unknown XF_ keys at start-up), or
  * a variable the binary marks `required` is not set by the chart, or
  * XF_HTTP__PORT disagrees with the container's "http" port, or
  * a service's binary is missing, fails, or prints malformed output.

Usage: agreement.py --bin-dir DIR [--expect-all RENDER] RENDER=FILE.yaml [...]

--expect-all names a render (e.g. "default") in which each of the five services must
appear as both a Deployment and a migration Job, and the console as a Deployment.
Needs PyYAML (installed with kubernetes-validate in the tools venv).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

import yaml

SERVICES = ["intake", "routing", "supervision", "scheduling", "reporting"]
# Deployables without a schema (no migration Job): the web console.
FRONTENDS = ["console"]
CHECKED_PREFIXES = ("XF_", "XINFANG_")
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}


class KeysError(Exception):
    pass


def config_keys(bin_dir: str, binary: str) -> dict[str, str]:
    """Return {NAME: "required"|"optional"} as printed by `<binary> config-keys`."""
    path = os.path.join(bin_dir, binary)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise KeysError(f"{path}: not found or not executable (build the services first)")
    # A clean environment: config-keys must not depend on configuration.
    env = {k: v for k, v in os.environ.items() if not k.startswith(CHECKED_PREFIXES)}
    try:
        proc = subprocess.run([path, "config-keys"], capture_output=True, text=True,
                              timeout=60, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise KeysError(f"{path} config-keys: timed out")
    if proc.returncode != 0:
        raise KeysError(f"{path} config-keys: exit {proc.returncode}: {proc.stderr.strip()[:300]}")
    keys: dict[str, str] = {}
    for n, line in enumerate(proc.stdout.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.rstrip("\r").split("\t")
        if len(parts) != 2 or parts[1] not in ("required", "optional") or not parts[0]:
            raise KeysError(f"{path} config-keys: line {n} is not NAME<TAB>required|optional: {line!r}")
        keys[parts[0]] = parts[1]
    if not keys:
        raise KeysError(f"{path} config-keys: printed no keys")
    return keys


def pod_spec(doc: dict) -> dict | None:
    spec = doc.get("spec") or {}
    if doc["kind"] == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return ((spec.get("template") or {}).get("spec")) or None


def env_names(container: dict, configmaps: dict[str, dict], problems: list[str]) -> dict[str, object]:
    """Names (and, where known, values) of the container's environment."""
    out: dict[str, object] = {}
    for src in container.get("envFrom") or []:
        prefix = src.get("prefix", "")
        if "configMapRef" in src:
            name = src["configMapRef"]["name"]
            if name not in configmaps:
                problems.append(f"envFrom ConfigMap {name!r} is not rendered by the chart; its keys cannot be checked")
                continue
            for k, v in (configmaps[name].get("data") or {}).items():
                out[prefix + k] = v
        else:
            problems.append(f"envFrom {list(src)} cannot be checked; set XF_ variables as explicit env entries")
    for e in container.get("env") or []:
        val: object = e.get("value")
        ref = (e.get("valueFrom") or {}).get("configMapKeyRef")
        if ref and ref.get("name") in configmaps:
            val = (configmaps[ref["name"]].get("data") or {}).get(ref.get("key"))
            if val is None:
                problems.append(f"env {e['name']}: ConfigMap {ref['name']!r} has no key {ref.get('key')!r}")
        out[e["name"]] = val
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--expect-all", default=None)
    ap.add_argument("renders", nargs="+", help="NAME=FILE")
    args = ap.parse_args()

    keys: dict[str, dict[str, str]] = {}
    key_errors: dict[str, str] = {}
    for svc in SERVICES + FRONTENDS:
        binary = f"xf-{svc}"
        try:
            keys[binary] = config_keys(args.bin_dir, binary)
        except KeysError as e:
            key_errors[binary] = str(e)

    rows: list[tuple[str, str, str, str, str]] = []
    failures: list[str] = []
    seen: dict[str, set[tuple[str, str]]] = {}

    print(f"binaries from {args.bin_dir}:")
    for svc in SERVICES + FRONTENDS:
        b = f"xf-{svc}"
        if b in keys:
            req = sum(1 for v in keys[b].values() if v == "required")
            print(f"  {b:<16} {len(keys[b]):>3} keys ({req} required)")
        else:
            print(f"  {b:<16} ERROR {key_errors[b]}")
            failures.append(key_errors[b])
    print()

    for spec in args.renders:
        render, _, path = spec.partition("=")
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if isinstance(d, dict) and d.get("kind")]
        configmaps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
        seen[render] = set()
        for doc in docs:
            if doc["kind"] not in WORKLOAD_KINDS:
                continue
            ps = pod_spec(doc)
            if not ps:
                continue
            for c in (ps.get("initContainers") or []) + (ps.get("containers") or []):
                where = f"{doc['kind']}/{doc['metadata']['name']}:{c['name']}"
                problems: list[str] = []
                cmd = c.get("command") or []
                binary = os.path.basename(cmd[0]) if cmd else ""
                env = env_names(c, configmaps, problems)
                set_names = {n for n in env if n.startswith(CHECKED_PREFIXES)}
                if binary not in keys:
                    if binary.startswith("xf-") or set_names:
                        msg = key_errors.get(binary) or f"command {cmd!r} is not one of the service binaries"
                        problems.append(msg)
                    else:
                        continue  # not a service container
                else:
                    seen[render].add((binary, doc["kind"]))
                    accepted = keys[binary]
                    unknown = sorted(set_names - accepted.keys())
                    missing = sorted(k for k, v in accepted.items() if v == "required" and k not in env)
                    if unknown:
                        problems.append("not accepted by the binary: " + ", ".join(unknown))
                    if missing:
                        problems.append("required but not set: " + ", ".join(missing))
                    ports = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
                    port_val = env.get("XF_HTTP__PORT")
                    if "http" in ports and port_val is not None and str(port_val) != str(ports["http"]):
                        problems.append(f"XF_HTTP__PORT={port_val} but containerPort http={ports['http']}")
                status = "ok" if not problems else "FAIL"
                rows.append((render, where, binary or "-", str(len(set_names)), status))
                for p in problems:
                    failures.append(f"[{render}] {where}: {p}")

    if args.expect_all:
        got = seen.get(args.expect_all, set())
        for svc in SERVICES:
            for kind in ("Deployment", "Job"):
                if (f"xf-{svc}", kind) not in got:
                    failures.append(f"[{args.expect_all}] no {kind} runs xf-{svc}")
        for svc in FRONTENDS:
            if (f"xf-{svc}", "Deployment") not in got:
                failures.append(f"[{args.expect_all}] no Deployment runs xf-{svc}")

    w = max([len(r[1]) for r in rows] + [8])
    print(f"{'render':<12} {'workload':<{w}} {'binary':<16} {'XF vars':>7}  result")
    print(f"{'-' * 12} {'-' * w} {'-' * 16} {'-' * 7}  ------")
    for r in rows:
        print(f"{r[0]:<12} {r[1]:<{w}} {r[2]:<16} {r[3]:>7}  {r[4]}")
    print()
    if failures:
        print("chart/binary agreement FAILED:")
        for f in failures:
            print(f"  - {f}")
        return 1
    print(f"chart/binary agreement ok: {len(rows)} containers checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
