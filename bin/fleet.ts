import { ChildProcess, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { SERVER_NODE_FLAGS } from '../shared/node-flags';
import { TfleetError } from '../shared/errors';

/** The line a process prints on stdout once it serves. */
export interface ReadyLine {
  event: 'ready';
  component: 'coordinator' | 'worker';
  pid: number;
  grpc?: string;
  /** The coordinator's tensor port (host:port); empty: none. */
  tensors?: string;
  metrics: string;
  name?: string;
  backend?: string;
}

export interface Child {
  proc: ChildProcess;
  ready: ReadyLine;
}

/** The compiled CLI beside this module, so that benchmarks and tests can launch fleets too. */
const CLI_SCRIPT = join(__dirname, 'tfleet.js');

/** How long a child may take to print its readiness line, ms. */
const READY_TIMEOUT_MS = 60_000;

/**
 * Spawns this CLI with `args` (and `nodeFlags` for node itself) and waits
 * for its readiness line, racing an early exit; stderr goes to ours so its
 * logs stay visible.
 */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = process.env, nodeFlags: readonly string[] = []): Promise<Child> {
  const proc = spawn(process.execPath, [...nodeFlags, CLI_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new TfleetError('UNAVAILABLE', `'tfleet ${args[0]}' printed no readiness line within ${READY_TIMEOUT_MS} ms`));
    }, READY_TIMEOUT_MS);
    const onExit = (code: number | null, signal: string | null): void => {
      clearTimeout(timer);
      reject(new TfleetError('UNAVAILABLE', `'tfleet ${args.join(' ')}' exited before it was ready (code ${code}, signal ${signal})`));
    };
    proc.once('exit', onExit);
    const lines = createInterface({ input: proc.stdout! });
    lines.on('line', (line) => {
      let parsed: ReadyLine | null = null;
      try {
        parsed = JSON.parse(line) as ReadyLine;
      } catch {
        parsed = null; // Not a readiness line; children print nothing else on stdout.
      }
      if (parsed?.event === 'ready') {
        clearTimeout(timer);
        proc.off('exit', onExit);
        resolve({ proc, ready: parsed });
      }
    });
  });
}

/**
 * The native backend's threads for each of `workers` workers sharing this
 * host with the coordinator: the cores but one, divided among them. The
 * spare core runs the coordinator (the parameter server's arithmetic and
 * traffic) and the workers' exchange threads; without it a worker's oneDNN
 * threads wait at each barrier for a thread the scheduler has paused. On 2
 * cores one native CNN worker ran at 4,844 images/s with 1 thread and 4,327
 * with 2, though `model.fit` alone gains 1.29× from the second thread.
 */
export function defaultThreadsPerWorker(workers: number, cores = availableParallelism()): number {
  return Math.max(1, Math.floor((cores - 1) / workers));
}

export interface FleetOptions {
  workers: number;
  port: number;
  metricsPort: number;
  stateDir: string;
  natsUrl: string;
  backend: string;
  /** oneDNN threads per worker. @default {@link defaultThreadsPerWorker} */
  threads?: number;
  /** The children's log level. @default their own (info) */
  logLevel?: string;
  /** json, text or auto, for every process. */
  logFormat?: string;
}

export interface Fleet {
  coordinator: Child;
  workers: Child[];
  /** Sends SIGTERM to every process and waits for all to exit. */
  stop(): Promise<void>;
}

function exited(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => proc.once('exit', () => resolve()));
}

/**
 * Starts a coordinator and `workers` worker processes on this host. Worker
 * metrics ports follow the coordinator's (9465, 9466, …) or are picked
 * freely when the coordinator's is 0.
 */
export async function launchFleet(o: FleetOptions): Promise<Fleet> {
  // Workers on one host share its cores: one oneDNN thread per core between them.
  const threads = o.threads ?? defaultThreadsPerWorker(o.workers);
  const coArgs = ['coordinator', '--port', String(o.port), '--metrics-port', String(o.metricsPort), '--state-dir', o.stateDir];
  const logArgs = [...(o.logLevel ? ['--log-level', o.logLevel] : []), ...(o.logFormat ? ['--log-format', o.logFormat] : [])];
  coArgs.push(...logArgs);
  if (o.natsUrl) coArgs.push('--nats', o.natsUrl);
  const coordinator = await spawnCli(coArgs, process.env, SERVER_NODE_FLAGS);
  const all: Child[] = [coordinator];
  const stop = async (): Promise<void> => {
    for (const c of all) c.proc.kill('SIGTERM');
    await Promise.all(all.map((c) => exited(c.proc)));
  };
  try {
    const workers = await Promise.all(
      Array.from({ length: o.workers }, (_, i) => {
        const port = o.metricsPort === 0 ? 0 : o.metricsPort + 1 + i;
        const args = ['worker', '--coordinator', coordinator.ready.grpc!, '--metrics-port', String(port), '--backend', o.backend, '--threads', String(threads), '--name', `worker-${i + 1}`, ...logArgs];
        return spawnCli(args, process.env, SERVER_NODE_FLAGS).then((c) => (all.push(c), c));
      }),
    );
    return { coordinator, workers, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
