import { tfleet } from '../../proto/generated/tfleet';

/**
 * Encoders for the parameter server's messages that carry tensors, written
 * so that each tensor's values start 8-byte aligned where the receiver's
 * gRPC library holds the message: grpc-js gathers a message into one new
 * buffer behind its 5-byte frame header (`FRAME_HEADER_BYTES`), so the
 * values decode as a typed-array view of that buffer instead of being
 * copied (`fromWire`). Each tensor gets a `pad` field of zero bytes before
 * its `data`; lengths of nested messages and of `data` are 5-byte varints
 * (non-minimal forms every protobuf decoder reads), so every offset is
 * known as the bytes are written. The output is plain protobuf: protobufjs
 * (and any other decoder) reads it; a receiver whose buffers are laid out
 * otherwise still decodes it, with the copy.
 *
 * Encoding is one copy of each tensor into the message. A pull reply is
 * encoded once per reply object and shared: the parameter server hands
 * every worker waiting for the same version the same object
 * (`coordinator/ps/ps-service.ts`), and an exchange reply's request number
 * sits in a fixed 5-byte slot written at each send.
 */

/** Bytes grpc-js keeps before a message in the buffer it decodes from (compressed flag, length). */
export const FRAME_HEADER_BYTES = 5;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;

const tag = (field: number, wire: number): number => (field << 3) | wire;

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** A uint32 as exactly 5 varint bytes at `at`, so it can be written before its value is known, or rewritten. */
function writeVarint5(buf: Buffer, at: number, n: number): void {
  for (let i = 0; i < 4; i++) {
    buf[at + i] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[at + 4] = n & 0x0f;
}

/**
 * A message written front to back into a buffer large enough for it; or,
 * `gather`ing, everything but the tensors' values into a small buffer, and
 * the values left where they are: the message is then a list of pieces for
 * one gathered write. `pos` is the position in the message either way,
 * `at` the position in `buf`.
 */
class Writer {
  readonly buf: Buffer;
  pos = 0;
  at = 0;
  private readonly pieces: Buffer[] = [];
  private pieceStart = 0;

  constructor(bound: number, private readonly gather = false) {
    this.buf = Buffer.allocUnsafe(bound);
  }

  byte(b: number): void {
    this.buf[this.at++] = b;
    this.pos++;
  }

  zeros(k: number): void {
    this.buf.fill(0, this.at, this.at + k);
    this.at += k;
    this.pos += k;
  }

  double(v: number): void {
    this.buf.writeDoubleLE(v, this.at);
    this.at += 8;
    this.pos += 8;
  }

  /** Bytes of a tensor's values: copied in, or, gathering, a piece of their own. */
  values(data: Uint8Array): void {
    if (this.gather) {
      this.pieces.push(this.buf.subarray(this.pieceStart, this.at), Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      this.pieceStart = this.at;
    } else {
      this.buf.set(data, this.at);
      this.at += data.byteLength;
    }
    this.pos += data.byteLength;
  }

  varint(n: number): void {
    while (n >= 0x80) {
      this.byte((n % 128) | 0x80);
      n = Math.floor(n / 128);
    }
    this.byte(n);
  }

  /** Five bytes for a varint written later: where they are in `buf`, and in the message. */
  reserve5(): { at: number; pos: number } {
    const slot = { at: this.at, pos: this.pos };
    this.at += 5;
    this.pos += 5;
    return slot;
  }

  bytes(field: number, data: Uint8Array): void {
    this.varint(tag(field, WIRE_BYTES));
    this.varint(data.byteLength);
    this.buf.set(data, this.at);
    this.at += data.byteLength;
    this.pos += data.byteLength;
  }

  string(field: number, s: string): void {
    this.varint(tag(field, WIRE_BYTES));
    const n = Buffer.byteLength(s);
    this.varint(n);
    const written = this.buf.write(s, this.at, n, 'utf8');
    this.at += written;
    this.pos += written;
  }

  /** Starts a nested message of `field`; returns where its length goes. */
  begin(field: number): { at: number; pos: number } {
    this.varint(tag(field, WIRE_BYTES));
    return this.reserve5();
  }

  end(slot: { at: number; pos: number }): void {
    writeVarint5(this.buf, slot.at, this.pos - slot.pos - 5);
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.at);
  }

  /** A gathering writer's message, as the pieces to write one after another. */
  finishPieces(): Buffer[] {
    return [...this.pieces, this.buf.subarray(this.pieceStart, this.at)].filter((p) => p.byteLength > 0);
  }
}

/** Bytes a string field may take at most. */
const stringBound = (s: string | null | undefined): number => (s ? 6 + 3 * s.length : 0);

function tensorBound(t: tfleet.ps.ITensor): number {
  return 6 + stringBound(t.key) + 11 + 6 + 10 * (t.shape?.length ?? 0) + 2 + 6 + (t.rowIds?.byteLength ?? 0) + 9 + 6 + (t.data?.byteLength ?? 0);
}

function writeTensor(w: Writer, field: number, t: tfleet.ps.ITensor): void {
  const at = w.begin(field);
  if (t.key) w.string(1, t.key);
  if (t.dtype) {
    w.varint(tag(2, WIRE_VARINT));
    w.varint(t.dtype);
  }
  const shape = t.shape ?? [];
  if (shape.length > 0) {
    w.varint(tag(3, WIRE_BYTES));
    w.varint(shape.reduce((n, d) => n + varintSize(d), 0));
    for (const d of shape) w.varint(d);
  }
  if (t.rows) {
    w.varint(tag(6, WIRE_VARINT));
    w.byte(1);
  }
  if (t.rowIds && t.rowIds.byteLength > 0) w.bytes(5, t.rowIds);
  const data = t.data;
  if (data && data.byteLength > 0) {
    // pad: tag, length k, k zeros; then data's tag and 5-byte length: the values start at pos + 2 + k + 6.
    const k = (8 - ((FRAME_HEADER_BYTES + w.pos + 8) % 8)) % 8;
    w.byte(tag(7, WIRE_BYTES));
    w.byte(k);
    w.zeros(k);
    w.byte(tag(4, WIRE_BYTES));
    writeVarint5(w.buf, w.reserve5().at, data.byteLength);
    w.values(data);
  }
  w.end(at);
}

function pushBound(p: tfleet.ps.IPushRequest): number {
  return 8 + stringBound(p.jobId) + stringBound(p.workerId) + 11 + 9 + (p.tensors ?? []).reduce((n, t) => n + tensorBound(t), 0);
}

function writePushFields(w: Writer, p: tfleet.ps.IPushRequest): void {
  if (p.jobId) w.string(1, p.jobId);
  if (p.workerId) w.string(2, p.workerId);
  if (p.step) {
    w.varint(tag(3, WIRE_VARINT));
    w.varint(p.step);
  }
  if (p.weight) {
    w.varint(tag(4, WIRE_FIXED64));
    w.double(p.weight);
  }
  for (const t of p.tensors ?? []) writeTensor(w, 5, t);
}

function writePush(w: Writer, field: number, p: tfleet.ps.IPushRequest): void {
  const at = w.begin(field);
  writePushFields(w, p);
  w.end(at);
}

function pullBound(p: tfleet.ps.IPullResponse): number {
  return 8 + 11 + (p.tensors ?? []).reduce((n, t) => n + tensorBound(t), 0);
}

function writePullFields(w: Writer, p: tfleet.ps.IPullResponse): void {
  if (p.version) {
    w.varint(tag(1, WIRE_VARINT));
    w.varint(p.version);
  }
  for (const t of p.tensors ?? []) writeTensor(w, 2, t);
}

export function encodePushRequest(p: tfleet.ps.IPushRequest): Buffer {
  const w = new Writer(pushBound(p));
  writePushFields(w, p);
  return w.finish();
}

export function encodePushPullRequest(r: tfleet.ps.IPushPullRequest): Buffer {
  const w = new Writer(8 + (r.push ? pushBound(r.push) : 0) + 4 + 6 + (r.pullRowIds?.byteLength ?? 0));
  if (r.push) writePush(w, 1, r.push);
  if (r.sparseReply) {
    w.varint(tag(2, WIRE_VARINT));
    w.byte(1);
  }
  if (r.pullRowIds && r.pullRowIds.byteLength > 0) w.bytes(3, r.pullRowIds);
  if (r.pullRows) {
    w.varint(tag(4, WIRE_VARINT));
    w.byte(1);
  }
  return w.finish();
}

export function encodeExchangeRequest(r: tfleet.ps.IExchangeRequest): Buffer {
  // A pull carries no tensors: protobufjs's encoding is as good.
  if (r.pull) return Buffer.from(tfleet.ps.ExchangeRequest.encode(r).finish());
  const w = new Writer(8 + (r.push ? pushBound(r.push) : 0) + 2);
  writeExchangeRequest(w, r);
  return w.finish();
}

/**
 * A push's exchange request as pieces for one gathered socket write: the
 * same bytes as {@link encodeExchangeRequest}, with each tensor's values
 * left in the caller's memory (which must not change until written).
 */
export function encodeExchangeRequestPieces(r: tfleet.ps.IExchangeRequest): Buffer[] {
  if (r.pull) return [encodeExchangeRequest(r)];
  const values = (r.push?.tensors ?? []).reduce((n, t) => n + (t.data?.byteLength ?? 0), 0);
  const w = new Writer(8 + (r.push ? pushBound(r.push) : 0) + 2 - values, true);
  writeExchangeRequest(w, r);
  return w.finishPieces();
}

function writeExchangeRequest(w: Writer, r: tfleet.ps.IExchangeRequest): void {
  if (r.id) {
    w.varint(tag(1, WIRE_VARINT));
    w.varint(r.id);
  }
  if (r.push) writePush(w, 2, r.push);
  if (r.pushOnly) {
    w.varint(tag(4, WIRE_VARINT));
    w.byte(1);
  }
}

/** Encodings of pull replies, per reply object: shared by every worker the same object is sent to. */
const pulls = new WeakMap<tfleet.ps.IPullResponse, Buffer>();
const exchangeReplies = new WeakMap<tfleet.ps.IPullResponse, Buffer>();

/** Whether a reply carries values worth keeping its encoding for (a push's acknowledgement carries none). */
const sharable = (p: tfleet.ps.IPullResponse): boolean => (p.tensors?.length ?? 0) > 0;

export function encodePullResponse(p: tfleet.ps.IPullResponse): Buffer {
  let out = pulls.get(p);
  if (!out) {
    const w = new Writer(pullBound(p));
    writePullFields(w, p);
    out = w.finish();
    if (sharable(p)) pulls.set(p, out);
  }
  return out;
}

/**
 * The request number is rewritten in its fixed slot on each call; grpc-js
 * copies the returned bytes into its frame before the next call can.
 */
export function encodeExchangeReply(r: tfleet.ps.IExchangeReply): Buffer {
  if (!r.pull) {
    const w = new Writer(8);
    w.varint(tag(1, WIRE_VARINT));
    writeVarint5(w.buf, w.reserve5().at, r.id ?? 0);
    return w.finish();
  }
  let out = exchangeReplies.get(r.pull);
  if (!out) {
    const w = new Writer(8 + 6 + pullBound(r.pull));
    w.varint(tag(1, WIRE_VARINT));
    w.reserve5();
    const at = w.begin(2);
    writePullFields(w, r.pull);
    w.end(at);
    out = w.finish();
    if (sharable(r.pull)) exchangeReplies.set(r.pull, out);
  }
  writeVarint5(out, 1, r.id ?? 0);
  return out;
}
