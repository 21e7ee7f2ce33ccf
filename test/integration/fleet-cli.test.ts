import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JSONCodec, NatsConnection, connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLayersModel } from '../../shared/families/tfjs-io';
import { nativeAddon } from '../harness/backends';
import { ROOT } from '../harness/paths';
import { Proc, Ready, killAll, runCli, startCli, startNats, waitForLine } from '../harness/processes';
import { has, scrape, total } from '../harness/prometheus';

const WINE = join(ROOT, 'examples', 'wine-softmax.json');

interface Event { subject: string; payload: Record<string, any> }

describe('a fleet of CLI processes with a real nats-server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-it-'));
  const stateDir = join(dir, 'state');
  let nats: Proc & { url: string };
  let nc: NatsConnection;
  const events: Event[] = [];
  const arrivals = new EventEmitter();
  /** Resolves with the first event (already seen or still to come) that matches. */
  const nextEvent = (match: (e: Event) => boolean) => new Promise<Event>((resolve) => {
    const seen = events.find(match);
    if (seen) return resolve(seen);
    const on = (e: Event) => { if (match(e)) { arrivals.off('event', on); resolve(e); } };
    arrivals.on('event', on);
  });
  let coordinator: Proc & { ready: Ready };
  let workers: Array<Proc & { ready: Ready }>;
  let addr: string;

  const startCoordinator = () => startCli(['coordinator', '--port', '0', '--metrics-port', '0', '--state-dir', stateDir,
    '--runs-dir', join(dir, 'runs'), '--nats', nats.url, '--lease-ms', '2000', '--rejoin-timeout-ms', '1500']);
  const tfleet = (...args: string[]) => runCli([...args, '--coordinator', addr]);

  beforeAll(async () => {
    nats = await startNats();
    nc = await connect({ servers: nats.url });
    const codec = JSONCodec<Record<string, any>>();
    const sub = nc.subscribe('tfleet.>');
    void (async () => { for await (const m of sub) {
      const e = { subject: m.subject, payload: codec.decode(m.data) };
      events.push(e);
      arrivals.emit('event', e);
    } })();
    await nc.flush();
    coordinator = await startCoordinator();
    addr = coordinator.ready.grpc!;
    workers = await Promise.all([1, 2, 3].map((i) =>
      startCli(['worker', '--coordinator', addr, '--metrics-port', '0', '--name', `worker-${i}`])));
  });

  afterAll(async () => {
    await nc?.close();
    await killAll();
  });

  it('a coordinator or worker started without the recommended node flags names them', async () => {
    for (const proc of [coordinator, workers[0]]) {
      const hint = await waitForLine(proc, 'stderr', (l) => l.includes('recommended node flags'));
      expect(JSON.parse(hint).flags).toBe('--initial-old-space-size=256');
    }
  });

  it('trains the wine example: submit --wait --json prints one JSON record and exits 0', async () => {
    const out = join(dir, 'wine-out');
    const res = await tfleet('submit', WINE, '--set', `output=${out}`, '--set', 'training.epochs=30', '--wait', '--json');
    expect(res.code, res.stderr).toBe(0);
    const lines = res.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const job = JSON.parse(lines[0]);
    expect(job.state).toBe('succeeded');
    expect(job.metrics.train.loss).toBeGreaterThan(0);
    expect(job.metrics.test.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(job.output).toBe(out);
    expect(job.spec.training.epochs).toBe(30);
    expect(res.stderr).toMatch(/running epoch 30\/30 loss/);
    expect(readdirSync(out).sort()).toEqual(['metrics.json', 'model.json', 'spec.json', 'tfleet-model.json', 'weights.bin']);
    await tf.setBackend('cpu');
    const model = await loadLayersModel(out);
    const p = model.predict(tf.zeros([2, 13])) as tf.Tensor;
    expect(p.shape).toEqual([2, 3]);
    const sums = tf.sum(p, 1).dataSync();
    expect(sums[0]).toBeCloseTo(1, 5);
    model.dispose();

    // The lifecycle went out on NATS, in order.
    await nc.flush();
    const mine = events.filter((e) => e.payload.id === job.id).map((e) => e.subject);
    expect(mine[0]).toBe('tfleet.job.queued');
    expect(mine).toContain('tfleet.job.running');
    expect(mine.filter((s) => s === 'tfleet.job.progress')).toHaveLength(30);
    expect(mine[mine.length - 1]).toBe('tfleet.job.succeeded');
    expect(events.filter((e) => e.subject === 'tfleet.worker.joined')).toHaveLength(3);
  });

  it('serves parseable Prometheus metrics on the coordinator and on every worker', async () => {
    const co = await scrape(coordinator.ready.metrics);
    expect(total(co, 'tfleet_jobs', { state: 'succeeded' })).toBeGreaterThanOrEqual(1);
    expect(total(co, 'tfleet_workers_connected')).toBe(3);
    expect(total(co, 'tfleet_ps_push_bytes_total')).toBeGreaterThan(0);
    expect(total(co, 'tfleet_ps_pull_bytes_total')).toBeGreaterThan(0);
    expect(total(co, 'tfleet_ps_update_duration_seconds_count')).toBeGreaterThan(0);
    expect(has(co, 'tfleet_job_accuracy_ratio')).toBe(true);
    expect(has(co, 'process_cpu_seconds_total')).toBe(true);
    // 'job' is Prometheus's own target label: tfleet's series say job_id.
    expect(co.filter((x) => x.name.startsWith('tfleet_') && 'job' in x.labels)).toEqual([]);
    expect(co.some((x) => x.name === 'tfleet_job_accuracy_ratio' && x.labels.job_id?.startsWith('job-'))).toBe(true);
    expect(co.some((x) => x.name === 'tfleet_job_info' && x.labels.name === 'wine-softmax' && x.labels.family === 'softmax' && x.value === 1)).toBe(true);
    expect(co.find((x) => x.name === 'tfleet_build_info')?.labels).toMatchObject({ version: '0.1.0', node: process.version });
    for (const w of workers) {
      const m = await scrape(w.ready.metrics);
      // Every worker series names its worker; a step splits into computing and waiting.
      expect(m.filter((x) => x.name.startsWith('tfleet_worker_')).every((x) => x.labels.worker === w.ready.name)).toBe(true);
      expect(total(m, 'tfleet_worker_compute_seconds_total')).toBeGreaterThan(0);
      expect(total(m, 'tfleet_worker_wait_seconds_total')).toBeGreaterThan(0);
      expect(total(m, 'tfleet_worker_samples_processed_total')).toBeGreaterThan(0);
      expect(total(m, 'tfleet_worker_step_duration_seconds_count')).toBeGreaterThan(0);
      expect(total(m, 'tfleet_worker_push_bytes_total')).toBeGreaterThan(0);
      // auto: native where its addon is built, else wasm.
      expect(total(m, 'tfleet_worker_backend_info', { backend: nativeAddon.ok ? 'native' : 'wasm' })).toBe(1);
      expect(has(m, 'process_resident_memory_bytes')).toBe(true);
    }
  });

  describe('bad input is refused with a clear message, and the coordinator keeps serving', () => {
    const write = (name: string, text: string) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    };
    const cases: Array<[string, () => string[], string]> = [
      ['a negative batch size', () => ['--set', 'training.batchSize=-4'], "job spec: 'training.batchSize' must be an integer ≥ 1 and ≤ 1000000, got -4"],
      ['an unknown family', () => ['--set', 'model.family=word2vec'], "job spec: 'model.family' must be one of 'linear', 'logistic', 'softmax', 'mlp', 'cnn', 'rnn', 'transformer', 'keras', 'gbdt', 'forest', 'mf', 'baseline', 'knn', 'naive-bayes', 'svm', got \"word2vec\""],
      ['a misspelt field', () => ['--set', 'training.epoch=3'], "job spec: 'training.epoch' is not a known field"],
      ['a missing data file', () => ['--set', `data.train.path=${join(dir, 'missing.csv')}`], `data file not found: ${join(dir, 'missing.csv')}`],
      ['an absent label column', () => ['--set', 'data.train.label=quality'], "line 1: label column 'quality' not found"],
      ['a non-numeric cell', () => ['--set', `data.train.path=${write('nan.csv', 'a,b,target\n1,2,0\n3,n/a,1\n5,6,0\n7,8,1\n9,1,0\n')}`], "nan.csv line 3 column 'b': not a number: 'n/a'"],
      ['a ragged row', () => ['--set', `data.train.path=${write('ragged.csv', 'a,b,target\n1,2,0\n3,1\n')}`], 'ragged.csv line 3: expected 3 cells as in the header, got 2'],
      ['a three-class label for logistic', () => ['--set', 'model.family=logistic'], "family 'logistic' is binary"],
      ['a holdout that leaves no test rows', () => ['--set', `data.train.path=${write('tiny.csv', 'a,target\n1,0\n2,1\n')}`, '--set', 'data.test.split=0.1'], 'a holdout of 0.1 of 2 rows leaves 2 to train and 0 to test'],
      ['a spec file that is not JSON', () => [], 'is not valid JSON'],
    ];
    it.each(cases)('%s', async (what, extra, message) => {
      const spec = what === 'a spec file that is not JSON' ? write('broken.json', '{"model": {') : WINE;
      const res = await tfleet('submit', spec, ...extra(), '--wait', '--json');
      expect(res.code).not.toBe(0);
      expect(res.stdout).toBe('');
      expect(res.stderr).toContain(message);
      const jobs = await tfleet('jobs', '--json');
      expect(jobs.code, jobs.stderr).toBe(0);
    });

    it('still trains a good job afterwards', async () => {
      const res = await tfleet('submit', WINE, '--set', 'training.epochs=3', '--set', `output=${join(dir, 'after')}`, '--wait', '--json');
      expect(res.code, res.stderr).toBe(0);
      expect(JSON.parse(res.stdout).state).toBe('succeeded');
    });
  });

  it('says why a queued job waits, refuses a job that asks for too many workers, fails one past its queue timeout, and tfleet watch follows it', async () => {
    const tooMany = await tfleet('submit', WINE, '--set', 'workers=99', '--set', `output=${join(dir, 'too-many')}`);
    expect(tooMany.code).toBe(1);
    expect(tooMany.stderr).toBe("tfleet: job spec: 'workers' is 99; this coordinator runs jobs of at most 64 workers (--max-workers-per-job)");
    const queued = await tfleet('submit', WINE, '--set', 'workers=5', '--set', `output=${join(dir, 'timed-out')}`, '--queue-timeout', '2', '--json');
    expect(queued.code, queued.stderr).toBe(0);
    const id = JSON.parse(queued.stdout).id;
    const status = JSON.parse((await tfleet('status', id, '--json')).stdout);
    expect(status.waiting).toBe('waiting for 5 workers: 3 connected, 3 idle');
    expect((await tfleet('jobs')).stdout).toContain('waiting for 5 workers: 3 connected, 3 idle');
    // Another terminal follows the detached job to its end, and exits by its outcome.
    const watched = await tfleet('watch', id, '--json');
    expect(watched.code).toBe(1);
    const final = JSON.parse(watched.stdout);
    expect(final.state).toBe('failed');
    expect(final.error).toBe('waited 2 s in the queue (queueTimeoutSeconds) without starting: waiting for 5 workers: 3 connected, 3 idle');
    expect(watched.stderr).toContain(`${id} queued epoch 0/40 (waiting for 5 workers: 3 connected, 3 idle)`);
  });

  it('keeps its jobs across a coordinator restart, queued ones included', async () => {
    const queued = await tfleet('submit', WINE, '--set', 'workers=5', '--set', `output=${join(dir, 'queued')}`, '--json');
    expect(queued.code, queued.stderr).toBe(0);
    const id = JSON.parse(queued.stdout).id;
    const before = JSON.parse((await tfleet('jobs', '--json')).stdout);
    coordinator.proc.kill('SIGTERM');
    expect((await coordinator.exit).code).toBe(0);
    coordinator = await startCoordinator();
    addr = coordinator.ready.grpc!;
    const after = JSON.parse((await tfleet('jobs', '--json')).stdout);
    expect(after.map((j: { id: string; state: string }) => [j.id, j.state])).toEqual(before.map((j: { id: string; state: string }) => [j.id, j.state]));
    expect(after.find((j: { id: string }) => j.id === id).state).toBe('queued');
    const cancelled = await tfleet('cancel', id);
    expect(cancelled.stdout.trim()).toBe(`${id} cancelled`);
  });

  it('fails a job that needs both its workers when one is SIGKILLed and none replaces it, naming the worker', async () => {
    // The old workers dialled the restarted coordinator on another port: start a fresh pair.
    workers = await Promise.all([4, 5].map((i) => startCli(['worker', '--coordinator', addr, '--metrics-port', '0', '--name', `worker-${i}`])));
    const submit = runCli(['submit', WINE, '--coordinator', addr, '--set', 'workers=2', '--set', 'minWorkers=2', '--set', 'training.epochs=100000', '--set', `output=${join(dir, 'lost-killed')}`, '--wait', '--json']);
    await nextEvent((e) => e.subject === 'tfleet.job.progress' && e.payload.epochs === 100000);
    const victim = workers[1];
    const killedAt = Date.now();
    victim.proc.kill('SIGKILL');
    const res = await submit;
    const elapsed = Date.now() - killedAt;
    expect(res.code).toBe(1);
    const job = JSON.parse(res.stdout);
    expect(job.state).toBe('failed');
    expect(job.error).toMatch(/^lost 'worker-5' \(task stream closed\); fewer than minWorkers \(2\) rejoined within 1500 ms$/);
    expect(job.membership.map((m: { worker: string; change: string }) => [m.worker, m.change])).toEqual([['worker-5', 'lost']]);
    expect(elapsed).toBeLessThan(1500 + 5000);
    // The surviving worker is free again and trains the next job alone.
    const next = await tfleet('submit', WINE, '--set', 'workers=1', '--set', 'training.epochs=2', '--set', `output=${join(dir, 'survivor')}`, '--wait', '--json');
    expect(next.code, next.stderr).toBe(0);
    expect(JSON.parse(next.stdout).workers).toEqual(['worker-4']);
    await waitForLine(coordinator, 'stderr', (l) => l.includes('"worker lost"'));
  });

  it('fails a job that needs both its workers when one stops answering and its lease expires', async () => {
    const frozen = await startCli(['worker', '--coordinator', addr, '--metrics-port', '0', '--name', 'worker-6']);
    const submit = runCli(['submit', WINE, '--coordinator', addr, '--set', 'workers=2', '--set', 'minWorkers=2', '--set', 'training.epochs=99999', '--set', `output=${join(dir, 'lost-stopped')}`, '--wait', '--json']);
    await nextEvent((e) => e.subject === 'tfleet.job.progress' && e.payload.epochs === 99999);
    frozen.proc.kill('SIGSTOP');
    const res = await submit;
    frozen.proc.kill('SIGKILL');
    expect(res.code).toBe(1);
    const job = JSON.parse(res.stdout);
    expect(job.error).toMatch(/^lost 'worker-6' \(lease expired \(no heartbeat for \d+ ms, lease 2000 ms\)\); fewer than minWorkers \(2\) rejoined within 1500 ms$/);
  });
});
