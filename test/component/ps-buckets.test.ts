import * as grpc from '@grpc/grpc-js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunningCoordinator, startCoordinator } from '../../coordinator/main';
import { TensorMap, hostTensor } from '../../shared/codec/host-tensor';
import { ArgumentError, NotFoundError } from '../../shared/errors';
import { createLogger } from '../../shared/log';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../../shared/rpc/services';
import { parameterServerClient } from '../../shared/rpc/clients';
import { mapToWire } from '../../shared/codec/wire';
import { tfleet } from '../../proto/generated/tfleet';
import { BUCKET_BYTES, BucketPipeline } from '../../worker/ps/bucket-pipeline';
import { PsClient } from '../../worker/ps/client';
import { PsStream, SplitExchange } from '../../worker/ps/stream';
import { TensorSocket } from '../../worker/ps/tensor-socket';
import { faultyRelay } from '../harness/relay';

/** More floats than one bucket holds, so a tensor of this size leaves on its own. */
const BIG = BUCKET_BYTES / 4 + 100;

const filled = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));

describe('BucketPipeline: a step pushed in buckets from the parameter-server thread', () => {
  let co: RunningCoordinator;
  const exchanges: BucketPipeline[] = [];

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

  /** A worker's pipeline; `tensorPort`: its buckets go to the coordinator's tensor port, not gRPC streams. */
  const open = (jobId: string, workerId: string, traffic = {}, tensorPort = false) => {
    const e = new BucketPipeline(co.address, jobId, workerId, traffic, tensorPort ? co.tensorAddress : '');
    exchanges.push(e);
    return e;
  };

  it.each([['gRPC exchange streams', false], ['the tensor port', true]])('gives every worker the same result as one fused push-pull of the whole statistic, over %s', async (name, tensorPort) => {
    const store = co.coordinator.ps;
    const init: TensorMap = new Map([['big', hostTensor([BIG])], ['small', hostTensor([3])]]);
    const [buckets, fusedJob] = [`buckets over ${name}`, `fused beside ${name}`];
    for (const job of [buckets, fusedJob]) {
      store.openJob(job, ['a', 'b']);
      store.init(job, init, { name: 'average' });
    }
    const stat = (worker: number): TensorMap => new Map([
      ['big', hostTensor([BIG], filled(BIG, (i) => (i % 7) + worker))],
      ['small', hostTensor([3], filled(3, (i) => i * (worker + 1)))],
    ]);
    const pushedAt: number[] = [];
    const a = open(buckets, 'a', { pushed: () => pushedAt.push(Date.now()) }, tensorPort).begin(0, 3);
    const b = open(buckets, 'b', {}, tensorPort).begin(0, 1);
    a.add('big', stat(0).get('big')!);
    // A full bucket leaves at once, before the step's other tensors exist.
    expect(pushedAt).toHaveLength(1);
    a.add('small', stat(0).get('small')!);
    b.add('small', stat(1).get('small')!);
    b.add('big', stat(1).get('big')!);
    const [ra, rb] = await Promise.all([a.finish(), b.finish()]);
    expect(pushedAt).toHaveLength(2);

    const fa = new PsClient(co.address, fusedJob, 'a');
    const fb = new PsClient(co.address, fusedJob, 'b');
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

  /** A 2-worker job of `sum` keys on the store, and one exchange stream per worker ('a' through `addressOfA`). */
  const sumJobStreams = (jobId: string, init: TensorMap, addressOfA = co.address): [PsStream, PsStream] => {
    co.coordinator.ps.openJob(jobId, ['a', 'b']);
    co.coordinator.ps.init(jobId, init, { name: 'sum' });
    return [new PsStream(addressOfA, jobId, 'a'), new PsStream(co.address, jobId, 'b')];
  };

  it('answers stream requests in the order their pulls are ready, each by its number', async () => {
    const [a, b] = sumJobStreams('stream-order', new Map([['x', hostTensor([2])], ['y', hostTensor([1])]]));
    try {
      const settled: string[] = [];
      const ax = a.pushPull(0, 1, new Map([['x', hostTensor([2], filled(2, (i) => i + 1))]])).then((r) => (settled.push('x'), r));
      const ay = a.pushPull(0, 1, new Map([['y', hostTensor([1], filled(1, () => 10))]])).then((r) => (settled.push('y'), r));
      // b completes y first: a's second request is answered before its first.
      const by = await b.pushPull(0, 1, new Map([['y', hostTensor([1], filled(1, () => 5))]]));
      expect([...by.tensors.get('y')!.data]).toEqual([15]);
      expect([...(await ay).tensors.get('y')!.data]).toEqual([15]);
      expect(settled).toEqual(['y']);
      const bx = await b.pushPull(0, 1, new Map([['x', hostTensor([2], filled(2, () => 100))]]));
      const rx = await ax;
      expect(settled).toEqual(['y', 'x']);
      for (const r of [rx, bx]) {
        expect(r.version).toBe(1);
        expect([...r.tensors.get('x')!.data]).toEqual([101, 102]);
      }
    } finally {
      a.close();
      b.close();
    }
  });

  it('sends a large request while the reply to the one before it comes back on the same stream', async () => {
    // 16 MiB each, a 2048x2048 weight: more than the socket buffers hold either way. The server
    // answers k0 as soon as it has it, while k1 is still going out; with wide HTTP/2 windows both
    // ways, both peers stopped reading behind their unfinished writes until keepalive dropped the
    // connection, on every attempt (issue 15).
    const n = 2048 * 2048;
    co.coordinator.ps.openJob('stream-large', ['a']);
    co.coordinator.ps.init('stream-large', new Map([['k0', hostTensor([n])], ['k1', hostTensor([n])]]), { name: 'sum' });
    const a = new PsStream(co.address, 'stream-large', 'a');
    try {
      const [r0, r1] = await Promise.all([
        a.pushPull(0, 1, new Map([['k0', hostTensor([n], new Float32Array(n).fill(1))]])),
        a.pushPull(0, 1, new Map([['k1', hostTensor([n], new Float32Array(n).fill(2))]])),
      ]);
      for (const [r, key, value] of [[r0, 'k0', 1], [r1, 'k1', 2]] as const) {
        expect(r.version).toBe(1);
        const data = r.tensors.get(key)!.data;
        expect(data).toHaveLength(n);
        expect(data[0]).toBe(value);
        expect(data[n - 1]).toBe(value);
      }
    } finally {
      a.close();
    }
  });

  it('splits a step into a push and a pull on two connections, the pulls with a wide window: 16 MiB each way at once', async () => {
    // As the test above, on the path a worker's bucket thread takes: the replies' connection carries
    // tensors one way only, so its wide window cannot stall it.
    const n = 2048 * 2048;
    co.coordinator.ps.openJob('split-large', ['a', 'b']);
    co.coordinator.ps.init('split-large', new Map([['k0', hostTensor([n])], ['k1', hostTensor([n])]]), { name: 'sum' });
    const [a, b] = ['a', 'b'].map((w) => new SplitExchange(co.address, 'split-large', w));
    const big = (key: string, v: number): TensorMap => new Map([[key, hostTensor([n], new Float32Array(n).fill(v))]]);
    try {
      for (let step = 0; step < 2; step++) {
        const results = await Promise.all([
          a.pushPull(step, 1, big('k0', 1)), a.pushPull(step, 1, big('k1', 2)),
          b.pushPull(step, 1, big('k0', 10)), b.pushPull(step, 1, big('k1', 20)),
        ]);
        for (const [r, key, value] of [[results[0], 'k0', 11], [results[1], 'k1', 22], [results[2], 'k0', 11], [results[3], 'k1', 22]] as const) {
          expect(r.version).toBe(step + 1);
          const data = r.tensors.get(key)!.data;
          expect(data).toHaveLength(n);
          expect([data[0], data[n - 1]]).toEqual([value, value]);
        }
      }
    } finally {
      a.close();
      b.close();
    }
  });

  it("fails a split step with its push's error, not by waiting for a version that cannot come", async () => {
    co.coordinator.ps.openJob('split-error', ['a']);
    co.coordinator.ps.init('split-error', new Map([['w', hostTensor([2])]]), { name: 'sum' });
    const a = new SplitExchange(co.address, 'split-error', 'a');
    try {
      const wrong = await a.pushPull(0, 1, new Map([['w', hostTensor([3])]])).catch((err: unknown) => err);
      expect(wrong).toBeInstanceOf(ArgumentError);
      expect((wrong as Error).message).toMatch(/pushed 'w' has shape \[3\], the server holds \[2\]/);
      const right = await a.pushPull(0, 1, new Map([['w', hostTensor([2], filled(2, () => 4))]]));
      expect([...right.tensors.get('w')!.data]).toEqual([4, 4]);
    } finally {
      a.close();
    }
  });

  it('refuses an exchange request that is both a push and a pull', async () => {
    co.coordinator.ps.openJob('split-both', ['a']);
    co.coordinator.ps.init('split-both', new Map([['w', hostTensor([1])]]), { name: 'sum' });
    const client = parameterServerClient(co.address);
    try {
      const call = (client as unknown as { exchange(): grpc.ClientDuplexStream<tfleet.ps.IExchangeRequest, tfleet.ps.ExchangeReply> }).exchange();
      const ended = new Promise<grpc.ServiceError>((resolve) => call.on('error', resolve));
      call.on('data', () => undefined);
      call.write({
        id: 1,
        push: { jobId: 'split-both', workerId: 'a', step: 0, weight: 1, tensors: mapToWire(new Map([['w', hostTensor([1])]])) },
        pull: { jobId: 'split-both', workerId: 'a', keys: ['w'], minVersion: 1 },
      });
      const err = await ended;
      expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err.details).toMatch(/a 'push' or a 'pull', not both/);
    } finally {
      client.close();
    }
  });

  /** A worker's fused push-pulls on one of the two ways to the parameter server. */
  interface Exchange {
    pushPull(step: number, weight: number, tensors: TensorMap): Promise<{ version: number; tensors: TensorMap }>;
    close(): void;
  }
  const transports: [string, (address: string, jobId: string, workerId: string) => Exchange, () => string][] = [
    ['an exchange stream', (address, jobId, workerId) => new PsStream(address, jobId, workerId), () => co.address],
    ['the tensor port', (address, jobId, workerId) => new TensorSocket(address, jobId, workerId), () => co.tensorAddress],
  ];

  describe.each(transports)('on %s', (_name, open, addressOf) => {
    /** A 2-worker job of `sum` keys on the store, and an exchange per worker ('a' through `addressOfA`). */
    const sumJob = (jobId: string, init: TensorMap, addressOfA = addressOf()): [Exchange, Exchange] => {
      co.coordinator.ps.openJob(jobId, ['a', 'b']);
      co.coordinator.ps.init(jobId, init, { name: 'sum' });
      return [open(addressOfA, jobId, 'a'), open(addressOf(), jobId, 'b')];
    };

    it('fails every request waiting with the error that ended its connection, then opens a new one', async () => {
      const [a, b] = sumJob(`error-${addressOf()}`, new Map([['w', hostTensor([2])], ['v', hostTensor([1])]]));
      try {
        // Waits for b's push of 'v', which never comes on this connection.
        const waiting = a.pushPull(0, 1, new Map([['v', hostTensor([1])]])).catch((err: unknown) => err);
        const wrong = await a.pushPull(0, 1, new Map([['w', hostTensor([3])]])).catch((err: unknown) => err);
        expect(wrong).toBeInstanceOf(ArgumentError);
        expect((wrong as Error).message).toMatch(/pushed 'w' has shape \[3\], the server holds \[2\]/);
        expect(await waiting).toBe(wrong);
        // The step is still open on the server: a's retry on a new connection, then b's push, complete it.
        const retry = a.pushPull(0, 1, new Map([['w', hostTensor([2], filled(2, () => 1))]]));
        const fromB = await b.pushPull(0, 1, new Map([['w', hostTensor([2], filled(2, () => 2))]]));
        expect([...(await retry).tensors.get('w')!.data]).toEqual([3, 3]);
        expect([...fromB.tensors.get('w')!.data]).toEqual([3, 3]);
      } finally {
        a.close();
        b.close();
      }
    });

    it('sends the requests waiting on a dropped connection again, and a push the server already has counts once', async () => {
      const relay = await faultyRelay(addressOf());
      const [a, b] = sumJob(`cut-${addressOf()}`, new Map([['x', hostTensor([2])]]), relay.address);
      const x = (v: number): TensorMap => new Map([['x', hostTensor([2], filled(2, () => v))]]);
      try {
        // Step 0 opens a's connection through the relay.
        const [a0] = await Promise.all([a.pushPull(0, 1, x(1)), b.pushPull(0, 1, x(2))]);
        expect([...a0.tensors.get('x')!.data]).toEqual([3, 3]);
        relay.hold();
        const a1 = a.pushPull(1, 1, x(10));
        // b's step 1 completes only once a's push of step 1 is on the server; a's answer is held.
        const b1 = await b.pushPull(1, 1, x(20));
        expect([...b1.tensors.get('x')!.data]).toEqual([30, 30]);
        relay.cut();
        const again = await a1;
        expect(again.version).toBe(2);
        expect([...again.tensors.get('x')!.data]).toEqual([30, 30]);
      } finally {
        a.close();
        b.close();
        await relay.close();
      }
    });
  });
});
