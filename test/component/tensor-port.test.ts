import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunningCoordinator, startCoordinator } from '../../coordinator/main';
import { TensorMap, hostTensor } from '../../shared/codec/host-tensor';
import { encodeExchangeRequest } from '../../shared/codec/ps-frames';
import { mapToWire } from '../../shared/codec/wire';
import { FrameKind, FrameReader, controlFrame, frameHeader, parseControl } from '../../shared/codec/socket-frames';
import { ArgumentError, TfleetError } from '../../shared/errors';
import { createLogger } from '../../shared/log';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../../shared/rpc/services';
import { TensorSocket } from '../../worker/ps/tensor-socket';
import { faultyRelay } from '../harness/relay';

const WORKER_TOKEN = 'worker-token-0123456789';
const CLIENT_TOKEN = 'client-token-0123456789';

const filled = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));
const x = (v: number, n = 2): TensorMap => new Map([['x', hostTensor([n], filled(n, () => v))]]);

async function coordinatorAt(auth?: boolean): Promise<RunningCoordinator> {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-tensor-port-'));
  return startCoordinator({
    host: '127.0.0.1', port: 0, metricsPort: 0, stateDir: join(dir, 'state'), runsDir: join(dir, 'runs'), natsUrl: '',
    leaseMs: 10_000, maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES, advertiseHost: '', log: createLogger('test', { level: 'error' }),
    ...(auth ? { auth: { tokens: [{ token: WORKER_TOKEN, roles: ['worker'] as const }, { token: CLIENT_TOKEN, roles: ['client'] as const }] } } : {}),
  });
}

/** Sends `frames` on a raw connection to `address` and resolves with the Error frame the server ends it with. */
async function refusalOf(address: string, frames: Buffer[]): Promise<{ code: string; message: string }> {
  const [host, port] = address.split(':');
  const socket = connect(Number(port), host);
  return new Promise((resolve, reject) => {
    const reader = new FrameReader(() => 1 << 16, (kind, body) => {
      if (kind === FrameKind.Error) resolve(parseControl(FrameKind.Error, body));
      else reject(new Error(`unexpected ${FrameKind[kind]} frame`));
    });
    socket.on('data', (c: Buffer) => reader.feed(c));
    socket.on('error', () => undefined);
    socket.on('close', () => reject(new Error('closed without an Error frame')));
    for (const f of frames) socket.write(f);
  }).finally(() => socket.destroy()) as Promise<{ code: string; message: string }>;
}

describe('the tensor port: bucketed steps over framed TCP', () => {
  let co: RunningCoordinator;
  const closers: (() => unknown)[] = [];

  beforeAll(async () => {
    co = await coordinatorAt();
  });
  afterAll(async () => {
    for (const c of closers.reverse()) await c();
    await co.stop();
  });

  const sumJob = (jobId: string, init: TensorMap): void => {
    co.coordinator.ps.openJob(jobId, ['a', 'b']);
    co.coordinator.ps.init(jobId, init, { name: 'sum' });
  };
  const socket = (jobId: string, workerId: string, address = co.tensorAddress): TensorSocket => {
    const s = new TensorSocket(address, jobId, workerId);
    closers.push(() => s.close());
    return s;
  };

  it('is advertised beside gRPC (the pipeline over it: ps-buckets.test.ts)', () => {
    expect(co.tensorAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(co.tensorAddress).not.toBe(co.address);
  });

  it('sends 16 MiB while the 16 MiB reply to the request before comes back on the same connection', async () => {
    const n = 4 * 1024 * 1024;
    sumJob('port-large', new Map([['k0', hostTensor([n])], ['k1', hostTensor([n])]]));
    const [a, b] = [socket('port-large', 'a'), socket('port-large', 'b')];
    const big = (key: string, v: number): TensorMap => new Map([[key, hostTensor([n], new Float32Array(n).fill(v))]]);
    // b's pushes complete both steps; a's second push goes out while its first reply is on the way.
    const a0 = a.pushPull(0, 1, big('k0', 1));
    const a1 = a.pushPull(0, 1, big('k1', 2));
    await Promise.all([b.pushPull(0, 1, big('k0', 10)), b.pushPull(0, 1, big('k1', 20))]);
    const [r0, r1] = await Promise.all([a0, a1]);
    expect(r0.tensors.get('k0')!.data[n - 1]).toBe(11);
    expect(r1.tensors.get('k1')!.data[0]).toBe(22);
  });

  it('replaces a connection that answers no keepalive ping while a request waits, and the push counts once', async () => {
    const relay = await faultyRelay(co.tensorAddress);
    closers.push(() => relay.close());
    sumJob('port-silent', new Map([['x', hostTensor([2])]]));
    const a = new TensorSocket(relay.address, 'port-silent', 'a', {}, DEFAULT_MAX_MESSAGE_BYTES, { afterMs: 100, timeoutMs: 100 });
    closers.push(() => a.close());
    const b = socket('port-silent', 'b');
    await Promise.all([a.pushPull(0, 1, x(1)), b.pushPull(0, 1, x(2))]);
    relay.hold();
    const a1 = a.pushPull(1, 1, x(10));
    expect([...(await b.pushPull(1, 1, x(20))).tensors.get('x')!.data]).toEqual([30, 30]);
    // Nothing is cut: a's connection just goes silent, and its keepalive finds out.
    const again = await a1;
    expect(again.version).toBe(2);
    expect([...again.tensors.get('x')!.data]).toEqual([30, 30]);
  });

  it('gives up on a port where nothing listens after its attempts, as UNAVAILABLE', async () => {
    const relay = await faultyRelay('127.0.0.1:1');
    const address = relay.address;
    await relay.close();
    const err = await socket('nobody', 'a', address).pushPull(0, 1, x(1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TfleetError);
    expect((err as TfleetError).code).toBe('UNAVAILABLE');
    expect((err as Error).message).toMatch(/^tensor port 127\.0\.0\.1:\d+: the connection closed \(ECONNREFUSED\)$/);
  });

  it('refuses a first frame that is not a Hello, and a frame above its limit before reading it', async () => {
    expect(await refusalOf(co.tensorAddress, [frameHeader(FrameKind.Request, 4), Buffer.alloc(4)])).toEqual({
      code: 'INVALID_ARGUMENT', message: 'tensor port: the first frame must be a Hello, not a Request frame',
    });
    expect(await refusalOf(co.tensorAddress, [frameHeader(FrameKind.Hello, 0xffffffff)])).toEqual({
      code: 'INVALID_ARGUMENT', message: 'tensor port: a Hello frame of 4294967295 bytes is above the limit of 16384',
    });
    expect(await refusalOf(co.tensorAddress, [Buffer.from([9, 0, 0, 0, 0])])).toEqual({ code: 'INVALID_ARGUMENT', message: 'tensor port: frame of unknown kind 9' });
    const hello = controlFrame(FrameKind.Hello, { jobId: 'j', workerId: 'w' });
    expect(await refusalOf(co.tensorAddress, [hello, frameHeader(FrameKind.Request, 3), Buffer.from([0xff, 0xff, 0xff])])).toEqual({
      code: 'INVALID_ARGUMENT', message: 'tensor port: a Request frame that is not an ExchangeRequest',
    });
    expect(await refusalOf(co.tensorAddress, [frameHeader(FrameKind.Hello, 2), Buffer.from('[]')])).toEqual({
      code: 'INVALID_ARGUMENT', message: 'tensor port: the Hello frame is not an object',
    });
  });

  it("refuses a request in another worker's name than its connection's, and a non-member's", async () => {
    sumJob('port-names', new Map([['x', hostTensor([2])]]));
    const request = encodeExchangeRequest({ id: 0, push: { jobId: 'port-names', workerId: 'b', step: 0, weight: 1, tensors: mapToWire(x(1)) } });
    const hello = controlFrame(FrameKind.Hello, { jobId: 'port-names', workerId: 'a' });
    expect(await refusalOf(co.tensorAddress, [hello, frameHeader(FrameKind.Request, request.byteLength), request])).toEqual({
      code: 'PERMISSION_DENIED', message: "tensor port: a request as worker 'b' of job 'port-names' on a connection opened for worker 'a' of job 'port-names'",
    });
    const stranger = await socket('port-names', 'stranger').pushPull(0, 1, x(1)).catch((e: unknown) => e);
    expect((stranger as Error).message).toMatch(/worker 'stranger' is not a member of job 'port-names'/);
  });
});

describe('the tensor port of a coordinator that takes tokens', () => {
  let co: RunningCoordinator;
  beforeAll(async () => {
    co = await coordinatorAt(true);
  });
  afterAll(async () => co.stop());

  it("takes a worker's token and refuses no token or a client's, in the gRPC interceptor's words", async () => {
    co.coordinator.ps.openJob('locked', ['a']);
    co.coordinator.ps.init('locked', new Map([['x', hostTensor([2])]]), { name: 'sum' });
    const tryWith = async (token?: string) => {
      const s = new TensorSocket(co.tensorAddress, 'locked', 'a', token ? { token } : {});
      try {
        return await s.pushPull(0, 1, x(1)).catch((e: unknown) => e);
      } finally {
        s.close();
      }
    };
    const none = (await tryWith()) as TfleetError;
    expect([none.code, none.message]).toEqual(['UNAUTHENTICATED', 'Exchange needs a bearer token: set TFLEET_AUTH_TOKEN or --auth-token-file']);
    const wrong = (await tryWith('not-a-token-we-know')) as TfleetError;
    expect([wrong.code, wrong.message]).toEqual(['UNAUTHENTICATED', 'Exchange: the bearer token is not one this coordinator accepts']);
    const client = (await tryWith(CLIENT_TOKEN)) as TfleetError;
    expect([client.code, client.message]).toEqual(['PERMISSION_DENIED', "Exchange is a worker's call; this token is for client calls only"]);
    const ok = (await tryWith(WORKER_TOKEN)) as { tensors: TensorMap };
    expect([...ok.tensors.get('x')!.data]).toEqual([1, 1]);
    expect(ok).toMatchObject({ version: 1 });
  });
});
