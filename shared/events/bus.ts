/**
 * Job lifecycle and worker membership events. Subjects (NATS-style tokens):
 *
 * | subject | payload |
 * | --- | --- |
 * | `tfleet.job.queued` / `.running` / `.succeeded` / `.failed` / `.cancelled` | `{ id, name, state, workers, error?, metrics?, time }` |
 * | `tfleet.job.progress` | `{ id, epoch, epochs, loss, time }` |
 * | `tfleet.worker.joined` / `tfleet.worker.left` | `{ id, name, backend, reason?, time }` |
 *
 * Events carry JSON, never tensors.
 */
export interface EventBus {
  publish(subject: string, payload: Record<string, unknown>): void;
  /** Subscribes to a subject pattern (`*` matches one token, `>` the rest). */
  subscribe(pattern: string, handler: (subject: string, payload: Record<string, unknown>) => void): () => void;
  close(): Promise<void>;
}

export const SUBJECT_PREFIX = 'tfleet';

/** True when a NATS-style pattern matches a subject. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

/** The embedded default: the same events, delivered in this process. */
export class InProcessBus implements EventBus {
  private readonly subs = new Set<{ pattern: string; handler: (subject: string, payload: Record<string, unknown>) => void }>();

  publish(subject: string, payload: Record<string, unknown>): void {
    for (const sub of [...this.subs]) if (subjectMatches(sub.pattern, subject)) sub.handler(subject, payload);
  }

  subscribe(pattern: string, handler: (subject: string, payload: Record<string, unknown>) => void): () => void {
    const sub = { pattern, handler };
    this.subs.add(sub);
    return () => this.subs.delete(sub);
  }

  async close(): Promise<void> {
    this.subs.clear();
  }
}
