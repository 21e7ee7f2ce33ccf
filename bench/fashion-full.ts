import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { launchFleet } from '../bin/fleet';
import { loadSpecFile } from '../bin/spec-file';
import { CoordinatorApi } from '../shared/rpc/clients';
import { Benchmark } from './harness';

const ROOT = resolve(__dirname, '..', '..');
const DATA = resolve(ROOT, '..', 'shared', 'data', 'fashion-mnist');

/**
 * The full Fashion-MNIST run of `examples/fashion-mnist-cnn.json` (60,000
 * training images, the 10,000 test images) on a local fleet of 2 wasm
 * worker processes, bulk-synchronous: its test accuracy and wall time.
 */
export const fashionFull: Benchmark = {
  name: 'fashion-full',
  description: 'examples/fashion-mnist-cnn.json in full (two-conv CNN, 60k train / 10k test, 2 wasm worker processes, batch 32 per worker, adam 0.001, 10 epochs): test accuracy and wall time from submit to the end.',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'tfleet-bench-'));
    const fleet = await launchFleet({ workers: 2, port: 0, metricsPort: 0, stateDir: join(dir, 'state'), natsUrl: '', backend: 'wasm' });
    const api = new CoordinatorApi(fleet.coordinator.ready.grpc!);
    try {
      const spec = loadSpecFile(join(ROOT, 'examples', 'fashion-mnist-cnn.json'), [
        `data.train.images=${DATA}/train-images-idx3-ubyte.gz`, `data.train.labels=${DATA}/train-labels-idx1-ubyte.gz`,
        `data.test.images=${DATA}/t10k-images-idx3-ubyte.gz`, `data.test.labels=${DATA}/t10k-labels-idx1-ubyte.gz`,
        `output=${join(dir, 'model')}`,
      ], process.cwd());
      const t0 = performance.now();
      const submitted = await api.submit(JSON.stringify(spec));
      const final = await api.watchJob(submitted.id, (r) => process.stderr.write(`\r${r.state} epoch ${r.epoch}/${r.epochs}`));
      const seconds = (performance.now() - t0) / 1000;
      process.stderr.write('\n');
      if (final.state !== 'succeeded') throw new Error(`job ${final.state}: ${final.error}`);
      const test = final.metrics.test.values!;
      const epochs = (spec.training as { epochs: number }).epochs;
      return {
        name: this.name,
        description: this.description,
        rows: [
          { case: 'test accuracy (10,000 images)', value: test.accuracy, unit: '', note: `test loss ${test.loss.toFixed(4)}` },
          { case: `wall time, ${epochs} epochs`, value: seconds, unit: 's', note: `${((60000 * epochs) / seconds).toFixed(0)} training images/s overall, evaluation and export included` },
        ],
        ratios: {},
      };
    } finally {
      api.close();
      await fleet.stop();
    }
  },
};
