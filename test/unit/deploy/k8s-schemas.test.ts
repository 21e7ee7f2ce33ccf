import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { DEPLOY, yamlFiles } from '../../harness/deploy-files';
import { ROOT } from '../../harness/paths';

/**
 * Every Kubernetes object in deploy/, checked offline against the API's own
 * schemas as the kubernetes-models package ships them (Kubernetes 1.27):
 * types, required fields, enums and formats by the package's validators,
 * and field names by TypeScript's excess-property check against the
 * package's declarations (the validators, like a lenient API server,
 * accept fields they do not know, so a misspelt `imagePullPolicy` would
 * pass them silently).
 */

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string };
}

interface Found {
  file: string;
  object: K8sObject;
}

/** Documents with a string apiVersion and a kind: Kubernetes objects (Grafana's provisioning files have a numeric apiVersion and no kind). */
function kubernetesObjects(): Found[] {
  return yamlFiles(DEPLOY).flatMap((file) => parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as unknown)
    .filter((o): o is K8sObject => typeof o === 'object' && o !== null && typeof (o as K8sObject).apiVersion === 'string' && typeof (o as K8sObject).kind === 'string')
    .map((object) => ({ file: file.slice(ROOT.length + 1), object })));
}

/** The package module of an apiVersion and kind: `v1` is the core group. */
function modelModule(o: K8sObject): string {
  return `kubernetes-models/${o.apiVersion}/${o.kind}`;
}

interface ModelClass {
  new (data: unknown): { validate(): void };
}

function modelOf(o: K8sObject): ModelClass {
  const mod = require(modelModule(o)) as Record<string, ModelClass | undefined>;
  const model = mod[o.kind];
  if (!model) throw new Error(`kubernetes-models has no ${o.kind} in ${o.apiVersion}`);
  return model;
}

/** The schema's complaint about an object, or null when it validates. */
function schemaError(o: K8sObject): string | null {
  try {
    new (modelOf(o))(o).validate();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * TypeScript's diagnostics for the objects assigned to the package's
 * interfaces as object literals: unknown fields, wrong types, bad enums.
 */
function typeErrors(objects: K8sObject[]): string[] {
  const source = objects.map((o, i) =>
    `import { I${o.kind} as T${i} } from '${modelModule(o)}';\nexport const o${i}: T${i} = ${JSON.stringify(o, null, 1)};`).join('\n');
  const file = join(ROOT, 'test', 'unit', 'deploy', '__k8s-objects.ts');
  const options: ts.CompilerOptions = { strict: true, noEmit: true, skipLibCheck: true, module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, target: ts.ScriptTarget.ES2022, types: [] };
  const host = ts.createCompilerHost(options);
  const read = host.readFile.bind(host);
  host.readFile = (name) => (name === file ? source : read(name));
  const exists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || exists(name);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? `line ${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ` : '';
    return where + ts.flattenDiagnosticMessageText(d.messageText, '\n');
  });
}

describe('Kubernetes objects in deploy/ against the API schemas', () => {
  const found = kubernetesObjects();

  it('are found: the claim, the service and both deployments', () => {
    expect(found.map((f) => `${f.object.kind}/${f.object.metadata?.name}`).sort()).toEqual([
      'Deployment/tfleet-coordinator', 'Deployment/tfleet-worker', 'PersistentVolumeClaim/tfleet-data', 'Service/tfleet-coordinator',
    ].sort());
  });

  it('each validates against its kind\'s schema', () => {
    for (const { file, object } of found) expect(schemaError(object), `${file}: ${object.kind} ${object.metadata?.name}`).toBeNull();
  });

  it('each names only fields its kind has (TypeScript against the package\'s declarations)', () => {
    expect(typeErrors(found.map((f) => f.object))).toEqual([]);
  }, 60_000);

  it('a broken deployment is refused by both checks: a count as a string, a misspelt field', () => {
    const deployment = found.find((f) => f.object.kind === 'Deployment')!.object as K8sObject & { spec: { replicas?: unknown; template: { spec: { containers: Record<string, unknown>[] } } } };
    const badCount = structuredClone(deployment);
    badCount.spec.replicas = 'two';
    expect(schemaError(badCount)).toMatch(/replicas must be integer/);
    const misspelt = structuredClone(deployment);
    misspelt.spec.template.spec.containers[0].imagePullPolicyy = 'IfNotPresent';
    expect(schemaError(misspelt)).toBeNull();
    expect(typeErrors([misspelt]).join('\n')).toMatch(/imagePullPolicyy.{0,4} does not exist in type 'IContainer'/);
  }, 60_000);
});
