import { ClientSecurity, currentClientSecurity } from '../../shared/rpc/security';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { HostTensor, TensorMap, byteSize } from '../../shared/codec/host-tensor';
import { PackedTensors, packTensors, unpackTensors } from '../../shared/codec/packed';
import { ArgumentError, ErrorCode, TfleetError, errorOfCode } from '../../shared/errors';
import { StepSink } from '../../shared/ps/handle';
import { PsTraffic } from './client';

/**
 * Bytes of statistic gathered before a bucket leaves. PyTorch DDP's 25 MB
 * default suits models of hundreds of MB; tfleet's are smaller, and a
 * bucket must leave early enough in the backward pass to overlap with it.
 */
export const BUCKET_BYTES = 256 * 1024;

export interface BucketThreadData {
  address: string;
  /** The parameter server's tensor port; empty: gRPC's Exchange streams at `address`. */
  tensorAddress: string;
  jobId: string;
  workerId: string;
  /** How the main thread's clients connect (token, TLS): the thread's stream does the same. */
  security: ClientSecurity;
}

/** Main thread → bucket thread: push a bucket for `step`, reply with its values at step + 1. */
export interface BucketRequest {
  id: number;
  step: number;
  weight: number;
  bucket: PackedTensors;
}

/** Bucket thread → main thread. */
export interface BucketReply {
  id: number;
  version?: number;
  bucket?: PackedTensors;
  error?: { code: ErrorCode; message: string };
}

interface Pending {
  resolve(r: { version: number; tensors: TensorMap }): void;
  reject(err: Error): void;
}

/**
 * The bucket thread's isolate starts with a 64 MB old-generation limit.
 * Its own heap is tiny while it turns each bucket over several times in
 * Buffers (the encoded push, gRPC frames, the reply, its decoded copy); V8
 * counts those against an allocation limit sized from that heap, and in a
 * 2-worker CNN job ran full collections that cost the thread about 7.6 ms of
 * CPU per step, 2 ms with this limit (`--cpu-prof` of a worker). V8 reads the
 * flag when it creates an isolate, so set here it applies to the threads
 * started from then on, not to the worker's main isolate (whose heap is large).
 */
const THREAD_HEAP_FLAG = '--initial-old-space-size=64';

/**
 * The compiled thread script. A thread runs JavaScript only, so from
 * sources (the test runner) it is the build's copy: `npm test` builds first.
 */
function threadScript(): string {
  const sibling = join(__dirname, 'bucket-thread.js');
  return existsSync(sibling) ? sibling : join(__dirname, '..', '..', 'dist', 'worker', 'ps', 'bucket-thread.js');
}

/**
 * A worker's bucketed steps with the parameter server, overlapped with
 * compute: the statistic goes out in buckets from a background thread as
 * the replica produces it, and the step ends when every bucket's new
 * values are back. One per task, started on its first step.
 *
 * @example
 * const pipeline = new BucketPipeline(psAddress, jobId, workerId);
 * const step = pipeline.begin(version, rows);
 * const stat = replica.localStep(batch, params, step); // buckets leave during the backward pass
 * for (const [k, t] of stat.tensors) step.add(k, t);
 * ({ version, tensors: params } = await step.finish());
 * await pipeline.close();
 */
export class BucketPipeline {
  private readonly thread: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private broken: Error | null = null;
  private exited = false;

  constructor(address: string, jobId: string, workerId: string, private readonly traffic: PsTraffic = {}, tensorAddress = '') {
    const data: BucketThreadData = { address, tensorAddress, jobId, workerId, security: currentClientSecurity() };
    setFlagsFromString(THREAD_HEAP_FLAG);
    this.thread = new Worker(threadScript(), { workerData: data });
    this.thread.on('message', (reply: BucketReply) => this.settle(reply));
    this.thread.on('error', (err) => this.fail(new TfleetError('INTERNAL', `parameter-server thread failed: ${err.message}`)));
    this.thread.on('exit', (code) => {
      this.exited = true;
      this.fail(new TfleetError('INTERNAL', `parameter-server thread exited (code ${code})`));
    });
  }

  /** Starts step `step` of `weight` samples. */
  begin(step: number, weight: number): StepBuckets {
    return new StepBuckets((bucket) => this.send(step, weight, bucket));
  }

  /** Stops the thread; buckets still in flight fail. */
  async close(): Promise<void> {
    if (this.exited) return;
    this.thread.postMessage('close');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => void this.thread.terminate().then(() => resolve()), 1000);
      this.thread.once('exit', () => { clearTimeout(timer); resolve(); });
    });
  }

  private send(step: number, weight: number, tensors: TensorMap): Promise<{ version: number; tensors: TensorMap }> {
    if (this.broken) return Promise.reject(this.broken);
    const id = this.nextId++;
    const bucket = packTensors(tensors);
    this.traffic.pushed?.(bucket.buffer.byteLength);
    const req: BucketRequest = { id, step, weight, bucket };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.thread.postMessage(req, [bucket.buffer]);
    });
  }

  private settle(reply: BucketReply): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    if (reply.error) return p.reject(errorOfCode(reply.error.code, reply.error.message));
    let tensors: TensorMap;
    try {
      tensors = unpackTensors(reply.bucket!);
    } catch (err) {
      return p.reject(err as Error);
    }
    this.traffic.pulled?.(byteSize(tensors));
    p.resolve({ version: reply.version!, tensors });
  }

  private fail(err: Error): void {
    this.broken ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

/**
 * One step's statistic on its way out: tensors gather into a bucket, a
 * bucket leaves once it holds {@link BUCKET_BYTES}, and {@link finish} sends
 * the rest and merges every bucket's reply.
 */
export class StepBuckets implements StepSink {
  private bucket: TensorMap = new Map();
  private bucketBytes = 0;
  private readonly keys = new Set<string>();
  private readonly replies: Promise<{ version: number; tensors: TensorMap }>[] = [];

  constructor(private readonly send: (bucket: TensorMap) => Promise<{ version: number; tensors: TensorMap }>) {}

  add(key: string, t: HostTensor): void {
    // The server counts one push per key and step: a second one would be dropped silently.
    if (this.keys.has(key)) throw new ArgumentError(`statistic key '${key}' was added twice in one step`);
    this.keys.add(key);
    this.bucket.set(key, t);
    this.bucketBytes += t.data.byteLength;
    if (this.bucketBytes >= BUCKET_BYTES) this.flush();
  }

  /** Sends what is left; resolves with every key's new value and the lowest version among them. */
  async finish(): Promise<{ version: number; tensors: TensorMap }> {
    this.flush();
    if (this.replies.length === 0) throw new ArgumentError('a step must push at least one tensor');
    const parts = await Promise.all(this.replies);
    const tensors: TensorMap = new Map();
    for (const part of parts) for (const [k, t] of part.tensors) tensors.set(k, t);
    return { version: Math.min(...parts.map((p) => p.version)), tensors };
  }

  private flush(): void {
    if (this.bucket.size === 0) return;
    const reply = this.send(this.bucket);
    // A failure surfaces from finish(); until then it must not count as unhandled.
    reply.catch(() => undefined);
    this.replies.push(reply);
    this.bucket = new Map();
    this.bucketBytes = 0;
  }
}
