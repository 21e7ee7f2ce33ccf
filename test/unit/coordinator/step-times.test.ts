import { describe, expect, it } from 'vitest';
import { MAX_ROUND_SECONDS, stepTimesFromReport } from '../../../coordinator/membership/step-times';

const where = { job: 'job-1', rank: 2, round: 7 };

describe('a progress report\'s step timing', () => {
  it('gives the mean compute and wait seconds of a step of the round', () => {
    expect(stepTimesFromReport({ timedSteps: 4, computeSeconds: 0.8, waitSeconds: 0.2 }, where))
      .toEqual({ job: 'job-1', rank: 2, round: 7, computeSeconds: 0.2, waitSeconds: 0.05 });
  });

  it('is null for a report that timed no steps (a program that cannot split its time)', () => {
    expect(stepTimesFromReport({}, where)).toBeNull();
    expect(stepTimesFromReport({ timedSteps: 0, computeSeconds: 0, waitSeconds: 0 }, where)).toBeNull();
  });

  it('refuses seconds that are not finite, negative or past the bound, naming the field and the value', () => {
    const cases: [object, string][] = [
      [{ timedSteps: 1, computeSeconds: NaN }, `progress report 'compute_seconds' must be a finite number of seconds in [0, ${MAX_ROUND_SECONDS}], got NaN`],
      [{ timedSteps: 1, waitSeconds: Infinity }, `progress report 'wait_seconds' must be a finite number of seconds in [0, ${MAX_ROUND_SECONDS}], got Infinity`],
      [{ timedSteps: 1, waitSeconds: -0.5 }, `progress report 'wait_seconds' must be a finite number of seconds in [0, ${MAX_ROUND_SECONDS}], got -0.5`],
      [{ timedSteps: 1, computeSeconds: MAX_ROUND_SECONDS + 1 }, `progress report 'compute_seconds' must be a finite number of seconds in [0, ${MAX_ROUND_SECONDS}], got ${MAX_ROUND_SECONDS + 1}`],
      [{ timedSteps: 0, waitSeconds: 3 }, "progress report 'wait_seconds' is 3 over 0 'timed_steps': send the steps it sums"],
    ];
    for (const [report, message] of cases) expect(() => stepTimesFromReport(report, where), message).toThrow(message);
  });

  it('accepts the bound itself', () => {
    expect(stepTimesFromReport({ timedSteps: 1, computeSeconds: MAX_ROUND_SECONDS }, where)?.computeSeconds).toBe(MAX_ROUND_SECONDS);
  });
});
