import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { launchFleet } from '../bin/fleet';
import { loadSpecFile } from '../bin/spec-file';
import { CoordinatorApi } from '../shared/rpc/clients';
import { loadNativeAddon } from '../shared/native-addon';
import { Benchmark, BenchRow } from './harness';

const ROOT = resolve(__dirname, '..', '..');
const DATA = resolve(ROOT, '..', 'shared', 'data', 'fashion-mnist');

type Backend = 'native' | 'wasm';

/** One full run on 2 worker processes of `backend`: test accuracy and loss, seconds from submit to the end. */
async function fullRun(backend: Backend): Promise<{ accuracy: number; loss: number; seconds: number; epochs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-bench-'));
  const fleet = await launchFleet({ workers: 2, port: 0, metricsPort: 0, stateDir: join(dir, 'state'), natsUrl: '', backend });
  const api = new CoordinatorApi(fleet.coordinator.ready.grpc!);
  try {
    const spec = loadSpecFile(join(ROOT, 'examples', 'fashion-mnist-cnn.json'), [
      `data.train.images=${DATA}/train-images-idx3-ubyte.gz`, `data.train.labels=${DATA}/train-labels-idx1-ubyte.gz`,
      `data.test.images=${DATA}/t10k-images-idx3-ubyte.gz`, `data.test.labels=${DATA}/t10k-labels-idx1-ubyte.gz`,
      `output=${join(dir, 'model')}`,
    ], process.cwd());
    const t0 = performance.now();
    const submitted = await api.submit(JSON.stringify(spec));
    const final = await api.watchJob(submitted.id, (r) => process.stderr.write(`\r${backend}: ${r.state} epoch ${r.epoch}/${r.epochs}`));
    const seconds = (performance.now() - t0) / 1000;
    process.stderr.write('\n');
    if (final.state !== 'succeeded') throw new Error(`job ${final.state}: ${final.error}`);
    const test = final.metrics.test.values!;
    return { accuracy: test.accuracy, loss: test.loss, seconds, epochs: (spec.training as { epochs: number }).epochs };
  } finally {
    api.close();
    await fleet.stop();
  }
}

/**
 * The full Fashion-MNIST run of `examples/fashion-mnist-cnn.json` (60,000
 * training images, the 10,000 test images) on a local fleet of 2 worker
 * processes, bulk-synchronous: its test accuracy and wall time, on the
 * native backend (where its addon is built) and on wasm, in one run.
 * `TFLEET_BENCH_BACKENDS=native` (or `wasm`) runs one of them.
 */
export const fashionFull: Benchmark = {
  name: 'fashion-full',
  description: 'examples/fashion-mnist-cnn.json in full (two-conv CNN, 60k train / 10k test, 2 worker processes, batch 32 per worker, adam 0.001, 10 epochs) on native (1 oneDNN thread per worker) then wasm: test accuracy and wall time from submit to the end.',
  async run() {
    const asked = (process.env.TFLEET_BENCH_BACKENDS ?? 'native,wasm').split(',') as Backend[];
    const backends = asked.filter((b) => b !== 'native' || loadNativeAddon().ok);
    const rows: BenchRow[] = [];
    const seconds = new Map<Backend, number>();
    for (const backend of backends) {
      const run = await fullRun(backend);
      seconds.set(backend, run.seconds);
      rows.push(
        { case: `${backend}: test accuracy (10,000 images)`, value: run.accuracy, unit: '', note: `test loss ${run.loss.toFixed(4)}` },
        { case: `${backend}: wall time, ${run.epochs} epochs`, value: run.seconds, unit: 's', note: `${((60000 * run.epochs) / run.seconds).toFixed(0)} training images/s overall, evaluation and export included` },
      );
    }
    const ratios: Record<string, number> = {};
    if (seconds.has('native') && seconds.has('wasm')) ratios['wasm time / native time (target ≥ 2.5)'] = seconds.get('wasm')! / seconds.get('native')!;
    return { name: this.name, description: this.description, rows, ratios };
  },
};
