import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startCoordinator } from '../coordinator/main';
import { ParameterStore } from '../coordinator/ps/parameter-store';
import { hostTensor } from '../shared/codec/host-tensor';
import { createLogger } from '../shared/log';
import { OptimizerSpec } from '../shared/config/job-spec';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../shared/rpc/services';
import { Benchmark, BenchRow, median, runNodeScript } from './harness';

/** 4M floats = 16 MiB: the model size the foundation issue asks about. */
const FLOATS = 4 * 1024 * 1024;
const BYTES = FLOATS * 4;
const ROUNDS = Number(process.env.TFLEET_BENCH_ROUNDS ?? 20);
const WARMUP = 3;
/** A small model's push (a 1k-float statistic): what a call costs when its bytes cost nothing. */
const SMALL_FLOATS = 1000;
const SMALL_ROUNDS = 300;
const SGD: OptimizerSpec = { name: 'sgd', learningRate: 0.01, momentum: 0, beta1: 0, beta2: 0, epsilon: 0 };
const ADAM: OptimizerSpec = { name: 'adam', learningRate: 0.001, momentum: 0, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };

async function tcpBaseline(): Promise<number[]> {
  const server = spawn(process.execPath, [join(__dirname, 'tcp-echo.js'), 'server'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => server.stdout.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()).port)));
  try {
    const { times } = await runNodeScript<{ times: number[] }>(join(__dirname, 'tcp-echo.js'), ['client', String(port), String(BYTES), String(ROUNDS + WARMUP)]);
    return times.slice(WARMUP);
  } finally {
    server.kill('SIGTERM');
  }
}

/** Per-round times, after warm-up, of `workers` client processes pushing and pulling `floats` floats in `mode`. */
async function psRounds(mode: 'pushpull' | 'push+pull' | 'stream' | 'port', floats = FLOATS, workers = 2, rounds = ROUNDS): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-bench-'));
  const co = await startCoordinator({
    host: '127.0.0.1', port: 0, metricsPort: 0, stateDir: join(dir, 'state'), runsDir: join(dir, 'runs'), natsUrl: '',
    leaseMs: 60_000, maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES, advertiseHost: '', log: createLogger('bench', { level: 'error' }),
  });
  try {
    // A bench job table straight on the embedded store: the wire path under test is the real one.
    const store = co.coordinator.ps;
    const members = Array.from({ length: workers }, (_, i) => `b${i}`);
    store.openJob('bench', members);
    store.init('bench', new Map([['w', hostTensor([floats])]]), SGD);
    const script = join(__dirname, 'ps-client-proc.js');
    const args = (w: string) => [co.address, 'bench', w, String(floats), String(rounds + WARMUP), mode, co.tensorAddress];
    const perWorker = await Promise.all(members.map((w) => runNodeScript<{ times: number[] }>(script, args(w))));
    // A bulk-synchronous round ends for all together; take the slowest worker's time per round.
    return perWorker[0].times.map((_, i) => Math.max(...perWorker.map((p) => p.times[i]))).slice(WARMUP);
  } finally {
    await co.stop();
  }
}

/**
 * The server's arithmetic alone, in process: per step, two workers' pushes
 * are summed and the rule turns the mean into new values. What a step
 * costs the coordinator's CPU before any byte is sent.
 */
function storeSteps(rule: OptimizerSpec): number[] {
  const store = new ParameterStore();
  store.openJob('bench', ['b0', 'b1']);
  store.init('bench', new Map([['w', hostTensor([FLOATS])]]), rule);
  const grads = ['b0', 'b1'].map((_, i) => new Map([['w', hostTensor([FLOATS], Float32Array.from({ length: FLOATS }, (_, j) => Math.sin(i + j) * 1e-3))]]));
  const times: number[] = [];
  for (let step = 0; step < ROUNDS + WARMUP; step++) {
    const t0 = process.hrtime.bigint();
    store.push('bench', 'b0', step, 32, grads[0]);
    store.push('bench', 'b1', step, 32, grads[1]);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return times.slice(WARMUP);
}

export const psThroughput: Benchmark = {
  name: 'ps-throughput',
  description: `Parameter-server push+pull of a dense ${FLOATS / 2 ** 20}M-float (16 MiB) model between 2 worker processes and the coordinator, as one call per step, two calls, one message each way on gRPC exchange streams, or one frame each way on the tensor port, against raw TCP echo of 16 MiB between two Node processes, same run, median of ${ROUNDS} rounds; a 1k-float round trip as a call, on a stream and on the tensor port; and the store's step alone (sum, mean, update rule) in process.`,
  async run() {
    const tcp = median(await tcpBaseline());
    const fused = median(await psRounds('pushpull'));
    const split = median(await psRounds('push+pull'));
    const streamed = median(await psRounds('stream'));
    const ported = median(await psRounds('port'));
    const smallCall = median(await psRounds('pushpull', SMALL_FLOATS, 1, SMALL_ROUNDS));
    const smallStream = median(await psRounds('stream', SMALL_FLOATS, 1, SMALL_ROUNDS));
    const smallPort = median(await psRounds('port', SMALL_FLOATS, 1, SMALL_ROUNDS));
    const sgdStep = median(storeSteps(SGD));
    const adamStep = median(storeSteps(ADAM));
    const gbps = (ms: number) => (2 * BYTES) / (ms / 1000) / 1e9;
    const rows: BenchRow[] = [
      { case: 'raw TCP echo 16 MiB (2 processes)', value: tcp, unit: 'ms/round', note: `${gbps(tcp).toFixed(2)} GB/s each way combined` },
      { case: 'PS fused PushPull 16 MiB, 2 workers', value: fused, unit: 'ms/step', note: `${gbps(fused).toFixed(2)} GB/s per worker` },
      { case: 'PS Push then Pull 16 MiB, 2 workers', value: split, unit: 'ms/step', note: `${gbps(split).toFixed(2)} GB/s per worker` },
      { case: 'PS exchange stream 16 MiB, 2 workers', value: streamed, unit: 'ms/step', note: `${gbps(streamed).toFixed(2)} GB/s per worker` },
      { case: 'PS tensor port 16 MiB, 2 workers', value: ported, unit: 'ms/step', note: `${gbps(ported).toFixed(2)} GB/s per worker` },
      { case: 'PS fused PushPull call, 1k floats, 1 worker', value: smallCall, unit: 'ms/round', note: `median of ${SMALL_ROUNDS}` },
      { case: 'PS exchange stream, 1k floats, 1 worker', value: smallStream, unit: 'ms/round', note: `median of ${SMALL_ROUNDS}` },
      { case: 'PS tensor port, 1k floats, 1 worker', value: smallPort, unit: 'ms/round', note: `median of ${SMALL_ROUNDS}` },
      { case: 'store step alone, sgd, 2 pushes of 4M floats', value: sgdStep, unit: 'ms/step', note: 'in process: sum, mean, rule' },
      { case: 'store step alone, adam, 2 pushes of 4M floats', value: adamStep, unit: 'ms/step', note: 'in process: sum, mean, rule' },
    ];
    return {
      name: this.name,
      description: this.description,
      rows,
      ratios: {
        'fused PushPull time / raw TCP echo time': fused / tcp,
        'Push+Pull time / fused time': split / fused,
        'exchange stream time / fused PushPull call time, 16 MiB': streamed / fused,
        'fused PushPull call time / exchange stream time, 1k floats': smallCall / smallStream,
        'tensor port time / raw TCP echo time, 16 MiB': ported / tcp,
        'exchange stream time / tensor port time, 16 MiB': streamed / ported,
        'exchange stream time / tensor port time, 1k floats': smallStream / smallPort,
        'store step alone, adam / fused PushPull with sgd': adamStep / fused,
      },
    };
  },
};
