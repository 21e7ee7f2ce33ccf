import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorApi } from '../../shared/rpc/clients';
import { configureClients } from '../../shared/rpc/security';
import { CLI, FASHION_MNIST, fashionMnist } from '../harness/paths';
import { Proc, Ready, killAll, runCli, start, startCli, waitForLine } from '../harness/processes';

/**
 * Workers on hosts of their own: each in a network namespace joined to this
 * one by a veth pair, on addresses the test creates (10.231.N.0/24; nothing
 * leaves the machine). Cutting a worker's link is a fault a SIGKILL is not:
 * its process and its connections live on, silent.
 */

const ip = (...args: string[]): { status: number | null; stderr: string } => {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
};
/** Namespaces need root and iproute2; elsewhere the suite is skipped (it says so). */
const canMakeHosts = process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list']).status === 0;
const tag = `${process.pid % 10000}`;

interface Host { ns: string; hostSide: string; address: string; gateway: string }

function makeHost(n: number): Host {
  const host: Host = { ns: `tfleet-${tag}-${n}`, hostSide: `tfh${tag}${n}`, address: `10.231.${n}.2`, gateway: `10.231.${n}.1` };
  const nsSide = `tfn${tag}${n}`;
  const steps = [
    ['netns', 'add', host.ns],
    ['link', 'add', host.hostSide, 'type', 'veth', 'peer', 'name', nsSide],
    ['link', 'set', nsSide, 'netns', host.ns],
    ['addr', 'add', `${host.gateway}/24`, 'dev', host.hostSide],
    ['link', 'set', host.hostSide, 'up'],
    ['netns', 'exec', host.ns, 'ip', 'addr', 'add', `${host.address}/24`, 'dev', nsSide],
    ['netns', 'exec', host.ns, 'ip', 'link', 'set', nsSide, 'up'],
    ['netns', 'exec', host.ns, 'ip', 'link', 'set', 'lo', 'up'],
    // The coordinator's other addresses are this host's own: reachable through the gateway.
    ['netns', 'exec', host.ns, 'ip', 'route', 'add', 'default', 'via', host.gateway],
  ];
  for (const s of steps) {
    const r = ip(...s);
    if (r.status !== 0) throw new Error(`ip ${s.join(' ')}: ${r.stderr}`);
  }
  return host;
}

describe.skipIf(!canMakeHosts)('workers on hosts of their own (network namespaces, veth pairs)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-netns-'));
  const hosts: Host[] = [];
  let addr: string;
  const workers: (Proc & { ready?: Ready })[] = [];

  // Beyond loopback the coordinator takes only callers with its token.
  const token = { TFLEET_AUTH_TOKEN: 'netns-test-token-0123456789' };

  beforeAll(async () => {
    hosts.push(makeHost(1), makeHost(2));
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, token.TFLEET_AUTH_TOKEN);
    const coordinator = await startCli(['coordinator', '--host', '0.0.0.0', '--advertise-host', hosts[0].gateway, '--port', '0', '--metrics-port', '0',
      '--state-dir', join(dir, 'state'), '--runs-dir', join(dir, 'runs'), '--lease-ms', '2000', '--auth-token-file', tokenFile, '--data-root', FASHION_MNIST]);
    const port = coordinator.ready.grpc!.split(':').pop();
    addr = `${hosts[0].gateway}:${port}`;
    workers.push(await startCli(['worker', '--coordinator', addr, '--metrics-port', '0', '--backend', 'wasm', '--name', 'here'], token));
    for (const [i, h] of hosts.entries()) {
      const w = start('ip', ['netns', 'exec', h.ns, process.execPath, CLI, 'worker', '--coordinator', addr, '--metrics-port', '0', '--backend', 'wasm', '--name', `there-${i + 1}`], token);
      await waitForLine(w, 'stderr', (l) => l.includes('"registered"'));
      workers.push(w);
    }
  });

  afterAll(async () => {
    await killAll();
    for (const h of hosts) ip('netns', 'delete', h.ns);
  });

  it('goes on when a worker\'s link is cut, and takes the worker back once the link returns', async () => {
    const spec = join(dir, 'mlp.json');
    writeFileSync(spec, JSON.stringify({
      name: 'cut', model: { family: 'mlp', hidden: [32] },
      data: { train: { format: 'idx', ...fashionMnist('train'), limit: 3000 }, test: { format: 'idx', ...fashionMnist('t10k'), limit: 1000 } },
      training: { epochs: 120, batchSize: 3000, optimizer: { name: 'adam', learningRate: 0.01 } },
      workers: 3, seed: 5, output: join(dir, 'runs', 'out'),
    }));
    const submit = runCli(['submit', spec, '--coordinator', addr, '--wait', '--json'], token);
    configureClients({ token: token.TFLEET_AUTH_TOKEN });
    const api = new CoordinatorApi(addr);
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => void api.listJobs().then((r) => {
        if (r.jobs.some((j) => j.name === 'cut' && (j.epoch ?? 0) >= 10)) { clearInterval(poll); resolve(); }
      }, () => undefined), 50);
    });
    api.close();
    const cut = workers[2];
    const registrations = cut.stderr.filter((l) => l.includes('"registered"')).length;
    expect(ip('link', 'set', hosts[1].hostSide, 'down').status).toBe(0);
    const res = await submit;
    expect(res.code, res.stderr).toBe(0);
    const job = JSON.parse(res.stdout);
    expect(job.membership[0]).toMatchObject({ worker: 'there-2', change: 'lost' });
    expect(job.membership[0].reason).toMatch(/^lease expired/);
    expect(job.history.map((h: { round: number }) => h.round)).toEqual(Array.from({ length: 120 }, (_, i) => i));
    expect(ip('link', 'set', hosts[1].hostSide, 'up').status).toBe(0);
    // Its connection comes back (or keepalive replaces it): the coordinator says it is unknown, and it registers again.
    await waitForLine(cut, 'stderr', (l) => l.includes('"registered"') && cut.stderr.filter((x) => x.includes('"registered"')).length > registrations, 45_000);
    const again = await runCli(['submit', spec, '--coordinator', addr, '--set', 'training.epochs=2', '--set', `output=${join(dir, 'runs', 'again')}`, '--wait', '--json'], token);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).workers).toContain('there-2');
  }, 120_000);
});
