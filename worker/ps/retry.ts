/**
 * Attempts of a parameter-server call (or a stream's request) that failed
 * as UNAVAILABLE. Retrying is safe because pushes are idempotent per
 * (worker, step) and releases per (worker, key).
 */
export const ATTEMPTS = 3;

/** Wait before attempt `attempt + 1`, ms: linear backoff, 100 ms a step. */
export function retryDelayMs(attempt: number): number {
  return 100 * attempt;
}
