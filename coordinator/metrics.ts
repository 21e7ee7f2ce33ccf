import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { JobRecord, JobState } from './jobs/job-record';

const STATES: JobState[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];

/** Coordinator metrics. Job-labelled series are bounded by the jobs in the store. */
export class CoordinatorMetrics {
  readonly jobLoss: Gauge<'job_id' | 'split'>;
  readonly jobAccuracy: Gauge<'job_id' | 'split'>;
  readonly jobRmse: Gauge<'job_id' | 'split'>;
  readonly jobMae: Gauge<'job_id' | 'split'>;
  readonly jobEpoch: Gauge<'job_id'>;
  readonly jobPrecision: Gauge<'job_id' | 'split'>;
  readonly jobRecall: Gauge<'job_id' | 'split'>;
  readonly jobMembers: Gauge<'job_id'>;
  readonly workerLosses: Counter<'job_id'>;
  readonly checkpointSeconds: Histogram;

  /** `retentionMs`: how long a finished job's series stay (its info series included). */
  constructor(registry: Registry, jobs: () => JobRecord[], connectedWorkers: () => number, retentionMs = Infinity) {
    new Gauge({
      name: 'tfleet_jobs', help: 'Jobs by state.', labelNames: ['state'], registers: [registry],
      collect() {
        const counts = new Map(STATES.map((s) => [s, 0]));
        for (const j of jobs()) counts.set(j.state, (counts.get(j.state) ?? 0) + 1);
        for (const [state, n] of counts) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'tfleet_workers_connected', help: 'Workers registered with a live lease.', registers: [registry],
      collect() { this.set(connectedWorkers()); },
    });
    const perJob = (name: string, help: string): Gauge<'job_id' | 'split'> =>
      new Gauge({ name, help, labelNames: ['job_id', 'split'], registers: [registry] });
    this.jobLoss = perJob('tfleet_job_loss', 'Latest mean loss of a job: split="train" each epoch, both splits at the end.');
    this.jobAccuracy = perJob('tfleet_job_accuracy_ratio', 'Final accuracy of a classifier job, 0..1.');
    this.jobRmse = perJob('tfleet_job_rmse', 'Final root mean squared error of a regressor job, in label units.');
    this.jobMae = perJob('tfleet_job_mae', 'Final mean absolute error of a regressor job, in label units.');
    this.jobPrecision = perJob('tfleet_job_precision_at_k_ratio', "Final precision@k of a recommender job (k in the job's metrics), 0..1.");
    this.jobRecall = perJob('tfleet_job_recall_at_k_ratio', "Final recall@k of a recommender job (k in the job's metrics), 0..1.");
    new Gauge({
      name: 'tfleet_job_info', help: 'A job known to the coordinator (value 1), with its name and model family.', labelNames: ['job_id', 'name', 'family', 'state'], registers: [registry],
      collect() {
        this.reset();
        const now = Date.now();
        for (const j of jobs()) {
          if (j.finishedAtMs > 0 && now - j.finishedAtMs > retentionMs) continue;
          this.set({ job_id: j.id, name: j.name, family: j.spec.model.family, state: j.state }, 1);
        }
      },
    });
    this.jobEpoch = new Gauge({ name: 'tfleet_job_epoch', help: 'Epochs completed by a job.', labelNames: ['job_id'], registers: [registry] });
    this.jobMembers = new Gauge({ name: 'tfleet_job_members', help: "Members of a running job's current attempt.", labelNames: ['job_id'], registers: [registry] });
    this.workerLosses = new Counter({ name: 'tfleet_job_worker_losses_total', help: 'Members a job lost (process gone, lease expired, or stalled).', labelNames: ['job_id'], registers: [registry] });
    this.checkpointSeconds = new Histogram({
      name: 'tfleet_job_checkpoint_seconds', help: 'Time to write a job checkpoint to the state folder (encode, fsync, rename).',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30], registers: [registry],
    });
  }

  /** Drops every series of a job (its retention after it ended is over). */
  forget(job: string): void {
    for (const g of [this.jobLoss, this.jobAccuracy, this.jobRmse, this.jobMae, this.jobPrecision, this.jobRecall]) {
      for (const split of ['train', 'test']) g.remove({ job_id: job, split });
    }
    this.jobEpoch.remove({ job_id: job });
    this.jobMembers.remove({ job_id: job });
    this.workerLosses.remove({ job_id: job });
  }

  /** Exports a job's metrics by split: the final ones, or an evaluated round's test metrics while it trains. */
  recordMetrics(job: string, metrics: JobRecord['metrics']): void {
    for (const [split, m] of Object.entries(metrics)) {
      if (!m) continue;
      this.jobLoss.set({ job_id: job, split }, m.loss);
      if (m.accuracy !== undefined) this.jobAccuracy.set({ job_id: job, split }, m.accuracy);
      if (m.rmse !== undefined) this.jobRmse.set({ job_id: job, split }, m.rmse);
      if (m.mae !== undefined) this.jobMae.set({ job_id: job, split }, m.mae);
      if (m.precisionAtK !== undefined) this.jobPrecision.set({ job_id: job, split }, m.precisionAtK);
      if (m.recallAtK !== undefined) this.jobRecall.set({ job_id: job, split }, m.recallAtK);
    }
  }
}
