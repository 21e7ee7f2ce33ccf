import { TfleetError } from '../../shared/errors';

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

/** A request waiting on a stream or connection, by the number it was sent with. */
export interface Waiting {
  attempts: number;
  /** Set while a resend is scheduled, so that a second break before it does not schedule another. */
  retrying?: boolean;
  reject(err: Error): void;
}

/**
 * The stream or connection that carried `waiting` ended with `err`. When it
 * was UNAVAILABLE, the requests with attempts left are sent again after the
 * backoff (`resend`, unless settled or `closed()` by then); every other one
 * fails with `err`.
 */
export function retryOrFail<W extends Waiting>(waiting: Map<number, W>, err: TfleetError, resend: (id: number, w: W) => void, closed: () => boolean): void {
  const retry = err.code === 'UNAVAILABLE' ? [...waiting].filter(([, w]) => w.retrying || w.attempts < ATTEMPTS) : [];
  const retried = new Set(retry.map(([, w]) => w));
  for (const [id, w] of waiting) {
    if (retried.has(w)) continue;
    waiting.delete(id);
    w.reject(err);
  }
  const fresh = retry.filter(([, w]) => !w.retrying);
  if (fresh.length === 0) return;
  for (const [, w] of fresh) w.retrying = true;
  const attempt = Math.max(...fresh.map(([, w]) => w.attempts));
  setTimeout(() => {
    for (const [, w] of fresh) w.retrying = false;
    if (closed()) return;
    for (const [id, w] of fresh) {
      if (waiting.get(id) !== w) continue;
      w.attempts++;
      resend(id, w);
    }
  }, retryDelayMs(attempt));
}
