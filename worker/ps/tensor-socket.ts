import { Socket, connect as connectTcp, isIP } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { tfleet } from '../../proto/generated/tfleet';
import { TensorMap } from '../../shared/codec/host-tensor';
import { encodeExchangeRequestPieces } from '../../shared/codec/ps-frames';
import { FrameKind, FrameReader, MAX_CONTROL_FRAME_BYTES, controlFrame, frameHeader, parseControl } from '../../shared/codec/socket-frames';
import { mapToWire } from '../../shared/codec/wire';
import { TfleetError, errorOfCode } from '../../shared/errors';
import { ClientSecurity, currentClientSecurity } from '../../shared/rpc/security';
import { DEFAULT_MAX_MESSAGE_BYTES, KEEPALIVE_TIMEOUT_MS, KEEPALIVE_TIME_MS } from '../../shared/rpc/services';
import { ATTEMPTS, retryOrFail } from './retry';
import { Pulled, settleReply } from './stream';

interface Waiting {
  frame: Buffer[];
  attempts: number;
  resolve(r: Pulled): void;
  reject(err: Error): void;
}

/** How a connection finds out that its peer is gone: gRPC's keepalive, as the channels set it (`channelOptions`). */
export interface Keepalive {
  /** With requests waiting and nothing heard for this long, send a Ping. */
  afterMs: number;
  /** Nothing heard this long after a Ping: the connection is dead (or never came up). */
  timeoutMs: number;
}

const KEEPALIVE: Keepalive = { afterMs: KEEPALIVE_TIME_MS, timeoutMs: KEEPALIVE_TIMEOUT_MS };

/** `host:port` or `[v6]:port` as its parts. */
export function hostAndPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new TfleetError('INVALID_ARGUMENT', `tensor port address '${address}' is not host:port`);
  return { host: address.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port };
}

/**
 * A worker's fused push-pulls over the coordinator's tensor port
 * (`coordinator/ps/tensor-port.ts`): one connection per job, a Request
 * frame per bucket, answered by a Reply frame when the pull is ready. The
 * same contract as `SplitExchange.pushPull`, and the same recovery as an
 * exchange stream's: an Error frame fails every waiting request with the
 * server's error; a connection that drops without one is opened again and
 * its waiting requests sent again (pushes are idempotent), at most
 * {@link ATTEMPTS} times each. A connection that stays silent while
 * requests wait (a cut link leaves no trace on the socket) is tested with a
 * Ping and dropped when no Pong comes ({@link Keepalive}).
 *
 * @example
 * const ps = new TensorSocket('127.0.0.1:7071', jobId, workerId);
 * const { version, tensors } = await ps.pushPull(step, rows, grads);
 * ps.close();
 */
export class TensorSocket {
  private socket: Socket | null = null;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 0;
  private closed = false;
  private readonly target: { host: string; port: number };

  constructor(
    private readonly address: string,
    private readonly jobId: string,
    private readonly workerId: string,
    private readonly security: ClientSecurity = currentClientSecurity(),
    private readonly maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES,
    private readonly keepalive = KEEPALIVE,
  ) {
    this.target = hostAndPort(address);
  }

  /** Pushes step `step` and resolves with the keys' values at version step + 1. */
  pushPull(step: number, weight: number, tensors: TensorMap): Promise<Pulled> {
    if (this.closed) return Promise.reject(new TfleetError('ABORTED', 'tensor port connection is closed'));
    const id = this.nextId++;
    // The tensors' values go to the socket from where they are, in one gathered write with the fields.
    const pieces = encodeExchangeRequestPieces({ id, push: { jobId: this.jobId, workerId: this.workerId, step, weight, tensors: mapToWire(tensors) } });
    const frame = [frameHeader(FrameKind.Request, pieces.reduce((n, p) => n + p.byteLength, 0)), ...pieces];
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { frame, attempts: 1, resolve, reject });
      this.write(this.connection(), frame);
    });
  }

  /** Closes the connection; requests still waiting fail. */
  close(): void {
    this.closed = true;
    this.socket?.destroy();
    this.socket = null;
    for (const w of this.waiting.values()) w.reject(new TfleetError('ABORTED', 'tensor port connection was closed'));
    this.waiting.clear();
  }

  private write(socket: Socket, frame: Buffer[]): void {
    socket.cork();
    for (const b of frame) socket.write(b);
    socket.uncork();
  }

  private connection(): Socket {
    if (this.socket) return this.socket;
    const { host, port } = this.target;
    const { tls, token } = this.security;
    // A thread's copy of the buffers arrives as plain Uint8Arrays.
    const buf = (b: Uint8Array | undefined): Buffer | undefined => (b ? Buffer.from(b.buffer, b.byteOffset, b.byteLength) : undefined);
    const socket = tls
      ? connectTls({ host, port, ca: buf(tls.ca), cert: buf(tls.cert), key: buf(tls.key), servername: isIP(host) ? undefined : host, minVersion: 'TLSv1.2' })
      : connectTcp({ host, port });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_TIME_MS);
    let failed: TfleetError | null = null;
    const limit = (kind: FrameKind): number => {
      if (kind === FrameKind.Reply) return this.maxMessageBytes;
      if (kind === FrameKind.Error) return MAX_CONTROL_FRAME_BYTES;
      if (kind === FrameKind.Pong) return 0;
      throw new TfleetError('INTERNAL', `tensor port: the server sent a ${FrameKind[kind]} frame`);
    };
    const reader = new FrameReader(limit, (kind, body) => {
      // The frame's buffer is the reply's own (FrameReader allocates one per frame): the bucket thread hands it on as it is.
      if (kind === FrameKind.Reply) return settleReply(this.waiting, tfleet.ps.ExchangeReply.decode(body), body.buffer as ArrayBuffer);
      if (kind === FrameKind.Pong) return;
      const e = parseControl(FrameKind.Error, body);
      failed = errorOfCode(e.code, e.message);
      socket.destroy();
    });
    let heardAt = Date.now();
    let pingAt = 0;
    let queued = 0;
    const watch = setInterval(() => {
      const now = Date.now();
      // A Ping queues behind what this side is still sending: the kernel taking those bytes is a sign of life too.
      if (socket.writableLength > 0 && socket.writableLength < queued) heardAt = Math.max(heardAt, now);
      queued = socket.writableLength;
      if (pingAt > heardAt && now - pingAt >= this.keepalive.timeoutMs) {
        failed = new TfleetError('UNAVAILABLE', `tensor port ${this.address}: no answer to a keepalive ping within ${this.keepalive.timeoutMs} ms`);
        socket.destroy();
      } else if (this.waiting.size > 0 && pingAt <= heardAt && now - heardAt >= this.keepalive.afterMs) {
        pingAt = now;
        socket.write(frameHeader(FrameKind.Ping, 0));
      }
    }, Math.max(10, Math.min(1000, this.keepalive.timeoutMs / 5)));
    watch.unref();
    socket.on('data', (chunk: Buffer) => {
      heardAt = Date.now();
      try {
        reader.feed(chunk);
      } catch (err) {
        failed = err instanceof TfleetError ? err : new TfleetError('INTERNAL', `tensor port: ${(err as Error).message}`);
        socket.destroy();
      }
    });
    let cause = '';
    socket.on('error', (err: NodeJS.ErrnoException) => void (cause = err.code ?? err.message));
    socket.on('close', () => clearInterval(watch));
    socket.on('close', () => this.broken(socket, failed ?? new TfleetError('UNAVAILABLE', `tensor port ${this.address}: the connection closed${cause ? ` (${cause})` : ''}`)));
    this.write(socket, [controlFrame(FrameKind.Hello, { jobId: this.jobId, workerId: this.workerId, ...(token ? { token } : {}) })]);
    this.socket = socket;
    return socket;
  }

  /** `socket` closed with `err`: retry what may be retried on a new connection, fail the rest. */
  private broken(socket: Socket, err: TfleetError): void {
    if (this.socket !== socket) return;
    this.socket = null;
    if (this.closed) return;
    retryOrFail(this.waiting, err, (_id, w) => this.write(this.connection(), w.frame), () => this.closed);
  }
}
