import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Fleet, launchFleet } from '../bin/fleet';
import { loadSpecFile } from '../bin/spec-file';
import { CoordinatorApi } from '../shared/rpc/clients';
import { Benchmark, BenchRow, findPython, jobCounter as counter, runJsonProcess } from './harness';

/** A recommender job of this benchmark: its example spec is `examples/movielens-NAME.json`. */
export type Algorithm = 'mf' | 'als' | 'baseline' | 'knn';
const ALGORITHMS: readonly Algorithm[] = ['mf', 'als', 'baseline', 'knn'];

/** What one run of this benchmark trains. */
export interface RecommendersSettings {
  /** MovieLens 100K folds run, u1 to uN. @default 5 */
  folds: number;
  /** Algorithms run, in the order of {@link ALGORITHMS}. @default all four */
  algorithms: Algorithm[];
  /** Fleet sizes, in worker processes; one fleet per size. @default [1, 4] */
  workers: number[];
  /** An interpreter to try first for the numpy reference. */
  python: string | null;
}

/** MovieLens 100K ships five folds, u1 to u5. */
const MAX_FOLDS = 5;

/**
 * The only place this benchmark reads the environment:
 * `TFLEET_BENCH_RECS_FOLDS` (1 to 5), `TFLEET_BENCH_RECS_ONLY` (a comma list
 * of mf, als, baseline, knn), `TFLEET_BENCH_RECS_WORKERS` (a comma list of
 * fleet sizes), and `TFLEET_BENCH_PYTHON` as `bench/trees.ts` reads it.
 *
 * @throws Error naming the variable when its value is not one it accepts.
 */
export function recommendersSettings(env: NodeJS.ProcessEnv = process.env): RecommendersSettings {
  const list = (name: string): string[] => (env[name] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  const positive = (name: string, text: string, max = Infinity): number => {
    const v = Number(text);
    if (!Number.isInteger(v) || v < 1 || v > max) throw new Error(`${name} must be an integer from 1${max === Infinity ? ' up' : ` to ${max}`}, got '${text}'`);
    return v;
  };
  const folds = env.TFLEET_BENCH_RECS_FOLDS;
  const only = list('TFLEET_BENCH_RECS_ONLY');
  const unknown = only.filter((a) => !(ALGORITHMS as readonly string[]).includes(a));
  if (unknown.length) throw new Error(`TFLEET_BENCH_RECS_ONLY: unknown algorithm(s) ${unknown.map((a) => `'${a}'`).join(', ')} (known: ${ALGORITHMS.join(', ')})`);
  const workers = list('TFLEET_BENCH_RECS_WORKERS').map((w) => positive('TFLEET_BENCH_RECS_WORKERS', w));
  return {
    folds: folds === undefined || folds === '' ? MAX_FOLDS : positive('TFLEET_BENCH_RECS_FOLDS', folds, MAX_FOLDS),
    algorithms: only.length ? ALGORITHMS.filter((a) => only.includes(a)) : [...ALGORITHMS],
    workers: workers.length ? [...new Set(workers)] : [1, 4],
    python: env.TFLEET_BENCH_PYTHON || null,
  };
}

const ROOT = resolve(__dirname, '..', '..');
const DATA = resolve(ROOT, '..', 'shared', 'data', 'ml-100k');
const REFERENCE_SCRIPT = join(ROOT, 'bench', 'recommenders-reference.py');
/** The reference's numpy generator seed, passed as `--seed`. */
const REFERENCE_SEED = 0;

/** One MovieLens 100K fold: its files and what the dense traffic estimate needs of its training file. */
export interface Fold {
  name: string;
  train: string;
  test: string;
  trainRatings: number;
  trainItems: number;
}

/** What the bench reads of an mf (SGD) spec to size the dense traffic estimate. */
export interface SgdShape { epochs: number; factors: number; batchSize: number }

/** One tfleet job's wall time (s) and test scores. */
export interface JobRun {
  seconds: number;
  rmse: number;
  mae: number;
  /** mf with SGD only: parameter-server push + pull bytes of the whole job. */
  psBytes?: number;
  sgd?: SgdShape;
}

/** One reference algorithm on one fold, as bench/recommenders-reference.py prints it. */
export interface ReferenceScore { rmse: number; mae: number; fitSeconds: number; testSeconds: number }
/** The reference's output for one fold. */
export interface ReferenceRun { numpy: string; svd?: ReferenceScore; baseline?: ReferenceScore }

/** The key of one job in a run's map of jobs. */
const key = (algorithm: Algorithm, workers: number, fold: string) => `${algorithm} ${workers}w ${fold}`;

/** Ratings and distinct items of a `user<TAB>item<TAB>rating<TAB>time` file. */
function fold(k: number): Fold {
  const name = `u${k}`;
  const train = join(DATA, `${name}.base`), test = join(DATA, `${name}.test`);
  for (const f of [train, test]) if (!existsSync(f)) throw new Error(`recommenders: MovieLens 100K fold file ${f} is missing (expected the ml-100k folder at ${DATA})`);
  const lines = readFileSync(train, 'utf8').split('\n').filter((l) => l.trim() !== '');
  return { name, train, test, trainRatings: lines.length, trainItems: new Set(lines.map((l) => l.split('\t')[1])).size };
}


/** Push + pull bytes the coordinator's parameter server counted for one job. */
async function psBytes(url: string, job: string): Promise<number> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const text = await res.text();
  const push = counter(text, 'tfleet_ps_push_bytes_total', job);
  const pull = counter(text, 'tfleet_ps_pull_bytes_total', job);
  if (push === null || pull === null) throw new Error(`${url}: no tfleet_ps_{push,pull}_bytes_total for job '${job}' (push ${push}, pull ${pull})`);
  return push + pull;
}

/** `model.KEY` of a loaded spec as an integer ≥ 1. @throws Error naming the file and key otherwise. */
function modelInt(spec: Record<string, unknown>, key: string, file: string): number {
  const v = (spec.model as Record<string, unknown> | undefined)?.[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`${file}: the traffic estimate needs 'model.${key}' as an integer ≥ 1, got ${JSON.stringify(v)}`);
  return v;
}

/** One job of `algorithm` on fold `f`, on a fleet already started with `workers` workers. */
async function tfleetJob(fleet: Fleet, api: CoordinatorApi, dir: string, algorithm: Algorithm, workers: number, f: Fold): Promise<JobRun> {
  const file = join(ROOT, 'examples', `movielens-${algorithm}.json`);
  const spec = loadSpecFile(file, [
    `data.train.path=${f.train}`, `data.test.path=${f.test}`,
    `workers=${workers}`, `output=${join(dir, `${algorithm}-${workers}w-${f.name}`)}`,
  ], process.cwd());
  // Read before the job runs, so that a spec without these fails in seconds.
  const sgd = algorithm === 'mf'
    ? { epochs: modelInt(spec, 'epochs', file), factors: modelInt(spec, 'factors', file), batchSize: modelInt(spec, 'batchSize', file) }
    : undefined;
  const label = `${algorithm} ${workers}w ${f.name}`;
  const t0 = performance.now();
  const submitted = await api.submit(JSON.stringify(spec));
  const final = await api.watchJob(submitted.id, (r) => process.stderr.write(`\r${label}: ${r.state} ${r.epoch}/${r.epochs}  `));
  const seconds = (performance.now() - t0) / 1000;
  process.stderr.write('\n');
  if (final.state !== 'succeeded') throw new Error(`tfleet ${label}: job ${final.state}: ${final.error}`);
  const test = final.metrics.test?.values;
  if (typeof test?.rmse !== 'number' || typeof test?.mae !== 'number') {
    throw new Error(`tfleet ${label}: job ${submitted.id} has no metrics.test rmse and mae (test metrics: ${JSON.stringify(test ?? null)})`);
  }
  const run: JobRun = { seconds, rmse: test.rmse, mae: test.mae };
  if (sgd) {
    run.sgd = sgd;
    run.psBytes = await psBytes(fleet.coordinator.ready.metrics, submitted.id);
  }
  return run;
}

/**
 * Every algorithm on every fold on one fleet of `workers` processes, kept
 * for the whole size so that start-up is not counted per fold.
 */
async function fleetRuns(workers: number, s: RecommendersSettings, folds: Fold[], runs: Map<string, JobRun>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-bench-'));
  // Recommenders train on typed arrays; launchFleet needs a tfjs backend all the same.
  const fleet = await launchFleet({ workers, port: 0, metricsPort: 0, stateDir: join(dir, 'state'), natsUrl: '', backend: 'cpu' });
  const api = new CoordinatorApi(fleet.coordinator.ready.grpc!);
  try {
    for (const algorithm of s.algorithms) {
      for (const f of folds) runs.set(key(algorithm, workers, f.name), await tfleetJob(fleet, api, dir, algorithm, workers, f));
    }
  } finally {
    api.close();
    await fleet.stop();
  }
}

/** Which reference algorithms this run compares with: svd beside mf/als, baseline beside baseline. */
function referenceAlgorithms(s: RecommendersSettings): string[] {
  return [
    ...(s.algorithms.includes('mf') || s.algorithms.includes('als') ? ['svd'] : []),
    ...(s.algorithms.includes('baseline') ? ['baseline'] : []),
  ];
}

function referenceRun(python: string, f: Fold, algorithms: string[]): Promise<ReferenceRun> {
  const args = ['--train', f.train, '--test', f.test, '--algorithms', algorithms.join(','), '--seed', String(REFERENCE_SEED)];
  // OpenBLAS would start a pool for 100-long dot products.
  return runJsonProcess<ReferenceRun>(python, REFERENCE_SCRIPT, args, { OPENBLAS_NUM_THREADS: '1' });
}

/**
 * The bytes a dense push and pull of the whole item table (factors and
 * bias, float32) would move per epoch: every worker pulls and pushes it
 * once per step, the steps of the largest shard, its size taken as
 * ceil(ratings / workers).
 */
function denseBytesPerEpoch(f: Fold, workers: number, sgd: SgdShape): number {
  const steps = Math.ceil(Math.ceil(f.trainRatings / workers) / sgd.batchSize);
  return f.trainItems * (sgd.factors + 1) * 4 * 2 * steps * workers;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function describe(s: RecommendersSettings, referenceNote: string): string {
  const reduced = s.folds < MAX_FOLDS || s.algorithms.length < ALGORITHMS.length;
  return `MovieLens 100K, folds u1–u${s.folds} (80,000 training and 20,000 test ratings each)${reduced ? ' — a reduced run' : ''}. tfleet ${s.algorithms.map((a) => `${a} (examples/movielens-${a}.json)`).join(', ')} on one local fleet per size (${s.workers.join(' and ')} worker processes), reused across algorithms and folds: wall time from submit to the final job record (loading, evaluation and export included), test RMSE and MAE from the job record; means over folds. For mf (SGD), PS bytes per epoch = (tfleet_ps_push_bytes_total + tfleet_ps_pull_bytes_total) / model.epochs, beside an estimate of a dense push and pull of the whole item table every step. Reference: bench/recommenders-reference.py, Surprise's SVD (sgd, 100 factors, 20 epochs, lr 0.005, reg 0.02, seed ${REFERENCE_SEED}) and BaselineOnly (ALS, 10 epochs, reg_u 15, reg_i 10: Surprise's defaults; the example sets 5 and 5) in python/numpy, one process per fold, seconds = fit + test (no loading).${referenceNote ? ` ${referenceNote}` : ''} One run; the machine is shared and noisy.`;
}

/** Means over folds of one algorithm on one fleet size. */
interface Means { seconds: number; rmse: number; mae: number; psBytes?: number; dense?: number }

/** Per-fold and mean rows of one algorithm on one fleet size, and its means. */
function tfleetRows(algorithm: Algorithm, workers: number, folds: Fold[], runs: Map<string, JobRun>): { rows: BenchRow[]; traffic: BenchRow[]; perFold: BenchRow[]; means: Means } {
  const name = `${algorithm} ${workers}w`;
  const rs = folds.map((f) => runs.get(key(algorithm, workers, f.name))!);
  const perFold = folds.flatMap((f, j): BenchRow[] => [
    { case: `${name} ${f.name} rmse`, value: rs[j].rmse, unit: '' },
    { case: `${name} ${f.name} mae`, value: rs[j].mae, unit: '' },
    { case: `${name} ${f.name} seconds`, value: rs[j].seconds, unit: 's' },
  ]);
  const means: Means = { seconds: mean(rs.map((r) => r.seconds)), rmse: mean(rs.map((r) => r.rmse)), mae: mean(rs.map((r) => r.mae)) };
  const rows: BenchRow[] = [
    { case: `${name} mean rmse`, value: means.rmse, unit: '', note: `${folds.length} folds` },
    { case: `${name} mean mae`, value: means.mae, unit: '', note: `${folds.length} folds` },
    { case: `${name} seconds per fold`, value: means.seconds, unit: 's', note: 'mean wall time, submit to final record' },
  ];
  const traffic: BenchRow[] = [];
  if (!rs[0].sgd) return { rows, traffic, perFold, means };
  const measured = rs.map((r) => r.psBytes! / r.sgd!.epochs);
  const dense = rs.map((r, j) => denseBytesPerEpoch(folds[j], workers, r.sgd!));
  folds.forEach((f, j) => {
    const g = rs[j].sgd!;
    traffic.push(
      { case: `${name} ${f.name} PS bytes per epoch`, value: measured[j], unit: 'B', note: `(push + pull) / ${g.epochs} epochs` },
      {
        case: `${name} ${f.name} dense PS bytes per epoch`, value: dense[j], unit: 'B',
        note: `an estimate: ${f.trainItems} items × (${g.factors} + 1) × 4 B × 2 × ceil(ceil(${f.trainRatings} / ${workers}) / ${g.batchSize}) steps × ${workers} workers`,
      },
    );
  });
  means.psBytes = mean(measured);
  means.dense = mean(dense);
  traffic.push(
    { case: `${name} mean PS bytes per epoch`, value: means.psBytes, unit: 'B' },
    { case: `${name} mean dense PS bytes per epoch`, value: means.dense, unit: 'B', note: 'an estimate (see the per-fold rows)' },
  );
  return { rows, traffic, perFold, means };
}

/** Per-fold and mean rows of one reference algorithm, or null when some fold lacks it. */
function referenceRows(alg: 'svd' | 'baseline', folds: Fold[], refs: Map<string, ReferenceRun>): { rows: BenchRow[]; perFold: BenchRow[]; means: Means } | null {
  const scores = folds.map((f) => refs.get(f.name)?.[alg]);
  if (!scores.length || scores.some((x) => x === undefined)) return null;
  const rs = scores as ReferenceScore[];
  const perFold = folds.flatMap((f, j): BenchRow[] => [
    { case: `numpy ${alg} ${f.name} rmse`, value: rs[j].rmse, unit: '' },
    { case: `numpy ${alg} ${f.name} mae`, value: rs[j].mae, unit: '' },
    { case: `numpy ${alg} ${f.name} seconds`, value: rs[j].fitSeconds + rs[j].testSeconds, unit: 's', note: `fit ${rs[j].fitSeconds.toFixed(2)} s, test ${rs[j].testSeconds.toFixed(3)} s` },
  ]);
  const means: Means = { seconds: mean(rs.map((r) => r.fitSeconds + r.testSeconds)), rmse: mean(rs.map((r) => r.rmse)), mae: mean(rs.map((r) => r.mae)) };
  const rows: BenchRow[] = [
    { case: `numpy ${alg} mean rmse`, value: means.rmse, unit: '', note: `${folds.length} folds` },
    { case: `numpy ${alg} mean mae`, value: means.mae, unit: '', note: `${folds.length} folds` },
    { case: `numpy ${alg} seconds per fold`, value: means.seconds, unit: 's', note: 'mean fit + test' },
  ];
  return { rows, perFold, means };
}

/** Ratios of this run's means, by `${algorithm} ${workers}w` and `numpy ${alg}`. */
function ratiosOf(s: RecommendersSettings, means: Map<string, Means>): Record<string, number> {
  const ratios: Record<string, number> = {};
  const mf1 = means.get('mf 1w'), svd = means.get('numpy svd');
  if (mf1 && svd) ratios['mf 1w seconds per fold / numpy svd seconds per fold (<1: tfleet faster)'] = mf1.seconds / svd.seconds;
  for (const [tfleet, numpy] of [['mf 1w', 'numpy svd'], ['baseline 1w', 'numpy baseline']]) {
    const a = means.get(tfleet), b = means.get(numpy);
    // The table prints ratios with 2 decimals, too few for an RMSE difference: thousandths, named so.
    if (a && b) ratios[`${tfleet} rmse − ${numpy} rmse (signed difference, ×1000)`] = 1000 * (a.rmse - b.rmse);
  }
  for (const algorithm of s.algorithms) {
    const one = means.get(`${algorithm} 1w`);
    for (const workers of s.workers) {
      const m = means.get(`${algorithm} ${workers}w`);
      if (one && m && workers !== 1) ratios[`${algorithm} ${workers}w / 1w seconds per fold (<1: ${workers} workers faster)`] = m.seconds / one.seconds;
      if (m?.psBytes !== undefined && m.psBytes > 0 && m.dense !== undefined) ratios[`${algorithm} ${workers}w dense / measured PS bytes per epoch (estimate)`] = m.dense / m.psBytes;
    }
  }
  return ratios;
}

/**
 * The rows and ratios of one run: means first, then the PS traffic, then
 * the reference's and tfleet's per-fold rows. Pure, so that it can be
 * checked without a fleet.
 */
export function recommenderTables(s: RecommendersSettings, folds: Fold[], runs: Map<string, JobRun>, refs: Map<string, ReferenceRun>): { rows: BenchRow[]; ratios: Record<string, number> } {
  const means = new Map<string, Means>();
  const meanRows: BenchRow[] = [], trafficRows: BenchRow[] = [], refFoldRows: BenchRow[] = [], foldRows: BenchRow[] = [];
  for (const workers of s.workers) {
    for (const algorithm of s.algorithms) {
      const t = tfleetRows(algorithm, workers, folds, runs);
      meanRows.push(...t.rows);
      trafficRows.push(...t.traffic);
      foldRows.push(...t.perFold);
      means.set(`${algorithm} ${workers}w`, t.means);
    }
  }
  for (const alg of ['svd', 'baseline'] as const) {
    const r = referenceRows(alg, folds, refs);
    if (!r) continue;
    meanRows.push(...r.rows);
    refFoldRows.push(...r.perFold);
    means.set(`numpy ${alg}`, r.means);
  }
  for (const [tfleet, numpy] of [['mf 1w', 'numpy svd'], ['baseline 1w', 'numpy baseline']]) {
    const a = means.get(tfleet), b = means.get(numpy);
    if (a && b) meanRows.push({ case: `${tfleet} rmse − ${numpy} rmse`, value: a.rmse - b.rmse, unit: '', note: 'signed difference of the means' });
  }
  return { rows: [...meanRows, ...trafficRows, ...refFoldRows, ...foldRows], ratios: ratiosOf(s, means) };
}

/**
 * mf (SGD and ALS), baseline and k-NN recommenders on the five MovieLens
 * 100K folds, on fleets of 1 and 4 workers, against a numpy reference of
 * Surprise's SVD and BaselineOnly on the same folds.
 */
export const recommenders: Benchmark = {
  name: 'recommenders',
  description: describe(recommendersSettings({}), ''),
  async run() {
    const s = recommendersSettings();
    const folds = Array.from({ length: s.folds }, (_, k) => fold(k + 1));
    const runs = new Map<string, JobRun>();
    for (const workers of s.workers) await fleetRuns(workers, s, folds, runs);

    const python = findPython('numpy', s.python);
    const refAlgorithms = referenceAlgorithms(s);
    const refs = new Map<string, ReferenceRun>();
    if (python && refAlgorithms.length) for (const f of folds) refs.set(f.name, await referenceRun(python, f, refAlgorithms));
    const referenceNote = !refAlgorithms.length
      ? 'Reference rows skipped: neither mf, als nor baseline was run.'
      : python ? `Reference: ${python}, numpy ${[...refs.values()][0]?.numpy}.` : 'Reference rows skipped: no Python among TFLEET_BENCH_PYTHON, /usr/bin/python3 and python3 imports numpy.';
    if (!python && refAlgorithms.length) process.stderr.write(`bench recommenders: ${referenceNote}\n`);
    return { name: this.name, description: describe(s, referenceNote), ...recommenderTables(s, folds, runs, refs) };
  },
};
