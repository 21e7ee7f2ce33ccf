import { createHash } from 'node:crypto';
import { HostData } from '../../shared/codec/host-tensor';
import { DataError } from '../../shared/errors';
import { RowInit, UpdateRuleSpec } from '../../shared/ps/rules';
import { KeySnapshot, PsSnapshot } from '../ps/parameter-store';

/** A job's state at the end of a round: the parameter server's keys and every rank's own part. */
export interface Checkpoint {
  jobId: string;
  /** The last round (epoch, boosting round, tree) it holds, counted from 0. */
  round: number;
  /** The attempt that wrote it. */
  attempt: number;
  createdAtMs: number;
  ps: PsSnapshot;
  /** Each rank's saved state, by that attempt's ranks. */
  states: Uint8Array[];
}

const MAGIC = Buffer.from('TFLEETCK');
const FORMAT = 1;
const DIGEST_BYTES = 32;

type BlobType = 'float32' | 'float64' | 'int32' | 'uint8';
type Blob = Float32Array | Float64Array | Int32Array | Uint8Array;

interface KeyHeader {
  key: string;
  shape: number[];
  rule: UpdateRuleSpec;
  version: number;
  ruleStep: number;
  /** Blobs of this key, in order: value, the rule's slots, then (tables) values, created flags, squares. */
  blobs: number;
  table?: { init: RowInit; squares: boolean };
}

interface Header {
  format: number;
  jobId: string;
  round: number;
  attempt: number;
  createdAtMs: number;
  keys: KeyHeader[];
  /** Rank states are the last blobs, one per rank. */
  states: number;
  blobs: { type: BlobType; length: number }[];
}

function typeOf(b: Blob): BlobType {
  if (b instanceof Float32Array) return 'float32';
  if (b instanceof Float64Array) return 'float64';
  if (b instanceof Int32Array) return 'int32';
  return 'uint8';
}

const ALIGN = 8;
const padded = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

/**
 * A checkpoint as bytes: magic, format, a JSON header, the raw
 * little-endian arrays (8-byte aligned), and a SHA-256 of all that, so a
 * damaged file is refused rather than resumed from.
 */
export function encodeCheckpoint(c: Checkpoint): Buffer {
  const blobs: Blob[] = [];
  const keys: KeyHeader[] = c.ps.keys.map((k) => {
    const before = blobs.length;
    blobs.push(k.value, ...k.ruleState.slots);
    if (k.table) {
      blobs.push(k.table.state.value, k.table.state.created);
      if (k.table.state.squares) blobs.push(k.table.state.squares);
    }
    return {
      key: k.key, shape: k.shape, rule: k.rule, version: k.version, ruleStep: k.ruleState.step, blobs: blobs.length - before,
      ...(k.table ? { table: { init: k.table.init, squares: k.table.state.squares !== null } } : {}),
    };
  });
  blobs.push(...c.states);
  const header: Header = {
    format: FORMAT, jobId: c.jobId, round: c.round, attempt: c.attempt, createdAtMs: c.createdAtMs, keys, states: c.states.length,
    blobs: blobs.map((b) => ({ type: typeOf(b), length: b.length })),
  };
  const json = Buffer.from(JSON.stringify(header));
  const headerBytes = padded(MAGIC.length + 8 + json.length);
  const total = headerBytes + blobs.reduce((n, b) => n + padded(b.byteLength), 0);
  const out = Buffer.alloc(total + DIGEST_BYTES);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(FORMAT, MAGIC.length);
  out.writeUInt32LE(json.length, MAGIC.length + 4);
  json.copy(out, MAGIC.length + 8);
  let at = headerBytes;
  for (const b of blobs) {
    out.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), at);
    at += padded(b.byteLength);
  }
  createHash('sha256').update(out.subarray(0, total)).digest().copy(out, total);
  return out;
}

/**
 * Reads a checkpoint written by {@link encodeCheckpoint}.
 * @throws DataError naming `name` when the bytes are not a whole, unaltered checkpoint.
 */
export function decodeCheckpoint(bytes: Buffer, name: string): Checkpoint {
  const fail = (why: string): never => { throw new DataError(`checkpoint ${name}: ${why}`); };
  if (bytes.length < MAGIC.length + 8 + DIGEST_BYTES || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) fail('not a tfleet checkpoint');
  const total = bytes.length - DIGEST_BYTES;
  const digest = createHash('sha256').update(bytes.subarray(0, total)).digest();
  if (!digest.equals(bytes.subarray(total))) fail('its checksum does not match (a damaged or partial file)');
  if (bytes.readUInt32LE(MAGIC.length) !== FORMAT) fail(`format ${bytes.readUInt32LE(MAGIC.length)} is not ${FORMAT}`);
  const jsonLength = bytes.readUInt32LE(MAGIC.length + 4);
  const header = JSON.parse(bytes.subarray(MAGIC.length + 8, MAGIC.length + 8 + jsonLength).toString('utf8')) as Header;
  let at = padded(MAGIC.length + 8 + jsonLength);
  const blobs: Blob[] = header.blobs.map(({ type, length }) => {
    const size = length * (type === 'float64' ? 8 : type === 'uint8' ? 1 : 4);
    if (at + size > total) fail('it ends before its arrays do');
    // A copy into fresh, aligned memory: the file's buffer is not kept.
    const raw = new Uint8Array(bytes.buffer.slice(bytes.byteOffset + at, bytes.byteOffset + at + size));
    at += padded(size);
    if (type === 'float32') return new Float32Array(raw.buffer);
    if (type === 'float64') return new Float64Array(raw.buffer);
    if (type === 'int32') return new Int32Array(raw.buffer);
    return raw;
  });
  let next = 0;
  const keys: KeySnapshot[] = header.keys.map((k) => {
    const own = blobs.slice(next, next + k.blobs);
    next += k.blobs;
    const slotCount = k.blobs - 1 - (k.table ? (k.table.squares ? 3 : 2) : 0);
    const slots = own.slice(1, 1 + slotCount) as (Float32Array | Float64Array)[];
    const rest = own.slice(1 + slotCount);
    return {
      key: k.key, shape: k.shape, value: own[0] as HostData, rule: k.rule, ruleState: { slots, step: k.ruleStep }, version: k.version,
      ...(k.table ? { table: { init: k.table.init, state: { value: rest[0] as Float32Array, created: rest[1] as Uint8Array, squares: k.table.squares ? rest[2] as Float32Array : null } } } : {}),
    };
  });
  const states = blobs.slice(next).map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
  if (states.length !== header.states) fail(`it holds ${states.length} rank states, its header says ${header.states}`);
  return { jobId: header.jobId, round: header.round, attempt: header.attempt, createdAtMs: header.createdAtMs, ps: { keys }, states };
}
