import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunningCoordinator, startCoordinator } from '../../coordinator/main';
import { createLogger } from '../../shared/log';
import { CoordinatorApi } from '../../shared/rpc/clients';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../../shared/rpc/services';
import { BackendName } from '../../worker/backends/select';
import { RunningWorker, startWorker } from '../../worker/main';

/**
 * A coordinator and N workers in this process, talking real gRPC over
 * loopback: for numeric tests that need many runs. Integration tests spawn
 * the CLI instead.
 */
export interface InProcessFleet {
  api: CoordinatorApi;
  coordinator: RunningCoordinator;
  workers: RunningWorker[];
  dir: string;
  stop(): Promise<void>;
}

const quiet = createLogger('test', { level: 'error' });

export async function startInProcessFleet(workers: number, backend: BackendName = 'cpu'): Promise<InProcessFleet> {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-fleet-'));
  const coordinator = await startCoordinator({
    host: '127.0.0.1', port: 0, metricsPort: 0, stateDir: join(dir, 'state'), runsDir: join(dir, 'runs'), natsUrl: '',
    leaseMs: 10_000, maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES, advertiseHost: '', log: quiet,
  });
  const started = await Promise.all(Array.from({ length: workers }, (_, i) =>
    new Promise<RunningWorker>((resolve, reject) => {
      let handle: RunningWorker | null = null;
      let registered = false;
      startWorker({
        coordinator: coordinator.address, metricsHost: '127.0.0.1', metricsPort: 0, backend, name: `w${i}`, log: quiet,
        onReady: () => { registered = true; if (handle) resolve(handle); },
      }).then((w) => { handle = w; if (registered) resolve(w); }, reject);
    })));
  const api = new CoordinatorApi(coordinator.address);
  return {
    api, coordinator, workers: started, dir,
    async stop() {
      api.close();
      await Promise.all(started.map((w) => w.stop()));
      await coordinator.stop();
    },
  };
}

/** Submits a spec and waits for its final record. */
export async function trainToEnd(api: CoordinatorApi, spec: object) {
  const submitted = await api.submit(JSON.stringify(spec));
  return api.watchJob(submitted.id, () => undefined);
}

/** The trained weights of a saved model, in manifest order. */
export async function savedWeights(dir: string): Promise<Float32Array> {
  const bin = await readFile(join(dir, 'weights.bin'));
  return new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
}
