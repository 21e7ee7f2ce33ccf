import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ArgumentError } from '../shared/errors';
import { DATA_PATH_FIELDS } from '../shared/sdk/upload';

function getAt(obj: Record<string, unknown>, path: string): unknown {
  if (path === '') return obj;
  return path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
}

/**
 * Sets one field of a spec from `key.path=VALUE`; VALUE is parsed as JSON
 * when it parses, else kept as a string.
 *
 * @throws ArgumentError naming the override when it has no '=' or crosses a non-object.
 */
export function applySet(spec: Record<string, unknown>, assignment: string): string {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new ArgumentError(`--set expects key.path=VALUE, got '${assignment}'`);
  const path = assignment.slice(0, eq);
  const text = assignment.slice(eq + 1);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = text; // Not JSON: a plain string, as documented.
  }
  const keys = path.split('.');
  if (keys.some((k) => k === '' || k === '__proto__' || k === 'constructor' || k === 'prototype')) {
    throw new ArgumentError(`--set: invalid key path '${path}'`);
  }
  let node: Record<string, unknown> = spec;
  for (const k of keys.slice(0, -1)) {
    const next = node[k];
    if (next === undefined) node[k] = {};
    else if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      throw new ArgumentError(`--set ${path}: '${k}' is not an object`);
    }
    node = node[k] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]] = value;
  return path;
}

function resolveAt(spec: Record<string, unknown>, path: string, base: string): void {
  const value = getAt(spec, path);
  if (typeof value !== 'string' || value === '' || isAbsolute(value)) return;
  const keys = path.split('.');
  const parent = getAt(spec, keys.slice(0, -1).join('.')) as Record<string, unknown>;
  parent[keys[keys.length - 1]] = resolve(base, value);
}

/**
 * Reads a job spec file and applies `--set` overrides. Data paths written
 * in the file resolve against the file's folder; paths given with `--set`
 * and `output` resolve against the working directory.
 *
 * @throws ArgumentError naming the file when it cannot be read or parsed.
 */
export function loadSpecFile(file: string, sets: readonly string[], cwd: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ArgumentError(`cannot read job spec ${file}: ${(err as Error).message}`, { cause: err });
  }
  let spec: unknown;
  const yaml = /\.ya?ml$/i.test(file);
  try {
    // YAML specs become the same object a JSON spec is (the coordinator only ever sees JSON).
    spec = yaml ? parseYaml(text, { maxAliasCount: 100 }) : JSON.parse(text);
  } catch (err) {
    throw new ArgumentError(`job spec ${file} is not valid ${yaml ? 'YAML' : 'JSON'}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new ArgumentError(`job spec ${file} must hold ${yaml ? 'a YAML mapping' : 'a JSON object'}`);
  const obj = spec as Record<string, unknown>;
  // Data paths resolve before the spec leaves this machine.
  for (const p of DATA_PATH_FIELDS) resolveAt(obj, p, dirname(resolve(cwd, file)));
  const overridden = sets.map((s) => applySet(obj, s));
  // `--set data.train={"path":...}` sets data.train.path as surely as `--set data.train.path=...` does.
  const setHere = (field: string): boolean => overridden.some((p) => field === p || field.startsWith(`${p}.`));
  for (const p of DATA_PATH_FIELDS) if (setHere(p)) resolveAt(obj, p, cwd);
  resolveAt(obj, 'output', cwd);
  inlineTopology(obj, setHere('model.topologyFile') ? cwd : dirname(resolve(cwd, file)));
  return obj;
}

/**
 * Reads `model.topologyFile` (a keras topology JSON) into `model.topology`,
 * so that the spec carries the network and no other host needs the file.
 *
 * @throws ArgumentError naming the file when it cannot be read or parsed.
 */
function inlineTopology(spec: Record<string, unknown>, base: string): void {
  const model = spec.model as Record<string, unknown> | undefined;
  if (typeof model?.topologyFile !== 'string') return;
  const path = resolve(base, model.topologyFile);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ArgumentError(`model.topologyFile: cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    model.topology = JSON.parse(text);
  } catch (err) {
    throw new ArgumentError(`model.topologyFile: ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  delete model.topologyFile;
}
