import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunningCoordinator, startCoordinator } from '../../coordinator/main';
import { TensorMap, hostTensor } from '../../shared/codec/host-tensor';
import { NotFoundError } from '../../shared/errors';
import { createLogger } from '../../shared/log';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../../shared/rpc/services';
import { PsClient } from '../../worker/ps-client';
import { BUCKET_BYTES, PsExchange } from '../../worker/step-exchange';

/** More floats than one bucket holds, so a tensor of this size leaves on its own. */
const BIG = BUCKET_BYTES / 4 + 100;

const filled = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));

describe('PsExchange: a step pushed in buckets from the parameter-server thread', () => {
  let co: RunningCoordinator;
  const exchanges: PsExchange[] = [];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfleet-exchange-'));
    co = await startCoordinator({
      host: '127.0.0.1', port: 0, metricsPort: 0, stateDir: join(dir, 'state'), runsDir: join(dir, 'runs'), natsUrl: '',
      leaseMs: 10_000, maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES, advertiseHost: '', log: createLogger('test', { level: 'error' }),
    });
  });
  afterAll(async () => {
    await Promise.all(exchanges.map((e) => e.close()));
    await co.stop();
  });

  const open = (jobId: string, workerId: string, traffic = {}) => {
    const e = new PsExchange(co.address, jobId, workerId, traffic);
    exchanges.push(e);
    return e;
  };

  it('gives every worker the same result as one fused push-pull of the whole statistic', async () => {
    const store = co.coordinator.ps;
    const init: TensorMap = new Map([['big', hostTensor([BIG])], ['small', hostTensor([3])]]);
    for (const job of ['buckets', 'fused']) {
      store.openJob(job, ['a', 'b']);
      store.init(job, init, { name: 'average' });
    }
    const stat = (worker: number): TensorMap => new Map([
      ['big', hostTensor([BIG], filled(BIG, (i) => (i % 7) + worker))],
      ['small', hostTensor([3], filled(3, (i) => i * (worker + 1)))],
    ]);
    const pushedAt: number[] = [];
    const a = open('buckets', 'a', { pushed: () => pushedAt.push(Date.now()) }).begin(0, 3);
    const b = open('buckets', 'b').begin(0, 1);
    a.add('big', stat(0).get('big')!);
    // A full bucket leaves at once, before the step's other tensors exist.
    expect(pushedAt).toHaveLength(1);
    a.add('small', stat(0).get('small')!);
    b.add('small', stat(1).get('small')!);
    b.add('big', stat(1).get('big')!);
    const [ra, rb] = await Promise.all([a.finish(), b.finish()]);
    expect(pushedAt).toHaveLength(2);

    const fa = new PsClient(co.address, 'fused', 'a');
    const fb = new PsClient(co.address, 'fused', 'b');
    const [fused] = await Promise.all([fa.pushPull(0, 3, stat(0)), fb.pushPull(0, 1, stat(1))]);
    fa.close();
    fb.close();
    for (const r of [ra, rb]) {
      expect(r.version).toBe(1);
      expect([...r.tensors.keys()].sort()).toEqual(['big', 'small']);
      for (const key of ['big', 'small']) expect([...r.tensors.get(key)!.data]).toEqual([...fused.tensors.get(key)!.data]);
    }
    // Pushes are sums over each worker's rows: the server divides their sum by all rows, (1 + 2) / (3 + 1).
    expect(ra.tensors.get('big')!.data[1]).toBeCloseTo(0.75, 6);
  });

  it('refuses a key added twice in one step', () => {
    const step = open('twice', 'a').begin(0, 1);
    step.add('w', hostTensor([1]));
    expect(() => step.add('w', hostTensor([1]))).toThrow(/'w' was added twice/);
  });

  it('brings the server’s error back from the thread as the same error class', async () => {
    co.coordinator.ps.openJob('missing-key', ['a']);
    const step = open('missing-key', 'a').begin(0, 1);
    step.add('nope', hostTensor([2]));
    const failure = await step.finish().catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(NotFoundError);
    expect((failure as Error).message).toMatch(/no parameter 'nope'/);
  });
});
