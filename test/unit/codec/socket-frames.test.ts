import { describe, expect, it } from 'vitest';
import { tfleet } from '../../../proto/generated/tfleet';
import { hostTensor } from '../../../shared/codec/host-tensor';
import { encodeExchangeReply } from '../../../shared/codec/ps-frames';
import { FrameKind, FrameReader, controlFrame, frameErrorOf, frameHeader, parseControl } from '../../../shared/codec/socket-frames';
import { ArgumentError } from '../../../shared/errors';
import { mapFromWire, mapToWire } from '../../../shared/codec/wire';

const collect = (limit = 1 << 20) => {
  const frames: { kind: FrameKind; body: Buffer; release: () => void }[] = [];
  return { frames, reader: new FrameReader(() => limit, (kind, body, release) => frames.push({ kind, body, release })) };
};

describe('socket frames: the tensor port wire', () => {
  it('cuts a stream into the same frames however it is split, zero-length ones included', () => {
    const bodies = [Buffer.from('hello'), Buffer.alloc(0), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9])];
    const stream = Buffer.concat(bodies.flatMap((b, i) => [frameHeader(i === 1 ? FrameKind.Pong : FrameKind.Reply, b.byteLength), b]));
    for (const size of [1, 2, 5, 7, stream.byteLength]) {
      const { frames, reader } = collect();
      for (let at = 0; at < stream.byteLength; at += size) reader.feed(stream.subarray(at, at + size));
      expect(frames.map((f) => f.kind)).toEqual([FrameKind.Reply, FrameKind.Pong, FrameKind.Reply]);
      expect(frames.map((f) => [...f.body])).toEqual(bodies.map((b) => [...b]));
    }
  });

  it("holds each body behind a header's worth of bytes, so an exchange reply's tensors decode as views", () => {
    const values = Float32Array.from({ length: 1000 }, (_, i) => i / 7);
    const body = encodeExchangeReply({ id: 3, pull: { version: 2, tensors: mapToWire(new Map([['w', hostTensor([1000], values)]])) } });
    const { frames, reader } = collect();
    reader.feed(Buffer.concat([Buffer.from([0]), frameHeader(FrameKind.Reply, body.byteLength), body]).subarray(1));
    const got = frames[0].body;
    expect(got.byteOffset % 8).toBe(5);
    const reply = tfleet.ps.ExchangeReply.decode(got);
    const w = mapFromWire(reply.pull!.tensors).get('w')!;
    expect(w.data.buffer).toBe(got.buffer);
    expect([...w.data]).toEqual([...values]);
  });

  it('reads a bucket into a buffer handed back after an earlier one, never into one still held, and never a small frame', () => {
    const { frames, reader } = collect();
    const K = 1024;
    const frame = (fill: number, n: number) => Buffer.concat([frameHeader(FrameKind.Request, n), Buffer.alloc(n, fill)]);
    reader.feed(frame(1, 100 * K));
    reader.feed(frame(2, 100 * K));
    expect(frames[1].body.buffer).not.toBe(frames[0].body.buffer);
    frames[0].release();
    frames[0].release();
    // A small frame (a Ping, a Hello) leaves the buffer for the next bucket.
    reader.feed(frame(9, 10));
    expect(frames[2].body.buffer).not.toBe(frames[0].body.buffer);
    reader.feed(frame(3, 80 * K));
    // The smaller bucket lands in the first one's buffer; the second, still held, is untouched.
    expect(frames[3].body.buffer).toBe(frames[0].body.buffer);
    expect([frames[3].body.byteLength, frames[3].body.byteOffset % 8]).toEqual([80 * K, 5]);
    expect(frames[1].body.every((b) => b === 2)).toBe(true);
    expect(frames[3].body.every((b) => b === 3)).toBe(true);
    // A bucket larger than every buffer handed back gets a new one.
    frames[1].release();
    reader.feed(frame(4, 200 * K));
    expect([frames[0].body.buffer, frames[1].body.buffer]).not.toContain(frames[4].body.buffer);
  });

  it('holds memory for the bytes a large frame has sent, not for the length its header claims', () => {
    const frames: Buffer[] = [];
    const reader = new FrameReader(() => 1 << 30, (_kind, body) => frames.push(body), 1 << 20);
    const before = process.memoryUsage().arrayBuffers;
    reader.feed(Buffer.concat([frameHeader(FrameKind.Request, 256 << 20), Buffer.alloc(10, 7)]));
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 << 20);
    // A frame above the threshold that does arrive in full grows into one buffer, intact and aligned.
    const big = Buffer.from(Array.from({ length: (3 << 20) + 3 }, (_, i) => i % 251));
    const grown = new FrameReader(() => 1 << 30, (_kind, body) => frames.push(body), 1 << 20);
    for (let at = 0; at < big.byteLength + 5; at += 65536) grown.feed(Buffer.concat([frameHeader(FrameKind.Request, big.byteLength), big]).subarray(at, at + 65536));
    expect(frames).toHaveLength(1);
    expect(frames[0].equals(big)).toBe(true);
    expect(frames[0].byteOffset % 8).toBe(5);
  });

  it('cuts an Error frame to its limit even when its characters escape to several bytes', () => {
    const frame = controlFrame(FrameKind.Error, frameErrorOf(new ArgumentError('\u0001'.repeat(4000))));
    expect(frame.byteLength).toBeLessThanOrEqual(5 + 16 * 1024);
    const { code, message } = parseControl(FrameKind.Error, frame.subarray(5));
    expect(code).toBe('INVALID_ARGUMENT');
    expect(message.endsWith('…')).toBe(true);
  });

  it('refuses an unknown kind and a length above the limit from the header alone', () => {
    expect(() => collect().reader.feed(Buffer.from([7, 0, 0, 0, 1]))).toThrow('tensor port: frame of unknown kind 7');
    expect(() => collect(100).reader.feed(frameHeader(FrameKind.Request, 101))).toThrow('tensor port: a Request frame of 101 bytes is above the limit of 100');
  });

  it('reads Hello and Error bodies strictly, naming what is wrong', () => {
    const body = (f: Buffer) => f.subarray(5);
    expect(parseControl(FrameKind.Hello, body(controlFrame(FrameKind.Hello, { jobId: 'j', workerId: 'w', token: 't' })))).toEqual({ jobId: 'j', workerId: 'w', token: 't' });
    expect(() => parseControl(FrameKind.Hello, Buffer.from('{"jobId":"j"}'))).toThrow("tensor port: the Hello frame's 'workerId' must be a non-empty string of at most 4096 characters");
    expect(() => parseControl(FrameKind.Hello, Buffer.from('{"jobId":"j","workerId":"w","token":7}'))).toThrow("tensor port: the Hello frame's 'token' must be a non-empty string of at most 4096 characters");
    expect(() => parseControl(FrameKind.Error, Buffer.from('nope'))).toThrow('tensor port: the Error frame is not JSON');
    expect(parseControl(FrameKind.Error, Buffer.from('{"code":"RETRY_ME","message":"m"}'))).toEqual({ code: 'INTERNAL', message: 'm' });
    // A long error still reaches the client, cut.
    const long = parseControl(FrameKind.Error, body(controlFrame(FrameKind.Error, frameErrorOf(new ArgumentError('x'.repeat(10_000))))));
    expect([long.code, long.message.length, long.message.endsWith('…')]).toEqual(['INVALID_ARGUMENT', 4096, true]);
  });
});
