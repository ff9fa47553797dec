// Validates the custom resources in rendered manifests against the schemas of
// their CRDs, as published in the @kubernetes-models packages (generated
// from the cert-manager, CloudNativePG and Prometheus-operator releases).
//
// Two checks, because the generated validators alone accept unknown fields:
// each object is validated by its model (types, enums, patterns, required
// fields), and each is type-checked as an object literal of its model's
// TypeScript interface, where an unknown field at any depth is an error.
//
// Usage: node check.mjs RENDERED.yaml...   (exit 1 on any finding)
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { parseAllDocuments } from "yaml";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

// apiVersion/kind → the model's module; every custom kind deploy/ uses.
const MODELS = {
  "cert-manager.io/v1/Issuer": "@kubernetes-models/cert-manager/cert-manager.io/v1/Issuer",
  "cert-manager.io/v1/Certificate": "@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate",
  "postgresql.cnpg.io/v1/Cluster": "@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1/Cluster",
  "postgresql.cnpg.io/v1/ScheduledBackup":
    "@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1/ScheduledBackup",
  "monitoring.coreos.com/v1/PodMonitor":
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor",
};

// Core groups are validated by kubernetes-validate; anything else must be known here.
const isCore = (apiVersion) => !apiVersion.includes(".") || apiVersion.endsWith(".k8s.io/v1");

const findings = [];
const checked = [];
for (const path of process.argv.slice(2)) {
  for (const document of parseAllDocuments(readFileSync(path, "utf8"))) {
    const object = document.toJS();
    if (!object) continue;
    const key = `${object.apiVersion}/${object.kind}`;
    const name = `${path}: ${object.kind} ${object.metadata?.name}`;
    if (isCore(object.apiVersion)) continue;
    const module = MODELS[key];
    if (!module) {
      findings.push(`${name}: no schema known for ${key}`);
      continue;
    }
    const Model = require(module)[object.kind];
    try {
      new Model(object).validate();
    } catch (error) {
      findings.push(`${name}: ${error.message}`);
    }
    checked.push({ name, module, kind: object.kind, object });
  }
}

// One typed literal per object; diagnostics are mapped back by line.
const lines = [];
const owners = [];
checked.forEach(({ name, module, kind, object }, index) => {
  lines.push(`import type { I${kind} as T${index} } from "${module}";`);
  owners.push(name);
});
const firstObjectLine = lines.length;
checked.forEach(({ object }, index) => {
  lines.push(`export const object${index}: T${index} = ${JSON.stringify(object)};`);
});
const scratch = mkdtempSync(join(here, ".check-"));
try {
  const file = join(scratch, "objects.ts");
  writeFileSync(file, lines.join("\n") + "\n");
  const program = ts.createProgram([file], {
    noEmit: true,
    strict: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  });
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n  ");
    if (!diagnostic.file) {
      findings.push(message);
      continue;
    }
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    const owner = owners[line - firstObjectLine] ?? "(imports)";
    findings.push(`${owner}: ${message}`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

for (const finding of findings) console.error(finding);
console.log(`${checked.length} custom resources checked, ${findings.length} findings`);
process.exit(findings.length === 0 && checked.length > 0 ? 0 : 1);
