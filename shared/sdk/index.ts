/**
 * tfleet's client library: what the CLI uses to submit, follow and manage
 * jobs, for programs of your own.
 *
 * @example
 * import { Client } from 'tfleet';
 * const client = new Client({ address: '127.0.0.1:7070', token: process.env.TFLEET_AUTH_TOKEN });
 * const job = await client.submit({ model: { family: 'softmax' }, data: { train: { path: 'wine.csv', label: 'target' } },
 *   training: { epochs: 20, batchSize: 32 }, workers: 2 });
 * for await (const record of client.watch(job.id)) console.log(record.state, record.epoch);
 * console.log((await client.wait(job.id)).metrics.test);
 * client.close();
 */
import { CoordinatorApi, watchWithReconnect } from '../rpc/clients';
import { ArgumentError } from '../errors';
import { checkToken } from '../rpc/security';
import { COORDINATOR_PORT } from '../rpc/address';
import { JobJson, recordToJson } from './job-json';
import { UploadedFile, uploadDataFiles } from './upload';

export { TfleetError } from '../errors';
export type { JobJson as JobRecord } from './job-json';
export type { UploadedFile } from './upload';

/** How `submit` sends a job. */
export interface SubmitOptions {
  /**
   * Upload the spec's data files (`data.train`/`data.test`: `path`,
   * `images`, `labels`; relative ones against the working directory) to the
   * coordinator first, and submit the spec naming them as the coordinator
   * keeps them: for a coordinator that cannot read this machine's files.
   * @default false
   */
  upload?: boolean;
  /** Told of each file once it is uploaded. */
  onUpload?(file: UploadedFile): void;
}

export interface ClientOptions {
  /** host:port of the coordinator. @default '127.0.0.1:7070' */
  address?: string;
  /** Bearer token the coordinator takes (its --auth-token-file). */
  token?: string;
  /** TLS: the CA that signed the coordinator's certificate, and a client certificate and key for mutual TLS (PEM). */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
  /** How long `watch` and `wait` keep reconnecting to a coordinator that went away, ms. @default 120000 */
  reconnectWithinMs?: number;
  /** Told each time `watch` lost the coordinator and is about to reconnect. */
  onReconnect?(error: Error, delayMs: number): void;
}

const TERMINAL = ['succeeded', 'failed', 'cancelled'];

/** @throws ArgumentError when a spec given as text is not a JSON object. */
function parseSpecText(text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ArgumentError(`job spec: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ArgumentError('job spec: must be a JSON object');
  return parsed as Record<string, unknown>;
}
const pem = (v: string | Buffer | undefined): Buffer | undefined => (v === undefined ? undefined : Buffer.isBuffer(v) ? v : Buffer.from(v));

/** A connection to a coordinator. Methods throw `TfleetError`s whose messages say what went wrong. */
export class Client {
  private readonly api: CoordinatorApi;
  private readonly reconnectWithinMs: number;
  private readonly onReconnect: (error: Error, delayMs: number) => void;

  constructor(options: ClientOptions = {}) {
    const token = options.token === undefined ? undefined : checkToken(options.token, 'token');
    const tls = options.tls ? { ca: pem(options.tls.ca), cert: pem(options.tls.cert), key: pem(options.tls.key) } : undefined;
    // Neither given: the process's own setting (the CLI's flags) applies.
    const security = token || tls ? { ...(token ? { token } : {}), ...(tls ? { tls } : {}) } : undefined;
    this.api = new CoordinatorApi(options.address ?? `127.0.0.1:${COORDINATOR_PORT}`, undefined, security);
    this.reconnectWithinMs = options.reconnectWithinMs ?? 120_000;
    this.onReconnect = options.onReconnect ?? (() => undefined);
  }

  /**
   * Validates and queues a job (a spec object or its JSON text); resolves with its record.
   * @example
   * await client.submit(spec, { upload: true });   // the data files travel with it
   */
  async submit(spec: object | string, options: SubmitOptions = {}): Promise<JobJson> {
    let sent = typeof spec === 'string' ? spec : JSON.stringify(spec);
    if (options.upload ?? false) {
      const parsed = typeof spec === 'string' ? parseSpecText(spec) : spec as Record<string, unknown>;
      const remote = await uploadDataFiles(parsed, async (file) => {
        const uploaded = await this.upload(file);
        options.onUpload?.(uploaded);
        return uploaded;
      });
      sent = JSON.stringify(remote.spec);
    }
    return recordToJson(await this.api.submit(sent));
  }

  /**
   * Uploads one local data file to the coordinator (streamed in pieces,
   * size-limited by its --max-data-bytes, checked by SHA-256); resolves
   * with the path jobs name it by there. The same file is kept once.
   * @throws TfleetError when the file cannot be read here or the coordinator refuses it.
   */
  async upload(file: string): Promise<UploadedFile> {
    const reply = await this.api.upload(file);
    return { local: file, path: reply.path, stored: reply.stored, sizeBytes: reply.size, sha256: reply.sha256 };
  }

  get(id: string): Promise<JobJson> {
    return this.api.getJob(id).then(recordToJson);
  }

  /** Every job, oldest first. */
  async list(): Promise<JobJson[]> {
    return (await this.api.listJobs()).jobs.map(recordToJson);
  }

  cancel(id: string): Promise<JobJson> {
    return this.api.cancelJob(id).then(recordToJson);
  }

  /** The job's record now and after every change, until it ends (across coordinator restarts). */
  async *watch(id: string): AsyncGenerator<JobJson> {
    const queue: JobJson[] = [];
    let wake: (() => void) | null = null;
    const end: { outcome: { done: true } | { error: unknown } | null } = { outcome: null };
    // A caller that stops iterating early ends the stream (and its reconnects) with it.
    const stop = new AbortController();
    void watchWithReconnect(this.api, id, (r) => {
      queue.push(recordToJson(r));
      wake?.();
    }, this.reconnectWithinMs, this.onReconnect, stop.signal).then(() => (end.outcome = { done: true }), (error: unknown) => (end.outcome = { error })).finally(() => wake?.());
    try {
      for (;;) {
        while (queue.length > 0) {
          const record = queue.shift()!;
          yield record;
          if (TERMINAL.includes(record.state)) return;
        }
        const outcome = end.outcome;
        if (outcome) {
          if ('error' in outcome) throw outcome.error;
          return;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
    } finally {
      stop.abort();
    }
  }

  /** Resolves with the job's final record once it ends. */
  async wait(id: string): Promise<JobJson> {
    let last: JobJson | null = null;
    for await (const record of this.watch(id)) last = record;
    return last ?? this.get(id);
  }

  close(): void {
    this.api.close();
  }
}
