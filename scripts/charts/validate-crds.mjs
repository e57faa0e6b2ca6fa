// Validates rendered custom resources with the @kubernetes-models validators, which
// are generated from the upstream operators' Go API types (field types, required
// fields, enums). Usage: node validate-crds.mjs MODULES_DIR FILE.json
// FILE.json: [{"source": "...", "doc": {...}}, ...]; prints one line per resource,
// exits 1 if any fails.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [modulesDir, file] = process.argv.slice(2);
const MODELS = {
  "keda.sh/v1alpha1/ScaledObject": "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject.js",
  "keda.sh/v1alpha1/TriggerAuthentication": "@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication.js",
  "monitoring.coreos.com/v1/ServiceMonitor": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor.js",
};

let failed = 0;
for (const { source, doc } of JSON.parse(readFileSync(file, "utf8"))) {
  const key = `${doc.apiVersion}/${doc.kind}`;
  const where = `${source}: ${doc.kind}/${doc.metadata?.name}`;
  const modPath = MODELS[key];
  if (!modPath) {
    console.log(`FAIL ${where}: no validator for ${key}`);
    failed++;
    continue;
  }
  const mod = await import(pathToFileURL(join(modulesDir, modPath)).href);
  try {
    new mod[doc.kind](doc).validate();
    console.log(`ok   ${where}`);
  } catch (e) {
    console.log(`FAIL ${where}: ${e.message}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
