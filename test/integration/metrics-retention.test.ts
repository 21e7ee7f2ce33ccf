import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../harness/paths';
import { scrape } from '../harness/prometheus';
import { killAll, runCli, startCli } from '../harness/processes';

describe('Prometheus series of finished jobs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-retention-'));
  afterAll(async () => {
    await killAll();
  });

  it('are dropped once --metrics-retention-ms has passed, so a long-lived coordinator keeps its series bounded', async () => {
    const co = await startCli(['coordinator', '--port', '0', '--metrics-port', '0', '--state-dir', join(dir, 'state'), '--runs-dir', join(dir, 'runs'), '--metrics-retention-ms', '1500']);
    await startCli(['worker', '--coordinator', co.ready.grpc!, '--metrics-port', '0', '--backend', 'cpu', '--name', 'w1']);
    const res = await runCli(['submit', join(ROOT, 'examples', 'wine-softmax.json'), '--coordinator', co.ready.grpc!, '--set', 'workers=1', '--set', 'training.epochs=2',
      '--set', `output=${join(dir, 'runs', 'wine')}`, '--wait', '--json']);
    expect(res.code, res.stderr).toBe(0);
    const id = JSON.parse(res.stdout).id;
    const ofJob = async () => (await scrape(co.ready.metrics)).filter((s) => s.labels.job_id === id).map((s) => s.name);
    const before = await ofJob();
    expect(before).toEqual(expect.arrayContaining(['tfleet_job_info', 'tfleet_job_accuracy_ratio', 'tfleet_job_loss', 'tfleet_ps_push_bytes_total']));
    // Scraped until they go: the retention, then at most a scrape later.
    let after = before;
    while (after.length > 0) {
      await new Promise((r) => setTimeout(r, 250));
      after = await ofJob();
    }
    expect(after).toEqual([]);
    // The job itself stays listed.
    expect(JSON.parse((await runCli(['status', id, '--coordinator', co.ready.grpc!, '--json'])).stdout).state).toBe('succeeded');
    // A spec without an output gets a folder of its own under the runs folder, named after the job.
    const spec = JSON.parse(readFileSync(join(ROOT, 'examples', 'wine-softmax.json'), 'utf8'));
    delete spec.output;
    const specFile = join(dir, 'no-output.json');
    writeFileSync(specFile, JSON.stringify({ ...spec, name: 'wine-try.2', workers: 1, training: { ...spec.training, epochs: 1 }, data: { ...spec.data, train: { ...spec.data.train, path: join(ROOT, 'examples', 'data', 'wine.csv') } } }));
    const own = JSON.parse((await runCli(['submit', specFile, '--coordinator', co.ready.grpc!, '--wait', '--json'])).stdout);
    expect(own.state).toBe('succeeded');
    expect(own.output).toBe(join(dir, 'runs', `wine-try.2-${own.id}`));
    expect(existsSync(join(own.output, 'tfleet-model.json'))).toBe(true);
  }, 60_000);
});
