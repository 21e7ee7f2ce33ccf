import { tfleet } from '../../proto/generated/tfleet';

/** A job record as plain JSON: what `--json` prints. */
export interface JobJson {
  id: string;
  name: string;
  state: string;
  workers: string[];
  epoch: number;
  epochs: number;
  metrics: Record<string, Record<string, number>>;
  output: string;
  error?: string;
  attempt: number;
  /** Members who joined or were lost, with when and why. */
  membership: { time: string; worker: string; change: string; reason: string; attempt: number; round: number }[];
  /** The last round a checkpoint holds, or -1. */
  checkpointRound: number;
  /** The round the current attempt resumed at, or -1. */
  resumedFrom: number;
  /** One entry per finished epoch or round; `test` holds the test metrics of the rounds the job evaluated at (`training.evaluateEvery`). */
  history: { round: number; loss: number; rows: number; seconds: number; attempt: number; workers: number; test?: Record<string, number> }[];
  /** Why the job waits, when it does. */
  waiting?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  spec: unknown;
}

const iso = (ms: number): string | undefined => (ms > 0 ? new Date(ms).toISOString() : undefined);

export function recordToJson(r: tfleet.coordinator.IJobRecord): JobJson {
  const metrics: Record<string, Record<string, number>> = {};
  for (const [split, m] of Object.entries(r.metrics ?? {})) metrics[split] = { ...(m.values ?? {}) };
  return {
    id: r.id ?? '', name: r.name ?? '', state: r.state ?? '', workers: r.workers ?? [], epoch: r.epoch ?? 0, epochs: r.epochs ?? 0,
    metrics, output: r.output ?? '', error: r.error || undefined, attempt: r.attempt ?? 0,
    membership: (r.membership ?? []).map((m) => ({
      time: iso(m.timeMs ?? 0) ?? '', worker: m.worker ?? '', change: m.change ?? '', reason: m.reason ?? '', attempt: m.attempt ?? 0, round: m.round ?? 0,
    })),
    checkpointRound: r.checkpointRound ?? -1, resumedFrom: r.resumedFrom ?? -1,
    history: (r.history ?? []).map((h) => ({
      round: h.round ?? 0, loss: h.loss ?? 0, rows: h.rows ?? 0, seconds: h.seconds ?? 0, attempt: h.attempt ?? 0, workers: h.workers ?? 0,
      ...(h.test && Object.keys(h.test).length > 0 ? { test: { ...h.test } } : {}),
    })),
    waiting: r.waiting || undefined,
    createdAt: iso(r.createdAtMs ?? 0)!, startedAt: iso(r.startedAtMs ?? 0), finishedAt: iso(r.finishedAtMs ?? 0),
    spec: r.specJson ? JSON.parse(r.specJson) : null,
  };
}
