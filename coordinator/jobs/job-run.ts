import { TaskKind } from '../../shared/data/dataset';
import { AbortedError } from '../../shared/errors';
import { MetricSums, addSums, emptySums } from '../../shared/metric-sums';
import { PsSnapshot } from '../ps/parameter-store';
import { JobRecord } from './job-record';

/** A finished rank's report. */
/** What ranks report at a round's end: training sums, and test sums when the round is evaluated. */
export interface RoundSums {
  train: MetricSums;
  test: MetricSums | null;
}

export interface RankResult {
  train: MetricSums;
  test: MetricSums;
  output: string;
}

/** Members that have kept a barrier waiting. */
export interface Laggard {
  workerId: string;
  /** What they have not reached, in words. */
  what: string;
  waitedMs: number;
}

interface Waiting<T> {
  resolve(value: T): void;
  reject(err: Error): void;
}

/** A point every member must reach: a round's progress, a checkpoint's parts. */
class Barrier<V, R> {
  readonly arrived = new Map<string, V>();
  readonly firstMs = Date.now();
  private readonly waiting: Waiting<R>[] = [];

  wait(): Promise<R> {
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }
  release(value: R): void {
    for (const w of this.waiting.splice(0)) w.resolve(value);
  }
  fail(err: Error): void {
    for (const w of this.waiting.splice(0)) w.reject(err);
  }
}

/** A checkpoint being assembled: the server's keys at the round's barrier, and each rank's part as it arrives. */
export interface PendingCheckpoint {
  round: number;
  ps: PsSnapshot;
  parts: Barrier<Uint8Array | null, void>;
}

/**
 * The coordinator's bookkeeping for one attempt of a running job: its
 * members by rank, the round barriers (a rank's progress report is
 * answered once every rank reported the round), the checkpoint being
 * assembled, and the final results as they arrive.
 */
export class JobRun {
  readonly startedAtMs = Date.now();
  /** When the attempt's latest round ended (its start before the first). */
  lastRoundEndMs = this.startedAtMs;
  private readonly rounds = new Map<number, Barrier<RoundSums, boolean>>();
  private readonly results = new Map<string, RankResult>();
  private firstResultMs = 0;
  private pending: PendingCheckpoint | null = null;
  private endedWith: string | null = null;

  /** `task` says which metrics the final sums become; `psJob` names the attempt's parameter table. */
  constructor(
    readonly record: JobRecord,
    readonly memberIds: readonly string[],
    readonly task: TaskKind,
    readonly attempt: number,
    readonly psJob: string,
    /** Each rank's rows of the train and test sets. */
    private readonly shards: readonly { train: { begin: number; end: number }; test: { begin: number; end: number } }[],
  ) {}

  /** A member's rows of a split. */
  shardOf(workerId: string, split: 'train' | 'test'): { begin: number; end: number } {
    return this.shards[this.rankOf(workerId)][split];
  }

  isMember(workerId: string): boolean {
    return this.memberIds.includes(workerId);
  }

  rankOf(workerId: string): number {
    return this.memberIds.indexOf(workerId);
  }

  get ended(): boolean {
    return this.endedWith !== null;
  }

  /**
   * Adds one rank's training sums for a round. The promise resolves (with
   * whether to send a checkpoint part) once {@link releaseRound} is called
   * for the round; `complete` is the round's sum when this was the last rank.
   */
  arriveRound(workerId: string, round: number, sums: RoundSums): { complete: RoundSums | null; answer: Promise<boolean> } {
    if (this.endedWith !== null) return { complete: null, answer: Promise.reject(new AbortedError(this.endedWith)) };
    let b = this.rounds.get(round);
    if (!b) this.rounds.set(round, (b = new Barrier()));
    const answer = b.wait();
    if (b.arrived.has(workerId)) return { complete: null, answer };
    b.arrived.set(workerId, sums);
    if (b.arrived.size < this.memberIds.length) return { complete: null, answer };
    let train = emptySums();
    let test: MetricSums | null = null;
    for (const s of b.arrived.values()) {
      train = addSums(train, s.train);
      if (s.test) test = addSums(test ?? emptySums(), s.test);
    }
    return { complete: { train, test }, answer };
  }

  /** Lets every rank past a round's barrier; `checkpoint` starts assembling one (the server's part is `ps`). */
  releaseRound(round: number, checkpoint: PsSnapshot | null): void {
    const b = this.rounds.get(round);
    if (!b) return;
    this.rounds.delete(round);
    if (checkpoint) this.pending = { round, ps: checkpoint, parts: new Barrier() };
    b.release(checkpoint !== null);
  }

  /**
   * Adds one rank's part of the pending checkpoint (null: its program keeps none).
   * @returns the checkpoint when this was the last part, and the promise the rank waits on.
   * @throws AbortedError when no checkpoint of that round is being assembled.
   */
  addPart(workerId: string, round: number, state: Uint8Array | null): { complete: PendingCheckpoint | null; answer: Promise<void> } {
    if (this.endedWith !== null) throw new AbortedError(this.endedWith);
    const p = this.pending;
    if (!p || p.round !== round) throw new AbortedError(`no checkpoint of round ${round} is being taken`);
    const answer = p.parts.wait();
    if (!p.parts.arrived.has(workerId)) p.parts.arrived.set(workerId, state);
    return { complete: p.parts.arrived.size === this.memberIds.length ? p : null, answer };
  }

  /** Lets the ranks go on after the checkpoint was written (or given up). */
  releaseParts(): void {
    this.pending?.parts.release();
    this.pending = null;
  }

  /** The pending checkpoint's parts by rank. */
  partsByRank(p: PendingCheckpoint): (Uint8Array | null)[] {
    return this.memberIds.map((id) => p.parts.arrived.get(id) ?? null);
  }

  /** @returns every rank's results summed, once all ranks finished; else null. */
  addResult(workerId: string, result: RankResult): { train: MetricSums; test: MetricSums } | null {
    if (this.firstResultMs === 0) this.firstResultMs = Date.now();
    this.results.set(workerId, result);
    if (this.results.size < this.memberIds.length) return null;
    let train = emptySums();
    let test = emptySums();
    for (const r of this.results.values()) {
      train = addSums(train, r.train);
      test = addSums(test, r.test);
    }
    return { train, test };
  }

  /**
   * Members that kept a barrier waiting longer than its limit: a round's
   * progress or a checkpoint part (`stepMs`), or the end of the task after
   * another rank finished (`finishMs`: evaluation and export).
   */
  laggards(now: number, stepMs: number, finishMs: number): Laggard[] {
    const out: Laggard[] = [];
    const missing = (arrived: { has(id: string): boolean }, firstMs: number, limit: number, what: string): void => {
      if (now - firstMs <= limit) return;
      for (const id of this.memberIds) if (!arrived.has(id)) out.push({ workerId: id, what, waitedMs: now - firstMs });
    };
    for (const [round, b] of this.rounds) missing(b.arrived, b.firstMs, stepMs, `the end of round ${round}`);
    if (this.pending) missing(this.pending.parts.arrived, this.pending.parts.firstMs, stepMs, `its checkpoint part of round ${this.pending.round}`);
    if (this.firstResultMs > 0) missing(this.results, this.firstResultMs, finishMs, 'the end of its task (evaluation and export)');
    return out;
  }

  /** Ends the attempt: every rank waiting at a barrier fails with `reason`. */
  end(reason: string): void {
    if (this.endedWith !== null) return;
    this.endedWith = reason;
    const err = new AbortedError(reason);
    for (const b of this.rounds.values()) b.fail(err);
    this.rounds.clear();
    this.pending?.parts.fail(err);
    this.pending = null;
  }
}
