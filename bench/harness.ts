import * as tf from '@tensorflow/tfjs-core';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** One measured row of a benchmark's table. */
export interface BenchRow {
  case: string;
  value: number;
  unit: string;
  note?: string;
}

export interface BenchResult {
  name: string;
  description: string;
  rows: BenchRow[];
  /** Ratios computed from rows of this same run. */
  ratios: Record<string, number>;
  environment: { node: string; cpus: number; platform: string };
}

export interface Benchmark {
  name: string;
  description: string;
  run(): Promise<Omit<BenchResult, 'environment'>>;
}

/** Runs `node SCRIPT ARGS` and returns the JSON object it prints last on stdout. */
export function runNodeScript<T>(script: string, args: string[]): Promise<T> {
  return runJsonProcess<T>(process.execPath, script, args);
}

/** Runs `COMMAND SCRIPT ARGS` with extra `env` and returns the JSON object it prints last on stdout. */
export function runJsonProcess<T>(command: string, script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${script} exited with code ${code}`));
      const last = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as T);
      } catch (err) {
        reject(new Error(`${script} printed no JSON result: ${last.slice(0, 200)}`, { cause: err }));
      }
    });
  });
}

/** Clock ticks per second of /proc's CPU times (Linux's USER_HZ, 100 on every architecture it runs on). */
const USER_HZ = 100;

/**
 * CPU seconds a process has used, all its threads together (user and
 * system), from /proc; null where there is no /proc (not Linux).
 */
export function processCpuSeconds(pid: number): number | null {
  try {
    // Fields after the command name, which is parenthesized and may hold spaces: utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return null;
  }
}

/** The median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Median ms of `run(inputs)` over `repeats` calls after one warm-up, every
 * call on new tensors from `make()` (made outside the timing). XNNPACK keeps
 * an operator per weight tensor with that operand packed, so calls on the
 * same tensors would leave out the packing that training, with new
 * gradients and weights every step, always pays. Outputs are read back so
 * async backends finish.
 */
export function timeKernel(make: () => tf.NamedTensorMap, run: (inputs: tf.NamedTensorMap) => tf.Tensor, repeats: number): number {
  const times: number[] = [];
  for (let i = 0; i <= repeats; i++) {
    const inputs = make();
    const t0 = performance.now();
    const out = run(inputs);
    out.dataSync();
    if (i > 0) times.push(performance.now() - t0);
    tf.dispose([out, ...Object.values(inputs)]);
  }
  return median(times);
}

/** The value of `name{job_id="JOB"}` in a Prometheus text exposition, or null when absent. */
export function jobCounter(text: string, name: string, job: string): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.indexOf('}');
    if (!line.slice(name.length + 1, close).split(',').includes(`job_id="${job}"`)) continue;
    return Number(line.slice(close + 1).trim().split(/\s+/)[0]);
  }
  return null;
}

/**
 * The first Python that imports `modules` (as `import …` would list them):
 * `first` (TFLEET_BENCH_PYTHON), then Debian's, then PATH's; null when none does.
 */
export function findPython(modules: string, first: string | null | undefined): string | null {
  for (const python of [first, '/usr/bin/python3', 'python3']) {
    if (python && spawnSync(python, ['-c', `import ${modules}`], { stdio: 'ignore' }).status === 0) return python;
  }
  return null;
}
