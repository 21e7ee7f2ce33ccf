import { describe, expect, it } from 'vitest';
import { JobJson, describeJob, progressLine } from '../../../bin/format';

const job = (over: Partial<JobJson>): JobJson => ({
  id: 'job-1', name: 'n', state: 'running', workers: ['w1'], epoch: 10, epochs: 40, metrics: { train: { loss: 0.25 } }, output: '', attempt: 1,
  membership: [], checkpointRound: 9, resumedFrom: -1, history: [], createdAt: '', spec: null, ...over,
});

describe('the progress line of submit --wait and watch', () => {
  it('is plain off a terminal', () => {
    expect(progressLine(job({}), false)).toBe('job-1 running epoch 10/40 loss 0.2500');
  });

  it('adds rows/s and the time left from the latest rounds on a terminal', () => {
    const history = Array.from({ length: 10 }, (_, round) => ({ round, loss: 0.3, rows: 1000, seconds: 2, attempt: 1, workers: 2 }));
    expect(progressLine(job({ history }), true)).toBe('job-1 running epoch 10/40 loss 0.2500 · 500 rows/s · 1:00 left');
  });

  it('says why a job waits and which attempt it is on', () => {
    expect(progressLine(job({ state: 'queued', epoch: 0, metrics: {}, waiting: 'waiting for 3 workers: 1 connected, 1 idle' }), true))
      .toBe('job-1 queued epoch 0/40 (waiting for 3 workers: 1 connected, 1 idle)');
    expect(progressLine(job({ attempt: 3 }), false)).toBe('job-1 running epoch 10/40 loss 0.2500 attempt 3');
  });

  it('gives status the reason a job waits once, in its own words', () => {
    const lines = describeJob(job({ state: 'queued', epoch: 0, metrics: {}, waiting: 'waiting for 3 workers: 2 connected, 2 idle' })).split('\n');
    expect(lines).toContain('  waiting for 3 workers: 2 connected, 2 idle');
  });
});
