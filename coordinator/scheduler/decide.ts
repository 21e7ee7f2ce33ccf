/** A queued job as the scheduler sees it. */
export interface PendingJob {
  id: string;
  workers: number;
}

export interface Placement {
  jobId: string;
  workerIds: string[];
}

/**
 * Pure placement decision: oldest queued job first, each takes the idle
 * workers it asks for when that many are free; a job that does not fit
 * waits and younger jobs that fit may start (no reservation yet).
 */
export function decidePlacements(queued: readonly PendingJob[], idleWorkerIds: readonly string[]): Placement[] {
  const free = [...idleWorkerIds];
  const out: Placement[] = [];
  for (const job of queued) {
    if (job.workers > free.length) continue;
    out.push({ jobId: job.id, workerIds: free.splice(0, job.workers) });
  }
  return out;
}
