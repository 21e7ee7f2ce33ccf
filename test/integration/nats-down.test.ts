import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JSONCodec, connect } from 'nats';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../harness/paths';
import { freePort, killAll, runCli, start, startCli, waitForLine } from '../harness/processes';

describe('a coordinator whose NATS server is down', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-nats-down-'));
  afterAll(async () => {
    await killAll();
  });

  it('starts and serves anyway, and publishes its events once NATS comes up', async () => {
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    const co = await startCli(['coordinator', '--port', '0', '--metrics-port', '0', '--state-dir', join(dir, 'state'), '--runs-dir', join(dir, 'runs'), '--nats', url]);
    expect(co.stderr.some((l) => l.includes('NATS does not answer; the coordinator goes on'))).toBe(true);
    const addr = co.ready.grpc!;
    expect((await runCli(['jobs', '--coordinator', addr])).code).toBe(0);
    const nats = start('nats-server', ['-a', '127.0.0.1', '-p', String(port)]);
    await waitForLine(nats, 'stderr', (l) => l.includes('Server is ready'));
    await waitForLine(co, 'stderr', (l) => l.includes('connected to NATS'), 30_000);
    const nc = await connect({ servers: url });
    const sub = nc.subscribe('tfleet.job.succeeded');
    // Resolves with the first job-succeeded event NATS delivers.
    const succeeded = (async () => {
      for await (const m of sub) return `${m.subject} ${String(JSONCodec<{ name?: string }>().decode(m.data).name ?? '')}`;
      return '';
    })();
    await nc.flush();
    await startCli(['worker', '--coordinator', addr, '--metrics-port', '0', '--backend', 'cpu', '--name', 'w1']);
    const res = await runCli(['submit', join(ROOT, 'examples', 'wine-softmax.json'), '--coordinator', addr, '--set', 'workers=1', '--set', 'training.epochs=2',
      '--set', `output=${join(dir, 'runs', 'wine')}`, '--wait']);
    expect(res.code, res.stderr).toBe(0);
    expect(await succeeded).toBe('tfleet.job.succeeded wine-softmax');
    await nc.close();
  }, 90_000);
});
