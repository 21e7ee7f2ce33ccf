import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Child, launchFleet, spawnCli } from '../bin/fleet';
import { CoordinatorApi } from '../shared/rpc/clients';
import { Benchmark, BenchRow, jobCounter, median } from './harness';

const DATA = resolve(__dirname, '..', '..', '..', 'shared', 'data', 'fashion-mnist');
const TRAIN = { images: join(DATA, 'train-images-idx3-ubyte.gz'), labels: join(DATA, 'train-labels-idx1-ubyte.gz') };
const TEST = { images: join(DATA, 't10k-images-idx3-ubyte.gz'), labels: join(DATA, 't10k-labels-idx1-ubyte.gz') };
const IMAGES = 6000;
const EPOCHS = 24;
const WORKERS = 3;
const KILLS = 3;
/** Seconds between kills, the first after this long too. */
const KILL_EVERY_S = 4;

interface Outcome {
  seconds: number;
  accuracy: number;
  /** ms from each kill to the next step the parameter server applied, and to the next finished epoch. */
  toStep: number[];
  toEpoch: number[];
  attempts: number;
}

/** Steps the parameter server applied for a job so far: its update histogram's count. */
async function appliedSteps(metricsUrl: string, job: string): Promise<number> {
  return jobCounter(await (await fetch(metricsUrl)).text(), 'tfleet_ps_update_duration_seconds_count', job) ?? 0;
}

/**
 * One MLP job on a fleet of 3 wasm workers; with `faults`, a random member
 * is SIGKILLed every few seconds and a replacement worker started at once.
 */
async function run(faults: boolean): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-bench-faults-'));
  const fleet = await launchFleet({ workers: WORKERS, port: 0, metricsPort: 0, stateDir: join(dir, 'state'), natsUrl: '', backend: 'wasm' });
  const addr = fleet.coordinator.ready.grpc!;
  const metricsUrl = fleet.coordinator.ready.metrics;
  const extra: Child[] = [];
  const api = new CoordinatorApi(addr);
  try {
    const spec = {
      name: 'faults', model: { family: 'mlp', hidden: [128] },
      data: { train: { format: 'idx', ...TRAIN, limit: IMAGES }, test: { format: 'idx', ...TEST, limit: 2000 } },
      training: { epochs: EPOCHS, batchSize: 64, optimizer: { name: 'adam', learningRate: 0.001 } },
      workers: WORKERS, seed: 4, output: join(dir, 'model'),
    };
    const submitted = await api.submit(JSON.stringify(spec));
    const id = submitted.id;
    let epoch = 0;
    let attempt = 0;
    const attemptWaiters: (() => void)[] = [];
    const epochWaiters: ((ms: number) => void)[] = [];
    let firstEpochAt = 0;
    const done = api.watchJob(id, (r) => {
      if ((r.attempt ?? 0) > attempt) {
        attempt = r.attempt ?? 0;
        for (const w of attemptWaiters.splice(0)) w();
      }
      if ((r.epoch ?? 0) > epoch) {
        epoch = r.epoch ?? 0;
        if (firstEpochAt === 0) firstEpochAt = performance.now();
        for (const w of epochWaiters.splice(0)) w(performance.now());
      }
    });
    const toStep: number[] = [];
    const toEpoch: number[] = [];
    if (faults) {
      const members = [...fleet.workers];
      let seed = 11;
      for (let k = 0; k < KILLS; k++) {
        await new Promise((r) => setTimeout(r, KILL_EVERY_S * 1000));
        if (epoch >= EPOCHS) break;
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        const victim = members.splice(seed % members.length, 1)[0];
        const nextEpoch = new Promise<number>((r) => epochWaiters.push(r));
        const nextAttempt = new Promise<void>((r) => attemptWaiters.push(r));
        const killedAt = performance.now();
        victim.proc.kill('SIGKILL');
        // The replacement starts at once; it joins at the end of an epoch.
        void spawnCli(['worker', '--coordinator', addr, '--metrics-port', '0', '--backend', 'wasm', '--name', `replacement-${k + 1}`]).then((c) => {
          extra.push(c);
          members.push(c);
        });
        // Steps of the old attempt whose pushes were all in may still apply: count from the next attempt's start.
        await nextAttempt;
        const before = await appliedSteps(metricsUrl, id);
        for (;;) {
          if ((await appliedSteps(metricsUrl, id)) > before) break;
          await new Promise((r) => setTimeout(r, 10));
        }
        toStep.push(performance.now() - killedAt);
        toEpoch.push((await nextEpoch) - killedAt);
      }
    }
    const final = await done;
    if (final.state !== 'succeeded') throw new Error(`faults job ${final.state}: ${final.error}`);
    return {
      seconds: (performance.now() - firstEpochAt) / 1000, accuracy: final.metrics?.test?.values?.accuracy ?? NaN,
      toStep, toEpoch, attempts: final.attempt ?? 0,
    };
  } finally {
    api.close();
    for (const c of extra) c.proc.kill('SIGTERM');
    await fleet.stop();
  }
}

export const faults: Benchmark = {
  name: 'faults',
  description: `What a lost worker costs: an MLP (784-128-10) on ${IMAGES} Fashion-MNIST images, ${EPOCHS} epochs, batch 64 per worker, ${WORKERS} wasm workers, checkpoints every epoch; once without faults, once with a random member SIGKILLed every ${KILL_EVERY_S} s (${KILLS} times) and a replacement started at once. Times from the end of the first epoch to the end of the job.`,
  async run() {
    const clean = await run(false);
    const faulted = await run(true);
    const kills = faulted.toStep.length;
    const lost = (faulted.seconds - clean.seconds) / Math.max(1, kills);
    const epochSeconds = clean.seconds / (EPOCHS - 1);
    const rows: BenchRow[] = [
      { case: 'job without faults', value: clean.seconds, unit: 's', note: `test accuracy ${clean.accuracy.toFixed(4)}` },
      { case: `job with ${kills} SIGKILLs`, value: faulted.seconds, unit: 's', note: `test accuracy ${faulted.accuracy.toFixed(4)}, ${faulted.attempts} attempts` },
      { case: 'kill → next applied step (median)', value: median(faulted.toStep), unit: 'ms', note: faulted.toStep.map((m) => m.toFixed(0)).join(', ') },
      { case: 'kill → next finished epoch (median)', value: median(faulted.toEpoch), unit: 'ms', note: faulted.toEpoch.map((m) => m.toFixed(0)).join(', ') },
      { case: 'time lost per fault', value: lost, unit: 's', note: `one epoch without faults takes ${epochSeconds.toFixed(2)} s` },
    ];
    return {
      name: 'faults', description: faults.description, rows,
      ratios: { 'time lost per fault / epoch time': lost / epochSeconds, 'accuracy with faults − without': faulted.accuracy - clean.accuracy },
    };
  },
};
