import { join, resolve } from 'node:path';
import { Registry } from 'prom-client';
import { tfleet } from '../proto/generated/tfleet';
import { JobSpec } from '../shared/config/job-spec';
import { ArgumentError, NotFoundError, errorMessage } from '../shared/errors';
import { EventBus } from '../shared/events/bus';
import { TaskKind } from '../shared/data/dataset';
import { DataInfo } from '../shared/families/types';
import { ValidatedJob, dataInfo, loadJobData, ratingsGrouping, validateJob, validateJobJson } from '../shared/job';
import { Logger } from '../shared/log';
import { MetricSums, emptySums, metricsFromSums } from '../shared/metric-sums';
import { taskPlanToWire } from '../shared/program/task-plan';
import { ShardSource } from './data/shard-source';
import { JobRecord, JobState, isTerminal } from './jobs/job-record';
import { JobRun } from './jobs/job-run';
import { JobStore } from './jobs/job-store';
import { writeJobResults } from './jobs/results';
import { WorkerEntry, WorkerRegistry, TaskSink } from './membership/worker-registry';
import { CoordinatorMetrics } from './metrics';
import { ParameterStore } from './ps/parameter-store';
import { decidePlacements } from './scheduler/decide';
import { RowRange, alignShards, planGroupedShards, planShards } from './scheduler/shard-planner';

export interface CoordinatorOptions {
  stateDir: string;
  /** Where jobs without an `output` write their model: `<runsDir>/<job id>`. */
  runsDir: string;
  leaseMs: number;
  /** The parameter server's address as workers should dial it. */
  psAddress: string;
  log: Logger;
  registry: Registry;
  bus: EventBus;
}

/** What the coordinator learnt of a validated job's data: how to shard it, and the description its workers get. */
interface Prepared {
  plan(parts: number): { train: RowRange[]; test: RowRange[] };
  info: DataInfo;
  task: TaskKind;
}

async function prepare(job: ValidatedJob): Promise<Prepared> {
  const data = await loadJobData(job);
  const trainRows = data.train.rows;
  const testRows = data.test?.rows ?? 0;
  let plan = (parts: number) => ({ train: planShards(trainRows, parts), test: planShards(testRows, parts) });
  if (data.train.ids) {
    // Ratings: a group (user) stays on one rank; test rows by user, with the training shards' users when those are by user too.
    const byUser = ratingsGrouping(job) === 'user';
    const trainGroups = column(data.train.x, 2, byUser ? 0 : 1);
    const testUsers = data.test ? column(data.test.x, 2, 0) : new Float32Array(0);
    plan = (parts) => {
      const train = planGroupedShards(trainGroups, parts);
      return { train, test: byUser ? alignShards(train, trainGroups, testUsers) : planGroupedShards(testUsers, parts) };
    };
  }
  return { plan, info: dataInfo(data), task: data.classes ? 'classifier' : 'regressor' };
}

/** One column of a row-major table, copied (so the table can be freed). */
function column(x: Float32Array, cols: number, c: number): Float32Array {
  const out = new Float32Array(x.length / cols);
  for (let r = 0; r < out.length; r++) out[r] = x[r * cols + c];
  return out;
}

type Watcher = (record: JobRecord) => void;

/**
 * The control plane: job store and lifecycle, worker membership and the
 * scheduler. It owns the embedded parameter store's job tables but never
 * touches a tensor itself.
 */
export class Coordinator {
  readonly ps: ParameterStore;
  private readonly store: JobStore;
  private readonly workers: WorkerRegistry;
  private readonly metrics: CoordinatorMetrics;
  private readonly runs = new Map<string, JobRun>();
  private readonly prepared = new Map<string, Prepared>();
  private readonly watchers = new Map<string, Set<Watcher>>();
  private readonly shards = new ShardSource();
  private leaseTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: CoordinatorOptions, ps: ParameterStore) {
    this.ps = ps;
    this.store = new JobStore(options.stateDir);
    this.workers = new WorkerRegistry({ leaseMs: options.leaseMs }, (w, reason) => this.onWorkerLost(w, reason));
    this.metrics = new CoordinatorMetrics(options.registry, () => this.store.list(), () => this.workers.all().length);
  }

  /** Loads persisted jobs; jobs that were running when the coordinator stopped are queued again. */
  async start(): Promise<void> {
    for (const record of await this.store.load()) {
      if (isTerminal(record.state)) continue;
      if (record.state === 'running') {
        record.attempt += 1;
        record.workers = [];
        record.epoch = 0;
        this.options.log.warn('requeuing a job that was running when the coordinator stopped', { job: record.id, attempt: record.attempt });
      }
      record.state = 'queued';
      try {
        this.prepared.set(record.id, await prepare(validateJob(record.spec)));
        await this.store.save(record);
      } catch (err) {
        await this.finish(record, 'failed', `cannot requeue after restart: ${errorMessage(err)}`);
      }
    }
    const every = Math.max(50, Math.floor(this.options.leaseMs / 4));
    this.leaseTimer = setInterval(() => this.workers.expire(), every);
    this.leaseTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    for (const w of this.workers.all()) w.sink?.end();
    await this.store.flush();
  }

  // ---- jobs -------------------------------------------------------------

  /**
   * Validates a spec and its data, then queues the job.
   * @throws SpecError or DataError naming the field, or the file, line and column.
   */
  async submit(specJson: string): Promise<JobRecord> {
    const job = validateJobJson(specJson);
    const prepared = await prepare(job);
    const id = this.store.newId();
    const spec: JobSpec = { ...job.spec, output: resolve(job.spec.output ?? join(this.options.runsDir, id)) };
    const record: JobRecord = {
      id, name: spec.name, state: 'queued', spec, createdAtMs: Date.now(), startedAtMs: 0, finishedAtMs: 0,
      workers: [], epoch: 0, epochs: job.family.rounds(job.modelSpec, spec), metrics: {}, output: spec.output!, error: '', attempt: 1,
    };
    this.prepared.set(id, prepared);
    await this.changed(record);
    this.schedule();
    return record;
  }

  get(id: string): JobRecord {
    const record = this.store.get(id);
    if (!record) throw new NotFoundError(`no job '${id}'`);
    return record;
  }

  list(): JobRecord[] {
    return this.store.list();
  }

  async cancel(id: string): Promise<JobRecord> {
    const record = this.get(id);
    if (isTerminal(record.state)) return record;
    await this.finish(record, 'cancelled', 'cancelled by request');
    this.schedule();
    return record;
  }

  /** Calls `fn` with the record now and on every change; returns the unsubscribe function. */
  watch(id: string, fn: Watcher): () => void {
    const record = this.get(id);
    fn(record);
    if (isTerminal(record.state)) return () => undefined;
    let set = this.watchers.get(id);
    if (!set) this.watchers.set(id, (set = new Set()));
    set.add(fn);
    return () => set!.delete(fn);
  }

  // ---- workers ----------------------------------------------------------

  registerWorker(name: string, backend: string, metricsUrl: string): WorkerEntry {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
      throw new ArgumentError(`worker name must be 1-64 letters, digits, '.', '_' or '-', got '${name.slice(0, 80)}'`);
    }
    const w = this.workers.register(name, backend, metricsUrl);
    this.options.log.info('worker joined', { worker: w.id, backend });
    this.options.bus.publish('tfleet.worker.joined', { id: w.id, name, backend, time: Date.now() });
    return w;
  }

  heartbeat(workerId: string): number {
    this.workers.heartbeat(workerId);
    return this.workers.leaseMs;
  }

  /** A worker opened its task stream: it can now be given work. */
  attachTasks(workerId: string, sink: TaskSink): void {
    this.workers.attach(workerId, sink);
    this.schedule();
  }

  /** A worker's task stream closed: treat it as gone. */
  detachTasks(workerId: string, sink: TaskSink): void {
    const w = this.workers.find(workerId);
    if (w && w.sink === sink) this.workers.lose(workerId, 'task stream closed');
  }

  reportProgress(report: tfleet.coordinator.IProgressReport): void {
    const run = this.memberRun(report.workerId, report.jobId);
    if (!run) return;
    const sums = run.addEpoch(report.workerId!, report.epoch ?? 0, sumsFromWire(report.train));
    if (!sums) return;
    const record = run.record;
    record.epoch = Math.max(record.epoch, (report.epoch ?? 0) + 1);
    const loss = sums.lossSum / Math.max(1, sums.count);
    record.metrics = { ...record.metrics, train: { loss } };
    this.metrics.jobLoss.set({ job: record.id, split: 'train' }, loss);
    this.metrics.jobEpoch.set({ job: record.id }, record.epoch);
    this.options.bus.publish('tfleet.job.progress', { id: record.id, epoch: record.epoch, epochs: record.epochs, loss, time: Date.now() });
    void this.changed(record, false);
  }

  async completeTask(result: tfleet.coordinator.ITaskResult): Promise<void> {
    const run = this.memberRun(result.workerId, result.jobId);
    if (!run) return;
    const record = run.record;
    const worker = this.workers.find(result.workerId!);
    if (result.error) {
      await this.finish(record, 'failed', `worker '${worker?.name ?? result.workerId}' (${result.workerId}): ${result.error}`);
      this.schedule();
      return;
    }
    const all = run.addResult(result.workerId!, {
      train: sumsFromWire(result.train), test: sumsFromWire(result.test), output: result.output ?? '',
    });
    if (worker) worker.jobId = null;
    if (!all) return;
    record.metrics = { train: metricsFromSums(all.train, run.task) };
    if (all.test.count > 0) record.metrics.test = metricsFromSums(all.test, run.task);
    try {
      await writeJobResults(record);
      this.metrics.recordFinal(record.id, record.metrics);
      await this.finish(record, 'succeeded', '');
    } catch (err) {
      await this.finish(record, 'failed', `cannot write results to ${record.output}: ${errorMessage(err)}`);
    }
    this.schedule();
  }

  /**
   * Rows of a running job's split for one of its workers, as chunks to stream.
   *
   * @throws NotFoundError when the worker is not a member of the running job.
   */
  async shard(req: tfleet.coordinator.IShardRequest): Promise<Iterable<tfleet.coordinator.IShardChunk>> {
    const run = this.memberRun(req.workerId, req.jobId);
    if (!run) throw new NotFoundError(`worker '${req.workerId}' has no running job '${req.jobId}'`);
    const data = await this.shards.dataset(run.record.id, () => loadJobData(validateJob(run.record.spec)));
    return ShardSource.chunks(data, req.split ?? '', req.begin ?? 0, req.end ?? 0);
  }

  // ---- internals --------------------------------------------------------

  private memberRun(workerId: string | null | undefined, jobId: string | null | undefined): JobRun | null {
    const run = this.runs.get(jobId ?? '');
    if (!run || !workerId || !run.isMember(workerId)) return null;
    this.workers.heartbeat(workerId);
    return run;
  }

  private schedule(): void {
    const queued = this.store.list().filter((r) => r.state === 'queued');
    const placements = decidePlacements(
      queued.map((r) => ({ id: r.id, workers: r.spec.workers })),
      this.workers.idle().map((w) => w.id),
    );
    for (const p of placements) this.startJob(this.store.get(p.jobId)!, p.workerIds.map((id) => this.workers.get(id)));
  }

  private startJob(record: JobRecord, members: WorkerEntry[]): void {
    const prepared = this.prepared.get(record.id)!;
    const { train: trainShards, test: testShards } = prepared.plan(members.length);
    const trainShardRows = trainShards.map((s) => s.end - s.begin);
    record.state = 'running';
    record.startedAtMs = Date.now();
    record.workers = members.map((w) => w.name);
    record.epoch = 0;
    record.error = '';
    const run = new JobRun(record, members.map((w) => w.id), prepared.task);
    this.runs.set(record.id, run);
    this.ps.openJob(record.id, run.memberIds);
    const specJson = JSON.stringify(record.spec);
    members.forEach((w, rank) => {
      w.jobId = record.id;
      w.sink!.send({
        assign: taskPlanToWire({
          jobId: record.id, specJson, rank, worldSize: members.length,
          train: trainShards[rank], test: testShards[rank], trainShardRows,
          info: prepared.info, psAddress: this.options.psAddress,
        }),
      });
    });
    this.options.log.info('job started', { job: record.id, workers: run.memberIds, trainShardRows });
    void this.changed(record);
  }

  private onWorkerLost(w: WorkerEntry, reason: string): void {
    this.options.log.warn('worker lost', { worker: w.id, reason });
    this.options.bus.publish('tfleet.worker.left', { id: w.id, name: w.name, backend: w.backend, reason, time: Date.now() });
    const run = w.jobId ? this.runs.get(w.jobId) : undefined;
    if (run) {
      void this.finish(run.record, 'failed', `worker '${w.name}' (${w.id}) lost: ${reason}`).then(() => this.schedule());
    }
  }

  /** Ends a job: frees its workers, closes its parameter table and notifies. */
  private async finish(record: JobRecord, state: JobState, error: string): Promise<void> {
    if (isTerminal(record.state)) return;
    record.state = state;
    record.error = error;
    record.finishedAtMs = Date.now();
    const run = this.runs.get(record.id);
    this.runs.delete(record.id);
    this.prepared.delete(record.id);
    this.shards.drop(record.id);
    this.ps.closeJob(record.id, error || state);
    if (run) {
      for (const id of run.memberIds) {
        const w = this.workers.find(id);
        if (!w || w.jobId !== record.id) continue;
        w.jobId = null;
        if (state !== 'succeeded') w.sink?.send({ cancelJobId: record.id });
      }
    }
    this.options.log.info(`job ${state}`, { job: record.id, error: error || undefined });
    await this.changed(record);
  }

  /** Persists a record, tells its watchers and (for lifecycle changes) the event bus. */
  private async changed(record: JobRecord, lifecycle = true): Promise<void> {
    if (lifecycle) {
      this.options.bus.publish(`tfleet.job.${record.state}`, {
        id: record.id, name: record.name, state: record.state, workers: record.workers,
        error: record.error || undefined, metrics: isTerminal(record.state) ? record.metrics : undefined, time: Date.now(),
      });
    }
    for (const fn of this.watchers.get(record.id) ?? []) fn(record);
    if (isTerminal(record.state)) this.watchers.delete(record.id);
    await this.store.save(record);
  }
}

function sumsFromWire(s: tfleet.coordinator.IMetricSums | null | undefined): MetricSums {
  if (!s) return emptySums();
  return {
    count: s.count ?? 0, lossSum: s.lossSum ?? 0, correct: s.correct ?? 0,
    squaredError: s.squaredError ?? 0, absoluteError: s.absoluteError ?? 0,
    ...(s.ranking ? {
      ranking: {
        k: s.ranking.k ?? 0, users: s.ranking.users ?? 0, precision: s.ranking.precision ?? 0, recall: s.ranking.recall ?? 0,
        unknownUsers: s.ranking.unknownUsers ?? 0, unknownItems: s.ranking.unknownItems ?? 0,
      },
    } : {}),
  };
}

