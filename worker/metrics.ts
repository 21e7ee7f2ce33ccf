import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Worker metrics. Labels: job and backend, never a parameter key. */
export class WorkerMetrics {
  readonly samples: Counter<'job_id'>;
  readonly stepSeconds: Histogram<'job_id'>;
  readonly pushBytes: Counter;
  readonly pullBytes: Counter;
  readonly loss: Gauge<'job_id'>;
  readonly tasks: Counter<'outcome'>;
  readonly backend: Gauge<'backend' | 'reason'>;
  readonly histogramCells: Counter<'job_id'>;
  readonly histogramSeconds: Counter<'job_id'>;
  readonly computeSeconds: Counter<'job_id'>;
  readonly waitSeconds: Counter<'job_id'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.samples = new Counter({ name: 'tfleet_worker_samples_processed_total', help: 'Training rows processed in local steps.', labelNames: ['job_id'], registers });
    this.stepSeconds = new Histogram({
      name: 'tfleet_worker_step_duration_seconds', help: 'One training step: local statistic plus push-pull.',
      labelNames: ['job_id'], buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers,
    });
    this.pushBytes = new Counter({ name: 'tfleet_worker_push_bytes_total', help: 'Tensor bytes pushed to the parameter server.', registers });
    this.pullBytes = new Counter({ name: 'tfleet_worker_pull_bytes_total', help: 'Tensor bytes pulled from the parameter server.', registers });
    this.loss = new Gauge({ name: 'tfleet_worker_loss', help: "Mean training loss of this worker's last epoch.", labelNames: ['job_id'], registers });
    this.tasks = new Counter({ name: 'tfleet_worker_tasks_total', help: 'Tasks finished, by outcome.', labelNames: ['outcome'], registers });
    this.histogramCells = new Counter({ name: 'tfleet_worker_histogram_cells_total', help: 'Tree families: rows × features added into histograms.', labelNames: ['job_id'], registers });
    this.histogramSeconds = new Counter({ name: 'tfleet_worker_histogram_seconds_total', help: 'Tree families: seconds spent building histograms.', labelNames: ['job_id'], registers });
    this.computeSeconds = new Counter({ name: 'tfleet_worker_compute_seconds_total', help: "Seconds of steps spent computing this worker's statistic (a straggler's is high).", labelNames: ['job_id'], registers });
    this.waitSeconds = new Counter({ name: 'tfleet_worker_wait_seconds_total', help: 'Seconds of steps spent waiting for the parameter server after the statistic left (its peers wait on a straggler).', labelNames: ['job_id'], registers });
    this.backend = new Gauge({ name: 'tfleet_worker_backend_info', help: 'The tfjs backend in use (value 1) and why it was chosen.', labelNames: ['backend', 'reason'], registers });
  }
}
