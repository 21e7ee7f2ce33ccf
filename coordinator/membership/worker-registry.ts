import { randomBytes } from 'node:crypto';
import { tfleet } from '../../proto/generated/tfleet';
import { NotFoundError } from '../../shared/errors';
import { StepTimes } from './step-times';

/** Where the coordinator writes a worker's task messages (its open Tasks stream). */
export interface TaskSink {
  send(message: tfleet.coordinator.ITaskMessage): void;
  end(): void;
}

export interface WorkerEntry {
  readonly id: string;
  readonly name: string;
  readonly backend: string;
  readonly metricsUrl: string;
  lastSeenMs: number;
  /** The job this worker trains or is held for, or null. */
  jobId: string | null;
  /**
   * Tasks sent to it that it has not reported ended (`job#attempt`): a
   * worker whose cancelled task never stops is never given another job.
   */
  tasks: Set<string>;
  sink: TaskSink | null;
  /** Its step time over the last round it reported that timed steps (kept after the job ends), or null. */
  lastStep: StepTimes | null;
}

export interface RegistryOptions {
  /** A worker that has not been heard from for this long is lost. @default 6000 */
  leaseMs: number;
  /** Injectable clock (ms). @default Date.now */
  now?: () => number;
}

/**
 * Workers known to the coordinator, with leases renewed by heartbeats. A
 * worker is lost when its lease expires or its task stream closes.
 */
export class WorkerRegistry {
  private readonly workers = new Map<string, WorkerEntry>();
  private readonly now: () => number;

  constructor(private readonly options: RegistryOptions, private readonly onLost: (w: WorkerEntry, reason: string) => void) {
    this.now = options.now ?? Date.now;
  }

  get leaseMs(): number {
    return this.options.leaseMs;
  }

  register(name: string, backend: string, metricsUrl: string): WorkerEntry {
    // Unguessable: a caller holding the shared worker token must not be able to act as another worker.
    const id = `${name}-${randomBytes(16).toString('hex')}`;
    const entry: WorkerEntry = { id, name, backend, metricsUrl, lastSeenMs: this.now(), jobId: null, tasks: new Set(), sink: null, lastStep: null };
    this.workers.set(id, entry);
    return entry;
  }

  /** @throws NotFoundError when the worker is unknown (lost, or the coordinator restarted): re-register. */
  get(id: string): WorkerEntry {
    const w = this.workers.get(id);
    if (!w) throw new NotFoundError(`worker '${id}' is not registered (lease expired or coordinator restarted); register again`);
    return w;
  }

  heartbeat(id: string): void {
    this.get(id).lastSeenMs = this.now();
  }

  attach(id: string, sink: TaskSink): void {
    const w = this.get(id);
    w.sink?.end();
    w.sink = sink;
    w.lastSeenMs = this.now();
  }

  /** Removes a worker and reports it lost. */
  lose(id: string, reason: string): void {
    const w = this.workers.get(id);
    if (!w) return;
    this.workers.delete(id);
    w.sink?.end();
    w.sink = null;
    this.onLost(w, reason);
  }

  /** Loses every worker whose lease has expired. */
  expire(): void {
    const now = this.now();
    for (const w of [...this.workers.values()]) {
      if (now - w.lastSeenMs > this.options.leaseMs) this.lose(w.id, `lease expired (no heartbeat for ${now - w.lastSeenMs} ms, lease ${this.options.leaseMs} ms)`);
    }
  }

  /** Workers with an open task stream, no job and no task still running, in registration order. */
  idle(): WorkerEntry[] {
    return [...this.workers.values()].filter((w) => w.jobId === null && w.tasks.size === 0 && w.sink !== null);
  }

  /** The worker of an id, or undefined when it is not (or no longer) registered. */
  find(id: string): WorkerEntry | undefined {
    return this.workers.get(id);
  }

  all(): WorkerEntry[] {
    return [...this.workers.values()];
  }
}
