import * as grpc from '@grpc/grpc-js';
import { tfleet } from '../proto/generated/tfleet';
import { TensorMap, byteSize } from '../shared/codec/host-tensor';
import { mapFromWire, mapToWire } from '../shared/codec/wire';
import { TfleetError } from '../shared/errors';
import { UpdateRuleSpec } from '../shared/families/types';
import { callUnary, parameterServerClient } from '../shared/rpc/clients';

/** Observes traffic, for the worker's metrics. */
export interface PsTraffic {
  pushed?(bytes: number): void;
  pulled?(bytes: number): void;
}

/** Attempts of a call (or a stream's request) that failed as UNAVAILABLE; safe because pushes are idempotent per (worker, step). */
export const ATTEMPTS = 3;

/**
 * The worker's side of the parameter server, ps-lite style: Init, Push,
 * Pull and the fused PushPull, all for one job and one worker.
 *
 * @example
 * const ps = new PsClient('127.0.0.1:7070', jobId, workerId);
 * await ps.init(params, { name: 'adam', ... });
 * let { tensors } = await ps.pull([...params.keys()], 0);
 * ({ tensors } = await ps.pushPull(0, batchRows, grads)); // version 1
 */
export class PsClient {
  private readonly client: grpc.Client;

  constructor(address: string, private readonly jobId: string, private readonly workerId: string, private readonly traffic: PsTraffic = {}) {
    this.client = parameterServerClient(address);
  }

  async init(tensors: TensorMap, rule: UpdateRuleSpec): Promise<string[]> {
    const res = await this.call<tfleet.ps.InitResponse>('init', {
      jobId: this.jobId, workerId: this.workerId, tensors: mapToWire(tensors), rule: ruleToWire(rule),
    });
    return res.created;
  }

  async push(step: number, weight: number, tensors: TensorMap): Promise<number> {
    this.traffic.pushed?.(byteSize(tensors));
    const res = await this.call<tfleet.ps.PushResponse>('push', this.pushRequest(step, weight, tensors));
    return res.version;
  }

  /** Waits until every key reaches `minVersion`, then returns their values. */
  async pull(keys: string[], minVersion: number): Promise<{ version: number; tensors: TensorMap }> {
    const res = await this.call<tfleet.ps.PullResponse>('pull', { jobId: this.jobId, workerId: this.workerId, keys, minVersion });
    return this.decode(res);
  }

  /** Pushes step `step` and returns the keys' values at version step + 1: one round trip per step. */
  async pushPull(step: number, weight: number, tensors: TensorMap): Promise<{ version: number; tensors: TensorMap }> {
    this.traffic.pushed?.(byteSize(tensors));
    const res = await this.call<tfleet.ps.PullResponse>('pushPull', { push: this.pushRequest(step, weight, tensors) });
    return this.decode(res);
  }

  close(): void {
    this.client.close();
  }

  private pushRequest(step: number, weight: number, tensors: TensorMap): tfleet.ps.IPushRequest {
    return { jobId: this.jobId, workerId: this.workerId, step, weight, tensors: mapToWire(tensors) };
  }

  private decode(res: tfleet.ps.PullResponse): { version: number; tensors: TensorMap } {
    const tensors = mapFromWire(res.tensors);
    this.traffic.pulled?.(byteSize(tensors));
    return { version: res.version, tensors };
  }

  private async call<Res>(method: string, req: object): Promise<Res> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await callUnary<object, Res>(this.client, method, req);
      } catch (err) {
        if (!(err instanceof TfleetError) || err.code !== 'UNAVAILABLE' || attempt >= ATTEMPTS) throw err;
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  }
}

function ruleToWire(rule: UpdateRuleSpec): tfleet.ps.IUpdateRule {
  if (rule.name === 'sum' || rule.name === 'average') return { name: rule.name };
  return { name: rule.name, learningRate: rule.learningRate, momentum: rule.momentum, beta1: rule.beta1, beta2: rule.beta2, epsilon: rule.epsilon };
}
