import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { launchFleet } from '../bin/fleet';
import { loadSpecFile } from '../bin/spec-file';
import { CoordinatorApi } from '../shared/rpc/clients';
import { Benchmark, BenchRow, findPython, jobCounter as counter, runJsonProcess } from './harness';

/** What one run of this benchmark trains. */
export interface TreesSettings {
  /** Training rows, the first ones of the file; null: all 60,000. */
  rows: number | null;
  /** gbdt boosting rounds. */
  rounds: number;
  /** forest trees. */
  trees: number;
  /** Families run; both unless one is asked for. */
  families: Family[];
  /** An interpreter to try first for the XGBoost / scikit-learn reference. */
  python: string | null;
}

type Family = 'gbdt' | 'forest';

/**
 * The only place this benchmark reads the environment:
 * `TFLEET_BENCH_TREES_ROWS`, `TFLEET_BENCH_TREES_ROUNDS`,
 * `TFLEET_BENCH_TREES_FORESTS`, `TFLEET_BENCH_TREES_ONLY` (gbdt | forest),
 * and `TFLEET_BENCH_PYTHON` as `bench/torch-reference.ts` reads it.
 *
 * @throws Error naming the variable when its value is not a positive integer or a family.
 */
export function treesSettings(env: NodeJS.ProcessEnv = process.env): TreesSettings {
  const int = (name: string): number | null => {
    const text = env[name];
    if (text === undefined || text === '') return null;
    const v = Number(text);
    if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be an integer ≥ 1, got '${text}'`);
    return v;
  };
  const only = env.TFLEET_BENCH_TREES_ONLY ?? '';
  if (only !== '' && only !== 'gbdt' && only !== 'forest') throw new Error(`TFLEET_BENCH_TREES_ONLY must be 'gbdt' or 'forest', got '${only}'`);
  return {
    rows: int('TFLEET_BENCH_TREES_ROWS'),
    rounds: int('TFLEET_BENCH_TREES_ROUNDS') ?? 100,
    trees: int('TFLEET_BENCH_TREES_FORESTS') ?? 100,
    families: only === '' ? ['gbdt', 'forest'] : [only],
    python: env.TFLEET_BENCH_PYTHON || null,
  };
}

const ROOT = resolve(__dirname, '..', '..');
const DATA = resolve(ROOT, '..', 'shared', 'data', 'fashion-mnist');
const FILES = {
  trainImages: join(DATA, 'train-images-idx3-ubyte.gz'), trainLabels: join(DATA, 'train-labels-idx1-ubyte.gz'),
  testImages: join(DATA, 't10k-images-idx3-ubyte.gz'), testLabels: join(DATA, 't10k-labels-idx1-ubyte.gz'),
};
const REFERENCE_SCRIPT = join(ROOT, 'bench', 'trees-reference.py');
/** XGBoost's nthread and scikit-learn's n_jobs: the same 2 cores the 2-worker fleet uses. */
const REFERENCE_THREADS = 2;
const FLEET_SIZES = [1, 2];

interface FleetRun {
  seconds: number;
  accuracy: number;
  /** Mean over workers of rows×features added into histograms per second of building them. */
  cellsPerSecond: number;
}

interface ReferenceFit { version: string; fitSeconds: number; predictSeconds: number; accuracy: number }
interface ReferenceRun { rows: number; loadSeconds: number; xgboost?: ReferenceFit; sklearn?: ReferenceFit }


/** Histogram cells per second of each worker for one job, read from its /metrics. */
async function histogramRates(urls: string[], job: string): Promise<number[]> {
  return Promise.all(urls.map(async (url) => {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    const text = await res.text();
    const cells = counter(text, 'tfleet_worker_histogram_cells_total', job);
    const seconds = counter(text, 'tfleet_worker_histogram_seconds_total', job);
    if (cells === null || seconds === null || !(seconds > 0)) {
      throw new Error(`${url}: no tfleet_worker_histogram_{cells,seconds}_total for job '${job}' (cells ${cells}, seconds ${seconds})`);
    }
    return cells / seconds;
  }));
}

/** One tfleet job of `family` on a fresh local fleet of `workers` processes. */
async function tfleetJob(family: Family, workers: number, s: TreesSettings): Promise<FleetRun> {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-bench-'));
  // Trees train on typed arrays; launchFleet needs a tfjs backend all the same.
  const fleet = await launchFleet({ workers, port: 0, metricsPort: 0, stateDir: join(dir, 'state'), natsUrl: '', backend: 'cpu' });
  const api = new CoordinatorApi(fleet.coordinator.ready.grpc!);
  try {
    const sets = [
      `data.train.images=${FILES.trainImages}`, `data.train.labels=${FILES.trainLabels}`,
      `data.test.images=${FILES.testImages}`, `data.test.labels=${FILES.testLabels}`,
      `workers=${workers}`, `output=${join(dir, 'model')}`,
      family === 'gbdt' ? `model.rounds=${s.rounds}` : `model.trees=${s.trees}`,
      ...(s.rows === null ? [] : [`data.train.limit=${s.rows}`]),
    ];
    const spec = loadSpecFile(join(ROOT, 'examples', `fashion-mnist-${family}.json`), sets, process.cwd());
    const t0 = performance.now();
    const submitted = await api.submit(JSON.stringify(spec));
    const final = await api.watchJob(submitted.id, (r) => process.stderr.write(`\r${family}, ${workers} worker(s): ${r.state} ${r.epoch}/${r.epochs}  `));
    const seconds = (performance.now() - t0) / 1000;
    process.stderr.write('\n');
    if (final.state !== 'succeeded') throw new Error(`tfleet ${family} on ${workers} worker(s): job ${final.state}: ${final.error}`);
    const rates = await histogramRates(fleet.workers.map((w) => w.ready.metrics), submitted.id);
    return { seconds, accuracy: final.metrics.test.values!.accuracy, cellsPerSecond: rates.reduce((a, b) => a + b, 0) / rates.length };
  } finally {
    api.close();
    await fleet.stop();
  }
}

function referenceRun(python: string, s: TreesSettings): Promise<ReferenceRun> {
  const only = s.families.length === 2 ? 'both' : s.families[0];
  const args = [FILES.trainImages, FILES.trainLabels, FILES.testImages, FILES.testLabels, s.rows ?? 0, s.rounds, s.trees, only, REFERENCE_THREADS].map(String);
  // OpenBLAS would start its own pool beside the libraries' threads.
  return runJsonProcess<ReferenceRun>(python, REFERENCE_SCRIPT, args, { OPENBLAS_NUM_THREADS: '1' });
}

function describe(s: TreesSettings, referenceNote: string): string {
  const rows = s.rows === null ? 'all 60,000 training images' : `the first ${s.rows} training images (TFLEET_BENCH_TREES_ROWS)`;
  const reduced = s.rows !== null || s.rounds !== 100 || s.trees !== 100 || s.families.length < 2;
  const runs = [
    s.families.includes('gbdt') ? `gbdt (examples/fashion-mnist-gbdt.json: ${s.rounds} rounds, depth 6, learning rate 0.3, 256 bins)` : '',
    s.families.includes('forest') ? `forest (examples/fashion-mnist-forest.json: ${s.trees} trees, unlimited depth, sqrt features per node, 256 bins)` : '',
  ].filter(Boolean).join(' and ');
  return `Fashion-MNIST, ${rows} × 784 pixels, tested on the 10,000 test images${reduced ? ' — a reduced run' : ''}. tfleet ${runs} on a local fleet of 1 and of 2 worker processes (a fresh fleet per job): wall time from submit to the final job record (shard loading, evaluation and export included); histogram rate = tfleet_worker_histogram_cells_total / tfleet_worker_histogram_seconds_total (rows×features per second), per worker, mean over workers. References with the same rows, rounds and trees, ${REFERENCE_THREADS} threads, fit time only (data already in memory): XGBoost XGBClassifier(tree_method='hist', max_depth=6, learning_rate=0.3, max_bin=256) and scikit-learn RandomForestClassifier(random_state=0, exact splits).${referenceNote ? ` ${referenceNote}` : ''} One run; the machine is shared and noisy.`;
}

const seconds = (x: number) => `${x.toFixed(1)} s`;

/**
 * gbdt and forest on the full Fashion-MNIST, on 1 and 2 workers, against
 * XGBoost's hist and scikit-learn's random forest on the same cores.
 */
export const trees: Benchmark = {
  name: 'trees',
  description: describe(treesSettings({}), ''),
  async run() {
    const s = treesSettings();
    const runs = new Map<string, FleetRun>();
    for (const family of s.families) {
      for (const workers of FLEET_SIZES) runs.set(`${family} ${workers}`, await tfleetJob(family, workers, s));
    }
    const python = findPython('xgboost, sklearn', s.python);
    const ref = python ? await referenceRun(python, s) : null;
    const referenceNote = python
      ? `Reference: ${python}${ref?.xgboost ? `, xgboost ${ref.xgboost.version}` : ''}${ref?.sklearn ? `, scikit-learn ${ref.sklearn.version}` : ''}.`
      : `Reference rows skipped: no Python among TFLEET_BENCH_PYTHON, /usr/bin/python3 and python3 imports xgboost and sklearn.`;
    if (!python) process.stderr.write(`bench trees: ${referenceNote}\n`);

    const timeRows: BenchRow[] = [];
    const accuracyRows: BenchRow[] = [];
    for (const [key, r] of runs) {
      const [family, workers] = key.split(' '); // keys are `${family} ${workers}`
      const name = `tfleet ${family}, ${workers} worker${workers === '1' ? '' : 's'}`;
      timeRows.push({ case: `${name}: wall time`, value: r.seconds, unit: 's', note: `test accuracy ${r.accuracy.toFixed(4)}; histograms ${(r.cellsPerSecond / 1e6).toFixed(1)} M rows×features/s per worker` });
      accuracyRows.push({ case: `${name}: test accuracy`, value: r.accuracy, unit: '' });
    }
    const refRow = (name: string, f: ReferenceFit) => {
      timeRows.push({ case: `${name}: fit time`, value: f.fitSeconds, unit: 's', note: `test accuracy ${f.accuracy.toFixed(4)}; predict ${seconds(f.predictSeconds)}, load ${seconds(ref!.loadSeconds)} not counted` });
      accuracyRows.push({ case: `${name}: test accuracy`, value: f.accuracy, unit: '' });
    };
    if (ref?.xgboost) refRow(`XGBoost hist, ${REFERENCE_THREADS} threads`, ref.xgboost);
    if (ref?.sklearn) refRow(`scikit-learn RF, ${REFERENCE_THREADS} jobs`, ref.sklearn);

    const ratios: Record<string, number> = {};
    const gbdt1 = runs.get('gbdt 1'), gbdt2 = runs.get('gbdt 2'), forest1 = runs.get('forest 1'), forest2 = runs.get('forest 2');
    // Accuracy differences in percentage points: the table prints ratios with 2 decimals.
    if (gbdt1 && gbdt2) {
      ratios['tfleet gbdt 2 workers / 1 worker speed-up'] = gbdt1.seconds / gbdt2.seconds;
      ratios['accuracy: tfleet gbdt 2 workers − 1 worker (percentage points)'] = 100 * (gbdt2.accuracy - gbdt1.accuracy);
    }
    if (forest1 && forest2) {
      ratios['tfleet forest 2 workers / 1 worker speed-up'] = forest1.seconds / forest2.seconds;
      ratios['accuracy: tfleet forest 2 workers − 1 worker (percentage points)'] = 100 * (forest2.accuracy - forest1.accuracy);
    }
    if (gbdt2 && ref?.xgboost) {
      ratios[`XGBoost hist (${REFERENCE_THREADS} threads) time / tfleet gbdt 2 workers time (>1: tfleet faster)`] = ref.xgboost.fitSeconds / gbdt2.seconds;
      ratios['accuracy: tfleet gbdt 2 workers − XGBoost hist (percentage points)'] = 100 * (gbdt2.accuracy - ref.xgboost.accuracy);
    }
    if (forest2 && ref?.sklearn) {
      ratios[`scikit-learn RF (${REFERENCE_THREADS} jobs) time / tfleet forest 2 workers time (>1: tfleet faster)`] = ref.sklearn.fitSeconds / forest2.seconds;
      ratios['accuracy: tfleet forest 2 workers − scikit-learn RF (percentage points)'] = 100 * (forest2.accuracy - ref.sklearn.accuracy);
    }
    return { name: this.name, description: describe(s, referenceNote), rows: [...timeRows, ...accuracyRows], ratios };
  },
};
