import * as grpc from '@grpc/grpc-js';
import { tfleet } from '../../proto/generated/tfleet';
import { TensorMap, float32Tensors } from '../../shared/codec/host-tensor';
import { mapFromWire, mapToWire } from '../../shared/codec/wire';
import { TfleetError } from '../../shared/errors';
import { parameterServerClient } from '../../shared/rpc/clients';
import { fromServiceError } from '../../shared/rpc/status';
import { retryOrFail } from './retry';

interface Waiting {
  request: tfleet.ps.IExchangeRequest;
  attempts: number;
  resolve(r: { version: number; tensors: TensorMap }): void;
  reject(err: Error): void;
}

type ExchangeCall = grpc.ClientDuplexStream<tfleet.ps.IExchangeRequest, tfleet.ps.ExchangeReply>;

/**
 * A worker's requests on one long-lived `Exchange` stream (per job): fused
 * push-pulls (the same contract as `PsClient.pushPull`), pushes answered
 * with their version alone, or pulls, without a call's set-up, headers and
 * trailers for every bucket of every step. A server error ends the stream
 * and fails every request waiting on it; a stream that breaks as
 * UNAVAILABLE is opened again and its waiting requests sent again.
 *
 * @example
 * const ps = new PsStream('127.0.0.1:7070', jobId, workerId);
 * const { version, tensors } = await ps.pushPull(step, rows, grads);
 * ps.close();
 */
export class PsStream {
  private readonly client: grpc.Client;
  private call: ExchangeCall | null = null;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 0;
  private closed = false;

  /** `receive: 'wide'`: a wide HTTP/2 receive window, for a stream that only pulls (see {@link parameterServerClient}). */
  constructor(address: string, private readonly jobId: string, private readonly workerId: string, receive: 'narrow' | 'wide' = 'narrow') {
    this.client = parameterServerClient(address, undefined, receive);
  }

  /** Pushes step `step` and resolves with the keys' values at version step + 1. */
  pushPull(step: number, weight: number, tensors: TensorMap): Promise<{ version: number; tensors: TensorMap }> {
    return this.send({ push: { jobId: this.jobId, workerId: this.workerId, step, weight, tensors: mapToWire(tensors) } });
  }

  /** Pushes step `step`; resolves with the keys' version once the server has recorded it (no values). */
  async push(step: number, weight: number, tensors: TensorMap): Promise<number> {
    const reply = await this.send({ push: { jobId: this.jobId, workerId: this.workerId, step, weight, tensors: mapToWire(tensors) }, pushOnly: true });
    return reply.version;
  }

  /** Resolves with the keys' values once every one has at least `minVersion`. */
  pull(keys: readonly string[], minVersion: number): Promise<{ version: number; tensors: TensorMap }> {
    return this.send({ pull: { jobId: this.jobId, workerId: this.workerId, keys: [...keys], minVersion } });
  }

  private send(body: Omit<tfleet.ps.IExchangeRequest, 'id'>): Promise<{ version: number; tensors: TensorMap }> {
    if (this.closed) return Promise.reject(new TfleetError('ABORTED', 'parameter-server stream is closed'));
    const request: tfleet.ps.IExchangeRequest = { id: this.nextId++, ...body };
    return new Promise((resolve, reject) => {
      this.waiting.set(request.id!, { request, attempts: 1, resolve, reject });
      this.stream().write(request);
    });
  }

  /** Ends the stream; requests still waiting fail. */
  close(): void {
    this.closed = true;
    this.call?.cancel();
    this.call = null;
    this.failAll(new TfleetError('ABORTED', 'parameter-server stream was closed'));
    this.client.close();
  }

  private stream(): ExchangeCall {
    if (this.call) return this.call;
    const call = (this.client as unknown as { exchange(): ExchangeCall }).exchange();
    call.on('data', (reply: tfleet.ps.ExchangeReply) => settleReply(this.waiting, reply));
    call.on('error', (err: grpc.ServiceError) => this.broken(call, fromServiceError(err, 'exchange')));
    call.on('end', () => this.broken(call, new TfleetError('UNAVAILABLE', 'exchange: the server ended the stream')));
    this.call = call;
    return call;
  }

  /** The stream `call` ended with `err`: retry what may be retried on a new stream, fail the rest. */
  private broken(call: ExchangeCall, err: TfleetError): void {
    if (this.call !== call) return; // an old stream's late events
    this.call = null;
    if (this.closed) return;
    retryOrFail(this.waiting, err, (_id, w) => this.stream().write(w.request), () => this.closed);
  }

  private failAll(err: Error): void {
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }
}

/** A fused push-pull's answer; `frame`: the buffer of the message it came in, when it is the answer's own. */
export interface Pulled {
  version: number;
  tensors: TensorMap;
  frame?: ArrayBuffer;
}

/** Resolves the request `reply` answers (a late reply to one already settled is dropped). */
export function settleReply(waiting: Map<number, { resolve(r: Pulled): void; reject(err: Error): void }>, reply: tfleet.ps.ExchangeReply, frame?: ArrayBuffer): void {
  const w = waiting.get(reply.id);
  if (!w) return;
  waiting.delete(reply.id);
  try {
    w.resolve({ version: reply.pull?.version ?? 0, tensors: float32Tensors(mapFromWire(reply.pull?.tensors), 'exchange reply'), ...(frame ? { frame } : {}) });
  } catch (err) {
    w.reject(err as Error);
  }
}

/**
 * A worker's fused push-pulls as a push on one exchange stream and a pull
 * on another, over two connections: each connection carries tensors one way
 * only, so neither can stall behind its own unfinished write (issue 15), and
 * the pulls' connection takes a wide receive window: a 0.9 MB reply no longer
 * waits for 14 window updates of 64 KiB. The push is idempotent and the pull
 * waits for version step + 1, which needs this push: together they are the
 * fused call's contract.
 */
export class SplitExchange {
  private readonly pushes: PsStream;
  private readonly pulls: PsStream;

  constructor(address: string, jobId: string, workerId: string) {
    this.pushes = new PsStream(address, jobId, workerId);
    this.pulls = new PsStream(address, jobId, workerId, 'wide');
  }

  /** Pushes step `step` and resolves with the keys' values at version step + 1; fails with the push's error first. */
  async pushPull(step: number, weight: number, tensors: TensorMap): Promise<{ version: number; tensors: TensorMap }> {
    const pushed = this.pushes.push(step, weight, tensors);
    const pulled = this.pulls.pull([...tensors.keys()], step + 1);
    // Whichever fails first is the step's error; the other must not surface as unhandled.
    pushed.catch(() => undefined);
    pulled.catch(() => undefined);
    await pushed;
    return pulled;
  }

  close(): void {
    this.pushes.close();
    this.pulls.close();
  }
}
