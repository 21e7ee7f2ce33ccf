import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI } from '../harness/paths';
import { killAll, start, waitForLine } from '../harness/processes';
import { scrape, total } from '../harness/prometheus';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false; // ESRCH: no such process.
  }
}

describe('tfleet up', () => {
  afterAll(killAll);

  it('starts a coordinator and N workers, prints every address, and stops them all on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfleet-up-'));
    const up = start(process.execPath, [CLI, 'up', '--workers', '2', '--port', '0', '--metrics-port', '0', '--state-dir', join(dir, 'state')]);
    await waitForLine(up, 'stdout', (l) => l.startsWith('ready:'));
    const co = up.stdout.find((l) => l.startsWith('coordinator'))!;
    const workerLines = up.stdout.filter((l) => l.startsWith('worker'));
    expect(workerLines).toHaveLength(2);
    expect(co).toMatch(/grpc 127\.0\.0\.1:\d+/);
    const urls = [co, ...workerLines].map((l) => /metrics (\S+)/.exec(l)![1]);
    const pids = [co, ...workerLines].map((l) => Number(/pid (\d+)/.exec(l)![1]));
    const coMetrics = await scrape(urls[0]);
    expect(total(coMetrics, 'tfleet_workers_connected')).toBe(2);
    for (const url of urls.slice(1)) expect(total(await scrape(url), 'tfleet_worker_backend_info')).toBe(1);
    up.proc.kill('SIGTERM');
    expect((await up.exit).code).toBe(0);
    expect(pids.filter(alive)).toEqual([]);
    // `up` starts the coordinator and the workers with the node flags of shared/node-flags.ts; a process started without them says so.
    const log = up.stderr.join('\n');
    expect(log).toContain('"coordinator serving"');
    expect(log).not.toContain('recommended node flags');
  });

  it('gives its processes its log format', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfleet-up-'));
    const up = start(process.execPath, [CLI, 'up', '--workers', '1', '--port', '0', '--metrics-port', '0', '--state-dir', join(dir, 'state'), '--log-format', 'text']);
    await waitForLine(up, 'stdout', (l) => l.startsWith('ready:'));
    up.proc.kill('SIGTERM');
    expect((await up.exit).code).toBe(0);
    const lines = up.stderr.filter((l) => l.trim() !== '');
    expect(lines.some((l) => l.includes('coordinator serving'))).toBe(true);
    // Text lines for people: none of them a JSON object.
    expect(lines.filter((l) => l.startsWith('{'))).toEqual([]);
  });
});
