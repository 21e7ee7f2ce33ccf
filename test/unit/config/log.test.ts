import { describe, expect, it } from 'vitest';
import { createLogger, textLine } from '../../../shared/log';

describe('log lines', () => {
  it('are one JSON object each in the json format, fields included', () => {
    const lines: string[] = [];
    createLogger('coordinator', { format: 'json', sink: (l) => lines.push(l) }).warn('member lost', { job: 'job-1', attempt: 2 });
    const o = JSON.parse(lines[0]);
    expect(o).toMatchObject({ level: 'warn', component: 'coordinator', msg: 'member lost', job: 'job-1', attempt: 2 });
    expect(Number.isNaN(Date.parse(o.time))).toBe(false);
  });

  it('are one short line for people in the text format, values quoted only when they need it', () => {
    const line = textLine(new Date('2026-12-01T12:04:05.123Z'), 'warn', 'coordinator', 'member lost', { job: 'job-1', reason: 'task stream closed', attempt: 2, skipped: undefined });
    expect(line).toBe('12:04:05 warn  coordinator: member lost job=job-1 reason="task stream closed" attempt=2');
    const lines: string[] = [];
    const log = createLogger('worker', { format: 'text', level: 'info', sink: (l) => lines.push(l) });
    log.debug('hidden');
    log.child('task').info('task started', { rank: 0 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d info  worker\.task: task started rank=0$/);
  });
});
