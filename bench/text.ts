import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { launchFleet } from '../bin/fleet';
import { loadSpecFile } from '../bin/spec-file';
import { loadDataset } from '../shared/data/dataset';
import { validateJob } from '../shared/job';
import { CoordinatorApi } from '../shared/rpc/clients';
import { Benchmark, BenchRow, findPython, runJsonProcess } from './harness';

const ROOT = resolve(__dirname, '..', '..');
const SENTIMENT = resolve(ROOT, '..', 'shared', 'data', 'sentiment');
const SETS = { yelp: 'yelp_labelled.txt', amazon: 'amazon_cells_labelled.txt' } as const;
const EXAMPLES = { 'naive-bayes': 'sentiment-naive-bayes.json', svm: 'sentiment-svm.json' } as const;
const FLEET_SIZES = [1, 3];
const REFERENCE_SCRIPT = join(ROOT, 'bench', 'text-reference.py');

interface Reference { sklearn: string; nbUnigrams: number; nbBigrams: number; linearSvc: number }

/** The sentiment examples with `set`'s file; `seed` from TFLEET_BENCH_TEXT_SEED (default the examples' 11). */
function spec(example: string, set: keyof typeof SETS, workers: number, dir: string, seed: number): object {
  return loadSpecFile(join(ROOT, 'examples', example), [
    `data.train.path=${join(SENTIMENT, SETS[set])}`, `workers=${workers}`, `seed=${seed}`, `output=${join(dir, `${example}-${set}-${workers}`)}`,
  ], process.cwd());
}

/** scikit-learn on the very split the job makes (the job's loader writes it out). */
async function reference(python: string, set: keyof typeof SETS, seed: number, dir: string): Promise<Reference> {
  const { spec: validated } = validateJob(spec(EXAMPLES['naive-bayes'], set, 1, dir, seed));
  const data = await loadDataset(validated, () => 'classifier');
  const file = join(dir, `${set}-split.json`);
  writeFileSync(file, JSON.stringify({ train: data.train.texts, ytrain: [...data.train.y], test: data.test!.texts, ytest: [...data.test!.y] }));
  return runJsonProcess<Reference>(python, REFERENCE_SCRIPT, [file]);
}

export const text: Benchmark = {
  name: 'text',
  description: "The UCI sentiment sentences (yelp and amazon, 1,000 each), the examples' seeded stratified 80/20 split: tfleet naive-bayes (multinomial, uni+bigrams) and svm (squared hinge, tf-idf uni+bigrams, 30 epochs) on local fleets of 1 and 3 worker processes, test accuracy and wall time from submit to the final record; scikit-learn 1.2 (python3-sklearn) on exactly the same split: MultinomialNB (CountVectorizer) and LinearSVC (TfidfVectorizer). TFLEET_BENCH_TEXT_SEED picks the split (default 11).",
  async run() {
    const seed = Number(process.env.TFLEET_BENCH_TEXT_SEED ?? 11);
    if (!Number.isInteger(seed)) throw new Error(`TFLEET_BENCH_TEXT_SEED must be an integer, got '${process.env.TFLEET_BENCH_TEXT_SEED}'`);
    const dir = mkdtempSync(join(tmpdir(), 'tfleet-bench-text-'));
    const rows: BenchRow[] = [];
    const ratios: Record<string, number> = {};
    const accuracy = new Map<string, number>();
    for (const workers of FLEET_SIZES) {
      const fleet = await launchFleet({ workers, port: 0, metricsPort: 0, stateDir: join(dir, `state-${workers}`), natsUrl: '', backend: 'cpu' });
      const api = new CoordinatorApi(fleet.coordinator.ready.grpc!);
      try {
        for (const set of Object.keys(SETS) as (keyof typeof SETS)[]) {
          for (const [family, example] of Object.entries(EXAMPLES)) {
            const t0 = performance.now();
            const submitted = await api.submit(JSON.stringify(spec(example, set, workers, dir, seed)));
            const final = await api.watchJob(submitted.id, () => undefined);
            const seconds = (performance.now() - t0) / 1000;
            if (final.state !== 'succeeded') throw new Error(`text: ${family} on ${set}, ${workers} worker(s): job ${final.state}: ${final.error}`);
            const acc = final.metrics.test.values!.accuracy;
            accuracy.set(`${family} ${set} ${workers}w`, acc);
            rows.push({ case: `tfleet ${family} ${set} ${workers}w accuracy`, value: acc, unit: '' }, { case: `tfleet ${family} ${set} ${workers}w seconds`, value: seconds, unit: 's' });
          }
        }
      } finally {
        api.close();
        await fleet.stop();
      }
    }
    const python = findPython('sklearn', process.env.TFLEET_BENCH_PYTHON);
    for (const set of Object.keys(SETS) as (keyof typeof SETS)[]) {
      if (!python) break;
      const ref = await reference(python, set, seed, dir);
      rows.push(
        { case: `scikit-learn MultinomialNB unigrams ${set} accuracy`, value: ref.nbUnigrams, unit: '', note: `scikit-learn ${ref.sklearn}, the same split` },
        { case: `scikit-learn MultinomialNB uni+bigrams ${set} accuracy`, value: ref.nbBigrams, unit: '' },
        { case: `scikit-learn LinearSVC tf-idf uni+bigrams ${set} accuracy`, value: ref.linearSvc, unit: '' },
      );
      ratios[`naive-bayes ${set} 1w − MultinomialNB uni+bigrams (accuracy points ×100)`] = 100 * (accuracy.get(`naive-bayes ${set} 1w`)! - ref.nbBigrams);
      ratios[`svm ${set} 1w − LinearSVC (accuracy points ×100)`] = 100 * (accuracy.get(`svm ${set} 1w`)! - ref.linearSvc);
    }
    if (!python) rows.push({ case: 'scikit-learn reference', value: 0, unit: '', note: 'skipped: no python3 with sklearn (apt install python3-sklearn)' });
    return { name: 'text', description: this.description, rows, ratios };
  },
};
