#!/usr/bin/env python3
"""Validates the custom resources in rendered chart output.

Kinds and how they are checked:
  ScaledObject (keda.sh/v1alpha1), ServiceMonitor (monitoring.coreos.com/v1):
      the @kubernetes-models validators (generated from the operators' Go API types:
      types, required fields, enums), run with node by validate-crds.mjs.
  KafkaTopic (kafka.strimzi.io/v1beta2): the strict JSON Schema below, written from
      Strimzi's documented KafkaTopic spec (no validator package exists for it).
Any other custom kind fails the check, so new kinds must come with a validator.

Usage: crd_check.py MODULES_DIR NAME=FILE.yaml [...]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import jsonschema
import yaml

CORE_GROUPS = {"v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v2",
               "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1"}
NODE_KINDS = {"keda.sh/v1alpha1/ScaledObject", "keda.sh/v1alpha1/TriggerAuthentication",
              "monitoring.coreos.com/v1/ServiceMonitor"}

DNS_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
KAFKA_TOPIC = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "kafka.strimzi.io/v1beta2"},
        "kind": {"const": "KafkaTopic"},
        "metadata": {
            "type": "object",
            "required": ["name", "labels"],
            "properties": {
                "name": {"type": "string", "maxLength": 253,
                         "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"},
                "labels": {**DNS_LABELS, "required": ["strimzi.io/cluster"]},
                "annotations": DNS_LABELS,
            },
        },
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "topicName": {"type": "string", "pattern": r"^[a-zA-Z0-9._-]{1,249}$"},
                "partitions": {"type": "integer", "minimum": 1},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
                "config": {"type": "object",
                           "additionalProperties": {"type": ["string", "integer", "number", "boolean"]}},
            },
        },
    },
}


def main() -> int:
    modules, renders = sys.argv[1], sys.argv[2:]
    node_docs, failed, checked = [], 0, 0
    for spec in renders:
        name, _, path = spec.partition("=")
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if isinstance(d, dict) and d.get("kind")]
        for d in docs:
            key = f"{d['apiVersion']}/{d['kind']}"
            if d["apiVersion"] in CORE_GROUPS:
                continue  # kubernetes-validate's job
            where = f"{name}: {d['kind']}/{d['metadata'].get('name')}"
            if key in NODE_KINDS:
                node_docs.append({"source": name, "doc": d})
            elif key == "kafka.strimzi.io/v1beta2/KafkaTopic":
                checked += 1
                errs = sorted(jsonschema.Draft7Validator(KAFKA_TOPIC).iter_errors(d), key=str)
                if errs:
                    failed += 1
                    for e in errs:
                        print(f"FAIL {where}: {'/'.join(map(str, e.path))}: {e.message}")
                else:
                    print(f"ok   {where}")
            else:
                failed += 1
                print(f"FAIL {where}: no validator for custom kind {key}")
    if node_docs:
        checked += len(node_docs)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as tmp:
            json.dump(node_docs, tmp)
        try:
            rc = subprocess.run(["node", os.path.join(os.path.dirname(__file__), "validate-crds.mjs"),
                                 modules, tmp.name]).returncode
        finally:
            os.unlink(tmp.name)
        if rc != 0:
            failed += 1
    print(f"custom resources: {checked} checked, {'FAILED' if failed else 'ok'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
