import * as grpc from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tfleet } from '../../proto/generated/tfleet';
import { TfleetError } from '../../shared/errors';
import { CoordinatorClient } from '../../shared/rpc/services';
import { bearerInterceptor } from '../../shared/rpc/security';
import { fromServiceError } from '../../shared/rpc/status';
import { Client } from '../../shared/sdk';
import { ROOT } from '../harness/paths';
import { killAll, runCli, startCli } from '../harness/processes';

/**
 * `tfleet submit --upload` against a coordinator locked to a data root
 * that does not hold the client's files: the files travel over gRPC and
 * the job reads them where the coordinator stored them.
 */
describe('uploading a job\'s data to the coordinator', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-upload-'));
  const roots = join(dir, 'coordinator-data');
  const client = join(dir, 'client');
  const clientToken = 'upload-client-token-0123456789';
  const workerToken = 'upload-worker-token-9876543210';
  const LIMIT = 40_000;
  let addr: string;
  const env = { TFLEET_AUTH_TOKEN: clientToken };
  const uploads = () => join(realpathSync(roots), 'uploads');
  const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  beforeAll(async () => {
    mkdirSync(roots);
    mkdirSync(client);
    writeFileSync(join(dir, 'client.token'), clientToken);
    writeFileSync(join(dir, 'worker.token'), workerToken);
    copyFileSync(join(ROOT, 'examples', 'data', 'wine.csv'), join(client, 'wine.csv'));
    writeFileSync(join(client, 'job.json'), JSON.stringify({
      name: 'uploaded-wine', model: { family: 'softmax' },
      data: { train: { path: 'wine.csv', label: 'target' }, test: { split: 0.2 } },
      training: { epochs: 3, batchSize: 32 }, workers: 1, seed: 5,
    }));
    const co = await startCli(['coordinator', '--port', '0', '--metrics-port', '0', '--state-dir', join(dir, 'state'), '--runs-dir', join(dir, 'runs'),
      '--data-root', roots, '--auth-token-file', join(dir, 'client.token'), '--worker-token-file', join(dir, 'worker.token'), '--max-data-bytes', String(LIMIT)]);
    addr = co.ready.grpc!;
    await startCli(['worker', '--coordinator', addr, '--metrics-port', '0', '--backend', 'cpu', '--name', 'w1'], { TFLEET_AUTH_TOKEN: workerToken });
  });
  afterAll(async () => {
    await killAll();
  });

  it('tfleet submit --upload trains on files outside the coordinator\'s data roots; the same file is stored once', async () => {
    const spec = join(client, 'job.json');
    const refused = await runCli(['submit', spec, '--coordinator', addr], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe("tfleet: job spec: 'data.train.path' is outside the data roots this coordinator reads from (--data-root)");

    const res = await runCli(['submit', spec, '--coordinator', addr, '--upload', '--wait', '--json'], env);
    expect(res.code, res.stderr).toBe(0);
    const job = JSON.parse(res.stdout);
    expect(job.state).toBe('succeeded');
    expect(job.metrics.test.accuracy).toBeGreaterThan(0.7);
    const bytes = readFileSync(join(client, 'wine.csv'));
    const stored = join(uploads(), sha256(bytes), 'wine.csv');
    expect(job.spec.data.train.path).toBe(stored);
    expect(readFileSync(stored).equals(bytes)).toBe(true);
    expect(res.stderr).toContain(`uploaded ${join(client, 'wine.csv')} (${bytes.length} bytes) as ${stored}`);

    const again = await runCli(['submit', spec, '--coordinator', addr, '--upload', '--json'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`(${bytes.length} bytes, already there) as ${stored}`);
    // One folder per content, and no temporary file left.
    expect(readdirSync(uploads())).toEqual([sha256(bytes)]);
    expect(readdirSync(join(uploads(), sha256(bytes)))).toEqual(['wine.csv']);
    await runCli(['cancel', JSON.parse(again.stdout).id, '--coordinator', addr], env);
  });

  it('the SDK uploads too; a file over --max-data-bytes and a worker\'s token are refused', async () => {
    const sdk = new Client({ address: addr, token: clientToken });
    try {
      const diabetes = join(client, 'diabetes.csv');
      copyFileSync(join(ROOT, 'examples', 'data', 'diabetes.csv'), diabetes);
      const uploaded = await sdk.upload(diabetes);
      expect(uploaded).toEqual({ local: diabetes, path: join(uploads(), sha256(readFileSync(diabetes)), 'diabetes.csv'), stored: true, sizeBytes: 19_081, sha256: sha256(readFileSync(diabetes)) });

      const big = join(client, 'big.csv');
      copyFileSync(join(ROOT, 'examples', 'data', 'breast_cancer.csv'), big);
      const tooBig = await sdk.upload(big).then(() => null, (e: unknown) => e as TfleetError);
      expect(tooBig?.code).toBe('RESOURCE_EXHAUSTED');
      expect(tooBig?.message).toBe(`upload big.csv: 120951 bytes is more than the coordinator's limit of ${LIMIT} (--max-data-bytes)`);

      const missing = await sdk.submit({ model: { family: 'linear' }, data: { train: { path: join(client, 'nope.csv'), label: 'y' } }, training: { epochs: 1, batchSize: 8 } }, { upload: true })
        .then(() => null, (e: unknown) => e as TfleetError);
      expect(missing?.message).toBe(`upload ${join(client, 'nope.csv')}: cannot read it (ENOENT)`);
    } finally {
      sdk.close();
    }
    const asWorker = new Client({ address: addr, token: workerToken });
    try {
      await expect(asWorker.upload(join(client, 'wine.csv'))).rejects.toThrow("Upload is a client's call; this token is for worker calls only");
    } finally {
      asWorker.close();
    }
  });

  /** An Upload call with pieces made by hand, as a hostile client would send them. */
  const rawUpload = (chunks: tfleet.coordinator.IUploadChunk[]) => new Promise<tfleet.coordinator.UploadReply>((resolve, reject) => {
    const raw = new CoordinatorClient(addr, grpc.credentials.createInsecure(), { interceptors: [bearerInterceptor(clientToken)] });
    const call = (raw as unknown as { upload(cb: (err: grpc.ServiceError | null, r?: tfleet.coordinator.UploadReply) => void): grpc.ClientWritableStream<tfleet.coordinator.IUploadChunk> })
      .upload((err, r) => { raw.close(); if (err) reject(fromServiceError(err, 'upload')); else resolve(r!); });
    for (const c of chunks) call.write(c);
    call.end();
  });

  it('refuses names with folders or dots, a checksum or size that does not match, and keeps nothing of them', async () => {
    const data = Buffer.from('a,b\n1,2\n');
    const good = { size: data.length, sha256: sha256(data) };
    for (const name of ['../escape.csv', '/etc/cron.d/x', '.hidden', 'a/b.csv', 'x\\y.csv', '', '..']) {
      const err = await rawUpload([{ name, ...good, data }]).then(() => null, (e: unknown) => e as TfleetError);
      expect(err?.code, name).toBe('INVALID_ARGUMENT');
      expect(err?.message, name).toMatch(/^upload: the file name .* is not a plain base name/);
    }
    const wrongSum = await rawUpload([{ name: 'ok.csv', size: data.length, sha256: sha256(Buffer.from('other')), data }]).then(() => null, (e: unknown) => e as TfleetError);
    expect(wrongSum?.message).toBe(`upload ok.csv: the bytes that arrived have SHA-256 ${sha256(data)}, not the ${sha256(Buffer.from('other'))} announced`);
    const short = await rawUpload([{ name: 'ok.csv', size: data.length + 5, sha256: good.sha256, data }]).then(() => null, (e: unknown) => e as TfleetError);
    expect(short?.message).toBe(`upload ok.csv: ${data.length} bytes arrived, ${data.length + 5} were announced`);
    const long = await rawUpload([{ name: 'ok.csv', ...good, data }, { data }]).then(() => null, (e: unknown) => e as TfleetError);
    expect(long?.message).toBe(`upload ok.csv: more than the ${data.length} bytes its first piece announced`);
    expect(existsSync(join(dir, 'escape.csv'))).toBe(false);
    expect(existsSync(join(uploads(), good.sha256))).toBe(false);
    expect(readdirSync(uploads()).filter((e) => e.startsWith('.'))).toEqual([]);
    // And a good one by hand, in two pieces.
    const ok = await rawUpload([{ name: 'ok.csv', ...good, data: data.subarray(0, 3) }, { data: data.subarray(3) }]);
    expect(ok.path).toBe(join(uploads(), good.sha256, 'ok.csv'));
    expect(readFileSync(ok.path).equals(data)).toBe(true);
  });
});
