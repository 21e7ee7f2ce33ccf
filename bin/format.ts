
export { JobJson, recordToJson } from '../shared/sdk/job-json';
import { JobJson } from '../shared/sdk/job-json';

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(4);
}

/** "accuracy 0.9722 loss 0.0811" — the metrics of one split in a line. */
export function metricLine(m: Record<string, number> | undefined): string {
  if (!m) return '-';
  return Object.entries(m).filter(([k]) => k !== 'count').map(([k, v]) => `${k} ${fmt(v)}`).join(' ');
}

/** `round 12  loss 0.2345  1200 rows  0.05 s  test accuracy 0.9722 …`: one history entry in a line. */
export function roundLine(h: JobJson['history'][number]): string {
  const test = h.test ? `  test ${metricLine(h.test)}` : '';
  return `round ${h.round}  loss ${fmt(h.loss)}  ${h.rows} rows  ${h.seconds.toFixed(2)} s${test}`;
}

/** The job in a few lines; `recentRounds`: that many of the latest history entries too (`tfleet status`). */
export function describeJob(j: JobJson, recentRounds = 0): string {
  const lines = [
    `job ${j.id} (${j.name}): ${j.state}`,
    `  epochs  ${j.epoch}/${j.epochs}${j.workers.length ? `  workers ${j.workers.join(', ')}` : ''}`,
  ];
  if (j.metrics.train) lines.push(`  train   ${metricLine(j.metrics.train)}`);
  if (j.metrics.test) lines.push(`  test    ${metricLine(j.metrics.test)}`);
  // The text says what is awaited ("waiting for 3 workers: …").
  if (j.waiting) lines.push(`  ${j.waiting}`);
  if (j.attempt > 1) lines.push(`  attempt ${j.attempt}${j.resumedFrom >= 0 ? ` (resumed at round ${j.resumedFrom})` : ''}${j.checkpointRound >= 0 ? `  checkpoint after round ${j.checkpointRound}` : ''}`);
  if (recentRounds > 0) for (const h of j.history.slice(-recentRounds)) lines.push(`  ${roundLine(h)}`);
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

/** `job-1 running epoch 12/40 loss 0.2345`, on a terminal with rows/s and the time left from the latest rounds. */
export function progressLine(j: JobJson, withSpeed: boolean): string {
  let line = `${j.id} ${j.state} epoch ${j.epoch}/${j.epochs}${j.metrics.train ? ` loss ${j.metrics.train.loss.toFixed(4)}` : ''}${j.attempt > 1 ? ` attempt ${j.attempt}` : ''}`;
  const recent = j.history.slice(-5);
  const seconds = recent.reduce((a, h) => a + h.seconds, 0);
  if (withSpeed && j.state === 'running' && recent.length > 0 && seconds > 0) {
    const rows = recent.reduce((a, h) => a + h.rows, 0);
    const left = Math.round((seconds / recent.length) * Math.max(0, j.epochs - j.epoch));
    line += ` · ${Math.round(rows / seconds)} rows/s · ${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')} left`;
  }
  return j.waiting ? `${line} (${j.waiting})` : line;
}
