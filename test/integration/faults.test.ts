import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tfleet } from '../../proto/generated/tfleet';
import { CoordinatorApi } from '../../shared/rpc/clients';
import { SKLEARN, fashionMnist, requireFile } from '../harness/paths';
import { Proc, Ready, freePort, killAll, runCli, start, startCli, waitForLine } from '../harness/processes';
import { scrape, total } from '../harness/prometheus';

/**
 * Faults for real, on CLI processes: workers SIGKILLed and SIGSTOPped, a
 * member that heartbeats but never pushes, the coordinator SIGKILLed and
 * restarted on its state folder, rank 0 killed as it exports.
 *
 * The network jobs take full-batch steps (a batch holds a whole shard), so
 * their model does not depend on how the rows are sharded: a run with
 * faults, whose attempts run on 2 workers or 3, must reach the accuracy of
 * the run without faults.
 */

const EPOCHS = 150;
const TRAIN_ROWS = 3000;

function mlpSpec(dir: string, name: string, epochs = EPOCHS): string {
  const spec = {
    name, model: { family: 'mlp', hidden: [32] },
    data: {
      train: { format: 'idx', ...fashionMnist('train'), limit: TRAIN_ROWS },
      test: { format: 'idx', ...fashionMnist('t10k'), limit: 1000 },
    },
    training: { epochs, batchSize: TRAIN_ROWS, optimizer: { name: 'adam', learningRate: 0.01 } },
    workers: 3, seed: 5, output: join(dir, 'out', name),
  };
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(spec));
  return path;
}

type Worker = Proc & { ready: Ready };
interface JobJson {
  id: string; state: string; error?: string; attempt: number; resumedFrom: number; checkpointRound: number; workers: string[]; output: string;
  metrics: { test?: { accuracy?: number; loss: number } };
  membership: { worker: string; change: string; reason: string }[];
  history: { round: number; rows: number; workers: number; attempt: number }[];
}

/** Every round ran, once, over every training row. */
function expectFullCoverage(job: JobJson, rounds: number, rows: number): void {
  expect(job.history.map((h) => h.round)).toEqual(Array.from({ length: rounds }, (_, i) => i));
  for (const h of job.history) expect(h.rows).toBe(rows);
}

describe('a fleet that loses processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-faults-'));
  const stateDir = join(dir, 'state');
  let port: number;
  let addr: string;
  let coordinator: Proc & { ready: Ready };
  let metricsUrl: string;
  const workers: Worker[] = [];
  let named = 0;
  let reference: JobJson;

  const startCoordinator = async (): Promise<void> => {
    // The same gRPC port across restarts (workers and clients reconnect to it); the tensor port is any free one, named in each task.
    coordinator = await startCli(['coordinator', '--port', String(port), '--tensor-port', '0', '--metrics-port', '0', '--state-dir', stateDir,
      '--runs-dir', join(dir, 'runs'), '--lease-ms', '2000', '--rejoin-timeout-ms', '30000']);
    metricsUrl = coordinator.ready.metrics;
  };
  const addWorker = async (): Promise<Worker> => {
    const w = await startCli(['worker', '--coordinator', addr, '--metrics-port', '0', '--backend', 'wasm', '--name', `w${++named}`]);
    workers.push(w);
    return w;
  };
  const live = (): Worker[] => workers.filter((w) => w.proc.exitCode === null && w.proc.signalCode === null);
  const submitAndWait = (spec: string, ...extra: string[]) => runCli(['submit', spec, '--coordinator', addr, '--wait', '--json', ...extra]);
  /** Polls the job list until a job of that name satisfies `until`; resolves with its id. */
  const waitForJob = (name: string, until: (r: tfleet.coordinator.IJobRecord) => boolean): Promise<string> => new Promise((resolve) => {
    const api = new CoordinatorApi(addr);
    const poll = setInterval(() => {
      void api.listJobs().then((r) => {
        const j = r.jobs.find((x) => x.name === name && until(x));
        if (!j) return;
        clearInterval(poll);
        api.close();
        resolve(j.id!);
      }, () => undefined);
    }, 20);
  });
  /** Follows a job's records until `until` holds for one. */
  const watchUntil = async (id: string, until: (r: tfleet.coordinator.IJobRecord) => boolean): Promise<void> => {
    const api = new CoordinatorApi(addr);
    try {
      await new Promise<void>((resolve, reject) => {
        api.watchJob(id, (r) => { if (until(r)) resolve(); }).then(() => resolve(), reject);
      });
    } finally {
      api.close();
    }
  };

  beforeAll(async () => {
    port = await freePort();
    addr = `127.0.0.1:${port}`;
    await startCoordinator();
    for (let i = 0; i < 3; i++) await addWorker();
  });

  afterAll(async () => {
    await killAll();
  });

  it('trains the reference job without faults', async () => {
    const res = await submitAndWait(mlpSpec(dir, 'reference'));
    expect(res.code, res.stderr).toBe(0);
    reference = JSON.parse(res.stdout) as JobJson;
    expect(reference.attempt, JSON.stringify(reference.membership)).toBe(1);
    expectFullCoverage(reference, EPOCHS, TRAIN_ROWS);
    expect(reference.metrics.test!.accuracy!).toBeGreaterThan(0.75);
  });

  it('goes on through a SIGKILL of a random worker every few seconds, each replaced, to the reference accuracy', async () => {
    const submit = submitAndWait(mlpSpec(dir, 'chaos'));
    // Kills at set epochs (a few seconds apart), so their number does not depend on the machine's speed.
    const killAt = [20, 50, 80, 110];
    let kills = 0;
    // Seeded choices: a failure reruns the same sequence of victims.
    let seed = 7;
    const next = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    for (const epoch of killAt) {
      // Each kill hits a member of a full attempt (the last replacement has joined).
      let members: string[] = [];
      await waitForJob('chaos', (j) => {
        members = j.workers ?? [];
        return (j.epoch ?? 0) >= epoch && members.length === 3;
      });
      const victims = live().filter((w) => members.includes(w.ready.name!));
      const victim = victims[next(victims.length)];
      victim.proc.kill('SIGKILL');
      await victim.exit;
      kills++;
      await addWorker();
    }
    const res = await submit;
    expect(res.code, res.stderr).toBe(0);
    const job = JSON.parse(res.stdout) as JobJson;
    expect(kills).toBe(killAt.length);
    expect(job.membership.filter((m) => m.change === 'lost')).toHaveLength(kills);
    expect(job.membership.filter((m) => m.change === 'lost').every((m) => m.reason === 'task stream closed')).toBe(true);
    expect(job.attempt).toBeGreaterThan(kills);
    expect(job.resumedFrom).toBeGreaterThan(0);
    // Every epoch covered the training set once, though attempts ran on 2 workers or 3.
    expectFullCoverage(job, EPOCHS, TRAIN_ROWS);
    expect(new Set(job.history.map((h) => h.workers))).toContain(2);
    expect(Math.abs(job.metrics.test!.accuracy! - reference.metrics.test!.accuracy!)).toBeLessThanOrEqual(0.005);
    const families = await scrape(metricsUrl);
    expect(total(families, 'tfleet_job_worker_losses_total', { job_id: job.id })).toBe(kills);
  });

  it('goes on without a worker SIGSTOPped for 30 s, which re-registers when resumed and trains the next job', async () => {
    while (live().length < 3) await addWorker();
    const frozen = live()[0];
    const submit = submitAndWait(mlpSpec(dir, 'stopped', 60));
    await waitForJob('stopped', (j) => (j.epoch ?? 0) >= 5);
    frozen.proc.kill('SIGSTOP');
    const stoppedAt = Date.now();
    const res = await submit;
    expect(res.code, res.stderr).toBe(0);
    const job = JSON.parse(res.stdout) as JobJson;
    expect(job.membership[0]).toMatchObject({ worker: frozen.ready.name, change: 'lost' });
    expect(job.membership[0].reason).toMatch(/^lease expired/);
    expectFullCoverage(job, 60, TRAIN_ROWS);
    await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - stoppedAt))));
    const registrations = frozen.stderr.filter((l) => l.includes('"registered"')).length;
    frozen.proc.kill('SIGCONT');
    await waitForLine(frozen, 'stderr', (l) => l.includes('"registered"') && frozen.stderr.filter((x) => x.includes('"registered"')).length > registrations, 20_000);
    // All three workers, the resumed one among them, train the next job.
    const again = await submitAndWait(mlpSpec(dir, 'after-stop', 3));
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as JobJson).workers).toContain(frozen.ready.name);
  }, 120_000);

  it('resumes a job from its checkpoint after a SIGKILL of the coordinator; the waiting client exits 0', async () => {
    while (live().length < 3) await addWorker();
    const submit = submitAndWait(mlpSpec(dir, 'restart'));
    const id = await waitForJob('restart', (j) => j.state === 'running' && (j.epoch ?? 0) >= EPOCHS / 3);
    coordinator.proc.kill('SIGKILL');
    await coordinator.exit;
    await startCoordinator();
    const res = await submit;
    expect(res.code, res.stderr).toBe(0);
    const job = JSON.parse(res.stdout) as JobJson;
    expect(job.id).toBe(id);
    expect(job.resumedFrom).toBeGreaterThan(0);
    // The rounds before the kill stand: the next attempt started from the checkpoint, not from round 0.
    expect(job.attempt).toBeGreaterThanOrEqual(2);
    expect(job.history.filter((h) => h.attempt === 1).length).toBeGreaterThanOrEqual(EPOCHS / 3 - 1);
    expectFullCoverage(job, EPOCHS, TRAIN_ROWS);
    expect(Math.abs(job.metrics.test!.accuracy! - reference.metrics.test!.accuracy!)).toBeLessThanOrEqual(0.005);
    expect(res.stderr).toMatch(/lost the coordinator .*; reconnecting in \d+ ms/);
    // A finished job's checkpoints go.
    expect(existsSync(join(stateDir, 'checkpoints', id))).toBe(false);
  }, 120_000);

  it('resumes a gbdt job at its round after a coordinator restart, growing the trees an uninterrupted run grows', async () => {
    while (live().length < 3) await addWorker();
    const gbdt = (name: string) => {
      const path = join(dir, `${name}.json`);
      writeFileSync(path, JSON.stringify({
        name, model: { family: 'gbdt', rounds: 120, maxDepth: 4, learningRate: 0.05 },
        data: { train: { path: requireFile(join(SKLEARN, 'breast_cancer.csv')), label: 'target' }, test: { split: 0.2 } },
        workers: 3, seed: 2, output: join(dir, 'out', name),
      }));
      return path;
    };
    const plain = await submitAndWait(gbdt('gbdt-plain'));
    expect(plain.code, plain.stderr).toBe(0);
    const submit = submitAndWait(gbdt('gbdt-restart'));
    // Killed once round 29's checkpoint is on disk (the record says so only then).
    await waitForJob('gbdt-restart', (j) => (j.checkpointRound ?? -1) >= 29);
    coordinator.proc.kill('SIGKILL');
    await coordinator.exit;
    await startCoordinator();
    const res = await submit;
    expect(res.code, res.stderr).toBe(0);
    const job = JSON.parse(res.stdout) as JobJson;
    expect(job.resumedFrom).toBeGreaterThanOrEqual(30);
    const trees = (name: string) => JSON.parse(readFileSync(join(dir, 'out', name, 'trees.json'), 'utf8')).trees;
    expect(trees('gbdt-restart')).toEqual(trees('gbdt-plain'));
  }, 120_000);

  it('trains an MLP of [2048, 2048] on 2 workers, whose 16 MiB buckets travel both ways at once on a stream', async () => {
    const path = join(dir, 'wide.json');
    const spec = JSON.parse(readFileSync(mlpSpec(dir, 'wide', 1), 'utf8'));
    writeFileSync(path, JSON.stringify({ ...spec, model: { family: 'mlp', hidden: [2048, 2048] }, training: { epochs: 1, batchSize: 128, optimizer: { name: 'adam', learningRate: 0.001 } }, workers: 2,
      data: { ...spec.data, train: { ...spec.data.train, limit: 1024 }, test: { ...spec.data.test, limit: 256 } } }));
    const res = await submitAndWait(path);
    expect(res.code, res.stderr).toBe(0);
    expect((JSON.parse(res.stdout) as JobJson).attempt).toBe(1);
  }, 90_000);

  it('fails a job whose output cannot be created (under /proc) at once, naming it, and the worker trains the next job', async () => {
    while (live().length < 3) await addWorker();
    // A parent that cannot be made, and one that exists but takes no new folder: both fail before the first of 50 epochs ends.
    for (const [output, parent] of [['/proc/tfleet-test/model', '/proc/tfleet-test'], ['/proc/tfleet-test', '/proc/tfleet-test']]) {
      const res = await submitAndWait(mlpSpec(dir, 'proc-output', 50), '--set', 'workers=1', '--set', `output=${output}`);
      expect(res.code).toBe(1);
      const job = JSON.parse(res.stdout) as JobJson;
      expect(job.error).toContain(`output ${output} cannot be created: ENOENT`);
      expect(job.error).toContain(`'${parent}'`);
      expect(job.error).not.toContain('partial');
      expect(job.history).toEqual([]);
    }
    const next = await submitAndWait(mlpSpec(dir, 'after-proc', 1), '--set', 'workers=3');
    expect(next.code, next.stderr).toBe(0);
  }, 60_000);

  it('never leaves a half-written model when rank 0 is killed as the job finishes', async () => {
    while (live().length < 3) await addWorker();
    const spec = mlpSpec(dir, 'export-kill', 20);
    const submit = submitAndWait(spec);
    const id = await waitForJob('export-kill', () => true);
    // The last epoch reported: rank 0 is evaluating or exporting now.
    let rank0 = '';
    await watchUntil(id, (r) => {
      rank0 = r.workers?.[0] ?? rank0;
      return (r.epoch ?? 0) >= 20;
    });
    live().find((w) => w.ready.name === rank0)?.proc.kill('SIGKILL');
    const res = await submit;
    expect(res.code, res.stderr).toBe(0);
    const job = JSON.parse(res.stdout) as JobJson;
    // The model folder is whole (exported by whichever rank finished), and nothing half-written is left beside it.
    const files = readdirSync(job.output);
    expect(files).toEqual(expect.arrayContaining(['model.json', 'weights.bin', 'tfleet-model.json', 'metrics.json']));
    const modelJson = JSON.parse(readFileSync(join(job.output, 'model.json'), 'utf8'));
    const bytes = modelJson.weightsManifest[0].weights.reduce((n: number, w: { shape: number[] }) => n + 4 * w.shape.reduce((a, b) => a * b, 1), 0);
    expect(readFileSync(join(job.output, 'weights.bin')).length).toBe(bytes);
    expect(readdirSync(join(dir, 'out')).filter((f) => f.startsWith('export-kill.'))).toEqual([]);
  }, 60_000);
});

describe('a member that heartbeats but never pushes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-stall-'));
  afterAll(async () => {
    await killAll();
  });

  it('is evicted within the step timeout, the job finishes without it, and it is given no other job', async () => {
    const co = await startCli(['coordinator', '--port', '0', '--metrics-port', '0', '--state-dir', join(dir, 'state'), '--runs-dir', join(dir, 'runs'),
      '--step-timeout-ms', '1500']);
    const addr = co.ready.grpc!;
    // The wedged member: registered, heartbeating, holding its task stream, doing nothing with what it is given.
    const api = new CoordinatorApi(addr);
    const reg = await api.registerWorker({ name: 'wedged', backend: 'none', metricsUrl: '' });
    const beat = setInterval(() => void api.heartbeat(reg.workerId, 1000).catch(() => undefined), 300);
    const assigned: string[] = [];
    const stream = api.tasks(reg.workerId);
    stream.on('data', (m: tfleet.coordinator.TaskMessage) => { if (m.assign) assigned.push(`${m.assign.jobId}#${m.assign.attempt}`); });
    stream.on('error', () => undefined);
    try {
      const real = start(process.execPath, [join(__dirname, '..', '..', 'dist', 'bin', 'tfleet.js'), 'worker', '--coordinator', addr, '--metrics-port', '0', '--backend', 'wasm', '--name', 'real']);
      await waitForLine(real, 'stderr', (l) => l.includes('"registered"'));
      const spec = mlpSpec(dir, 'stall', 5);
      const json = JSON.parse(readFileSync(spec, 'utf8'));
      writeFileSync(spec, JSON.stringify({ ...json, workers: 2 }));
      const started = Date.now();
      const res = await runCli(['submit', spec, '--coordinator', addr, '--wait', '--json']);
      expect(res.code, res.stderr).toBe(0);
      const job = JSON.parse(res.stdout) as JobJson;
      expect(job.membership).toHaveLength(1);
      expect(job.membership[0]).toMatchObject({ worker: 'wedged', change: 'lost' });
      expect(job.membership[0].reason).toMatch(/^stalled: no push of step 0 of '.+' for \d+ ms while the others waited \(step timeout 1500 ms\)$/);
      expect(job.workers).toEqual(['real']);
      expect(Date.now() - started).toBeLessThan(30_000);
      // Still registered and heartbeating, but its first task never ended: it gets nothing more.
      const next = await runCli(['submit', mlpSpec(dir, 'after-stall', 2), '--coordinator', addr, '--set', 'workers=1', '--wait', '--json']);
      expect(next.code, next.stderr).toBe(0);
      expect(JSON.parse(next.stdout).workers).toEqual(['real']);
      expect(assigned).toEqual([`${job.id}#1`]);
    } finally {
      clearInterval(beat);
      stream.cancel();
      api.close();
    }
  }, 90_000);
});
