import { hostname } from 'node:os';
import { tfleet } from '../proto/generated/tfleet';
import { AbortedError, TfleetError, errorMessage } from '../shared/errors';
import { Logger } from '../shared/log';
import { MetricSums } from '../shared/metric-sums';
import { taskPlanFromWire } from '../shared/program/task-plan';
import { MetricsServer, createRegistry, serveMetrics } from '../shared/metrics';
import { CoordinatorApi } from '../shared/rpc/clients';
import { BackendRequest, SelectedBackend, selectBackend } from './backends/select';
import { WorkerMetrics } from './metrics';
import { RoundTiming, TaskOutcome, WedgedTaskError, runTask } from './run-task';
import { forgetJobData } from './shard-loader';

export interface WorkerConfig {
  /** host:port of the coordinator. */
  coordinator: string;
  /** Interface for /metrics. @default '127.0.0.1' */
  metricsHost: string;
  /** Prometheus port; 0 picks a free one. @default 0 */
  metricsPort: number;
  backend: BackendRequest;
  /** oneDNN threads of the native backend. @default every core of the host */
  threads?: number;
  /** @default `<hostname>-<pid>` */
  name: string;
  log: Logger;
  /** Called once registered, with what a launcher needs to print. */
  onReady?(info: { id: string; name: string; backend: SelectedBackend; metricsUrl: string }): void;
}

export interface RunningWorker {
  backend: SelectedBackend;
  metrics: MetricsServer;
  /** Resolves with the refusal when the coordinator turns the worker's credentials down (it has stopped then). */
  refused: Promise<TfleetError>;
  stop(): Promise<void>;
}

/** Delay before registering again after the coordinator went away, ms. */
const RECONNECT_DELAY_MS = 500;

export function defaultWorkerName(): string {
  return `${hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 40)}-${process.pid}`;
}

/**
 * Starts a worker: picks the tfjs backend, serves /metrics, registers with
 * the coordinator, keeps its lease alive and runs tasks one at a time. When
 * the coordinator goes away it registers again.
 */
export async function startWorker(config: WorkerConfig): Promise<RunningWorker> {
  const backend = await selectBackend(config.backend, { threads: config.threads });
  config.log.info('backend selected', { backend: backend.name, reason: backend.reason });
  // Every worker series carries the worker's name: a straggler is told apart from its peers.
  const registry = createRegistry('worker', { worker: config.name });
  const metrics = new WorkerMetrics(registry);
  metrics.backend.set({ backend: backend.name, reason: backend.reason }, 1);
  const metricsServer = await serveMetrics(registry, config.metricsHost, config.metricsPort);
  const api = new CoordinatorApi(config.coordinator);
  let stopped = false;
  let heartbeat: NodeJS.Timeout | null = null;
  let stream: ReturnType<CoordinatorApi['tasks']> | null = null;
  let current: { jobId: string; attempt: number; abort: AbortController } | null = null;
  /** Tasks cancelled before they started (`job#attempt`). */
  const cancelled = new Set<string>();
  let queue: Promise<void> = Promise.resolve();
  let ready = false;
  /** Set when the coordinator refused the worker's credentials: it stops. */
  let refused: TfleetError | null = null;

  const runOne = async (workerId: string, task: tfleet.coordinator.ITask): Promise<void> => {
    const abort = new AbortController();
    const attempt = task.attempt ?? 0;
    current = { jobId: task.jobId!, attempt, abort };
    if (cancelled.delete(`${task.jobId}#${attempt}`)) abort.abort();
    const log = config.log.child('task');
    log.info('task started', { job: task.jobId, attempt, rank: task.rank, worldSize: task.worldSize, rows: (task.trainEnd ?? 0) - (task.trainBegin ?? 0) });
    const reportProgress = async (round: number, sums: MetricSums, test: MetricSums | null, timing: RoundTiming): Promise<boolean> =>
      (await api.reportProgress({ workerId, jobId: task.jobId, attempt, epoch: round, train: sums, ...(test ? { test } : {}), ...timing })).checkpoint === true;
    const saveCheckpoint = (round: number, state: Uint8Array | null): Promise<void> =>
      api.saveCheckpoint({ workerId, jobId: task.jobId, attempt, round, ...(state ? { state } : { unsupported: true }) });
    try {
      let outcome: TaskOutcome;
      try {
        if (abort.signal.aborted) throw new AbortedError('the task was cancelled before it started');
        const plan = taskPlanFromWire(task);
        const fetchShard = (split: 'train' | 'test', begin: number, end: number) => api.fetchShard({ workerId, jobId: task.jobId, split, begin, end });
        outcome = await runTask(plan, { workerId, log, metrics, reportProgress, saveCheckpoint, fetchShard, signal: abort.signal });
      } catch (err) {
        const aborted = err instanceof AbortedError || abort.signal.aborted;
        // A cancelled attempt is likely followed by another of the same job: its data is kept for it.
        if (!aborted) forgetJobData();
        metrics.tasks.inc({ outcome: aborted ? 'aborted' : 'failed' });
        log[aborted ? 'info' : 'error']('task ended early', { job: task.jobId, error: errorMessage(err) });
        // `aborted` only when this worker stopped the task (told to, or its stream broke); a job whose
        // table closed for a reason of its own (a rank's NaN push) fails with that reason.
        await api.completeTask({ workerId, jobId: task.jobId, attempt, error: errorMessage(err), aborted: abort.signal.aborted }).catch((e: Error) =>
          log.warn('could not report the failed task', { job: task.jobId, error: e.message }));
        if (err instanceof WedgedTaskError) {
          // Its work may never end: leave the fleet (the reconnect waits for this task) rather than take the next job.
          log.error('leaving the fleet until the task\'s last step ends', { job: task.jobId });
          stream?.cancel();
          await err.settled;
        }
        return;
      }
      forgetJobData();
      metrics.tasks.inc({ outcome: 'succeeded' });
      // The task is done either way: a report left unanswered (a coordinator
      // stopping as soon as the job it completes has ended) is not a failed task.
      await api.completeTask({ workerId, jobId: task.jobId, attempt, train: outcome.train, test: outcome.test, output: outcome.output }).then(
        () => log.info('task finished', { job: task.jobId }),
        (e: Error) => log.info('the coordinator did not answer the finished task\'s report', { job: task.jobId, error: e.message }),
      );
    } finally {
      current = null;
    }
  };

  const connect = async (): Promise<void> => {
    while (!stopped) {
      try {
        const reg = await api.registerWorker({ name: config.name, backend: backend.name, metricsUrl: metricsServer.url });
        const workerId = reg.workerId;
        const leaseMs = reg.leaseMs;
        heartbeat = setInterval(() => {
          api.heartbeat(workerId, leaseMs).catch((err: TfleetError) => {
            config.log.warn('heartbeat failed', { error: err.message });
            if (err.code === 'NOT_FOUND') stream?.cancel();
          });
        }, Math.max(50, Math.floor(leaseMs / 3)));
        await new Promise<void>((resolve) => {
          stream = api.tasks(workerId);
          stream.on('data', (m: tfleet.coordinator.TaskMessage) => {
            if (m.assign) {
              const task = m.assign;
              queue = queue.then(() => runOne(workerId, task));
            } else if (m.cancel) {
              const { jobId, attempt } = m.cancel;
              const now = current as { jobId: string; attempt: number; abort: AbortController } | null;
              if (now && now.jobId === jobId && now.attempt === (attempt ?? 0)) now.abort.abort();
              else cancelled.add(`${jobId}#${attempt ?? 0}`);
            }
          });
          stream.on('error', (err: Error) => {
            if (!stopped) config.log.warn('task stream failed', { error: err.message });
            resolve();
          });
          stream.on('end', () => resolve());
          // The stream carries no message until a task arrives; registration is the readiness point.
          config.log.info('registered', { worker: workerId, coordinator: config.coordinator });
          if (!ready) {
            ready = true;
            config.onReady?.({ id: workerId, name: config.name, backend, metricsUrl: metricsServer.url });
          }
        });
      } catch (err) {
        const code = (err as TfleetError).code;
        if (code === 'UNAUTHENTICATED' || code === 'PERMISSION_DENIED') {
          // Retrying cannot help: the worker's token is missing or wrong.
          config.log.error('the coordinator refused this worker', { coordinator: config.coordinator, error: errorMessage(err) });
          refused = err as TfleetError;
          stopped = true;
          break;
        }
        config.log.warn('cannot register with the coordinator; retrying', { coordinator: config.coordinator, error: errorMessage(err) });
      }
      if (heartbeat) clearInterval(heartbeat);
      heartbeat = null;
      // The task stream is the membership: without it the coordinator has
      // given this worker's place away, so its task stops. A task that does
      // not stop keeps the worker from registering again (and taking work).
      (current as { abort: AbortController } | null)?.abort.abort();
      await queue;
      cancelled.clear();
      if (!stopped) await new Promise((r) => setTimeout(r, RECONNECT_DELAY_MS));
    }
  };
  const loop = connect();

  return {
    backend,
    metrics: metricsServer,
    refused: loop.then(() => refused ?? new Promise<never>(() => undefined)),
    async stop() {
      stopped = true;
      (current as { abort: AbortController } | null)?.abort.abort();
      stream?.cancel();
      await loop;
      await queue;
      api.close();
      await metricsServer.close();
    },
  };
}
