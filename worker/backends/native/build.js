#!/usr/bin/env node
// Builds tfleet's oneDNN addon with node-gyp against this Node's own headers.
// Run by `npm install`/`npm ci` (the package's install script) and by
// `npm run build:native`. The addon is optional: when it cannot be built,
// this prints one line saying how to enable it and exits 0, and workers use
// wasm. `--required` makes a failed build an error (CI, where oneDNN is installed).
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, writeFileSync, mkdirSync } = require('node:fs');
const { dirname, join } = require('node:path');

const HERE = __dirname;
const required = process.argv.includes('--required');
const HINT = 'install a C++ compiler and oneDNN (Debian: apt install g++ libdnnl-dev), then run npm run build:native';

function skip(reason) {
  if (required) {
    console.error(`tfleet: the native oneDNN backend could not be built: ${reason}`);
    process.exit(1);
  }
  console.log(`tfleet: native oneDNN backend not built (${reason}); workers use wasm. To enable it: ${HINT}.`);
  process.exit(0);
}

if (process.env.TFLEET_NATIVE === 'off') skip('TFLEET_NATIVE=off');

// A one-line probe for the compiler and oneDNN's header, so that a machine
// without them gets the reason rather than a compiler's page of errors.
const cxx = process.env.CXX || 'c++';
const probe = spawnSync(cxx, ['-x', 'c++', '-std=c++17', '-fsyntax-only', '-'], { input: '#include <oneapi/dnnl/dnnl.hpp>\n', encoding: 'utf8' });
if (probe.error) skip(`no C++ compiler (${cxx})`);
if (probe.status !== 0) skip("oneDNN's headers are missing");

function nodeGyp() {
  // npm names the node-gyp it bundles; outside npm, look beside this Node's npm.
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((p) => p && existsSync(p));
}

const gyp = nodeGyp();
if (!gyp) skip('node-gyp was not found (it comes with npm)');
const args = [gyp, 'rebuild'];
// Node's own headers: those of the running Node's install prefix, never a download.
const prefix = join(dirname(process.execPath), '..');
const nodedir = process.env.npm_config_nodedir || (existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : '');
if (nodedir) args.push(`--nodedir=${nodedir}`);
const build = spawnSync(process.execPath, args, { cwd: HERE, encoding: 'utf8' });
if (build.status !== 0) {
  const log = join(HERE, 'build', 'build.log');
  mkdirSync(dirname(log), { recursive: true });
  writeFileSync(log, `${build.stdout ?? ''}\n${build.stderr ?? ''}`);
  skip(`node-gyp failed; its output is in worker/backends/native/build/build.log`);
}
const check = spawnSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(join(HERE, 'build', 'Release', 'tfleet_dnnl.node'))}).describe())`], { encoding: 'utf8' });
if (check.status !== 0) skip(`the built addon does not load: ${(check.stderr || '').split('\n').find((l) => l.trim()) ?? 'unknown error'}`);
console.log(`tfleet: native backend built (${check.stdout.trim()}).`);
