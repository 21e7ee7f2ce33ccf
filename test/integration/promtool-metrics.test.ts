import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../harness/paths';
import { killAll, runCli, startCli } from '../harness/processes';
import { PROMTOOL_MISSING, PROMTOOL_PRESENT, familiesWithPrefix, promtool } from '../harness/promtool';

/**
 * `promtool check metrics` (Prometheus's linter: names, units, suffixes,
 * HELP and TYPE) on what a real coordinator and worker serve after a job,
 * so every tfleet_* family has samples with its labels.
 */
describe('/metrics under promtool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-promtool-'));
  afterAll(async () => {
    await killAll();
  });

  it('the coordinator\'s and the worker\'s tfleet_* families pass promtool check metrics', async (ctx) => {
    ctx.skip(!PROMTOOL_PRESENT, PROMTOOL_MISSING);
    const co = await startCli(['coordinator', '--port', '0', '--metrics-port', '0', '--state-dir', join(dir, 'state'), '--runs-dir', join(dir, 'runs')]);
    const worker = await startCli(['worker', '--coordinator', co.ready.grpc!, '--metrics-port', '0', '--backend', 'cpu', '--name', 'lint-worker']);
    const res = await runCli(['submit', join(ROOT, 'examples', 'wine-softmax.json'), '--coordinator', co.ready.grpc!, '--set', 'workers=1', '--set', 'training.epochs=2',
      '--set', `output=${join(dir, 'runs', 'wine')}`, '--wait', '--json']);
    expect(res.code, res.stderr).toBe(0);
    const id = JSON.parse(res.stdout).id as string;

    for (const url of [co.ready.metrics, worker.ready.metrics]) {
      const text = await (await fetch(url)).text();
      const ours = familiesWithPrefix(text, 'tfleet_');
      // The job's own series are in what promtool reads, not just the families' headers.
      expect(ours, url).toContain(`job_id="${id}"`);
      expect(promtool(['check', 'metrics'], ours), url).toEqual({ status: 0, output: '' });
      // The whole page parses (status 1 is a parse error); prom-client's
      // default nodejs_* gauges named *_total are the only lint findings.
      const all = promtool(['check', 'metrics'], text);
      expect(all.status, all.output).not.toBe(1);
      for (const line of all.output.split('\n').filter(Boolean)) expect(line).toMatch(/^nodejs_/);
    }
  }, 60_000);
});
