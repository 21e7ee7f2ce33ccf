import * as grpc from '@grpc/grpc-js';
import { tfleet } from '../../proto/generated/tfleet';
import { TensorMap, float32Tensors } from '../../shared/codec/host-tensor';
import { mapFromWire, mapToWire } from '../../shared/codec/wire';
import { TfleetError } from '../../shared/errors';
import { parameterServerClient } from '../../shared/rpc/clients';
import { fromServiceError } from '../../shared/rpc/status';
import { ATTEMPTS, retryDelayMs } from './retry';

interface Waiting {
  request: tfleet.ps.IExchangeRequest;
  attempts: number;
  resolve(r: { version: number; tensors: TensorMap }): void;
  reject(err: Error): void;
}

type ExchangeCall = grpc.ClientDuplexStream<tfleet.ps.IExchangeRequest, tfleet.ps.ExchangeReply>;

/**
 * A worker's fused push-pulls on one long-lived `Exchange` stream (per job):
 * the same contract as `PsClient.pushPull`, without a call's set-up,
 * headers and trailers for every bucket of every step. A server error ends
 * the stream and fails every request waiting on it; a stream that breaks as
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

  constructor(address: string, private readonly jobId: string, private readonly workerId: string) {
    this.client = parameterServerClient(address);
  }

  /** Pushes step `step` and resolves with the keys' values at version step + 1. */
  pushPull(step: number, weight: number, tensors: TensorMap): Promise<{ version: number; tensors: TensorMap }> {
    if (this.closed) return Promise.reject(new TfleetError('ABORTED', 'parameter-server stream is closed'));
    const request: tfleet.ps.IExchangeRequest = {
      id: this.nextId++,
      push: { jobId: this.jobId, workerId: this.workerId, step, weight, tensors: mapToWire(tensors) },
    };
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
    call.on('data', (reply: tfleet.ps.ExchangeReply) => this.settle(reply));
    call.on('error', (err: grpc.ServiceError) => this.broken(call, fromServiceError(err, 'exchange')));
    call.on('end', () => this.broken(call, new TfleetError('UNAVAILABLE', 'exchange: the server ended the stream')));
    this.call = call;
    return call;
  }

  private settle(reply: tfleet.ps.ExchangeReply): void {
    const w = this.waiting.get(reply.id);
    if (!w) return;
    this.waiting.delete(reply.id);
    try {
      w.resolve({ version: reply.pull?.version ?? 0, tensors: float32Tensors(mapFromWire(reply.pull?.tensors), 'exchange reply') });
    } catch (err) {
      w.reject(err as Error);
    }
  }

  /** The stream `call` ended with `err`: retry what may be retried on a new stream, fail the rest. */
  private broken(call: ExchangeCall, err: TfleetError): void {
    if (this.call !== call) return; // an old stream's late events
    this.call = null;
    if (this.closed) return;
    const retry = err.code === 'UNAVAILABLE' ? [...this.waiting.values()].filter((w) => w.attempts < ATTEMPTS) : [];
    for (const [id, w] of this.waiting) {
      if (retry.includes(w)) continue;
      this.waiting.delete(id);
      w.reject(err);
    }
    if (retry.length === 0) return;
    const attempt = Math.max(...retry.map((w) => w.attempts));
    setTimeout(() => {
      if (this.closed) return;
      for (const w of retry) {
        if (this.waiting.get(w.request.id!) !== w) continue;
        w.attempts++;
        this.stream().write(w.request);
      }
    }, retryDelayMs(attempt));
  }

  private failAll(err: Error): void {
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }
}
