import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunningCoordinator, startCoordinator } from '../../coordinator/main';
import { createLogger } from '../../shared/log';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../../shared/rpc/services';
import { WorkerPsHandle } from '../../worker/ps/handle';

const sgd = { name: 'sgd', learningRate: 0.1, momentum: 0, beta1: 0, beta2: 0, epsilon: 0 } as const;

/**
 * A step's traffic grows with the rows it touches, not with the table: the
 * bytes a worker pulls and pushes over gRPC for one step of 16 rows of a
 * 10,000-row table are the same as for a 20,000-row table.
 */
describe('row tables over gRPC: traffic is proportional to the rows touched', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-rows-'));
  let co: RunningCoordinator;
  beforeAll(async () => {
    co = await startCoordinator({
      host: '127.0.0.1', port: 0, metricsPort: 0, stateDir: join(dir, 'state'), runsDir: join(dir, 'runs'), natsUrl: '',
      leaseMs: 10_000, maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES, advertiseHost: '', log: createLogger('test', { level: 'error' }),
    });
  });
  afterAll(async () => {
    await co.stop();
  });

  /** Bytes pulled and pushed by one worker in one step touching `touched` rows of a `rows`-row table of width 64. */
  async function stepBytes(jobId: string, rows: number, touched: number): Promise<{ pulled: number; pushed: number; values: number[] }> {
    co.coordinator.ps.openJob(jobId, ['w']);
    let pulled = 0;
    let pushed = 0;
    const ps = new WorkerPsHandle(co.address, jobId, 'w', { pulled: (b) => (pulled += b), pushed: (b) => (pushed += b) });
    try {
      await ps.createTables([{ key: 'items', rows, width: 64 }], sgd, { kind: 'normal', mean: 0, std: 0.1, seed: 1 });
      const ids = Uint32Array.from({ length: touched }, (_, i) => i * 97);
      const { tensors } = await ps.pullRows(['items'], ids, 0);
      const grads = new Float32Array(touched * 64).fill(1);
      // One step: its push of the touched rows' gradients and the reply with the rows it asks for next.
      pulled = 0;
      pushed = 0;
      const after = await ps.pushPull(0, touched, new Map([['items', { shape: [touched, 64], data: grads, rowIds: ids }]]), { pullRows: ids });
      const before = tensors.get('items')!.data;
      const values = [...after.tensors.get('items')!.data].map((v, i) => v - before[i]);
      return { pulled, pushed, values };
    } finally {
      await ps.close();
      co.coordinator.ps.closeJob(jobId, 'done');
    }
  }

  it('the same bytes for a table twice as large, twice the bytes for twice the rows', async () => {
    const small = await stepBytes('small', 10_000, 16);
    const large = await stepBytes('large', 20_000, 16);
    const more = await stepBytes('more', 10_000, 32);
    expect(large.pulled).toBe(small.pulled);
    expect(large.pushed).toBe(small.pushed);
    expect(small.pulled).toBe(16 * 64 * 4);
    expect(small.pushed).toBe(16 * 64 * 4);
    expect(more.pulled).toBe(2 * small.pulled);
    expect(more.pushed).toBe(2 * small.pushed);
    // A dense push and pull of the table would be 10,000 × 64 × 4 bytes each way: 625 times as much.
    expect((10_000 * 64 * 4 * 2) / (small.pulled + small.pushed)).toBeCloseTo(625, 6);
    // The server stepped each touched row by -lr·g.
    for (const d of small.values) expect(d).toBeCloseTo(-0.1, 6);
  });
});
