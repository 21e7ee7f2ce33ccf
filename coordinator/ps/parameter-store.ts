import { AnyTensorMap, HostData, HostTensor, copyRows, dtypeOf, zerosOf } from '../../shared/codec/host-tensor';
import { AbortedError, ArgumentError, NotFoundError, TfleetError } from '../../shared/errors';
import { KeyShape } from '../../shared/codec/wire';
import { EXACT_RULES, RowInit, TABLE_RULES, UpdateRuleSpec } from '../../shared/ps/rules';
import { NATIVE_LOOP_MIN, nativeLoops } from './native-loops';
import { RowTable, RowTableState } from './row-table';
import { RuleState, UpdateRule, createUpdateRule } from './update-rules';

/** Observes what the store does, for metrics. */
export interface StoreObserver {
  onUpdate?(jobId: string, key: string, seconds: number): void;
}

/** Bounds on what a job's members may make the server hold. */
export interface StoreLimits {
  /** Keys a job's table may hold at once. @default 65536 */
  maxKeysPerJob: number;
  /** Float values (4 or 8 bytes each) a job's keys may hold together. @default 1 Gi */
  maxValuesPerJob: number;
  /** Pulls waiting at once in a job's table. @default 4096 */
  maxWaitingPulls: number;
}

export const DEFAULT_STORE_LIMITS: StoreLimits = { maxKeysPerJob: 65_536, maxValuesPerJob: 2 ** 30, maxWaitingPulls: 4096 };

interface KeyState {
  shape: number[];
  /** float32 for weights; float64 or int32 for exact sums (its pushes must have its dtype). */
  value: HostData;
  rule: UpdateRule;
  /** The rule as created, for a checkpoint. */
  ruleSpec: UpdateRuleSpec;
  /** Set for a row table: its rows, rule and step sums (then `accum` is unused). */
  table?: RowTable;
  tableInit?: RowInit;
  /** Number of updates applied: the step whose pushes are being collected. */
  version: number;
  accum: Float64Array;
  weight: number;
  pushedBy: Set<string>;
  /** When the step being collected got its first push (ms), for the stall check. */
  firstPushMs: number;
  /** When the key's previous step was applied (ms; 0 before the first). */
  appliedMs: number;
  /** Members that are done with the key; it is dropped once all are. */
  releasedBy: Set<string>;
}

interface Waiter {
  keys: string[];
  minVersion: number;
  /** Only these rows of every key, as row tensors. */
  rowIds?: Uint32Array;
  resolve(r: PullResult): void;
  reject(err: Error): void;
}

interface JobTable {
  members: Set<string>;
  keys: Map<string, KeyState>;
  waiters: Set<Waiter>;
  closedReason: string | null;
  /** Keys released for good: a late, retried init must not bring one back (nobody would release it again). */
  dropped: Set<string>;
  /** The latest times between a key's consecutive steps (ms), a ring for the median. */
  stepMs: number[];
}

/** A key's state in a checkpoint: its value, rule and the rule's slots, and its version. */
export interface KeySnapshot {
  key: string;
  shape: number[];
  value: HostData;
  rule: UpdateRuleSpec;
  ruleState: RuleState;
  version: number;
  table?: { init: RowInit; state: RowTableState };
}

/** Every key of a job's table, copied when no step was being collected (a round's barrier). */
export interface PsSnapshot {
  keys: KeySnapshot[];
}

/** A member that has not pushed a step the others are waiting on. */
export interface Straggler {
  workerId: string;
  key: string;
  step: number;
  /** How long the step has waited for it (ms). */
  waitedMs: number;
}

/** Step durations the median is taken over. */
const STEP_RING = 32;

export interface PullResult {
  /** The lowest version among the returned keys. */
  version: number;
  /** Views of the stored values: valid until the key's next update. */
  tensors: AnyTensorMap;
}

/** Closed tables whose reason a late request still hears (oldest forgotten first). */
const REMEMBERED_CLOSES = 256;

/**
 * The parameter server's state: per job, named tensors with an update rule
 * each, reduced bulk-synchronously. Step t of a key is applied once every
 * member has pushed it; a pull for version t+1 waits until then.
 *
 * @example
 * store.openJob('j1', ['w1', 'w2']);
 * store.init('j1', params, { name: 'sgd', learningRate: 0.1 });
 * store.push('j1', 'w1', 0, 32, grads);           // step 0 from w1
 * const { tensors } = await store.pull('j1', ['w0'], 1); // waits for w2's push
 */
export class ParameterStore {
  private readonly jobs = new Map<string, JobTable>();
  /**
   * Why recently closed tables closed. A member whose request arrives just
   * after the close hears the same reason as one that was waiting, so a job
   * stopped by one member's NaN fails naming that member, not "no table".
   */
  private readonly closed = new Map<string, string>();

  constructor(private readonly observer: StoreObserver = {}, private readonly limits: StoreLimits = DEFAULT_STORE_LIMITS) {}

  /** @throws TfleetError RESOURCE_EXHAUSTED, naming the limit, when `keys` more keys of `values` values would pass a job's bounds. */
  private checkRoom(job: JobTable, jobId: string, keys: number, values: number): void {
    if (job.keys.size + keys > this.limits.maxKeysPerJob) {
      throw new TfleetError('RESOURCE_EXHAUSTED', `job '${jobId}' would hold ${job.keys.size + keys} parameter keys; at most ${this.limits.maxKeysPerJob} (--max-keys-per-job)`);
    }
    let held = 0;
    for (const s of job.keys.values()) held += s.value.length;
    if (held + values > this.limits.maxValuesPerJob) {
      throw new TfleetError('RESOURCE_EXHAUSTED', `job '${jobId}' would hold ${held + values} parameter values; at most ${this.limits.maxValuesPerJob} (--max-job-values)`);
    }
  }

  /**
   * Starts a job's table; its members are the workers that must push each
   * step. With `from`, the table starts as the checkpoint left it (keys,
   * versions, optimizer slots); a later init of those keys keeps them.
   *
   * @throws ArgumentError when the table is open already, or a checkpointed key does not fit its rule.
   */
  openJob(jobId: string, members: readonly string[], from?: PsSnapshot): void {
    if (this.jobs.has(jobId)) throw new ArgumentError(`parameter table for job '${jobId}' is already open`);
    this.closed.delete(jobId);
    const job: JobTable = { members: new Set(members), keys: new Map(), waiters: new Set(), closedReason: null, dropped: new Set(), stepMs: [] };
    for (const k of from?.keys ?? []) job.keys.set(k.key, restoreKey(k));
    this.jobs.set(jobId, job);
  }

  /** Copies every key of a job's table with its rule state; a step being collected is left out. */
  snapshot(jobId: string): PsSnapshot {
    const job = this.job(jobId);
    const keys: KeySnapshot[] = [];
    for (const [key, s] of job.keys) {
      keys.push({
        key, shape: [...s.shape], value: s.table ? new Float32Array(0) : s.value.slice(), rule: s.ruleSpec, ruleState: s.rule.snapshot(), version: s.version,
        ...(s.table ? { table: { init: s.tableInit!, state: s.table.snapshot() } } : {}),
      });
    }
    return { keys };
  }

  /**
   * Members that have not pushed a step that others pushed more than
   * `timeoutMs` ago (Horovod's stall check), one entry per member.
   */
  stragglers(jobId: string, now: number, timeoutMs: number): Straggler[] {
    const job = this.jobs.get(jobId);
    if (!job) return [];
    const found = new Map<string, Straggler>();
    for (const [key, s] of job.keys) {
      if (s.pushedBy.size === 0 || now - s.firstPushMs <= timeoutMs) continue;
      for (const m of job.members) {
        if (s.pushedBy.has(m)) continue;
        const waitedMs = now - s.firstPushMs;
        if ((found.get(m)?.waitedMs ?? -1) < waitedMs) found.set(m, { workerId: m, key, step: s.version, waitedMs });
      }
    }
    return [...found.values()];
  }

  /** The median time between a key's consecutive steps in this job (ms), or null before any. */
  medianStepMs(jobId: string): number | null {
    const ring = this.jobs.get(jobId)?.stepMs;
    if (!ring || ring.length === 0) return null;
    const sorted = [...ring].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }

  /** Drops a job's table; waiting pulls fail with `reason`. */
  closeJob(jobId: string, reason: string): void {
    const job = this.jobs.get(jobId);
    if (!job) return;
    job.closedReason = reason;
    for (const w of job.waiters) w.reject(new AbortedError(`job '${jobId}': ${reason}`));
    this.jobs.delete(jobId);
    this.closed.set(jobId, reason);
    if (this.closed.size > REMEMBERED_CLOSES) this.closed.delete(this.closed.keys().next().value!);
  }

  /** @throws TfleetError PERMISSION_DENIED when the worker is not a member of the job's table (NotFoundError when the table is gone). */
  requireMember(jobId: string, workerId: string): void {
    if (!this.job(jobId).members.has(workerId)) throw new TfleetError('PERMISSION_DENIED', `worker '${workerId}' is not a member of job '${jobId}'`);
  }

  hasJob(jobId: string): boolean {
    return this.jobs.has(jobId);
  }

  /**
   * Creates keys that do not exist yet; existing keys keep their value
   * (first init wins). A float64 or int32 tensor makes a key of its dtype,
   * which takes the exact reductions only ('sum', 'max').
   *
   * @throws ArgumentError for an optimizer rule on a float64 or int32 tensor, a row tensor,
   *   or a caller that is not a member; nothing is created then.
   */
  init(jobId: string, tensors: AnyTensorMap, rule: UpdateRuleSpec, workerId?: string): string[] {
    const job = this.job(jobId);
    if (workerId !== undefined && !job.members.has(workerId)) throw new TfleetError('PERMISSION_DENIED', `worker '${workerId}' is not a member of job '${jobId}'`);
    for (const [key, t] of tensors) {
      const dtype = dtypeOf(t.data);
      if (t.rowIds) throw new ArgumentError(`init of '${key}': a key is created whole, not from rows`);
      if (dtype !== 'float32' && !EXACT_RULES.includes(rule.name)) {
        throw new ArgumentError(`${dtype} key '${key}' takes rule ${EXACT_RULES.map((r) => `'${r}'`).join(' or ')}, got '${rule.name}'`);
      }
    }
    const fresh = [...tensors].filter(([key]) => !job.keys.has(key) && !job.dropped.has(key));
    this.checkRoom(job, jobId, fresh.length, fresh.reduce((n, [, t]) => n + t.data.length, 0));
    const created: string[] = [];
    for (const [key, t] of tensors) {
      if (job.keys.has(key) || job.dropped.has(key)) continue;
      const value = t.data.slice();
      job.keys.set(key, {
        shape: [...t.shape], value, rule: createUpdateRule(rule, value.length), ruleSpec: rule, version: 0,
        accum: new Float64Array(value.length), weight: 0, pushedBy: new Set(), firstPushMs: 0, appliedMs: 0, releasedBy: new Set(),
      });
      created.push(key);
    }
    if (created.length > 0) this.wake(job);
    return created;
  }

  /**
   * Creates row tables of shape [rows, width] that do not exist yet: each
   * row is created on first touch with `init`, and a step's rule ('sum',
   * 'sgd', 'adagrad') applies per row to the sum of that row's pushes.
   *
   * @throws ArgumentError for a shape that is not [rows, width] of float32, a rule a
   *   table does not take, or a caller that is not a member; nothing is created then.
   */
  initTables(jobId: string, shapes: readonly KeyShape[], rule: UpdateRuleSpec, init: RowInit, workerId?: string): string[] {
    const job = this.job(jobId);
    if (workerId !== undefined && !job.members.has(workerId)) throw new TfleetError('PERMISSION_DENIED', `worker '${workerId}' is not a member of job '${jobId}'`);
    if (!TABLE_RULES.includes(rule.name)) throw new ArgumentError(`a row table takes rule ${TABLE_RULES.map((r) => `'${r}'`).join(', ')}, got '${rule.name}'`);
    for (const s of shapes) {
      if (s.dtype !== 'float32' || s.shape.length !== 2 || s.shape[1] < 1) {
        throw new ArgumentError(`row table '${s.key}' must be float32 of shape [rows, width ≥ 1], got ${s.dtype} [${s.shape.join(', ')}]`);
      }
    }
    const freshTables = shapes.filter((t) => !job.keys.has(t.key) && !job.dropped.has(t.key));
    this.checkRoom(job, jobId, freshTables.length, freshTables.reduce((n, t) => n + t.shape[0] * t.shape[1], 0));
    const created: string[] = [];
    for (const { key, shape } of shapes) {
      if (job.keys.has(key) || job.dropped.has(key)) continue;
      const table = new RowTable(shape[0], shape[1], init, rule);
      job.keys.set(key, {
        shape: [...shape], value: table.value, rule: createUpdateRule({ name: 'sum' }, 0), ruleSpec: rule, table, tableInit: init, version: 0,
        accum: new Float64Array(0), weight: 0, pushedBy: new Set(), firstPushMs: 0, appliedMs: 0, releasedBy: new Set(),
      });
      created.push(key);
    }
    if (created.length > 0) this.wake(job);
    return created;
  }

  /**
   * Records one worker's statistic for `step`. A retried push (same worker,
   * same step, or a step already applied) is ignored, so it counts once.
   *
   * @returns the lowest version of the pushed keys after this push.
   * @throws ArgumentError when a shape differs or the worker is ahead of the step.
   */
  push(jobId: string, workerId: string, step: number, weight: number, tensors: AnyTensorMap): number {
    const job = this.job(jobId);
    if (!job.members.has(workerId)) throw new TfleetError('PERMISSION_DENIED', `worker '${workerId}' is not a member of job '${jobId}'`);
    if (!Number.isFinite(weight) || weight < 0) throw new ArgumentError(`push weight must be a finite number ≥ 0, got ${weight}`);
    const entries = [...tensors].map(([key, t]) => ({ key, t, s: this.key(job, jobId, key) }));
    for (const { key, t, s } of entries) checkShape(key, s, t);
    // A NaN summed into a step would reach every replica: the job stops, naming who sent it.
    const refuseNonFinite = (key: string): never => {
      const reason = `worker '${workerId}' pushed NaN or infinite values in '${key}' at step ${step}`;
      this.closeJob(jobId, reason);
      throw new ArgumentError(reason);
    };
    // Rows are checked first (they are small); whole tensors in the summing loop itself.
    for (const { key, t } of entries) if (t.rowIds && !allFinite(t.data)) refuseNonFinite(key);
    let applied = false;
    for (const { key, t, s } of entries) {
      if (step < s.version || s.pushedBy.has(workerId)) continue;
      if (step > s.version) throw new ArgumentError(`push of '${key}' for step ${step} is ahead of the server's step ${s.version}`);
      let bad = 0;
      if (s.table) s.table.add(t.rowIds!, t.data as Float32Array | Float64Array);
      else if (t.rowIds) {
        // Rows of a dense key: the ones not named add zero.
        if (s.pushedBy.size === 0) s.accum.fill(0);
        addRowsInto(s.accum, t.data, t.rowIds, s.value.length / s.shape[0]);
      } else if (s.rule.reduce === 'max') {
        if (s.pushedBy.size === 0) s.accum.fill(-Infinity);
        bad = maxInto(s.accum, t.data);
      } else if (s.pushedBy.size === 0) bad = overwriteWith(s.accum, t.data); // the step's first push: nothing to clear
      else bad = addInto(s.accum, t.data);
      if (bad !== 0) refuseNonFinite(key);
      s.weight += weight;
      if (s.pushedBy.size === 0) s.firstPushMs = Date.now();
      s.pushedBy.add(workerId);
      if (s.pushedBy.size === job.members.size) {
        try {
          this.apply(jobId, key, s, job);
        } catch (err) {
          // The step cannot complete: fail the job's table so no rank waits on it forever.
          this.closeJob(jobId, `key '${key}': ${(err as Error).message}`);
          throw err;
        }
        applied = true;
      }
    }
    if (applied) this.wake(job);
    return Math.min(...entries.map(({ s }) => s.version));
  }

  /**
   * Marks keys as done for one member; a key is dropped once every member
   * released it (per-level histogram keys of a tree would otherwise pile
   * up). Unknown keys are ignored, so a retried release is harmless.
   * With `drop` the key goes at once: its only reader is done with it.
   */
  release(jobId: string, workerId: string, keys: readonly string[], drop = false): void {
    const job = this.job(jobId);
    if (!job.members.has(workerId)) throw new TfleetError('PERMISSION_DENIED', `worker '${workerId}' is not a member of job '${jobId}'`);
    for (const key of keys) {
      const s = job.keys.get(key);
      if (!s) continue;
      s.releasedBy.add(workerId);
      // `drop`: the caller was the key's only reader (a value one rank put for another).
      if (drop || s.releasedBy.size === job.members.size) {
        job.keys.delete(key);
        job.dropped.add(key);
        this.failWaitersOn(job, jobId, key);
      }
    }
  }

  /** Pulls waiting on a key that is gone would wait forever: they fail, naming it. */
  private failWaitersOn(job: JobTable, jobId: string, key: string): void {
    for (const w of job.waiters) {
      if (!w.keys.includes(key)) continue;
      job.waiters.delete(w);
      w.reject(new NotFoundError(`job '${jobId}': key '${key}' was released while this pull waited for it`));
    }
  }

  /** Number of keys a job's table holds now (for tests and metrics). */
  keyCount(jobId: string): number {
    return this.job(jobId).keys.size;
  }

  /**
   * Waits until every key exists with version ≥ minVersion, then returns
   * views of them; with `rowIds`, copies of just those rows of every key
   * (a row table creates the ones not yet touched).
   */
  pull(jobId: string, keys: readonly string[], minVersion: number, rowIds?: Uint32Array): Promise<PullResult> {
    const job = this.job(jobId);
    if (keys.length === 0) return Promise.reject(new ArgumentError('pull needs at least one key'));
    try {
      const ready = this.tryRead(job, keys, minVersion, rowIds);
      if (ready) return Promise.resolve(ready);
    } catch (err) {
      return Promise.reject(err);
    }
    if (job.waiters.size >= this.limits.maxWaitingPulls) {
      return Promise.reject(new TfleetError('RESOURCE_EXHAUSTED', `job '${jobId}' has ${job.waiters.size} pulls waiting; at most ${this.limits.maxWaitingPulls} may`));
    }
    return new Promise((resolve, reject) => job.waiters.add({ keys: [...keys], minVersion, rowIds, resolve, reject }));
  }

  private apply(jobId: string, key: string, s: KeyState, job: JobTable): void {
    const started = process.hrtime.bigint();
    const now = Date.now();
    if (s.appliedMs > 0) {
      if (job.stepMs.length === STEP_RING) job.stepMs.shift();
      job.stepMs.push(now - s.appliedMs);
    }
    s.appliedMs = now;
    // An all-empty step (weight 0 everywhere) carries no gradient: skip the optimizer.
    if (s.table) s.table.apply();
    else if (s.rule.reduce !== 'mean') s.rule.apply(s.value, s.accum, 1);
    else if (s.weight > 0) s.rule.apply(s.value, s.accum, 1 / s.weight);
    s.weight = 0;
    s.pushedBy.clear();
    s.version++;
    this.observer.onUpdate?.(jobId, key, Number(process.hrtime.bigint() - started) / 1e9);
  }

  /** @throws ArgumentError when `rowIds` names a row outside a key. */
  private tryRead(job: JobTable, keys: readonly string[], minVersion: number, rowIds?: Uint32Array): PullResult | null {
    let version = Infinity;
    for (const key of keys) {
      const s = job.keys.get(key);
      if (!s || s.version < minVersion) return null;
      version = Math.min(version, s.version);
    }
    const tensors: AnyTensorMap = new Map();
    for (const key of keys) {
      const s = job.keys.get(key)!;
      if (rowIds) tensors.set(key, readRows(key, s, rowIds));
      else tensors.set(key, { shape: s.shape, data: s.table ? s.table.readAll() : s.value });
    }
    return { version, tensors };
  }

  private wake(job: JobTable): void {
    for (const w of job.waiters) {
      let r: PullResult | null;
      try {
        r = this.tryRead(job, w.keys, w.minVersion, w.rowIds);
      } catch (err) {
        job.waiters.delete(w);
        w.reject(err as Error);
        continue;
      }
      if (r) {
        job.waiters.delete(w);
        w.resolve(r);
      }
    }
  }

  private job(jobId: string): JobTable {
    const job = this.jobs.get(jobId);
    if (job) return job;
    const reason = this.closed.get(jobId);
    if (reason !== undefined) throw new AbortedError(`job '${jobId}': ${reason}`);
    throw new NotFoundError(`no parameter table for job '${jobId}' (not running, or already finished)`);
  }

  private key(job: JobTable, jobId: string, key: string): KeyState {
    const s = job.keys.get(key);
    if (!s) throw new NotFoundError(`job '${jobId}' has no parameter '${key}' (init it first)`);
    return s;
  }
}

/** A key as a checkpoint left it, collecting its next step. */
function restoreKey(k: KeySnapshot): KeyState {
  const base = { shape: [...k.shape], ruleSpec: k.rule, version: k.version, weight: 0, pushedBy: new Set<string>(), firstPushMs: 0, appliedMs: 0, releasedBy: new Set<string>() };
  if (k.table) {
    const table = new RowTable(k.shape[0], k.shape[1], k.table.init, k.rule);
    table.restore(k.table.state);
    return { ...base, value: table.value, rule: createUpdateRule({ name: 'sum' }, 0), table, tableInit: k.table.init, accum: new Float64Array(0) };
  }
  const value = k.value.slice();
  const rule = createUpdateRule(k.rule, value.length);
  rule.restore(k.ruleState);
  return { ...base, value, rule, accum: new Float64Array(value.length) };
}

// Element loops as top-level functions over typed arrays, which V8 keeps optimized.

/** Whether every value is finite: x - x is NaN exactly for NaN and ±Infinity, and NaN sticks. */
function allFinite(data: HostData): boolean {
  if (data instanceof Int32Array) return true;
  return data instanceof Float64Array ? finite64(data) : finite32(data as Float32Array);
}

function finite32(data: Float32Array): boolean {
  let bad = 0;
  for (let i = 0; i < data.length; i++) bad += data[i] - data[i];
  return bad === 0;
}

function finite64(data: Float64Array): boolean {
  let bad = 0;
  for (let i = 0; i < data.length; i++) bad += data[i] - data[i];
  return bad === 0;
}
// Each returns the sum of (v - v) over the values it read: 0, or NaN when one was NaN or infinite.

function overwriteWith(accum: Float64Array, data: HostData): number {
  if (data instanceof Int32Array) {
    accum.set(data);
    return 0;
  }
  if (data instanceof Float64Array) return overwrite64(accum, data);
  if (nativeLoops && accum.length >= NATIVE_LOOP_MIN && accum.length === data.length) return nativeLoops.overwrite32(accum, data as Float32Array);
  return overwrite32(accum, data as Float32Array);
}

export function overwrite32(accum: Float64Array, data: Float32Array): number {
  let bad = 0;
  for (let i = 0; i < accum.length; i++) {
    const v = data[i];
    accum[i] = v;
    bad += v - v;
  }
  return bad;
}

function overwrite64(accum: Float64Array, data: Float64Array): number {
  let bad = 0;
  for (let i = 0; i < accum.length; i++) {
    const v = data[i];
    accum[i] = v;
    bad += v - v;
  }
  return bad;
}

function addInto(accum: Float64Array, data: HostData): number {
  if (data instanceof Float64Array) return addInto64(accum, data);
  if (data instanceof Int32Array) {
    addIntoI32(accum, data);
    return 0;
  }
  if (nativeLoops && accum.length >= NATIVE_LOOP_MIN && accum.length === data.length) return nativeLoops.addInto32(accum, data as Float32Array);
  return addInto32(accum, data as Float32Array);
}

function addIntoI32(accum: Float64Array, data: Int32Array): void {
  for (let i = 0; i < accum.length; i++) accum[i] += data[i];
}

export function addInto32(accum: Float64Array, data: Float32Array): number {
  let bad = 0;
  for (let i = 0; i < accum.length; i++) {
    const v = data[i];
    accum[i] += v;
    bad += v - v;
  }
  return bad;
}

function addInto64(accum: Float64Array, data: Float64Array): number {
  let bad = 0;
  for (let i = 0; i < accum.length; i++) {
    const v = data[i];
    accum[i] += v;
    bad += v - v;
  }
  return bad;
}

/** A maximum takes -Infinity (the maximum of nothing: a rank without rows); only NaN is refused. */
function maxInto(accum: Float64Array, data: HostData): number {
  let bad = 0;
  for (let i = 0; i < accum.length; i++) {
    const v = data[i];
    if (v > accum[i]) accum[i] = v;
    if (v !== v) bad = NaN;
  }
  return bad;
}

function addRowsInto(accum: Float64Array, data: HostData, ids: Uint32Array, width: number): void {
  for (let i = 0; i < ids.length; i++) {
    const at = ids[i] * width;
    for (let j = 0; j < width; j++) accum[at + j] += data[i * width + j];
  }
}

/** Copies of rows of a key, as a row tensor. */
function readRows(key: string, s: KeyState, ids: Uint32Array): HostTensor<HostData> {
  if (s.shape.length < 1) throw new ArgumentError(`pull of rows of '${key}', a scalar`);
  const rows = s.shape[0];
  const width = s.value.length / Math.max(1, rows);
  const shape = [ids.length, ...s.shape.slice(1)];
  if (s.table) return { shape, data: s.table.read(ids), rowIds: ids };
  for (const id of ids) if (id >= rows) throw new ArgumentError(`pull of row ${id} of '${key}', which has ${rows} rows`);
  const data = zerosOf(dtypeOf(s.value), ids.length * width);
  copyRows(s.value, ids, ids.length, width, data);
  return { shape, data, rowIds: ids };
}

function checkRows(key: string, s: KeyState, t: HostTensor<HostData>): void {
  if (s.rule.reduce !== 'sum' && !s.table) throw new ArgumentError(`pushed rows of '${key}': only a 'sum' key or a row table takes rows`);
  if (s.shape.length !== t.shape.length || s.shape.some((d, i) => i > 0 && d !== t.shape[i])) {
    throw new ArgumentError(`pushed rows of '${key}' have shape [${t.shape.join(', ')}], the server's rows are [${s.shape.slice(1).join(', ')}]`);
  }
  const rows = s.shape[0];
  for (const id of t.rowIds!) if (id >= rows) throw new ArgumentError(`pushed row ${id} of '${key}', which has ${rows} rows`);
}

function checkShape(key: string, s: KeyState, t: HostTensor<HostData>): void {
  if (s.table && !t.rowIds) throw new ArgumentError(`push to row table '${key}' must name its rows`);
  if (t.rowIds) checkRows(key, s, t);
  else if (s.shape.length !== t.shape.length || s.shape.some((d, i) => d !== t.shape[i])) {
    throw new ArgumentError(`pushed '${key}' has shape [${t.shape.join(', ')}], the server holds [${s.shape.join(', ')}]`);
  }
  if (dtypeOf(s.value) !== dtypeOf(t.data)) {
    throw new ArgumentError(`pushed '${key}' is ${dtypeOf(t.data)}, the server holds ${dtypeOf(s.value)}`);
  }
}
