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
  if (j.output) lines.push(`  output  ${j.output}`);
  if (j.error) lines.push(`  error   ${j.error}`);
  return lines.join('\n');
}

export function jobsTable(jobs: JobJson[]): string {
  const rows = [['ID', 'STATE', 'NAME', 'EPOCH', 'WORKERS', 'TEST']];
  for (const j of jobs) rows.push([j.id, j.state, j.name, `${j.epoch}/${j.epochs}`, String(j.workers.length), metricLine(j.metrics.test)]);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()).join('\n');
}
