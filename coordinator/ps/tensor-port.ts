import { AddressInfo, Server, Socket, createServer as createTcpServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { tfleet } from '../../proto/generated/tfleet';
import { encodeExchangeReply } from '../../shared/codec/ps-frames';
import { FrameKind, FrameReader, Hello, MAX_CONTROL_FRAME_BYTES, controlFrame, frameErrorOf, frameHeader, parseControl } from '../../shared/codec/socket-frames';
import { ArgumentError, TfleetError } from '../../shared/errors';
import { ServerAuth, TokenSet, roleRefusal } from '../../shared/rpc/security';
import { KEEPALIVE_TIME_MS } from '../../shared/rpc/services';
import { ParameterServer } from './ps-service';

export interface TensorPortOptions {
  host: string;
  /** 0: any free port. */
  port: number;
  /** The gRPC server's TLS material: the tensor port takes the same certificates, mutual when `ca` is given. */
  tls?: { cert: Buffer; key: Buffer; ca?: Buffer };
  /** The gRPC server's tokens: a connection's Hello must carry a worker's. */
  auth?: ServerAuth;
  /** Largest request frame, as gRPC's largest message. */
  maxMessageBytes: number;
  exchangeStep: ParameterServer['exchangeStep'];
}

export interface TensorPort {
  port: number;
  close(): Promise<void>;
}

/** A request larger than this, with no buffer of its connection's free, is read into one that grows as it arrives. */
const GROW_FROM_BYTES = 1024 * 1024;

/** A connection that has not said who it is by then is dropped. */
const HELLO_TIMEOUT_MS = 10_000;

/** An `ExchangeReply` starts with its request number: a tag byte and a 5-byte slot (`ps-frames.ts`). */
const REPLY_ID_BYTES = 6;

/**
 * The parameter server's exchange over plain TCP (or TLS): what a step's
 * buckets cost on gRPC is mostly HTTP/2's and grpc-js's per-frame work on
 * both sides (a 16 KiB DATA frame at a time, each a JavaScript event), on
 * the same cores the workers compute on. Here a request is one frame
 * (`shared/codec/socket-frames.ts`) read into one buffer, and a reply one
 * gathered write of the step's shared encoding. A connection's first frame
 * is a Hello naming its job and worker, with a worker's token when the
 * coordinator takes tokens; every request must be for that job and worker,
 * and the store checks membership as it does for gRPC. The first error
 * ends the connection with an Error frame, as the first error ends an
 * `Exchange` stream.
 */
export async function serveTensorPort(o: TensorPortOptions): Promise<TensorPort> {
  const tokens = o.auth ? new TokenSet(o.auth.tokens) : null;
  const open = new Set<Socket>();
  const track = (socket: Socket): void => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
  };
  const onConnection = (socket: Socket): void => {
    track(socket);
    serveConnection(socket, o, tokens);
  };
  let server: Server;
  if (o.tls) {
    const mutual = o.tls.ca !== undefined;
    server = createTlsServer({ key: o.tls.key, cert: o.tls.cert, ca: o.tls.ca, requestCert: mutual, rejectUnauthorized: mutual, minVersion: 'TLSv1.2' }, onConnection);
    // A client that fails the handshake (no certificate, wrong CA) is refused by TLS itself; one
    // still in its handshake is a raw socket that close() must cut too.
    server.on('tlsClientError', () => undefined);
    server.on('connection', track);
  } else {
    server = createTcpServer(onConnection);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new TfleetError('UNAVAILABLE', `cannot serve the tensor port on ${o.host}:${o.port}: ${err.code ?? err.message} (another port: --tensor-port; none: --tensor-port -1)`, { cause: err })));
    server.listen(o.port, o.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function serveConnection(socket: Socket, o: TensorPortOptions, tokens: TokenSet | null): void {
  socket.setNoDelay(true);
  socket.setKeepAlive(true, KEEPALIVE_TIME_MS);
  let hello: Hello | null = null;
  let ended = false;
  const helloTimer = setTimeout(() => end(new TfleetError('UNAUTHENTICATED', `tensor port: no Hello frame within ${HELLO_TIMEOUT_MS / 1000} s`)), HELLO_TIMEOUT_MS);
  helloTimer.unref();

  /** Ends the connection with `err` as its last frame. */
  const end = (err: unknown): void => {
    if (ended) return;
    ended = true;
    clearTimeout(helloTimer);
    socket.end(controlFrame(FrameKind.Error, frameErrorOf(err)));
    // A client that never closes its side is cut.
    setTimeout(() => socket.destroy(), 5_000).unref();
  };

  const reply = (id: number, pull: tfleet.ps.IPullResponse): void => {
    if (ended || socket.destroyed) return;
    const out = encodeExchangeReply({ id, pull });
    // `out` is shared by every worker of the step and its request number is
    // rewritten for each: this connection's number goes out in a copy.
    socket.cork();
    socket.write(frameHeader(FrameKind.Reply, out.byteLength));
    socket.write(Buffer.from(out.subarray(0, REPLY_ID_BYTES)));
    if (out.byteLength > REPLY_ID_BYTES) socket.write(out.subarray(REPLY_ID_BYTES));
    socket.uncork();
  };

  const onRequest = (body: Buffer, release: () => void): void => {
    let req: tfleet.ps.ExchangeRequest;
    try {
      req = tfleet.ps.ExchangeRequest.decode(body);
    } catch {
      throw new ArgumentError('tensor port: a Request frame that is not an ExchangeRequest');
    }
    const who = req.push ?? req.pull;
    if (who && (who.jobId !== hello!.jobId || who.workerId !== hello!.workerId)) {
      throw new TfleetError('PERMISSION_DENIED', `tensor port: a request as worker '${who.workerId}' of job '${who.jobId}' on a connection opened for worker '${hello!.workerId}' of job '${hello!.jobId}'`);
    }
    // The store has summed the push before the reply exists, and keeps none of it: once the request is
    // answered its frame's buffer takes the next one.
    o.exchangeStep(req).then((pull) => reply(req.id, pull), end).catch(end).finally(release);
  };

  const onHello = (body: Buffer): void => {
    const h = parseControl(FrameKind.Hello, body);
    const refusal = tokens ? roleRefusal(tokens, 'Exchange', h.token === undefined ? undefined : `Bearer ${h.token}`, 'worker') : null;
    if (refusal) throw refusal;
    hello = h;
    clearTimeout(helloTimer);
  };

  // A frame's kind is checked from its header, before its body is read.
  const limit = (kind: FrameKind): number => {
    if (!hello && kind !== FrameKind.Hello) throw new ArgumentError(`tensor port: the first frame must be a Hello, not a ${FrameKind[kind]} frame`);
    if (hello && kind !== FrameKind.Request && kind !== FrameKind.Ping) throw new ArgumentError(`tensor port: a client sends Request and Ping frames after its Hello, not a ${FrameKind[kind]} frame`);
    return kind === FrameKind.Ping ? 0 : hello ? o.maxMessageBytes : MAX_CONTROL_FRAME_BYTES;
  };
  const reader = new FrameReader(limit, (kind, body, release) => {
    if (kind === FrameKind.Hello) onHello(body);
    else if (kind === FrameKind.Ping) socket.write(frameHeader(FrameKind.Pong, 0));
    else onRequest(body, release);
  }, GROW_FROM_BYTES);
  socket.on('data', (chunk: Buffer) => {
    if (ended) return;
    try {
      reader.feed(chunk);
    } catch (err) {
      end(err);
    }
  });
  socket.on('error', () => {
    ended = true;
    clearTimeout(helloTimer);
  });
  socket.on('close', () => clearTimeout(helloTimer));
}
