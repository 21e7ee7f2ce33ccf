import { ArgumentError, ErrorCode, TfleetError, isErrorCode } from '../errors';
import { FRAME_HEADER_BYTES } from './ps-frames';

/**
 * Frames of the parameter server's tensor port: a byte of kind and a
 * big-endian uint32 of length, then that many bytes. The header is as long
 * as gRPC's, and each frame is received into a buffer of its own behind its
 * header, so the exchange messages of `ps-frames.ts` decode their tensors
 * as aligned views here too.
 */
export enum FrameKind {
  /** Client → server, first: who is connecting ({@link Hello}, JSON). */
  Hello = 1,
  /** Client → server: an `ExchangeRequest`. */
  Request = 2,
  /** Server → client: an `ExchangeReply`. */
  Reply = 3,
  /** Server → client, last: why the server ends the connection ({@link FrameError}, JSON). */
  Error = 4,
  /** Client → server, empty: a keepalive, answered at once by a Pong. */
  Ping = 5,
  /** Server → client, empty. */
  Pong = 6,
}

/** The first frame of a connection. */
export interface Hello {
  /** The bearer token, when the coordinator takes tokens. */
  token?: string;
  jobId: string;
  workerId: string;
}

export interface FrameError {
  code: ErrorCode;
  message: string;
}

/** Largest Hello or Error frame: a few identifiers, a token, a sentence. */
export const MAX_CONTROL_FRAME_BYTES = 16 * 1024;

/** Longest string in a Hello or Error frame (characters). */
const MAX_CONTROL_STRING = 4096;

const KINDS = new Set<number>([FrameKind.Hello, FrameKind.Request, FrameKind.Reply, FrameKind.Error, FrameKind.Ping, FrameKind.Pong]);

/** A frame's 5-byte header. */
export function frameHeader(kind: FrameKind, length: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  h[0] = kind;
  h.writeUInt32BE(length, 1);
  return h;
}

/** A control frame (Hello, Error): header and JSON body in one buffer. */
export function controlFrame(kind: FrameKind.Hello | FrameKind.Error, body: Hello | FrameError): Buffer {
  const json = Buffer.from(JSON.stringify(body), 'utf8');
  return Buffer.concat([frameHeader(kind, json.byteLength), json]);
}

/** Buffers a reader keeps for reuse: a worker has a bucket or two in flight. */
const POOLED_BUFFERS = 2;

/** Frames this small (Hello, Ping, a few floats) take no released buffer: those are for buckets. */
const POOLED_MIN_BYTES = 64 * 1024;

/**
 * Cuts a byte stream into frames. Each frame's body is a view of a buffer
 * of its own that holds the header before it (the alignment the exchange
 * encoders assume); a length above the limit, or an unknown kind, is
 * refused before anything is allocated.
 *
 * The buffer is new for each frame unless the receiver hands it back with
 * `release` (what `onFrame` gets) once nothing refers to the body: the
 * parameter server does when a request is answered, and a worker's next
 * bucket then lands in pages already mapped (a fresh 16 MiB buffer costs
 * thousands of page faults).
 */
export class FrameReader {
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFill = 0;
  private kind: FrameKind = FrameKind.Hello;
  private frame: Buffer | null = null;
  private length = 0;
  private fill = 0;
  private readonly pool: Buffer[] = [];

  /**
   * `maxBytes(kind)`: the largest body a frame of that kind may have; it
   * throws for a kind not expected. `grow`: a frame larger than this many
   * bytes, when no released buffer holds it, gets a buffer that grows as its
   * bytes arrive (a peer then holds memory only for what it sent, not for
   * what a header claims); 0: the whole frame at once.
   */
  constructor(
    private readonly maxBytes: (kind: FrameKind) => number,
    private readonly onFrame: (kind: FrameKind, body: Buffer, release: () => void) => void,
    private readonly grow = 0,
  ) {}

  /** @throws ArgumentError for a frame of unknown kind or above its limit; the stream is then unusable. */
  feed(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.byteLength) {
      if (!this.frame) {
        const n = Math.min(FRAME_HEADER_BYTES - this.headerFill, chunk.byteLength - at);
        chunk.copy(this.header, this.headerFill, at, at + n);
        this.headerFill += n;
        at += n;
        if (this.headerFill < FRAME_HEADER_BYTES) return;
        this.begin();
      }
      const end = FRAME_HEADER_BYTES + this.length;
      const n = Math.min(end - this.fill, chunk.byteLength - at);
      if (this.fill + n > this.frame!.byteLength) this.enlarge(this.fill + n, end);
      const frame = this.frame!;
      chunk.copy(frame, this.fill, at, at + n);
      this.fill += n;
      at += n;
      if (this.fill === end) this.deliver();
    }
  }

  private begin(): void {
    const kind = this.header[0];
    const length = this.header.readUInt32BE(1);
    if (!KINDS.has(kind)) throw new ArgumentError(`tensor port: frame of unknown kind ${kind}`);
    const limit = this.maxBytes(kind);
    if (length > limit) throw new ArgumentError(`tensor port: a ${FrameKind[kind]} frame of ${length} bytes is above the limit of ${limit}`);
    this.kind = kind;
    this.length = length;
    this.frame = this.take(FRAME_HEADER_BYTES + length);
    this.header.copy(this.frame, 0);
    this.fill = FRAME_HEADER_BYTES;
    this.headerFill = 0;
  }

  /** The smallest released buffer that holds `bytes` (for a frame worth one), or a new one, possibly to grow. */
  private take(bytes: number): Buffer {
    let best = -1;
    for (let i = 0; bytes > POOLED_MIN_BYTES && i < this.pool.length; i++) {
      if (this.pool[i].byteLength >= bytes && (best < 0 || this.pool[i].byteLength < this.pool[best].byteLength)) best = i;
    }
    if (best >= 0) return this.pool.splice(best, 1)[0];
    // Not Node's shared pool: the buffer starts where an allocation does, 8-byte aligned, and is the frame's alone.
    return Buffer.allocUnsafeSlow(this.grow > 0 && bytes > this.grow ? this.grow : bytes);
  }

  /** A buffer for at least `needed` of the frame's `end` bytes, doubling, with what arrived so far. */
  private enlarge(needed: number, end: number): void {
    const bigger = Buffer.allocUnsafeSlow(Math.min(end, Math.max(needed, 2 * this.frame!.byteLength)));
    this.frame!.copy(bigger, 0, 0, this.fill);
    this.frame = bigger;
  }

  private deliver(): void {
    const frame = this.frame!;
    this.frame = null;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      if (this.pool.length >= POOLED_BUFFERS) this.pool.sort((a, b) => a.byteLength - b.byteLength).shift();
      this.pool.push(frame);
    };
    this.onFrame(this.kind, frame.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + this.length), release);
  }
}

/** A control frame's JSON body, or an error naming the frame. */
export function parseControl(kind: FrameKind.Hello, body: Buffer): Hello;
export function parseControl(kind: FrameKind.Error, body: Buffer): FrameError;
export function parseControl(kind: FrameKind.Hello | FrameKind.Error, body: Buffer): Hello | FrameError {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ArgumentError(`tensor port: the ${FrameKind[kind]} frame is not JSON`);
  }
  const o = value as Record<string, unknown>;
  const str = (field: string, optional = false): void => {
    const v = o[field];
    if (v === undefined && optional) return;
    if (typeof v !== 'string' || v.length === 0 || v.length > MAX_CONTROL_STRING) {
      throw new ArgumentError(`tensor port: the ${FrameKind[kind]} frame's '${field}' must be a non-empty string of at most ${MAX_CONTROL_STRING} characters`);
    }
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ArgumentError(`tensor port: the ${FrameKind[kind]} frame is not an object`);
  if (kind === FrameKind.Hello) {
    str('jobId');
    str('workerId');
    str('token', true);
    return { jobId: o.jobId as string, workerId: o.workerId as string, ...(o.token !== undefined ? { token: o.token as string } : {}) };
  }
  str('code');
  str('message');
  // A code that is not ours is the server's fault, not a reason to trust its word on retries.
  return { code: isErrorCode(o.code as string) ? (o.code as ErrorCode) : 'INTERNAL', message: o.message as string };
}

/**
 * An error as an Error frame's body: our code and message, or INTERNAL; the
 * message cut until it is a string a reader takes and the frame fits its
 * limit (escaped characters take more than one byte of JSON).
 */
export function frameErrorOf(err: unknown): FrameError {
  const code = err instanceof TfleetError ? err.code : 'INTERNAL';
  let message = (err instanceof Error ? err.message : String(err)) || 'error';
  const fits = (m: string): boolean => m.length <= MAX_CONTROL_STRING && Buffer.byteLength(JSON.stringify({ code, message: m })) <= MAX_CONTROL_FRAME_BYTES;
  for (let keep = MAX_CONTROL_STRING - 1; !fits(message); keep = Math.floor(keep / 2)) message = `${message.slice(0, keep)}…`;
  return { code, message };
}
