import { mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, TfleetError } from '../../shared/sdk';
import { ROOT } from '../harness/paths';
import { killAll, runCli, startCli } from '../harness/processes';

const WINE = join(ROOT, 'examples', 'wine-softmax.json');

/** An output folder that already holds something is refused at submit unless the spec says `overwrite`. */
describe('existing output folders', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-outputs-'));
  let addr: string;
  const submit = (output: string, ...extra: string[]) => runCli(['submit', WINE, '--coordinator', addr, '--set', 'workers=1', '--set', 'training.epochs=1',
    '--set', `output=${output}`, ...extra, '--wait', '--json']);

  beforeAll(async () => {
    const co = await startCli(['coordinator', '--port', '0', '--metrics-port', '0', '--state-dir', join(dir, 'state'), '--runs-dir', join(dir, 'runs')]);
    addr = co.ready.grpc!;
    await startCli(['worker', '--coordinator', addr, '--metrics-port', '0', '--backend', 'cpu', '--name', 'w1']);
  });
  afterAll(async () => {
    await killAll();
  });

  it('tfleet submit: a folder holding an earlier model is refused, naming the field and the folder, and replaced with overwrite: true', async () => {
    const out = join(dir, 'wine');
    const first = await submit(out);
    expect(first.code, first.stderr).toBe(0);
    const firstModel = readFileSync(join(out, 'tfleet-model.json'), 'utf8');
    const firstTime = statSync(join(out, 'weights.bin')).mtimeMs;

    const again = await submit(out);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
    expect(again.stderr).toBe(`tfleet: job spec: 'output' is ${out}, which already holds a tfleet model: set 'overwrite': true to replace it (tfleet submit --set overwrite=true), or choose another output`);
    expect(statSync(join(out, 'weights.bin')).mtimeMs).toBe(firstTime);

    const badValue = await submit(out, '--set', 'overwrite="yes"');
    expect(badValue.code).toBe(1);
    expect(badValue.stderr).toBe('tfleet: job spec: \'overwrite\' must be true or false, got "yes"');

    const replaced = await submit(out, '--set', 'overwrite=true');
    expect(replaced.code, replaced.stderr).toBe(0);
    const record = JSON.parse(replaced.stdout);
    expect(record.state).toBe('succeeded');
    expect(record.spec.overwrite).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'spec.json'), 'utf8')).overwrite).toBe(true);
    expect(readFileSync(join(out, 'tfleet-model.json'), 'utf8')).toBe(firstModel);
    expect(statSync(join(out, 'weights.bin')).mtimeMs).toBeGreaterThan(firstTime);
  });

  it('the SDK: the same refusal as a TfleetError; an empty folder is fine; a folder another unfinished job writes is refused even with overwrite', async () => {
    const client = new Client({ address: addr });
    try {
      const out = join(dir, 'sdk');
      const spec = (output: string, more: object = {}) => ({
        model: { family: 'softmax' }, data: { train: { path: join(ROOT, 'examples', 'data', 'wine.csv'), label: 'target' } },
        training: { epochs: 1, batchSize: 32 }, workers: 1, output, ...more,
      });
      expect((await client.wait((await client.submit(spec(out))).id)).state).toBe('succeeded');
      const refused = await client.submit(spec(out)).then(() => null, (e: unknown) => e);
      expect(refused).toBeInstanceOf(TfleetError);
      expect((refused as TfleetError).code).toBe('INVALID_SPEC');
      expect((refused as TfleetError).message).toBe(`job spec: 'output' is ${out}, which already holds a tfleet model: set 'overwrite': true to replace it (tfleet submit --set overwrite=true), or choose another output`);
      expect((await client.wait((await client.submit(spec(out, { overwrite: true }))).id)).state).toBe('succeeded');

      const empty = join(dir, 'empty');
      mkdirSync(empty);
      expect((await client.wait((await client.submit(spec(empty))).id)).state).toBe('succeeded');

      // Two workers asked, one connected: the first job stays queued.
      const shared = join(dir, 'shared');
      const queued = await client.submit(spec(shared, { workers: 2 }));
      expect(queued.state).toBe('queued');
      const second = await client.submit(spec(shared, { overwrite: true })).then(() => null, (e: unknown) => e);
      expect((second as TfleetError).message).toBe(`job spec: 'output' is ${shared}, where job ${queued.id} (queued) will write its model: choose another output`);
      await client.cancel(queued.id);
      expect((await client.wait((await client.submit(spec(shared))).id)).state).toBe('succeeded');
    } finally {
      client.close();
    }
  });
});
