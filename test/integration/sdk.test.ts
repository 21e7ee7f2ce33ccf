import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../harness/paths';
import { killAll, startCli } from '../harness/processes';

/** A project outside the checkout that depends on tfleet, as a user's would (the package linked into its node_modules). */
function userProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-sdk-user-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'tfleet'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'user-project', private: true }));
  return dir;
}

describe('the SDK, used from a project outside the checkout', () => {
  afterAll(async () => {
    await killAll();
  });

  it('submits, watches and waits for a job through require, import and TypeScript', async () => {
    const state = mkdtempSync(join(tmpdir(), 'tfleet-sdk-fleet-'));
    const co = await startCli(['coordinator', '--port', '0', '--metrics-port', '0', '--state-dir', join(state, 'state'), '--runs-dir', join(state, 'runs')]);
    await startCli(['worker', '--coordinator', co.ready.grpc!, '--metrics-port', '0', '--backend', 'cpu', '--name', 'sdk-worker']);
    const dir = userProject();
    const spec = {
      name: 'sdk-wine', model: { family: 'softmax' },
      data: { train: { path: join(ROOT, 'examples', 'data', 'wine.csv'), label: 'target' }, test: { split: 0.2 } },
      training: { epochs: 5, batchSize: 32, optimizer: { name: 'adam', learningRate: 0.05 } }, workers: 1, seed: 3, output: join(state, 'runs', 'sdk'),
    };
    writeFileSync(join(dir, 'train.cjs'), `
      const { Client } = require('tfleet');
      (async () => {
        const client = new Client({ address: process.argv[2] });
        const job = await client.submit(${JSON.stringify(spec)});
        const seen = [];
        for await (const r of client.watch(job.id)) seen.push(r.state + ':' + r.epoch);
        const final = await client.wait(job.id);
        const listed = (await client.list()).map((j) => j.id);
        client.close();
        console.log(JSON.stringify({ id: job.id, state: final.state, accuracy: final.metrics.test.accuracy, seen, listed }));
      })().catch((e) => { console.error(e.message); process.exit(1); });
    `);
    const out = JSON.parse(execFileSync(process.execPath, [join(dir, 'train.cjs'), co.ready.grpc!], { cwd: dir, encoding: 'utf8' }));
    expect(out.state).toBe('succeeded');
    expect(out.accuracy).toBeGreaterThan(0.8);
    expect(out.seen[out.seen.length - 1]).toBe('succeeded:5');
    expect(out.seen).toContain('running:3');
    expect(out.listed).toContain(out.id);

    writeFileSync(join(dir, 'list.mjs'), `
      import { Client, TfleetError } from 'tfleet';
      const client = new Client({ address: process.argv[2] });
      const jobs = await client.list();
      let refused = '';
      try { await client.get('job-00000000'); } catch (e) { refused = (e instanceof TfleetError) + ' ' + e.code + ' ' + e.message; }
      client.close();
      console.log(JSON.stringify({ count: jobs.length, refused }));
    `);
    const esm = JSON.parse(execFileSync(process.execPath, [join(dir, 'list.mjs'), co.ready.grpc!], { cwd: dir, encoding: 'utf8' }));
    expect(esm).toEqual({ count: 1, refused: "true NOT_FOUND no job 'job-00000000'" });

    // The shipped declarations type a user's TypeScript.
    writeFileSync(join(dir, 'typed.ts'), `
      import { Client, JobRecord } from 'tfleet';
      const client: Client = new Client({ address: '127.0.0.1:1', token: 'a-token-of-16-chars-or-more' });
      export async function accuracy(id: string): Promise<number | undefined> {
        const job: JobRecord = await client.wait(id);
        return job.metrics.test?.accuracy;
      }
    `);
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '--strict', '--module', 'commonjs', '--moduleResolution', 'node', '--target', 'es2022', '--types', 'node', '--typeRoots', join(ROOT, 'node_modules', '@types'), 'typed.ts'], { cwd: dir, encoding: 'utf8' });
  }, 90_000);
});
