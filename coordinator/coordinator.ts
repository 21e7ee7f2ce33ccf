import { join, resolve } from 'node:path';
import { MODEL_META } from '../shared/families/model-meta';
import { folderEntries } from '../shared/atomic-dir';
import { Registry } from 'prom-client';
import { tfleet } from '../proto/generated/tfleet';
import { JobSpec } from '../shared/config/job-spec';
import { AbortedError, ArgumentError, NotFoundError, SpecError, TfleetError, errorMessage } from '../shared/errors';
import { EventBus } from '../shared/events/bus';
import { TaskKind } from '../shared/data/dataset';
import { DataInfo } from '../shared/families/types';
import { ValidatedJob, dataInfo, loadJobData, ratingsGrouping, validateJob, validateJobJson } from '../shared/job';
import { Logger } from '../shared/log';
import { MetricSums, emptySums, metricsFromSums } from '../shared/metric-sums';
import { taskPlanToWire } from '../shared/program/task-plan';
import { Checkpoint } from './checkpoints/checkpoint-file';
import { CheckpointStore } from './checkpoints/checkpoint-store';
import { PathPolicy, checkJobPaths } from './security/confined-paths';
import { WorkerView } from './dashboard/routes';
import { ShardSource } from './data/shard-source';
import { JobRecord, JobState, MembershipChange, isTerminal } from './jobs/job-record';
import { JobRun, PendingCheckpoint, RoundSums } from './jobs/job-run';
import { JobStore } from './jobs/job-store';
import { writeJobResults } from './jobs/results';
import { WorkerEntry, WorkerRegistry, TaskSink } from './membership/worker-registry';
import { StepTimes, stepTimesFromReport } from './membership/step-times';
import { CoordinatorMetrics } from './metrics';
import { ParameterStore } from './ps/parameter-store';
import { decidePlacements } from './scheduler/decide';
import { RowRange, alignShards, planGroupedShards, planShards } from './scheduler/shard-planner';

export interface CoordinatorOptions {
  stateDir: string;
  /** Where jobs without an `output` write their model: `<runsDir>/<name>-<job id>`. */
  runsDir: string;
  leaseMs: number;
  log: Logger;
  registry: Registry;
  bus: EventBus;
  /**
   * A member that has not pushed a step, or reached a round's end, this
   * long after another member did is evicted (Horovod's stall check).
   * 0: the larger of 60 s and 20 times the job's median step.
   */
  stepTimeoutMs: number;
  /** How long the other ranks may take to finish (evaluate, export) after the first did. */
  finishTimeoutMs: number;
  /** How long a job left with fewer than its `minWorkers` waits for replacements before it fails. */
  rejoinTimeoutMs: number;
  /** Where jobs may read data and write outputs. */
  paths: PathPolicy;
  /** Most trainable parameters a job's model may have, where its family can tell before training. */
  maxModelParams: number;
  /** Most workers a job may ask for. */
  maxWorkersPerJob: number;
  /** How long a finished job's Prometheus series stay before they are dropped. */
  metricsRetentionMs: number;
  /** Drops a job's series kept elsewhere (the parameter server's), with the coordinator's. */
  forgetJobSeries?(jobId: string): void;
}

/** How long a job running when the coordinator stopped waits for all its workers before it resumes with fewer. */
const RESTART_GRACE_MS = 10_000;

/** Rounds a record's history keeps (the latest): the record is rewritten every round. */
const MAX_HISTORY = 1000;

/** The stall limit when none is set: generous beside any step, never below a minute. */
const MIN_STEP_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MEDIANS = 20;

/** A job between attempts: waiting for members after a loss or a coordinator restart. */
interface Recovery {
  /** Members of the ended attempt kept for the next one. */
  reserved: string[];
  /** Until then the next attempt waits for all `workers`; after it, `minWorkers` are enough. */
  fullUntilMs: number;
  /** It fails then if it still has fewer than `minWorkers`. */
  deadlineMs: number;
  /** Names of the members lost, for the failure message. */
  lost: string[];
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
 * The control plane: job store and lifecycle, worker membership, the
 * scheduler and recovery. It owns the embedded parameter store's job
 * tables but never touches a tensor itself.
 *
 * A job runs in attempts. Each attempt has its own parameter table
 * (`<job>@<attempt>`) and members. Losing a member (process gone, lease
 * expired, or stalled) ends the attempt and starts the next one at once
 * with the survivors and any idle workers, from the last checkpoint: the
 * parameter server's keys and every rank's part, taken at the end of a
 * round. An idle worker joins a job below its `workers` at the end of its
 * next round the same way, when the job keeps checkpoints.
 */
export class Coordinator {
  readonly ps: ParameterStore;
  private readonly store: JobStore;
  private readonly checkpointStore: CheckpointStore;
  private readonly workers: WorkerRegistry;
  private readonly metrics: CoordinatorMetrics;
  private readonly runs = new Map<string, JobRun>();
  private readonly recovering = new Map<string, Recovery>();
  private readonly checkpoints = new Map<string, Checkpoint>();
  private readonly lastCheckpointMs = new Map<string, number>();
  private readonly prepared = new Map<string, Prepared>();
  private readonly watchers = new Map<string, Set<Watcher>>();
  private readonly shards = new ShardSource();
  private leaseTimer: NodeJS.Timeout | null = null;
  private psAddress = '';
  private tensorAddress = '';

  constructor(private readonly options: CoordinatorOptions, ps: ParameterStore) {
    this.ps = ps;
    this.store = new JobStore(options.stateDir);
    this.checkpointStore = new CheckpointStore(options.stateDir, options.log);
    this.workers = new WorkerRegistry({ leaseMs: options.leaseMs }, (w, reason) => this.onWorkerLost(w, reason));
    this.metrics = new CoordinatorMetrics(options.registry, () => this.store.list(), () => this.workers.all().length, options.metricsRetentionMs);
  }

  /**
   * Loads persisted jobs. A job that was running when the coordinator
   * stopped resumes from its last checkpoint once workers register (from
   * scratch when it has none).
   */
  async start(): Promise<void> {
    const now = Date.now();
    for (const record of await this.store.load()) {
      if (isTerminal(record.state)) continue;
      try {
        // The data roots may have changed with the restart: a job's files are checked again before they are read.
        await checkJobPaths(record.spec, this.options.paths);
        this.prepared.set(record.id, await prepare(validateJob(record.spec)));
      } catch (err) {
        await this.finish(record, 'failed', `cannot requeue after restart: ${errorMessage(err)}`);
        continue;
      }
      if (record.state === 'running') {
        const checkpoint = await this.checkpointStore.latest(record.id);
        if (checkpoint) this.checkpoints.set(record.id, checkpoint);
        record.workers = [];
        // Its workers register again once their old tasks have stopped: give them a while to all be back.
        this.recovering.set(record.id, { reserved: [], fullUntilMs: now + Math.max(2 * this.options.leaseMs, RESTART_GRACE_MS), deadlineMs: now + this.options.rejoinTimeoutMs, lost: [] });
        record.waiting = `the coordinator restarted: waiting for ${record.spec.workers} workers to ${checkpoint ? `resume after round ${checkpoint.round}` : 'start again'}`;
        this.options.log.warn('resuming a job that was running when the coordinator stopped', { job: record.id, fromRound: checkpoint ? checkpoint.round + 1 : 0 });
      }
      await this.store.save(record);
    }
    const every = Math.max(50, Math.floor(this.options.leaseMs / 4));
    this.leaseTimer = setInterval(() => {
      this.workers.expire();
      this.checkStalls();
      this.checkRecoveries();
      this.checkQueueTimeouts();
    }, every);
    this.leaseTimer.unref();
  }

  /**
   * Where the parameter server listens, as workers should dial it, and its
   * tensor port (empty: none); known once the ports are bound, before any
   * worker can register.
   */
  serveAt(psAddress: string, tensorAddress = ''): void {
    this.psAddress = psAddress;
    this.tensorAddress = tensorAddress;
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
    if (job.spec.workers > this.options.maxWorkersPerJob) {
      throw new SpecError('workers', `is ${job.spec.workers}; this coordinator runs jobs of at most ${this.options.maxWorkersPerJob} workers (--max-workers-per-job)`);
    }
    // Paths first: a file outside the data roots is never opened.
    await checkJobPaths(job.spec, this.options.paths);
    const prepared = await prepare(job);
    const params = job.family.parameterCount?.(job.modelSpec, prepared.info) ?? 0;
    if (params > this.options.maxModelParams) {
      throw new SpecError('model', `has ${params} parameters for this data; at most ${this.options.maxModelParams} are allowed (the coordinator's --max-model-params)`);
    }
    const id = this.store.newId();
    const spec: JobSpec = { ...job.spec, output: resolve(job.spec.output ?? join(this.options.runsDir, `${folderName(job.spec.name)}-${id}`)) };
    await refuseExistingOutput(spec.output!, spec.overwrite ?? false);
    // No await from here to the store's save: two submits of one output cannot both pass.
    this.refuseSharedOutput(spec.output!);
    const record: JobRecord = {
      id, name: spec.name, state: 'queued', spec, createdAtMs: Date.now(), startedAtMs: 0, finishedAtMs: 0,
      workers: [], epoch: 0, epochs: job.family.rounds(job.modelSpec, spec), metrics: {}, output: spec.output!, error: '', attempt: 0,
      membership: [], checkpointRound: -1, resumedFrom: -1, history: [], waiting: '',
    };
    this.prepared.set(id, prepared);
    await this.changed(record);
    this.schedule();
    return record;
  }

  /**
   * Refuses an `output` that a job not yet finished will write: whichever
   * exported second would replace the other's model, `overwrite` or not.
   *
   * @throws SpecError naming the folder and the other job.
   */
  private refuseSharedOutput(output: string): void {
    const other = this.store.list().find((r) => r.output === output && !isTerminal(r.state));
    if (other) throw new SpecError('output', `is ${output}, where job ${other.id} (${other.state}) will write its model: choose another output`);
  }

  get(id: string): JobRecord {
    const record = this.store.get(id);
    if (!record) throw new NotFoundError(`no job '${id}'`);
    return record;
  }

  list(): JobRecord[] {
    return this.store.list();
  }

  /** A job's record, or undefined. */
  find(id: string): JobRecord | undefined {
    return this.store.get(id);
  }

  /** What the dashboard shows of the workers: name, backend, job and rank, when last heard, the last round's step time. */
  workerViews(): WorkerView[] {
    return this.workers.all().map((w) => {
      const run = w.jobId ? this.runs.get(w.jobId) : undefined;
      const rank = run?.isMember(w.id) ? run.rankOf(w.id) : null;
      return { name: w.name, backend: w.backend, job: w.jobId, rank, lastSeenMs: w.lastSeenMs, step: w.lastStep };
    });
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

  /**
   * A rank finished a round: a barrier. Resolves once every member reported
   * the round, with whether the rank is to send its checkpoint part.
   *
   * @throws AbortedError when the attempt has ended (the rank is to stop).
   * @throws ArgumentError when the report's step timing is not a number of seconds.
   */
  reportProgress(report: tfleet.coordinator.IProgressReport): Promise<boolean> {
    const run = this.memberRun(report.workerId, report.jobId, report.attempt);
    if (!run) return Promise.reject(new AbortedError(`attempt ${report.attempt ?? 0} of job '${report.jobId ?? ''}' is not running`));
    const round = report.epoch ?? 0;
    let step: StepTimes | null;
    try {
      step = stepTimesFromReport(report, { job: run.record.id, rank: run.rankOf(report.workerId!), round });
    } catch (err) {
      return Promise.reject(err);
    }
    if (step) this.workers.get(report.workerId!).lastStep = step;
    const { complete, answer } = run.arriveRound(report.workerId!, round, { train: sumsFromWire(report.train), test: report.test ? sumsFromWire(report.test) : null });
    if (complete) this.roundDone(run, round, complete);
    return answer;
  }

  /**
   * One rank's part of a round's checkpoint; resolves once the checkpoint
   * is on disk (or was given up), so the ranks go on from a saved state.
   *
   * @throws AbortedError when the attempt has ended.
   */
  saveCheckpoint(part: tfleet.coordinator.ICheckpointPart): Promise<void> {
    const run = this.memberRun(part.workerId, part.jobId, part.attempt);
    if (!run) return Promise.reject(new AbortedError(`attempt ${part.attempt ?? 0} of job '${part.jobId ?? ''}' is not running`));
    const { complete, answer } = run.addPart(part.workerId!, part.round ?? 0, part.unsupported ? null : (part.state ?? new Uint8Array(0)));
    if (complete) void this.commitCheckpoint(run, complete);
    return answer;
  }

  /**
   * A rank's task ended: its results, or the error that ended it.
   * @throws TfleetError PERMISSION_DENIED when the worker was given no such task.
   */
  async completeTask(result: tfleet.coordinator.ITaskResult): Promise<void> {
    const worker = this.workers.find(result.workerId ?? '');
    const key = taskKey(result.jobId ?? '', result.attempt ?? 0);
    if (!worker || !worker.tasks.has(key)) {
      throw new TfleetError('PERMISSION_DENIED', `worker '${result.workerId ?? ''}' has no task of attempt ${result.attempt ?? 0} of job '${result.jobId ?? ''}'`);
    }
    worker.tasks.delete(key);
    const run = this.memberRun(result.workerId, result.jobId, result.attempt);
    if (!run) {
      // A report of an attempt that ended: the worker is free again.
      this.schedule();
      return;
    }
    const record = run.record;
    if (result.error && result.aborted) {
      // The rank stopped on its own (its task stream broke): a lost member, not a failed job.
      this.membersLost(run, [{ w: worker, id: worker.id, reason: `its task stopped: ${result.error}` }]);
      return;
    }
    if (result.error) {
      await this.finish(record, 'failed', `worker '${worker.name}': ${result.error}`);
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
    const nonFinite = Object.entries(record.metrics).flatMap(([split, m]) => Object.entries(m ?? {}).filter(([, v]) => !Number.isFinite(v)).map(([k]) => `${split} ${k}`));
    if (nonFinite.length > 0) {
      await this.finish(record, 'failed', `the trained model's ${nonFinite.join(', ')} ${nonFinite.length === 1 ? 'is' : 'are'} not a finite number: it diverged`);
      this.schedule();
      return;
    }
    try {
      await writeJobResults(record);
      this.metrics.recordMetrics(record.id, record.metrics);
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
    // A member reads its own rows only.
    const own = run.shardOf(req.workerId!, req.split === 'test' ? 'test' : 'train');
    const begin = req.begin ?? 0;
    const end = req.end ?? 0;
    if (begin < own.begin || end > own.end || end < begin) {
      throw new TfleetError('PERMISSION_DENIED', `worker '${req.workerId}' asked for ${req.split} rows [${begin}, ${end}); its shard is [${own.begin}, ${own.end})`);
    }
    const data = await this.shards.dataset(run.record.id, async () => {
      await checkJobPaths(run.record.spec, this.options.paths);
      return loadJobData(validateJob(run.record.spec));
    });
    return ShardSource.chunks(data, req.split ?? '', req.begin ?? 0, req.end ?? 0);
  }

  // ---- internals --------------------------------------------------------

  /** The running attempt a member's report is about (any attempt when `attempt` is not given). */
  private memberRun(workerId: string | null | undefined, jobId: string | null | undefined, attempt?: number | null): JobRun | null {
    const run = this.runs.get(jobId ?? '');
    if (!run || !workerId || !run.isMember(workerId) || run.ended) return null;
    if (attempt !== undefined && attempt !== null && attempt !== run.attempt) return null;
    this.workers.heartbeat(workerId);
    return run;
  }

  private schedule(): void {
    // Jobs between attempts first: they hold members and progress already.
    for (const [id, rec] of [...this.recovering]) {
      const record = this.store.get(id)!;
      rec.reserved = rec.reserved.filter((wid) => this.workers.find(wid));
      const idle = this.workers.idle().filter((w) => !rec.reserved.includes(w.id));
      const members = [...rec.reserved.map((wid) => this.workers.get(wid)), ...idle].slice(0, record.spec.workers);
      const enough = Date.now() < rec.fullUntilMs ? record.spec.workers : record.spec.minWorkers;
      if (members.length >= enough) {
        this.recovering.delete(id);
        this.startAttempt(record, members);
      } else {
        // Held for this job, so the queued jobs below do not take them while it waits for the rest.
        rec.reserved = members.map((w) => w.id);
        for (const wid of rec.reserved) this.workers.get(wid).jobId = id;
        const lost = rec.lost.length > 0 ? ` to replace ${rec.lost.join(', ')}` : '';
        const waiting = `waiting for ${enough - members.length} more worker(s)${lost}: ${members.length} of ${enough} available; fails at ${new Date(rec.deadlineMs).toISOString()} unless they join`;
        if (record.waiting !== waiting && rec.lost.length > 0) {
          record.waiting = waiting;
          void this.changed(record, false);
        }
      }
    }
    const queued = this.store.list().filter((r) => r.state === 'queued' && !this.recovering.has(r.id));
    const placements = decidePlacements(
      queued.map((r) => ({ id: r.id, workers: r.spec.workers })),
      this.workers.idle().map((w) => w.id),
    );
    for (const p of placements) this.startAttempt(this.store.get(p.jobId)!, p.workerIds.map((id) => this.workers.get(id)));
    // The jobs still queued say why.
    const connected = this.workers.all().length;
    const idle = this.workers.idle().length;
    for (const record of queued) {
      if (record.state !== 'queued') continue;
      const waiting = `waiting for ${record.spec.workers} worker${record.spec.workers === 1 ? '' : 's'}: ${connected} connected, ${idle} idle`;
      if (record.waiting === waiting) continue;
      record.waiting = waiting;
      void this.changed(record, false);
    }
  }

  /** Fails queued jobs that waited longer than their `queueTimeoutSeconds`. */
  private checkQueueTimeouts(): void {
    const now = Date.now();
    for (const record of this.store.list()) {
      const limit = record.spec.queueTimeoutSeconds;
      if (record.state !== 'queued' || this.recovering.has(record.id) || !limit || now - record.createdAtMs < limit * 1000) continue;
      void this.finish(record, 'failed', `waited ${limit} s in the queue (queueTimeoutSeconds) without starting: ${record.waiting || 'no workers'}`);
    }
  }

  /** Fails recovering jobs whose replacements did not come in time; starts those that may now go on with fewer. */
  private checkRecoveries(): void {
    const now = Date.now();
    let retry = false;
    for (const [id, rec] of [...this.recovering]) {
      const record = this.store.get(id)!;
      const available = rec.reserved.filter((wid) => this.workers.find(wid)).length + this.workers.idle().length;
      if (available >= record.spec.minWorkers && now >= rec.fullUntilMs) retry = true;
      else if (now >= rec.deadlineMs && available < record.spec.minWorkers) {
        this.recovering.delete(id);
        for (const wid of rec.reserved) {
          const w = this.workers.find(wid);
          if (w?.jobId === id) w.jobId = null;
        }
        const lost = rec.lost.length > 0 ? `lost ${rec.lost.join(', ')}; ` : '';
        void this.finish(record, 'failed', `${lost}fewer than minWorkers (${record.spec.minWorkers}) rejoined within ${this.options.rejoinTimeoutMs} ms`).then(() => this.schedule());
      }
    }
    if (retry) this.schedule();
  }

  /** Starts the job's next attempt on `members`, from its last checkpoint when it has one. */
  private startAttempt(record: JobRecord, members: WorkerEntry[]): void {
    const prepared = this.prepared.get(record.id)!;
    const checkpoint = this.checkpoints.get(record.id) ?? null;
    const { train: trainShards, test: testShards } = prepared.plan(members.length);
    const trainShardRows = trainShards.map((s) => s.end - s.begin);
    const previous = new Set(record.workers);
    record.attempt += 1;
    record.state = 'running';
    if (record.startedAtMs === 0) record.startedAtMs = Date.now();
    record.workers = members.map((w) => w.name);
    const resumeRound = checkpoint ? checkpoint.round + 1 : 0;
    record.epoch = resumeRound;
    record.resumedFrom = checkpoint ? resumeRound : -1;
    record.history = record.history.filter((h) => h.round < resumeRound);
    record.error = '';
    record.waiting = '';
    if (record.attempt > 1) {
      for (const w of members) if (!previous.has(w.name)) this.membershipChange(record, w.name, 'joined', 'added to the attempt');
    }
    const psJob = `${record.id}@${record.attempt}`;
    const run = new JobRun(record, members.map((w) => w.id), prepared.task, record.attempt, psJob,
      members.map((_, rank) => ({ train: trainShards[rank], test: testShards[rank] })));
    this.runs.set(record.id, run);
    this.ps.openJob(psJob, run.memberIds, checkpoint?.ps);
    const specJson = JSON.stringify(record.spec);
    members.forEach((w, rank) => {
      w.jobId = record.id;
      w.tasks.add(taskKey(record.id, record.attempt));
      w.sink!.send({
        assign: taskPlanToWire({
          jobId: record.id, specJson, rank, worldSize: members.length,
          train: trainShards[rank], test: testShards[rank], trainShardRows,
          info: prepared.info, psAddress: this.psAddress, tensorAddress: this.tensorAddress, attempt: record.attempt, psJob, finishTimeoutMs: this.options.finishTimeoutMs,
          resume: checkpoint ? { round: resumeRound, states: checkpoint.states } : null,
        }),
      });
    });
    this.metrics.jobMembers.set({ job_id: record.id }, members.length);
    this.options.log.info(checkpoint ? 'job resumed' : 'job started', { job: record.id, attempt: record.attempt, workers: run.memberIds, trainShardRows, fromRound: resumeRound });
    if (checkpoint) this.options.bus.publish('tfleet.job.resumed', { id: record.id, attempt: record.attempt, round: resumeRound, workers: record.workers, time: Date.now() });
    void this.changed(record, record.attempt === 1 || record.state !== 'running');
  }

  /** Every member reported a round: record it, and open a checkpoint when one is due. */
  private roundDone(run: JobRun, round: number, { train: sums, test }: RoundSums): void {
    const record = run.record;
    const now = Date.now();
    record.epoch = Math.max(record.epoch, round + 1);
    const loss = sums.lossSum / Math.max(1, sums.count);
    if (!Number.isFinite(loss)) {
      // Training diverged (or a rank sent garbage): a model of NaNs is no success.
      void this.finish(record, 'failed', `the training loss is ${loss} after round ${round}: the model diverged (a smaller learning rate may help)`).then(() => this.schedule());
      return;
    }
    // Test metrics of an evaluated round: in its history entry, and the job's latest until the final ones.
    const tested = test && test.count > 0 ? metricsFromSums(test, run.task) : null;
    record.history = [...record.history.filter((h) => h.round < round), {
      round, loss, rows: sums.count, seconds: (now - run.lastRoundEndMs) / 1000, attempt: run.attempt, workers: run.memberIds.length,
      ...(tested ? { test: tested } : {}),
    }].slice(-MAX_HISTORY);
    run.lastRoundEndMs = now;
    record.metrics = { ...record.metrics, train: { loss }, ...(tested ? { test: tested } : {}) };
    this.metrics.jobLoss.set({ job_id: record.id, split: 'train' }, loss);
    if (tested) this.metrics.recordMetrics(record.id, { test: tested });
    this.metrics.jobEpoch.set({ job_id: record.id }, record.epoch);
    this.options.bus.publish('tfleet.job.progress', { id: record.id, epoch: record.epoch, epochs: record.epochs, loss, ...(tested ? { test: tested } : {}), time: now });
    run.releaseRound(round, this.checkpointDue(run, round) ? this.ps.snapshot(run.psJob) : null);
    void this.changed(record, false);
  }

  /** Whether to checkpoint at the end of `round`: the spec's policy, or an idle worker that could join. */
  private checkpointDue(run: JobRun, round: number): boolean {
    const { everyRounds, everySeconds } = run.record.spec.checkpoint;
    if (everyRounds === 0 && everySeconds === 0) return false;
    if (this.canGrow(run)) return true;
    const last = this.checkpoints.get(run.record.id)?.round ?? -1;
    if (everyRounds > 0 && round - last >= everyRounds) return true;
    const since = Date.now() - (this.lastCheckpointMs.get(run.record.id) ?? run.startedAtMs);
    return everySeconds > 0 && since >= everySeconds * 1000;
  }

  /** A job below its `workers` with idle workers to take, and rounds left to run. */
  private canGrow(run: JobRun): boolean {
    return run.memberIds.length < run.record.spec.workers && this.workers.idle().length > 0 && run.record.epoch < run.record.epochs;
  }

  /** Every rank's part arrived: write the checkpoint, then let the ranks go on (or grow the job). */
  private async commitCheckpoint(run: JobRun, pending: PendingCheckpoint): Promise<void> {
    const record = run.record;
    const parts = run.partsByRank(pending);
    if (parts.some((p) => p === null)) {
      this.options.log.info('the job\'s program keeps no checkpoints; a lost member restarts it from scratch', { job: record.id });
      record.spec.checkpoint = { everyRounds: 0, everySeconds: 0 };
      run.releaseParts();
      return;
    }
    const checkpoint: Checkpoint = { jobId: record.id, round: pending.round, attempt: run.attempt, createdAtMs: Date.now(), ps: pending.ps, states: parts as Uint8Array[] };
    const started = process.hrtime.bigint();
    try {
      const bytes = await this.checkpointStore.save(checkpoint);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // The job ended while this was written: its checkpoints go (finish removed them before this file came).
      if (isTerminal(record.state)) {
        await this.checkpointStore.drop(record.id);
        return;
      }
      // The attempt ended meanwhile, and the next resumed from an older one: this stays on disk but not the resume point.
      if (run.ended) return;
      this.checkpoints.set(record.id, checkpoint);
      this.lastCheckpointMs.set(record.id, Date.now());
      record.checkpointRound = pending.round;
      this.metrics.checkpointSeconds.observe(seconds);
      this.options.bus.publish('tfleet.job.checkpointed', { id: record.id, round: pending.round, attempt: run.attempt, bytes, seconds, time: Date.now() });
      void this.changed(record, false);
    } catch (err) {
      this.options.log.warn('could not write a checkpoint; the job goes on from the previous one', { job: record.id, round: pending.round, error: errorMessage(err) });
      // Growing now would go back to the previous checkpoint: wait for one that is written.
      if (!run.ended) run.releaseParts();
      return;
    }
    if (run.ended) return;
    if (this.canGrow(run)) {
      const survivors = run.memberIds.map((id) => this.workers.get(id));
      this.endAttempt(run, 'idle workers join the job');
      this.startAttempt(record, [...survivors, ...this.workers.idle()].slice(0, record.spec.workers));
      return;
    }
    run.releaseParts();
  }

  /** Members that stall their attempt: no push of a step, or no report of a round, long after the others. */
  private checkStalls(): void {
    const now = Date.now();
    for (const run of [...this.runs.values()]) {
      if (run.ended) continue;
      const stepMs = this.options.stepTimeoutMs || Math.max(MIN_STEP_TIMEOUT_MS, STEP_TIMEOUT_MEDIANS * (this.ps.medianStepMs(run.psJob) ?? 0));
      const stalled = new Map<string, string>();
      for (const s of this.ps.stragglers(run.psJob, now, stepMs)) {
        stalled.set(s.workerId, `stalled: no push of step ${s.step} of '${s.key}' for ${s.waitedMs} ms while the others waited (step timeout ${stepMs} ms)`);
      }
      // A rank times its own evaluation and export; this is the backstop for one that cannot even say so.
      for (const l of run.laggards(now, stepMs, this.options.finishTimeoutMs + this.options.leaseMs)) {
        if (!stalled.has(l.workerId)) stalled.set(l.workerId, `stalled: did not reach ${l.what} for ${l.waitedMs} ms after another member did`);
      }
      if (stalled.size > 0) this.membersLost(run, [...stalled].map(([id, reason]) => ({ w: this.workers.find(id), id, reason })));
    }
  }

  private onWorkerLost(w: WorkerEntry, reason: string): void {
    this.options.log.warn('worker lost', { worker: w.id, reason });
    this.options.bus.publish('tfleet.worker.left', { id: w.id, name: w.name, backend: w.backend, reason, time: Date.now() });
    const run = w.jobId ? this.runs.get(w.jobId) : undefined;
    if (run && run.isMember(w.id) && !run.ended) this.membersLost(run, [{ w, id: w.id, reason }]);
    else this.schedule();
  }

  /**
   * Members of an attempt are gone (or stalled): the attempt ends, and the
   * next starts with the survivors and idle workers, from the last
   * checkpoint. A stalled member stays registered but is not given work
   * until its task reports that it ended.
   */
  private membersLost(run: JobRun, lost: { w: WorkerEntry | undefined; id: string; reason: string }[]): void {
    const record = run.record;
    const lostIds = new Set(lost.map((l) => l.id));
    for (const l of lost) {
      const name = l.w?.name ?? l.id;
      this.options.log.warn('member lost', { job: record.id, worker: l.id, attempt: run.attempt, reason: l.reason });
      this.membershipChange(record, name, 'lost', l.reason);
      this.metrics.workerLosses.inc({ job_id: record.id });
      this.options.bus.publish('tfleet.job.worker_lost', { id: record.id, worker: name, reason: l.reason, attempt: run.attempt, round: record.epoch, time: Date.now() });
      if (l.w && l.w.jobId === record.id) l.w.jobId = null;
    }
    // A rank that finished its part may already train another job: only those still in this one carry on.
    const survivors = run.memberIds.filter((id) => !lostIds.has(id) && this.workers.find(id)?.jobId === record.id);
    this.endAttempt(run, `members lost: ${lost.map((l) => l.w?.name ?? l.id).join(', ')}`);
    const now = Date.now();
    this.recovering.set(record.id, {
      reserved: survivors, fullUntilMs: 0, deadlineMs: now + this.options.rejoinTimeoutMs,
      lost: lost.map((l) => `'${l.w?.name ?? l.id}' (${l.reason})`),
    });
    for (const id of survivors) this.workers.get(id).jobId = record.id;
    this.schedule();
  }

  /** Ends an attempt: its barriers fail, its table closes, its members are told to stop. */
  private endAttempt(run: JobRun, reason: string): void {
    run.end(reason);
    if (this.runs.get(run.record.id) === run) this.runs.delete(run.record.id);
    this.ps.closeJob(run.psJob, reason);
    for (const id of run.memberIds) {
      const w = this.workers.find(id);
      if (!w) continue;
      if (w.jobId === run.record.id) w.jobId = null;
      w.sink?.send({ cancel: { jobId: run.record.id, attempt: run.attempt } });
    }
  }

  private membershipChange(record: JobRecord, worker: string, change: MembershipChange['change'], reason: string): void {
    record.membership = [...record.membership, { timeMs: Date.now(), worker, change, reason, attempt: record.attempt, round: record.epoch }];
    if (change === 'joined') this.options.bus.publish('tfleet.job.worker_joined', { id: record.id, worker, attempt: record.attempt, round: record.epoch, time: Date.now() });
  }

  /** Ends a job: frees its workers, closes its parameter table, drops its checkpoints and notifies. */
  private async finish(record: JobRecord, state: JobState, error: string): Promise<void> {
    if (isTerminal(record.state)) return;
    record.state = state;
    record.error = error;
    record.waiting = '';
    record.finishedAtMs = Date.now();
    const run = this.runs.get(record.id);
    if (run) {
      if (state === 'succeeded') {
        run.end(state);
        this.runs.delete(record.id);
        this.ps.closeJob(run.psJob, state);
        for (const id of run.memberIds) {
          const w = this.workers.find(id);
          if (w && w.jobId === record.id) w.jobId = null;
        }
      } else this.endAttempt(run, error || state);
    }
    const recovery = this.recovering.get(record.id);
    this.recovering.delete(record.id);
    for (const id of recovery?.reserved ?? []) {
      const w = this.workers.find(id);
      if (w?.jobId === record.id) w.jobId = null;
    }
    this.prepared.delete(record.id);
    this.shards.drop(record.id);
    this.checkpoints.delete(record.id);
    this.lastCheckpointMs.delete(record.id);
    this.metrics.jobMembers.remove({ job_id: record.id });
    await this.checkpointStore.drop(record.id).catch((err) =>
      this.options.log.warn('could not remove a finished job\'s checkpoints', { job: record.id, error: errorMessage(err) }));
    this.options.log.info(`job ${state}`, { job: record.id, error: error || undefined });
    // A finished job's series go after the retention, so the series of a long-lived coordinator stay bounded.
    setTimeout(() => {
      this.metrics.forget(record.id);
      this.options.forgetJobSeries?.(record.id);
    }, this.options.metricsRetentionMs).unref();
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

/** A job's name as one safe folder name (the schema allows only such names; this holds for records of any age too). */
export function folderName(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+/, '').slice(0, 64);
  return safe || 'job';
}

/**
 * Refuses at submit an `output` that is not empty: a folder holding files
 * but no tfleet model always (the export replaces the folder, so it would
 * delete them; the worker refuses too), one holding a model unless the spec
 * says `overwrite` (an earlier job's model is not replaced by accident).
 *
 * @throws SpecError naming the field and the folder.
 */
async function refuseExistingOutput(output: string, overwrite: boolean): Promise<void> {
  // A folder the coordinator cannot read here is for the exporting worker to judge.
  const entries = await folderEntries(output).catch(() => 'absent' as const);
  if (entries === 'absent' || entries.length === 0) return;
  if (entries === 'not a folder') throw new SpecError('output', `is ${output}, a file: it must be a folder`);
  if (!entries.includes(MODEL_META)) {
    throw new SpecError('output', `is ${output}, which holds files that are not a tfleet model: choose another output (an export replaces the folder${overwrite ? "; 'overwrite' replaces only a tfleet model" : ''})`);
  }
  if (!overwrite) {
    throw new SpecError('output', `is ${output}, which already holds a tfleet model: set 'overwrite': true to replace it (tfleet submit --set overwrite=true), or choose another output`);
  }
}

function taskKey(jobId: string, attempt: number): string {
  return `${jobId}#${attempt}`;
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

