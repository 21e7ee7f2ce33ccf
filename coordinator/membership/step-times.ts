import { tfleet } from '../../proto/generated/tfleet';
import { ArgumentError } from '../../shared/errors';

/**
 * The most seconds of computing, or of waiting, one round's report may
 * carry (a week): more is a broken clock or a hostile caller, not a round.
 */
export const MAX_ROUND_SECONDS = 7 * 24 * 3600;

/** A worker's step time over its last reported round, split into compute and wait. */
export interface StepTimes {
  /** The job and rank the round belongs to. */
  job: string;
  rank: number;
  /** The round (0-based). */
  round: number;
  /** Mean seconds a step spent computing the rank's statistic. */
  computeSeconds: number;
  /** Mean seconds a step spent waiting for the parameter server (a straggler's peers wait long). */
  waitSeconds: number;
}

/**
 * The step timing of a progress report, checked: each sum a finite number
 * of seconds in [0, {@link MAX_ROUND_SECONDS}], and none without steps.
 *
 * @returns the per-step means, or null when the report timed no steps.
 * @throws ArgumentError naming the field and the value it holds.
 */
export function stepTimesFromReport(report: tfleet.coordinator.IProgressReport, where: { job: string; rank: number; round: number }): StepTimes | null {
  const steps = report.timedSteps ?? 0;
  const seconds = { compute_seconds: report.computeSeconds ?? 0, wait_seconds: report.waitSeconds ?? 0 };
  for (const [field, value] of Object.entries(seconds)) {
    if (!(Number.isFinite(value) && value >= 0 && value <= MAX_ROUND_SECONDS)) {
      throw new ArgumentError(`progress report '${field}' must be a finite number of seconds in [0, ${MAX_ROUND_SECONDS}], got ${value}`);
    }
    if (steps === 0 && value > 0) {
      throw new ArgumentError(`progress report '${field}' is ${value} over 0 'timed_steps': send the steps it sums`);
    }
  }
  if (steps === 0) return null;
  return { ...where, computeSeconds: seconds.compute_seconds / steps, waitSeconds: seconds.wait_seconds / steps };
}
