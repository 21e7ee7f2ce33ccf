import { tfleet } from '../proto/generated/tfleet';

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
  history: { round: number; loss: number; rows: number; seconds: number; attempt: number; workers: number }[];
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
    history: (r.history ?? []).map((h) => ({ round: h.round ?? 0, loss: h.loss ?? 0, rows: h.rows ?? 0, seconds: h.seconds ?? 0, attempt: h.attempt ?? 0, workers: h.workers ?? 0 })),
    waiting: r.waiting || undefined,
    createdAt: iso(r.createdAtMs ?? 0)!, startedAt: iso(r.startedAtMs ?? 0), finishedAt: iso(r.finishedAtMs ?? 0),
    spec: r.specJson ? JSON.parse(r.specJson) : null,
  };
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(4);
}

/** "accuracy 0.9722 loss 0.0811" — the metrics of one split in a line. */
export function metricLine(m: Record<string, number> | undefined): string {
  if (!m) return '-';
  return Object.entries(m).filter(([k]) => k !== 'count').map(([k, v]) => `${k} ${fmt(v)}`).join(' ');
}

export function describeJob(j: JobJson): string {
  const lines = [
    `job ${j.id} (${j.name}): ${j.state}`,
    `  epochs  ${j.epoch}/${j.epochs}${j.workers.length ? `  workers ${j.workers.join(', ')}` : ''}`,
  ];
  if (j.metrics.train) lines.push(`  train   ${metricLine(j.metrics.train)}`);
  if (j.metrics.test) lines.push(`  test    ${metricLine(j.metrics.test)}`);
  if (j.waiting) lines.push(`  waiting ${j.waiting}`);
  if (j.attempt > 1) lines.push(`  attempt ${j.attempt}${j.resumedFrom >= 0 ? ` (resumed at round ${j.resumedFrom})` : ''}${j.checkpointRound >= 0 ? `  checkpoint after round ${j.checkpointRound}` : ''}`);
  for (const m of j.membership.slice(-5)) lines.push(`  ${m.change.padEnd(7)} ${m.worker} at round ${m.round} (attempt ${m.attempt}): ${m.reason}`);
  if (j.output) lines.push(`  output  ${j.output}`);
  if (j.error) lines.push(`  error   ${j.error}`);
  return lines.join('\n');
}

export function jobsTable(jobs: JobJson[]): string {
  const rows = [['ID', 'STATE', 'NAME', 'EPOCH', 'WORKERS', 'TEST', 'WAITING']];
  for (const j of jobs) rows.push([j.id, j.state, j.name, `${j.epoch}/${j.epochs}`, String(j.workers.length), metricLine(j.metrics.test), j.waiting ?? '']);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()).join('\n');
}
