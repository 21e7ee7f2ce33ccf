import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../harness/paths';
import { freePort, killAll, runCli } from '../harness/processes';

describe('the CLI itself', () => {
  afterAll(killAll);

  it('prints its version', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    for (const flag of ['--version', '-V', 'version']) {
      const res = await runCli([flag]);
      expect(res.code).toBe(0);
      expect(res.stdout).toBe(`tfleet ${version}`);
    }
  });

  it('takes -h on every command, prints no empty defaults, and gives each flag a TFLEET_* variable or the README names it among those without', async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const without = /These flags have none[^]*?variables \(Benchmarks\)\./.exec(readme)?.[0] ?? '';
    expect(without).not.toBe('');
    for (const command of ['coordinator', 'worker', 'up', 'submit', 'watch', 'jobs', 'status', 'cancel', 'predict', 'recommend', 'demo']) {
      const res = await runCli([command, '-h']);
      expect(res.code, `${command}: ${res.stderr}`).toBe(0);
      expect(res.stdout.startsWith(`usage: tfleet ${command}`)).toBe(true);
      expect(res.stdout).not.toMatch(/\(default ;|default \)/);
      for (const line of res.stdout.split('\n').filter((l) => l.startsWith('  --'))) {
        const flag = line.trim().split(' ')[0];
        if (!line.includes('env TFLEET_')) expect(without, `tfleet ${command} ${flag}`).toContain(`${flag}\``);
      }
    }
  });

  it('runs the demo with an output that fits on a screen and gives the test metrics once', async () => {
    const res = await runCli(['demo', '--workers', '2']);
    expect(res.code, res.stderr).toBe(0);
    const lines = [...res.stdout.split('\n'), ...res.stderr.split('\n')].filter((l) => l.trim() !== '');
    expect(lines.length).toBeLessThanOrEqual(10);
    expect(lines.filter((l) => /^\s*test\s+loss [\d.]+ accuracy [\d.]+$/.test(l))).toHaveLength(1);
    expect(res.stdout).toMatch(/^job job-[0-9a-f]{8} \(wine-softmax\): succeeded$/m);
  }, 60_000);

  it('names a mistyped flag with the nearest one, and checks a negative value against its range', async () => {
    const typo = await runCli(['submit', 'job.json', '--wiat']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toBe("tfleet: unknown option '--wiat' (did you mean --wait?); try --help");
    // Free ports and a fresh state folder: were the check to regress, this starts a fleet that afterAll stops.
    const negative = await runCli(['up', '--workers', '-1', '--port', '0', '--metrics-port', '0', '--state-dir', join(mkdtempSync(join(tmpdir(), 'tfleet-neg-')), 'state')]);
    expect(negative.code).toBe(2);
    expect(negative.stderr).toBe("tfleet: --workers must be an integer in 1..64, got '-1'");
  });

  it('asks whether a coordinator runs where nothing answered', async () => {
    const port = await freePort();
    const res = await runCli(['jobs', '--coordinator', `127.0.0.1:${port}`]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`ECONNREFUSED 127.0.0.1:${port} (is a coordinator running at 127.0.0.1:${port}? 'tfleet up' starts one)`);
    expect(res.stderr).not.toContain('Resolution note');
  });

  it('says plainly that its port is taken', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    try {
      const res = await runCli(['coordinator', '--port', String(port), '--metrics-port', '0', '--log-format', 'json', '--state-dir', join(mkdtempSync(join(tmpdir(), 'tfleet-port-')), 'state')]);
      expect(res.code).toBe(1);
      expect(res.stderr).toContain(`tfleet: cannot serve gRPC on 127.0.0.1:${port}: EADDRINUSE: address already in use`);
      // grpc-js's own line goes through the coordinator's logger, not bare onto stderr.
      expect(res.stderr.split('\n').filter((l) => l.startsWith('E '))).toEqual([]);
      expect(res.stderr).toMatch(/"component":"coordinator\.grpc"/);
      const tensors = await runCli(['coordinator', '--port', '0', '--tensor-port', String(port), '--metrics-port', '0', '--state-dir', join(mkdtempSync(join(tmpdir(), 'tfleet-port-')), 'state')]);
      expect(tensors.code).toBe(1);
      expect(tensors.stderr).toContain(`tfleet: cannot serve the tensor port on 127.0.0.1:${port}: EADDRINUSE (another port: --tensor-port; none: --tensor-port -1)`);
    } finally {
      taken.close();
    }
  });
});
