import { describe, expect, it } from 'vitest';
import { tfleet } from '../../../proto/generated/tfleet';
import { fromWire, mapToWire } from '../../../shared/codec/wire';
import {
  FRAME_HEADER_BYTES, encodeExchangeReply, encodeExchangeRequest, encodeExchangeRequestPieces, encodePullResponse, encodePushPullRequest, encodePushRequest,
} from '../../../shared/codec/ps-frames';
import { AnyTensorMap } from '../../../shared/codec/host-tensor';

const ps = tfleet.ps;

/** The message as grpc-js hands it to a decoder: behind a 5-byte header in one new buffer. */
function asReceived(message: Buffer): Buffer {
  const frame = Buffer.alloc(FRAME_HEADER_BYTES + message.byteLength);
  message.copy(frame, FRAME_HEADER_BYTES);
  return frame.subarray(FRAME_HEADER_BYTES);
}

function tensors(): AnyTensorMap {
  return new Map<string, { shape: number[]; data: Float32Array | Int32Array | Float64Array; rowIds?: Uint32Array }>([
    ['w0', { shape: [3, 5], data: Float32Array.from({ length: 15 }, (_, i) => i / 7 - 1) }],
    ['ключ/é', { shape: [4], data: Float64Array.from([1e-300, -2, Math.PI, 7]) }],
    ['counts', { shape: [2, 2], data: Int32Array.from([1, -2, 3, 2 ** 31 - 1]) }],
    ['rows', { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]), rowIds: Uint32Array.from([9, 2 ** 32 - 1]) }],
    ['empty', { shape: [0, 4], data: new Float32Array(0) }],
    ['scalar', { shape: [], data: Float32Array.from([42]) }],
  ]);
}

/** Every tensor decodes to its values, and each one with values is a view of the received buffer, not a copy. */
function expectTensors(wire: tfleet.ps.ITensor[], received: Buffer): void {
  const want = tensors();
  expect(wire.map((t) => t.key)).toEqual([...want.keys()]);
  for (const w of wire) {
    const got = fromWire(w);
    const t = want.get(w.key!)!;
    expect(got.shape).toEqual(t.shape);
    expect(Array.from(got.data)).toEqual(Array.from(t.data));
    expect(got.rowIds ? Array.from(got.rowIds) : undefined).toEqual(t.rowIds ? Array.from(t.rowIds) : undefined);
    if (t.data.length > 0) expect(got.data.buffer).toBe(received.buffer);
  }
}

const push = (): tfleet.ps.IPushRequest => ({ jobId: 'job-1@2', workerId: 'worker-é', step: 300, weight: 64.5, tensors: mapToWire(tensors()) });

describe("the parameter server's tensor encoders", () => {
  it('an exchange request decodes with protobufjs to the same push, its values aligned views', () => {
    const received = asReceived(encodeExchangeRequest({ id: 2 ** 31 + 5, push: push() }));
    const m = ps.ExchangeRequest.decode(received);
    expect(m.id).toBe(2 ** 31 + 5);
    expect([m.push!.jobId, m.push!.workerId, m.push!.step, m.push!.weight]).toEqual(['job-1@2', 'worker-é', 300, 64.5]);
    expectTensors(m.push!.tensors, received);
  });

  it("gathers an exchange request into pieces that are the same bytes, each tensor's values left in the caller's memory", () => {
    const p = push();
    const pieces = encodeExchangeRequestPieces({ id: 7, push: p });
    expect(Buffer.concat(pieces).equals(encodeExchangeRequest({ id: 7, push: p }))).toBe(true);
    for (const t of p.tensors!) {
      if (t.data!.byteLength > 0) expect(pieces.some((piece) => piece.buffer === t.data!.buffer && piece.byteOffset === t.data!.byteOffset)).toBe(true);
    }
    const received = asReceived(Buffer.concat(pieces));
    expectTensors(ps.ExchangeRequest.decode(received).push!.tensors, received);
  });

  it('a push and a fused push-pull request decode to what protobufjs would encode', () => {
    const p = push();
    const direct = ps.PushRequest.decode(asReceived(encodePushRequest(p)));
    const plain = (m: tfleet.ps.PushRequest) => ({
      ...m, tensors: m.tensors.map((t) => ({ key: t.key, dtype: t.dtype, shape: t.shape, rows: t.rows, rowIds: Array.from(t.rowIds), data: Array.from(t.data) })),
    });
    expect(plain(direct)).toEqual(plain(ps.PushRequest.decode(ps.PushRequest.encode(p).finish())));
    const rowIds = new Uint8Array(Uint32Array.from([3, 1, 4]).buffer);
    const received = asReceived(encodePushPullRequest({ push: p, sparseReply: true, pullRowIds: rowIds, pullRows: true }));
    const r = ps.PushPullRequest.decode(received);
    expect([r.sparseReply, r.pullRows, Array.from(new Uint32Array(new Uint8Array(r.pullRowIds).buffer))]).toEqual([true, true, [3, 1, 4]]);
    expectTensors(r.push!.tensors, received);
  });

  it('a pull reply is encoded once per reply object and shared; an exchange reply carries each request number', () => {
    const pull: tfleet.ps.IPullResponse = { version: 17, tensors: mapToWire(tensors()) };
    const first = encodePullResponse(pull);
    expect(encodePullResponse(pull)).toBe(first);
    const received = asReceived(first);
    const decoded = ps.PullResponse.decode(received);
    expect(decoded.version).toBe(17);
    expectTensors(decoded.tensors, received);

    const replies = [1, 300, 2 ** 32 - 1].map((id) => {
      const bytes = encodeExchangeReply({ id, pull });
      const r = ps.ExchangeReply.decode(asReceived(bytes)); // decoded at once, as grpc-js copies the bytes at once
      return { bytes, id: r.id, version: r.pull!.version, keys: r.pull!.tensors.map((t) => t.key) };
    });
    expect(replies.map((r) => r.id)).toEqual([1, 300, 2 ** 32 - 1]);
    expect(replies.every((r) => r.bytes === replies[0].bytes && r.version === 17 && r.keys.length === 6)).toBe(true);
    expect(ps.ExchangeReply.decode(asReceived(encodeExchangeReply({ id: 4 }))).id).toBe(4);
  });

  it('values land aligned whatever the lengths of the keys and names before them', () => {
    for (let n = 0; n < 20; n++) {
      const received = asReceived(encodeExchangeRequest({ id: n, push: { ...push(), jobId: 'j'.repeat(n), workerId: 'w'.repeat(3 * n) } }));
      for (const t of ps.ExchangeRequest.decode(received).push!.tensors) {
        if ((t.data?.byteLength ?? 0) > 0) expect(t.data!.byteOffset % 8).toBe(0);
      }
    }
  });
});
