import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FrameKind, controlFrame } from '../../shared/codec/socket-frames';
import { ROOT } from '../harness/paths';
import { killAll, runCli, startCli, waitForLine } from '../harness/processes';

/** The wine example on one worker, for a few epochs. */
const WINE = join(ROOT, 'examples', 'wine-softmax.json');
const wineArgs = (dir: string, name: string) => ['--set', 'workers=1', '--set', 'training.epochs=3', '--set', `output=${join(dir, name)}`];

describe('a fleet locked with tokens', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-auth-'));
  const clientToken = 'client-token-0123456789abcdef';
  const workerToken = 'worker-token-fedcba9876543210';
  const clientFile = join(dir, 'client.token');
  const workerFile = join(dir, 'worker.token');
  writeFileSync(clientFile, `${clientToken}\n`);
  writeFileSync(workerFile, workerToken);
  afterAll(async () => {
    await killAll();
  });

  it('refuses callers without the right token, saying what is missing, and trains a job for those with it', async () => {
    const co = await startCli(['coordinator', '--port', '0', '--metrics-port', '0', '--state-dir', join(dir, 'state'), '--runs-dir', join(dir, 'runs'),
      '--auth-token-file', clientFile, '--worker-token-file', workerFile]);
    const addr = co.ready.grpc!;
    const tfleet = (env: NodeJS.ProcessEnv, ...args: string[]) => runCli([...args, '--coordinator', addr], env);

    const none = await tfleet({}, 'jobs');
    expect(none.code).toBe(1);
    expect(none.stderr).toBe('tfleet: ListJobs needs a bearer token: set TFLEET_AUTH_TOKEN or --auth-token-file');
    const wrong = await tfleet({ TFLEET_AUTH_TOKEN: 'not-the-token-at-all' }, 'jobs');
    expect(wrong.stderr).toBe('tfleet: ListJobs: the bearer token is not one this coordinator accepts');
    const asWorker = await tfleet({ TFLEET_AUTH_TOKEN: workerToken }, 'submit', WINE);
    expect(asWorker.stderr).toBe("tfleet: Submit is a client's call; this token is for worker calls only");

    const bare = await runCli(['worker', '--coordinator', addr, '--metrics-port', '0', '--backend', 'cpu', '--name', 'bare']);
    expect(bare.code).toBe(1);
    expect(bare.stderr.split('\n').pop()).toBe('tfleet: RegisterWorker needs a bearer token: set TFLEET_AUTH_TOKEN or --auth-token-file');
    const withClientToken = await runCli(['worker', '--coordinator', addr, '--metrics-port', '0', '--backend', 'cpu', '--name', 'wrong-role', '--auth-token-file', clientFile]);
    expect(withClientToken.stderr.split('\n').pop()).toBe("tfleet: RegisterWorker is a worker's call; this token is for client calls only");

    const worker = await startCli(['worker', '--coordinator', addr, '--metrics-port', '0', '--backend', 'cpu', '--name', 'trusted'], { TFLEET_AUTH_TOKEN: workerToken });
    const res = await tfleet({}, 'submit', WINE, ...wineArgs(dir, 'authed'), '--auth-token-file', clientFile, '--wait', '--json');
    expect(res.code, res.stderr).toBe(0);
    const job = JSON.parse(res.stdout);
    expect(job.state).toBe('succeeded');

    // No token anywhere it could leak: logs, the job record, metrics, the output folder.
    const metrics = await (await fetch(co.ready.metrics)).text();
    const recordFiles = readdirSync(join(dir, 'state', 'jobs')).map((f) => readFileSync(join(dir, 'state', 'jobs', f), 'utf8'));
    const outputs = readdirSync(job.output).filter((f) => f.endsWith('.json')).map((f) => readFileSync(join(job.output, f), 'utf8'));
    for (const text of [co.stderr.join('\n'), co.stdout.join('\n'), worker.stderr.join('\n'), res.stdout, res.stderr, metrics, ...recordFiles, ...outputs]) {
      expect(text).not.toContain(clientToken);
      expect(text).not.toContain(workerToken);
    }
  });

  it('does not start on a non-loopback interface without a token, saying why', async () => {
    const res = await runCli(['coordinator', '--host', '0.0.0.0', '--port', '0', '--metrics-port', '0', '--state-dir', join(dir, 'open')]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^tfleet: refusing to listen on 0\.0\.0\.0 without --auth-token-file: anyone who reaches the port could .*; give a token, or --insecure to accept that$/);
  });
});

describe('a fleet over mutual TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-tls-'));
  afterAll(async () => {
    await killAll();
  });

  /** A CA, a server certificate for 127.0.0.1 and a client certificate, from Debian's openssl. */
  function certificates(): Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey', string> {
    const at = (f: string) => join(dir, f);
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=tfleet test CA');
    for (const [name, ext] of [['server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'], ['client', 'extendedKeyUsage=clientAuth\n']]) {
      writeFileSync(at(`${name}.ext`), ext);
      ssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=tfleet test ${name}`);
      ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '1', '-extfile', `${name}.ext`);
    }
    return { ca: at('ca.pem'), serverCert: at('server.pem'), serverKey: at('server.key'), clientCert: at('client.pem'), clientKey: at('client.key') };
  }

  it('trains a job with every connection over TLS, and refuses a client without a certificate', async () => {
    const c = certificates();
    const co = await startCli(['coordinator', '--port', '0', '--metrics-port', '0', '--state-dir', join(dir, 'state'), '--runs-dir', join(dir, 'runs'),
      '--tls-cert', c.serverCert, '--tls-key', c.serverKey, '--tls-ca', c.ca]);
    const addr = co.ready.grpc!;
    const tls = ['--tls-ca', c.ca, '--tls-cert', c.clientCert, '--tls-key', c.clientKey];
    const worker = await startCli(['worker', '--coordinator', addr, '--metrics-port', '0', '--backend', 'cpu', '--name', 'over-tls', ...tls]);
    await waitForLine(worker, 'stderr', (l) => l.includes('"registered"'));
    const res = await runCli(['submit', WINE, '--coordinator', addr, ...wineArgs(dir, 'tls'), ...tls, '--wait', '--json']);
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout).state).toBe('succeeded');
    const plain = await runCli(['jobs', '--coordinator', addr]);
    expect(plain.code).toBe(1);
    const noCert = await runCli(['jobs', '--coordinator', addr, '--tls-ca', c.ca]);
    expect(noCert.code).toBe(1);
    const good = await runCli(['jobs', '--coordinator', addr, ...tls]);
    expect(good.code, good.stderr).toBe(0);
    // The job's steps went through the tensor port, which speaks TLS only: a plain Hello gets no frame back.
    const [host, port] = co.ready.tensors!.split(':');
    const answer = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      const s = connect(Number(port), host, () => s.write(controlFrame(FrameKind.Hello, { jobId: 'j', workerId: 'w' })));
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('error', () => undefined);
      s.on('close', () => resolve(Buffer.concat(chunks)));
    });
    expect(answer[0]).not.toBe(FrameKind.Error);
    expect(answer.includes(Buffer.from('"code"'))).toBe(false);
  }, 60_000);
});
