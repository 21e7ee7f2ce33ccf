import { tfleet } from '../../proto/generated/tfleet';
import { JobSpec } from '../../shared/config/job-spec';

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export const TERMINAL_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];

/** What the coordinator knows of a job; persisted as JSON in the state folder. */
export interface JobRecord {
  id: string;
  name: string;
  state: JobState;
  spec: JobSpec;
  createdAtMs: number;
  startedAtMs: number;
  finishedAtMs: number;
  /** Names of the workers of the current attempt, by rank. */
  workers: string[];
  epoch: number;
  epochs: number;
  metrics: { train?: Record<string, number>; test?: Record<string, number> };
  output: string;
  error: string;
  /** Attempts started so far (a lost member or a coordinator restart starts another). */
  attempt: number;
  /** Members who joined or were lost, oldest first. */
  membership: MembershipChange[];
  /** The last round a checkpoint holds, or -1. */
  checkpointRound: number;
  /** The round the current attempt resumed at, or -1 when it started from scratch. */
  resumedFrom: number;
  /** One entry per finished round, in order (rounds a restart redid appear once, as redone). */
  history: RoundEntry[];
  /** Why the job waits, in words; empty when it does not. */
  waiting: string;
}

export interface MembershipChange {
  timeMs: number;
  worker: string;
  change: 'joined' | 'lost';
  reason: string;
  attempt: number;
  round: number;
}

export interface RoundEntry {
  round: number;
  loss: number;
  /** Training rows the round covered, over all ranks. */
  rows: number;
  seconds: number;
  attempt: number;
  workers: number;
  /** Test-set metrics at the round's end, when the job evaluates while training (`training.evaluateEvery`). */
  test?: Record<string, number>;
}

/** Fills the fields records written by older versions lack. */
export function upgradeRecord(r: JobRecord): JobRecord {
  r.membership ??= [];
  r.checkpointRound ??= -1;
  r.resumedFrom ??= -1;
  r.history ??= [];
  r.waiting ??= '';
  return r;
}

export function isTerminal(state: JobState): boolean {
  return TERMINAL_STATES.includes(state);
}

export function toProtoRecord(r: JobRecord): tfleet.coordinator.IJobRecord {
  const metrics: Record<string, tfleet.coordinator.IMetrics> = {};
  for (const [split, values] of Object.entries(r.metrics)) if (values) metrics[split] = { values };
  return {
    id: r.id, name: r.name, state: r.state, specJson: JSON.stringify(r.spec),
    createdAtMs: r.createdAtMs, startedAtMs: r.startedAtMs, finishedAtMs: r.finishedAtMs,
    workers: r.workers, epoch: r.epoch, epochs: r.epochs, metrics, output: r.output, error: r.error, attempt: r.attempt,
    membership: r.membership, checkpointRound: r.checkpointRound, resumedFrom: r.resumedFrom, history: r.history, waiting: r.waiting,
  };
}
