import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tfleet } from '../../proto/generated/tfleet';
import { hostTensor } from '../../shared/codec/host-tensor';
import { CoordinatorApi } from '../../shared/rpc/clients';
import { configureClients } from '../../shared/rpc/security';
import { PsClient } from '../../worker/ps/client';
import { killAll, runCli, startCli } from '../harness/processes';
import { ROOT } from '../harness/paths';

/**
 * What a hostile client on the same network tried, with nothing but the
 * project's protocol, against a coordinator locked as a deployment would
 * lock it (a token, data roots): each attempt is refused with its message.
 */
describe('hostile clients against a locked coordinator', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-hostile-'));
  const dataDir = join(dir, 'data');
  const runsDir = join(dir, 'runs');
  const token = 'hostile-test-token-0123456789';
  let addr: string;
  const env = { TFLEET_AUTH_TOKEN: token };

  // A private table of 50 rows: the rogue member must not read rows outside its shard.
  const rows = Array.from({ length: 50 }, (_, r) => `${r % 7},${(r * 3) % 11},${r % 2}`);
  const spec = (extra: Record<string, unknown> = {}) => ({
    name: 'private', model: { family: 'logistic' },
    data: { train: { path: join(dataDir, 'private.csv'), label: 'y' } },
    training: { epochs: 50, batchSize: 25, optimizer: { name: 'sgd', learningRate: 0.1 } },
    workers: 2, seed: 1, ...extra,
  });
  const submitFile = (name: string, s: object): string => {
    const path = join(dir, `${name}.json`);
    writeFileSync(path, JSON.stringify(s));
    return path;
  };

  beforeAll(async () => {
    mkdirSync(dataDir);
    mkdirSync(runsDir);
    writeFileSync(join(dataDir, 'private.csv'), `a,b,y\n${rows.join('\n')}\n`);
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, token);
    const co = await startCli(['coordinator', '--port', '0', '--metrics-port', '0', '--state-dir', join(dir, 'state'), '--runs-dir', runsDir,
      '--auth-token-file', tokenFile, '--data-root', dataDir]);
    addr = co.ready.grpc!;
    configureClients({ token });
  });
  afterAll(async () => {
    await killAll();
  });

  it('refuses data outside the data roots and outputs outside the runs folder, naming the field', async () => {
    const cases: [object, string][] = [
      [spec({ data: { train: { path: '/etc/passwd', label: 'y' } } }), "job spec: 'data.train.path' is outside the data roots this coordinator reads from (--data-root)"],
      [spec({ data: { train: { path: '/proc/self/environ', label: 'y', delimiter: '\u0000' } } }), "job spec: 'data.train.path' is outside the data roots this coordinator reads from (--data-root)"],
      [spec({ data: { train: { path: join(dataDir, '..', '..', 'etc', 'passwd'), label: 'y' } } }), "job spec: 'data.train.path' is outside the data roots this coordinator reads from (--data-root)"],
      [spec({ output: '/etc/tfleet-test' }), "job spec: 'output' must be a folder inside the coordinator's runs folder (--runs-dir)"],
      [spec({ output: join(runsDir, '..', '..', 'x') }), "job spec: 'output' must be a folder inside the coordinator's runs folder (--runs-dir)"],
    ];
    for (const [s, message] of cases) {
      const res = await runCli(['submit', submitFile('bad', s), '--coordinator', addr], env);
      expect(res.code).toBe(1);
      expect(res.stderr).toBe(`tfleet: ${message}`);
    }
  });

  it('refuses a spec nested 60,000 deep and a model too large to build, at submit, with the limit', async () => {
    const api = new CoordinatorApi(addr);
    try {
      const deep = `{"name":"deep","model":${'['.repeat(60_000)}${']'.repeat(60_000)}}`;
      await expect(api.submit(deep)).rejects.toThrow("job spec: '(spec)' nests 60001 levels of objects and arrays; at most 64 are allowed");
      const huge = JSON.stringify({ ...spec({ model: { family: 'mlp', hidden: [65536, 65536] } }), output: join(runsDir, 'huge') });
      await expect(api.submit(huge)).rejects.toThrow(/^job spec: 'model' has 4295294977 parameters for this data; at most 100000000 are allowed \(the coordinator's --max-model-params\)$/);
      // The coordinator answers as before.
      expect((await api.listJobs()).jobs).toBeDefined();
    } finally {
      api.close();
    }
  });

  it('keeps a rogue member to its own rows, refuses a non-member pull, and stops a job it poisons with NaN, naming it', async () => {
    const real = await startCli(['worker', '--coordinator', addr, '--metrics-port', '0', '--backend', 'cpu', '--name', 'honest'], env);
    void real;
    // The rogue: registered with the token, holding its task stream, doing what it likes with its task.
    const api = new CoordinatorApi(addr);
    const reg = await api.registerWorker({ name: 'rogue', backend: 'none', metricsUrl: '' });
    const beat = setInterval(() => void api.heartbeat(reg.workerId, 1000).catch(() => undefined), 300);
    const stream = api.tasks(reg.workerId);
    stream.on('error', () => undefined);
    const task = new Promise<tfleet.coordinator.ITask>((resolve) => stream.on('data', (m: tfleet.coordinator.TaskMessage) => { if (m.assign) resolve(m.assign); }));
    try {
      const submit = runCli(['submit', submitFile('private', spec({ data: { train: { path: join(dataDir, 'private.csv'), label: 'y' }, normalize: true } })), '--coordinator', addr, '--wait', '--json'], env);
      const t = await task;
      // Step times that are not seconds are refused, naming the field, and hold no barrier.
      await expect(api.reportProgress({ workerId: reg.workerId, jobId: t.jobId, attempt: t.attempt, epoch: 0, timedSteps: 1, computeSeconds: NaN }))
        .rejects.toThrow("progress report 'compute_seconds' must be a finite number of seconds in [0, 604800], got NaN");
      await expect(api.reportProgress({ workerId: reg.workerId, jobId: t.jobId, attempt: t.attempt, epoch: 0, timedSteps: 1, waitSeconds: 1e12 }))
        .rejects.toThrow("progress report 'wait_seconds' must be a finite number of seconds in [0, 604800], got 1000000000000");
      // Its own shard streams; anything past it is refused.
      const mine = { begin: t.trainBegin ?? 0, end: t.trainEnd ?? 0 };
      const outside = mine.begin === 0 ? { begin: mine.end, end: 50 } : { begin: 0, end: mine.begin };
      const err = await (async () => {
        for await (const chunk of api.fetchShard({ workerId: reg.workerId, jobId: t.jobId, split: 'train', ...outside })) void chunk;
      })().catch((e: Error) => e);
      expect((err as Error).message).toBe(`worker '${reg.workerId}' asked for train rows [${outside.begin}, ${outside.end}); its shard is [${mine.begin}, ${mine.end})`);
      // A client that never joined reads nothing.
      const stranger = new PsClient(addr, t.psJob!, 'stranger-1');
      await expect(stranger.pull(['norm/moments'], 0)).rejects.toThrow(`worker 'stranger-1' is not a member of job '${t.psJob}'`);
      await expect(stranger.init(new Map([['planted', hostTensor([1 << 20])]]), { name: 'sum' })).rejects.toThrow(`worker 'stranger-1' is not a member of job '${t.psJob}'`);
      stranger.close();
      // Poison: NaN moments where the honest worker's go.
      const ps = new PsClient(addr, t.psJob!, reg.workerId);
      const { tensors } = await ps.pull(['norm/moments'], 0);
      const n = tensors.get('norm/moments')!.data.length;
      await expect(ps.push(0, 1, new Map([['norm/moments', hostTensor([n], new Float32Array(n).fill(NaN))]])))
        .rejects.toThrow(`worker '${reg.workerId}' pushed NaN or infinite values in 'norm/moments' at step 0`);
      ps.close();
      const res = await submit;
      expect(res.code).toBe(1);
      const job = JSON.parse(res.stdout);
      expect(job.state).toBe('failed');
      expect(job.error).toContain(`worker '${reg.workerId}' pushed NaN or infinite values in 'norm/moments' at step 0`);
      // Reports of tasks it was never given are refused.
      await expect(api.completeTask({ workerId: reg.workerId, jobId: 'job-nonexistent', attempt: 1 })).rejects.toThrow(`worker '${reg.workerId}' has no task of attempt 1 of job 'job-nonexistent'`);
    } finally {
      clearInterval(beat);
      stream.cancel();
      api.close();
    }
  }, 60_000);
});

describe('an output folder that is not a model', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-foreign-'));
  afterAll(async () => {
    await killAll();
  });

  it('is refused at submit, naming it, and its files stay; a worker refuses to replace one that appears later', async () => {
    const co = await startCli(['coordinator', '--port', '0', '--metrics-port', '0', '--state-dir', join(dir, 'state'), '--runs-dir', join(dir, 'runs')]);
    await startCli(['worker', '--coordinator', co.ready.grpc!, '--metrics-port', '0', '--backend', 'cpu', '--name', 'w1']);
    const foreign = join(dir, 'precious');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'thesis.txt'), 'years of work');
    const spec = join(dir, 'spec.json');
    writeFileSync(spec, JSON.stringify({
      model: { family: 'logistic' }, data: { train: { path: join(ROOT, 'examples', 'data', 'breast_cancer.csv'), label: 'target' } },
      training: { epochs: 1, batchSize: 64 }, output: foreign,
    }));
    const refused = await runCli(['submit', spec, '--coordinator', co.ready.grpc!, '--wait', '--json']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`tfleet: job spec: 'output' is ${foreign}, which holds files that are not a tfleet model: choose another output (an export replaces the folder)`);
    // A folder that fills after submit: the exporting worker refuses too. The job waits for a second
    // worker, so the folder is there before it starts.
    const later = join(dir, 'later');
    writeFileSync(spec, JSON.stringify({ ...JSON.parse(readFileSync(spec, 'utf8')), output: later, workers: 2 }));
    const submitted = await runCli(['submit', spec, '--coordinator', co.ready.grpc!, '--json']);
    expect(submitted.code, submitted.stderr).toBe(0);
    mkdirSync(later);
    writeFileSync(join(later, 'notes.txt'), 'mine');
    await startCli(['worker', '--coordinator', co.ready.grpc!, '--metrics-port', '0', '--backend', 'cpu', '--name', 'w2']);
    const res = await runCli(['watch', JSON.parse(submitted.stdout).id, '--coordinator', co.ready.grpc!, '--json']);
    expect(res.code).toBe(1);
    expect(JSON.parse(res.stdout).error).toMatch(/^worker 'w[12]': output /);
    expect(JSON.parse(res.stdout).error).toContain(`output ${later} exists and holds files that are not a tfleet model: choose another output (it would be replaced)`);
    expect(readFileSync(join(foreign, 'thesis.txt'), 'utf8')).toBe('years of work');
    expect(readFileSync(join(later, 'notes.txt'), 'utf8')).toBe('mine');
  });
});

describe('files that are not data, on a loopback coordinator without data roots', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-notdata-'));
  afterAll(async () => {
    await killAll();
  });

  it('refuses system files and quotes nothing of a file that is not a table', async () => {
    const co = await startCli(['coordinator', '--port', '0', '--metrics-port', '0', '--state-dir', join(dir, 'state'), '--runs-dir', join(dir, 'runs')]);
    const submit = async (train: object): Promise<string> => {
      const path = join(dir, 'spec.json');
      writeFileSync(path, JSON.stringify({ model: { family: 'logistic' }, data: { train }, training: { epochs: 1, batchSize: 8 } }));
      const res = await runCli(['submit', path, '--coordinator', co.ready.grpc!]);
      expect(res.code).toBe(1);
      return res.stderr;
    };
    expect(await submit({ path: '/proc/self/environ', label: 'y', delimiter: '\u0000' })).toBe('tfleet: data path /proc/self/environ is a system file (under /proc), not a data file');
    expect(await submit({ path: '/dev/zero', label: 'y' })).toBe('tfleet: data path /dev/zero is a system file (under /dev), not a data file');
    const passwd = await submit({ path: '/etc/passwd', label: 'y' });
    expect(passwd).toMatch(/^tfleet: \/etc\/passwd line 1: label column 'y' not found \((1 column; the header's cells do not look like column names|the file is not a table: its lines split into different numbers of cells)\)$/);
    expect(passwd).not.toContain('root');
    const colon = await submit({ path: '/etc/passwd', label: 'y', delimiter: ':' });
    expect(colon).not.toContain('root');
    expect(colon).not.toContain('daemon');
  });
});
