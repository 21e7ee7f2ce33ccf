import fc from 'fast-check';
import * as grpc from '@grpc/grpc-js';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../shared/data/csv';
import { parseIdx } from '../../shared/data/idx';
import { parseJsonl } from '../../shared/data/jsonl';
import { parseRatings } from '../../shared/data/ratings';
import { FrameKind, controlFrame, frameHeader, parseControl } from '../../shared/codec/socket-frames';
import { TfleetError } from '../../shared/errors';
import { validateJobJson } from '../../shared/job';
import { coordinatorService, parameterServerService } from '../../shared/rpc/services';
import { InProcessFleet, startInProcessFleet, trainToEnd } from '../harness/fleet';
import { ROOT } from '../harness/paths';

/**
 * Fuzzing: mutated specs, data files and protobuf frames. Every input is
 * either accepted or refused with one of our errors (never a TypeError, a
 * RangeError, a stack overflow or a hang), and after the frames the
 * coordinator still answers and trains a good job. `npm test` runs a few
 * hundred cases per kind; `npm run fuzz` (FUZZ_RUNS=10000) the full run,
 * whose figures it writes to bench/results/fuzz.json.
 */

const RUNS = Number(process.env.FUZZ_RUNS) || 200;
const figures: Record<string, { cases: number; refused: number; accepted: number }> = {};

/** Runs `parse` on `input`; our errors count as refusals, anything else fails the property. */
function classify(kind: string, parse: () => unknown): void {
  const f = (figures[kind] ??= { cases: 0, refused: 0, accepted: 0 });
  f.cases++;
  try {
    parse();
    f.accepted++;
  } catch (err) {
    if (!(err instanceof TfleetError)) throw new Error(`${kind}: ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
    f.refused++;
  }
}

/** A string with a few characters replaced, inserted or deleted at random places. */
const mutated = (base: string, alphabet: string): fc.Arbitrary<string> =>
  fc.array(fc.tuple(fc.nat(base.length), fc.constantFrom('replace', 'insert', 'delete'), fc.constantFrom(...alphabet.split(''))), { maxLength: 8 })
    .map((edits) => {
      let s = base;
      for (const [at, op, c] of edits) {
        const i = Math.min(at, s.length);
        s = op === 'replace' ? s.slice(0, i) + c + s.slice(i + 1) : op === 'insert' ? s.slice(0, i) + c + s.slice(i) : s.slice(0, i) + s.slice(i + 1);
      }
      return s;
    });

const EXAMPLES = ['wine-softmax.json', 'breast-cancer-gbdt.json', 'movielens-mf.json', 'sentiment-svm.json', 'fashion-mnist-cnn.json']
  .map((f) => readFileSync(join(ROOT, 'examples', f), 'utf8'));

/** Replaces the value at a random path of a JSON value with another JSON value. */
function replaceAt(value: unknown, path: number[], replacement: unknown): unknown {
  if (path.length === 0 || value === null || typeof value !== 'object') return replacement;
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return replacement;
  const [key, child] = entries[path[0] % entries.length];
  const copy: Record<string | number, unknown> = Array.isArray(value) ? [...value] : { ...(value as Record<string, unknown>) };
  copy[key] = replaceAt(child, path.slice(1), replacement);
  return copy;
}

describe('fuzzing the readers and the spec validator', () => {
  afterAll(() => {
    if (process.env.FUZZ_RUNS) {
      mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
      writeFileSync(join(ROOT, 'bench', 'results', 'fuzz-inputs.json'), JSON.stringify({ runs: RUNS, figures }, null, 2));
    }
  });

  it('refuses or accepts every mutated spec, with our errors only', () => {
    fc.assert(fc.property(fc.constantFrom(...EXAMPLES), fc.array(fc.nat(), { maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), (text, path, value) => {
      classify('spec (a field replaced)', () => validateJobJson(JSON.stringify(replaceAt(JSON.parse(text), path, value))));
    }), { numRuns: RUNS });
    fc.assert(fc.property(fc.constantFrom(...EXAMPLES).chain((t) => mutated(t, '{}[]":,0123456789.-eE ntrufalsx\\')), (text) => {
      classify('spec (characters mutated)', () => validateJobJson(text));
    }), { numRuns: RUNS });
  });

  it('reads or refuses every mutated CSV, JSONL and ratings file, with DataErrors only', () => {
    const csv = 'a,b,text,y\n1,2,"good, fine",1\n3.5,,"bad ""really""",0\nNaN,4,x,1\n';
    fc.assert(fc.property(mutated(csv, ',"\n\r0123456789.-eNa xy'), (text) => {
      classify('csv', () => parseCsv(text, { format: 'csv', path: 'f.csv', label: 'y', text: 'text' }));
    }), { numRuns: RUNS });
    const jsonl = '{"x":[1,2],"y":0,"t":"a"}\n{"x":[3,4],"y":1,"t":"b"}\n';
    fc.assert(fc.property(mutated(jsonl, '{}[]":,0123456789.-xyt \n'), (text) => {
      classify('jsonl', () => parseJsonl(text, { format: 'jsonl', path: 'f.jsonl', label: 'y', input: 'x' }));
    }), { numRuns: RUNS });
    const ratings = 'user\titem\trating\n1\t10\t4\n2\t10\t3.5\n1\t11\t5\n';
    fc.assert(fc.property(mutated(ratings, '\t:,\n0123456789.-ab '), (text) => {
      classify('ratings', () => parseRatings(text, { format: 'ratings', path: 'u.data', label: 'rating' }));
    }), { numRuns: RUNS });
  });

  it('parses or refuses every mutated IDX file, with DataErrors only', () => {
    const idx = Buffer.from([0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8]);
    const bytes = fc.array(fc.tuple(fc.nat(idx.length + 4), fc.integer({ min: 0, max: 255 })), { maxLength: 6 })
      .chain((edits) => fc.nat(idx.length + 8).map((cut) => {
        const b = Buffer.concat([idx, Buffer.alloc(8)]).subarray(0, cut);
        const out = Buffer.from(b);
        for (const [at, v] of edits) if (at < out.length) out[at] = v;
        return out;
      }));
    fc.assert(fc.property(bytes, (b) => classify('idx', () => parseIdx(b, 'f.idx'))), { numRuns: RUNS });
  });
});

/** A client of every method of both services that sends raw bytes as the request. */
function rawClient(address: string): grpc.Client {
  return new grpc.Client(address, grpc.credentials.createInsecure());
}

const METHODS = [...Object.values(coordinatorService), ...Object.values(parameterServerService)];

/**
 * Frames in protobuf's wire format with random fields: varints and
 * length-delimited payloads under field numbers 1–20, so most decode and
 * reach the handlers (random bytes mostly fail decoding).
 */
const wireFrames = fc.array(fc.oneof(
  fc.tuple(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 2 ** 32 - 1 })).map(([f, v]) => varintField(f, v)),
  fc.tuple(fc.integer({ min: 1, max: 20 }), fc.uint8Array({ maxLength: 48 })).map(([f, b]) => Buffer.concat([varint((f << 3) | 2), varint(b.length), Buffer.from(b)])),
), { maxLength: 8 }).map((fields) => Buffer.concat(fields));

function varint(v: number): Buffer {
  const out: number[] = [];
  let n = v >>> 0;
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

function varintField(field: number, v: number): Buffer {
  return Buffer.concat([varint(field << 3), varint(v)]);
}

/** Sends `bytes` as one request (closing client streams after it) and resolves with the status. */
function sendRaw(client: grpc.Client, method: (typeof METHODS)[number], bytes: Buffer): Promise<{ code: number; details: string }> {
  const ser = (b: Buffer) => b;
  const de = (b: Buffer) => b;
  return new Promise((resolve) => {
    const deadline = Date.now() + 3000;
    const done = (err: grpc.ServiceError | null) => resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '' });
    if (!method.requestStream && !method.responseStream) {
      client.makeUnaryRequest(method.path, ser, de, bytes, { deadline }, (err) => done(err));
    } else if (!method.requestStream) {
      const call = client.makeServerStreamRequest(method.path, ser, de, bytes, { deadline });
      call.on('data', () => undefined);
      call.on('error', (e: grpc.ServiceError) => done(e));
      call.on('end', () => done(null));
    } else {
      const call = client.makeBidiStreamRequest(method.path, ser, de, { deadline });
      call.on('data', () => undefined);
      call.on('error', (e: grpc.ServiceError) => done(e));
      call.on('end', () => done(null));
      call.write(bytes);
      call.end();
    }
  });
}

describe('fuzzing every RPC with random protobuf frames', () => {
  let fleet: InProcessFleet;
  const frames: Record<string, number> = {};
  beforeAll(async () => {
    fleet = await startInProcessFleet(1);
  });
  afterAll(async () => {
    await fleet?.stop();
    if (process.env.FUZZ_RUNS) {
      writeFileSync(join(ROOT, 'bench', 'results', 'fuzz-frames.json'), JSON.stringify({ runs: RUNS, codes: frames, peakRssBytes: process.resourceUsage().maxRSS * 1024 }, null, 2));
    }
  });

  it('refuses every malformed tensor-port stream with an Error frame of ours, or waits for the rest of a frame', async () => {
    const [host, port] = fleet.coordinator.tensorAddress.split(':');
    const hello = controlFrame(FrameKind.Hello, { jobId: 'fuzz', workerId: 'w0' });
    const framed = fc.tuple(fc.integer({ min: 0, max: 8 }), wireFrames).map(([kind, body]) => Buffer.concat([frameHeader(kind as FrameKind, body.byteLength), body]));
    const stream = fc.oneof(
      fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)),
      fc.array(framed, { maxLength: 3 }).map((fs) => Buffer.concat(fs)),
      fc.array(framed, { maxLength: 3 }).map((fs) => Buffer.concat([hello, ...fs])),
    );
    await fc.assert(fc.asyncProperty(stream, async (bytes) => {
      const answer = await new Promise<Buffer>((resolve) => {
        const chunks: Buffer[] = [];
        // The client's end follows its bytes: a stream that stops inside a frame, or a valid Hello with
        // nothing after it, is one the server waits on by design, until the client goes.
        const s = connect(Number(port), host, () => s.end(bytes));
        const quiet = setTimeout(() => s.destroy(), 1000);
        s.on('data', (c: Buffer) => chunks.push(c));
        s.on('error', () => undefined);
        s.on('close', () => {
          clearTimeout(quiet);
          resolve(Buffer.concat(chunks));
        });
      });
      const count = (outcome: string) => void (frames[`tensor port ${outcome}`] = (frames[`tensor port ${outcome}`] ?? 0) + 1);
      if (answer.byteLength === 0) return count('no answer (a frame not yet whole, or nothing after a Hello)');
      // Pings after a Hello are answered, each by an empty Pong.
      let at = 0;
      while (at < answer.byteLength && answer[at] === FrameKind.Pong && answer.readUInt32BE(at + 1) === 0) at += 5;
      if (at === answer.byteLength) return count('Pong only');
      expect(answer[at]).toBe(FrameKind.Error);
      const err = parseControl(FrameKind.Error, answer.subarray(at + 5, at + 5 + answer.readUInt32BE(at + 1)));
      // INTERNAL would be a handler that threw something other than our errors.
      expect(err.code, err.message).not.toBe('INTERNAL');
      count(err.code);
    }), { numRuns: RUNS });
  }, 1_800_000);

  it('answers each with a status, and afterwards lists its jobs and trains a good one', async () => {
    const client = rawClient(fleet.coordinator.address);
    try {
      const frame = fc.oneof(fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)), wireFrames);
      await fc.assert(fc.asyncProperty(fc.constantFrom(...METHODS), frame, async (method, bytes) => {
        const { code, details } = await sendRaw(client, method, bytes);
        // Every frame gets an answer within the deadline: a hang would be DEADLINE_EXCEEDED, except on the streams that wait by design.
        const waits = ['/tfleet.coordinator.Coordinator/Tasks', '/tfleet.coordinator.Coordinator/WatchJob'].includes(method.path);
        if (!waits) expect(code, method.path).not.toBe(grpc.status.DEADLINE_EXCEEDED);
        // INTERNAL only for a frame that is not the method's message: a handler that threw anything else would be a bug.
        if (code === grpc.status.INTERNAL || code === grpc.status.UNKNOWN) expect(`${method.path}: ${details}`).toBe(`${method.path}: Error deserializing request`);
        const name = grpc.status[code];
        frames[name] = (frames[name] ?? 0) + 1;
      }), { numRuns: RUNS });
    } finally {
      client.close();
    }
    expect((await fleet.api.listJobs()).jobs).toBeDefined();
    const spec = JSON.parse(readFileSync(join(ROOT, 'examples', 'wine-softmax.json'), 'utf8'));
    const final = await trainToEnd(fleet.api, { ...spec, workers: 1, training: { ...spec.training, epochs: 2 }, data: { ...spec.data, train: { ...spec.data.train, path: join(ROOT, 'examples', spec.data.train.path.replace(/^.*examples\//, '')) } }, output: join(fleet.dir, 'after-fuzz') });
    expect(final.state, final.error ?? '').toBe('succeeded');
  }, 600_000);
});
