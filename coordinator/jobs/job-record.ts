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
  attempt: number;
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
  };
}
