/**
 * The benchmark runner: `npm run bench [-- NAME...]`. Writes one JSON file
 * per benchmark and a markdown table to bench/results/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Benchmark, BenchResult } from './harness';
import { cnnTrain } from './cnn-train';
import { fashionFull } from './fashion-full';
import { faults } from './faults';
import { psThroughput } from './ps-throughput';
import { recommenders } from './recommenders';
import { text } from './text';
import { trees } from './trees';
import { wasmBackward } from './wasm-backward';
import { wasmKernels } from './wasm-kernels';

const ALL: Benchmark[] = [psThroughput, wasmKernels, wasmBackward, cnnTrain, fashionFull, trees, recommenders, text, faults];

function table(r: BenchResult): string {
  const lines = [`## ${r.name}`, '', r.description, '', '| case | value | unit | note |', '| --- | ---: | --- | --- |'];
  for (const row of r.rows) lines.push(`| ${row.case} | ${row.value.toFixed(Math.abs(row.value) < 10 ? 4 : 2)} | ${row.unit} | ${row.note ?? ''} |`);
  lines.push('', '| ratio (same run) | value |', '| --- | ---: |');
  for (const [k, v] of Object.entries(r.ratios)) lines.push(`| ${k} | ${v.toFixed(2)} |`);
  return lines.join('\n');
}

async function main(names: string[]): Promise<void> {
  const chosen = names.length ? ALL.filter((b) => names.includes(b.name)) : ALL;
  const unknown = names.filter((n) => !ALL.some((b) => b.name === n));
  if (unknown.length) throw new Error(`unknown benchmark(s): ${unknown.join(', ')} (known: ${ALL.map((b) => b.name).join(', ')})`);
  const outDir = join(__dirname, '..', '..', 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const environment = { node: process.version, cpus: cpus().length, platform: `${process.platform}-${process.arch}` };
  const sections: string[] = [];
  for (const b of chosen) {
    process.stderr.write(`bench: ${b.name}...\n`);
    const result: BenchResult = { ...(await b.run()), environment };
    writeFileSync(join(outDir, `${b.name}.json`), JSON.stringify(result, null, 2));
    sections.push(table(result));
  }
  const md = sections.join('\n\n') + `\n\n_${environment.node}, ${environment.cpus} cores, ${environment.platform}_\n`;
  writeFileSync(join(outDir, 'results.md'), md);
  process.stdout.write(md);
}

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exit(1);
});
