import * as grpc from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { tfleet } from '../../proto/generated/tfleet';
import { ArgumentError, TfleetError } from '../errors';
import { CoordinatorClient, DEFAULT_MAX_MESSAGE_BYTES, ParameterServerClient, channelOptions } from './services';
import { ClientSecurity, clientCredentials } from './security';
import { fromServiceError } from './status';

type Co = typeof tfleet.coordinator;
type UnaryFn<Req, Res> = (req: Req, meta: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Res) => void) => void;

/** Calls a unary method as a promise, errors mapped back to our classes. */
export function callUnary<Req, Res>(client: grpc.Client, name: string, req: Req, deadlineMs?: number): Promise<Res> {
  const fn = (client as unknown as Record<string, UnaryFn<Req, Res>>)[name].bind(client);
  const opts: grpc.CallOptions = deadlineMs ? { deadline: Date.now() + deadlineMs } : {};
  return new Promise((resolve, reject) =>
    fn(req, new grpc.Metadata(), opts, (err, res) => (err ? reject(fromServiceError(err, name)) : resolve(res!))),
  );
}

/**
 * A typed client of the coordinator, for the CLI and the workers.
 *
 * @example
 * const c = new CoordinatorApi('127.0.0.1:7070');
 * const job = await c.submit(JSON.stringify(spec));
 */
export class CoordinatorApi {
  readonly client: grpc.Client;

  /** `security`: this client's token and TLS; by default the process's ({@link configureClients}). */
  constructor(readonly address: string, maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES, security?: ClientSecurity) {
    const { credentials, interceptors } = clientCredentials(security);
    this.client = new CoordinatorClient(address, credentials, { ...channelOptions(maxMessageBytes), interceptors });
  }

  submit(specJson: string): Promise<InstanceType<Co['JobRecord']>> {
    return callUnary(this.client, 'submit', { specJson });
  }
  getJob(id: string): Promise<InstanceType<Co['JobRecord']>> {
    return callUnary(this.client, 'getJob', { id });
  }
  listJobs(): Promise<InstanceType<Co['ListResponse']>> {
    return callUnary(this.client, 'listJobs', {});
  }
  cancelJob(id: string): Promise<InstanceType<Co['JobRecord']>> {
    return callUnary(this.client, 'cancelJob', { id });
  }
  registerWorker(req: tfleet.coordinator.IRegisterRequest): Promise<InstanceType<Co['RegisterResponse']>> {
    return callUnary(this.client, 'registerWorker', req, 10_000);
  }
  heartbeat(workerId: string, deadlineMs: number): Promise<InstanceType<Co['HeartbeatResponse']>> {
    return callUnary(this.client, 'heartbeat', { workerId }, deadlineMs);
  }
  /** A barrier: answered once every member reported the round (no deadline: the coordinator evicts stalled members). */
  reportProgress(report: tfleet.coordinator.IProgressReport): Promise<InstanceType<Co['ProgressReply']>> {
    return callUnary(this.client, 'reportProgress', report);
  }
  /** Answered once every rank's part of the round's checkpoint is on disk. */
  saveCheckpoint(part: tfleet.coordinator.ICheckpointPart): Promise<void> {
    return callUnary(this.client, 'saveCheckpoint', part);
  }
  completeTask(result: tfleet.coordinator.ITaskResult): Promise<void> {
    return callUnary(this.client, 'completeTask', result, 30_000);
  }

  /** Streams a job's record on every change; resolves with the last (terminal) one. `signal` cancels the stream. */
  watchJob(id: string, onRecord: (r: InstanceType<Co['JobRecord']>) => void, signal?: AbortSignal): Promise<InstanceType<Co['JobRecord']>> {
    return new Promise((resolve, reject) => {
      // An abort fires once: a signal already aborted would never cancel this call.
      if (signal?.aborted) return reject(new TfleetError('ABORTED', `the watch of job '${id}' was stopped`));
      let last: InstanceType<Co['JobRecord']> | null = null;
      const call = (this.client as unknown as { watchJob(req: object): grpc.ClientReadableStream<InstanceType<Co['JobRecord']>> }).watchJob({ id });
      const cancel = (): void => call.cancel();
      signal?.addEventListener('abort', cancel, { once: true });
      // A reconnecting watch calls this once per attempt with the same signal: each call takes its listener with it.
      const done = (): void => signal?.removeEventListener('abort', cancel);
      call.on('data', (r) => { last = r; onRecord(r); });
      call.on('error', (err: grpc.ServiceError) => { done(); reject(fromServiceError(err, 'watchJob')); });
      call.on('end', () => {
        done();
        if (last) resolve(last);
        else reject(new TfleetError('UNAVAILABLE', `watch of job '${id}' ended without a record`));
      });
    });
  }

  /**
   * Streams a local file to the coordinator (Upload) in pieces of
   * {@link UPLOAD_PIECE_BYTES}, after hashing it; resolves with where the
   * coordinator keeps it.
   *
   * @throws ArgumentError naming the file when it cannot be read here; the
   * coordinator's refusals (a size over its --max-data-bytes, a checksum
   * that does not match because the file changed meanwhile) as TfleetErrors.
   */
  async upload(file: string): Promise<InstanceType<Co['UploadReply']>> {
    const { sizeBytes, sha256 } = await digestFile(file);
    // The coordinator takes plain base names only.
    const name = basename(file).replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[.]+/, '').slice(0, 128) || 'data';
    return new Promise((resolve, reject) => {
      let done = false;
      // Wakes a send waiting for the stream to drain once the call is over (a refusal ends it early).
      let wake = (): void => undefined;
      const call = (this.client as unknown as {
        upload(cb: (err: grpc.ServiceError | null, res?: InstanceType<Co['UploadReply']>) => void): grpc.ClientWritableStream<tfleet.coordinator.IUploadChunk>;
      }).upload((err, res) => {
        done = true;
        wake();
        if (err) reject(fromServiceError(err, 'upload'));
        else resolve(res!);
      });
      const send = async (): Promise<void> => {
        call.write({ name, size: sizeBytes, sha256 });
        for await (const piece of createReadStream(file, { highWaterMark: UPLOAD_PIECE_BYTES })) {
          if (done) return;
          if (!call.write({ data: piece as Buffer })) {
            await new Promise<void>((r) => { wake = r; call.once('drain', r); });
          }
        }
        call.end();
      };
      send().catch((err) => {
        call.cancel();
        if (!done) reject(new ArgumentError(`upload ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err }));
      });
    });
  }

  /** Streams rows [begin, end) of a running job's split from the coordinator; failures arrive as tfleet errors. */
  async *fetchShard(req: tfleet.coordinator.IShardRequest): AsyncGenerator<InstanceType<Co['ShardChunk']>> {
    const call = (this.client as unknown as { fetchShard(req: object): grpc.ClientReadableStream<InstanceType<Co['ShardChunk']>> }).fetchShard(req);
    try {
      yield* call;
    } catch (err) {
      throw fromServiceError(err as grpc.ServiceError, 'fetchShard');
    }
  }

  /** Opens the worker's task stream. */
  tasks(workerId: string): grpc.ClientReadableStream<InstanceType<Co['TaskMessage']>> {
    return (this.client as unknown as { tasks(req: object): grpc.ClientReadableStream<InstanceType<Co['TaskMessage']>> }).tasks({ workerId });
  }

  close(): void {
    this.client.close();
  }
}

/** Bytes of file in one Upload piece: far below any message limit, large enough that a piece's overhead does not show. */
export const UPLOAD_PIECE_BYTES = 1 << 20;

/**
 * A local file's size and SHA-256, read once as a stream.
 * @throws ArgumentError naming the file when it is not a regular file that can be read.
 */
async function digestFile(file: string): Promise<{ sizeBytes: number; sha256: string }> {
  const why = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  const info = await stat(file).catch((err: unknown) => { throw new ArgumentError(`upload ${file}: cannot read it (${why(err)})`, { cause: err }); });
  if (!info.isFile()) throw new ArgumentError(`upload ${file}: not a regular file`);
  const hash = createHash('sha256');
  let sizeBytes = 0;
  try {
    for await (const piece of createReadStream(file, { highWaterMark: UPLOAD_PIECE_BYTES })) {
      hash.update(piece as Buffer);
      sizeBytes += (piece as Buffer).byteLength;
    }
  } catch (err) {
    throw new ArgumentError(`upload ${file}: cannot read it (${why(err)})`, { cause: err });
  }
  return { sizeBytes, sha256: hash.digest('hex') };
}

/** Errors a watch outlives: the coordinator is restarting or briefly out of reach. */
const TRANSIENT = new Set(['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'INTERNAL', 'UNKNOWN']);

/**
 * Follows a job until it ends like {@link CoordinatorApi.watchJob}, but
 * outlives a coordinator restart: when the stream breaks it opens it again
 * with exponential backoff (0.25 s doubling to 5 s) for up to `withinMs`
 * without a record. Resolves with the terminal record.
 */
export async function watchWithReconnect(
  api: CoordinatorApi, id: string, onRecord: (r: InstanceType<Co['JobRecord']>) => void, withinMs: number,
  onRetry: (err: Error, delayMs: number) => void = () => undefined, signal?: AbortSignal,
): Promise<InstanceType<Co['JobRecord']>> {
  let delay = 250;
  let since = Date.now();
  for (;;) {
    try {
      const final = await api.watchJob(id, (r) => {
        since = Date.now();
        delay = 250;
        onRecord(r);
      }, signal);
      if (['succeeded', 'failed', 'cancelled'].includes(final.state ?? '')) return final;
    } catch (err) {
      const e = err as TfleetError;
      if (signal?.aborted) throw new TfleetError('ABORTED', `the watch of job '${id}' was stopped`);
      if (!TRANSIENT.has(e.code) || Date.now() - since > withinMs) throw err;
      onRetry(e, delay);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(5000, delay * 2);
  }
}

/**
 * Opens a raw parameter-server client (see worker/ps/client.ts for the typed
 * one). `receive: 'wide'` keeps the wide receive window of other channels,
 * for a connection on which the client sends no tensors (the pull stream of
 * `SplitExchange`): its own writes are small and never block, so it always
 * reads, and the server's writes to it always finish.
 */
export function parameterServerClient(address: string, maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES, receive: 'narrow' | 'wide' = 'narrow'): grpc.Client {
  // A connection of its own: heartbeats and task messages to the same address
  // must not queue behind megabytes of tensors (a lease expired that way).
  //
  // A 'narrow' one keeps HTTP/2's default 64 KiB receive window, unlike the
  // other channels', for when tensors travel both ways on it at once (an exchange stream's
  // next bucket goes out while the server sends the reply to the last), and
  // Node's HTTP/2 stops reading a socket while a write to it is in progress.
  // With wide windows both ways, each side could put more in flight than the
  // socket buffers hold, stop reading, and wait on the other for good: a
  // 2-worker MLP with 16 MiB buckets hung until keepalive dropped the
  // connection (issue 15). What the server may send unacknowledged always
  // fits a socket buffer, so its writes finish and it goes on reading pushes,
  // which still get the server's wide window (`widenServerWindows`).
  const options = channelOptions(maxMessageBytes);
  if (receive === 'narrow') delete options['grpc-node.flow_control_window'];
  const { credentials, interceptors } = clientCredentials();
  return new ParameterServerClient(address, credentials, { ...options, 'grpc.use_local_subchannel_pool': 1, interceptors });
}
