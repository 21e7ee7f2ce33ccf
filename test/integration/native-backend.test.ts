import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CoordinatorApi } from '../../shared/rpc/clients';
import { nativeAddon } from '../harness/backends';
import { trainToEnd } from '../harness/fleet';
import { fashionMnist } from '../harness/paths';
import { killAll, runCli, startCli } from '../harness/processes';

afterAll(killAll);

async function coordinator(dir: string): Promise<string> {
  const co = await startCli(['coordinator', '--port', '0', '--metrics-port', '0', '--state-dir', join(dir, 'state'), '--runs-dir', join(dir, 'runs')]);
  return co.ready.grpc!;
}

describe('the native backend, chosen by the worker', () => {
  const ADDON_OFF = { TFLEET_NATIVE: 'off' };

  it('fails at start when asked for and absent, saying how to install it', async () => {
    const run = await runCli(['worker', '--coordinator', '127.0.0.1:1', '--backend', 'native'], ADDON_OFF);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("backend 'native' is not available (switched off by TFLEET_NATIVE=off)");
    expect(run.stderr).toContain('apt install g++ libdnnl-dev');
  });

  it('gives way to wasm under auto when absent, and says why', async () => {
    const addr = await coordinator(mkdtempSync(join(tmpdir(), 'tfleet-native-')));
    const worker = await startCli(['worker', '--coordinator', addr, '--metrics-port', '0', '--backend', 'auto'], ADDON_OFF);
    expect(worker.ready.backend).toBe('wasm');
    expect(worker.stderr.join('\n')).toContain('no native backend (switched off by TFLEET_NATIVE=off)');
  });

  it.skipIf(!nativeAddon.ok)('is the first choice of auto where built, and trains a CNN job on two workers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfleet-native-'));
    const addr = await coordinator(dir);
    const workers = await Promise.all([1, 2].map((i) => startCli(['worker', '--coordinator', addr, '--metrics-port', '0', '--threads', '1', '--name', `n${i}`])));
    for (const w of workers) expect(w.ready.backend).toBe('native');
    const metrics = await (await fetch(`${workers[0].ready.metrics}`)).text();
    expect(metrics).toMatch(/tfleet_worker_backend_info\{[^}]*backend="native",reason="auto: no tensorflow bindings; oneDNN kernels over wasm \(oneDNN [\d.]+, OpenMP, 1 thread\)"/);
    const api = new CoordinatorApi(addr);
    try {
      const final = await trainToEnd(api, {
        model: { family: 'cnn', preset: 'two-conv' },
        data: { train: { format: 'idx', ...fashionMnist('train'), limit: 1024 }, test: { format: 'idx', ...fashionMnist('t10k'), limit: 1000 } },
        training: { epochs: 2, batchSize: 64, optimizer: { name: 'adam', learningRate: 0.002 } },
        workers: 2,
        output: join(dir, 'model'),
      });
      expect(final.state).toBe('succeeded');
      // Ten classes: chance is 0.1; two epochs on 1,024 images reach well past it.
      expect(final.metrics!.test.values!.accuracy).toBeGreaterThan(0.6);
    } finally {
      api.close();
    }
  });
});
