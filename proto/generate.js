#!/usr/bin/env node
// Generates typed static code from the .proto contracts (protobufjs), so that
// no message type is written by hand. `--copy-to DIR` copies the generated
// JavaScript and its declarations next to the compiled TypeScript after
// `tsc` (the SDK's declarations refer to the message types).
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const here = __dirname;
const outDir = path.join(here, 'generated');
const protos = ['ps.proto', 'coordinator.proto'].map((f) => path.join(here, f));
const bin = (name) => require.resolve(`protobufjs-cli/bin/${name}`);

const copyAt = process.argv.indexOf('--copy-to');
if (copyAt >= 0) {
  const dest = path.resolve(process.argv[copyAt + 1]);
  fs.mkdirSync(dest, { recursive: true });
  for (const file of ['tfleet.js', 'tfleet.d.ts']) fs.copyFileSync(path.join(outDir, file), path.join(dest, file));
  process.exit(0);
}

fs.mkdirSync(outDir, { recursive: true });
const js = path.join(outDir, 'tfleet.js');
execFileSync(process.execPath, [bin('pbjs'), '-t', 'static-module', '-w', 'commonjs',
  '--no-verify', '--no-convert', '--no-delimited', '--force-number', '-o', js, ...protos], { stdio: 'inherit' });
execFileSync(process.execPath, [bin('pbts'), '-o', path.join(outDir, 'tfleet.d.ts'), js], { stdio: 'inherit' });
