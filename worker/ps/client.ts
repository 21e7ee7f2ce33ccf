import * as grpc from '@grpc/grpc-js';
import { tfleet } from '../../proto/generated/tfleet';
import { AnyTensorMap, byteSize } from '../../shared/codec/host-tensor';
import { KeyShape, mapFromWire, mapToWire, rowIdsToWire, shapesToWire } from '../../shared/codec/wire';
import { TfleetError } from '../../shared/errors';
import { PullResult, PushPullOptions, TableShape } from '../../shared/ps/handle';
import { RowInit, UpdateRuleSpec, rowInitToWire, ruleToWire } from '../../shared/ps/rules';
import { callUnary, parameterServerClient } from '../../shared/rpc/clients';
import { ATTEMPTS, retryDelayMs } from './retry';

/** Observes traffic, for the worker's metrics. */
export interface PsTraffic {
  pushed?(bytes: number): void;
  pulled?(bytes: number): void;
}

/**
 * The worker's side of the parameter server, ps-lite style: Init, Push,
 * Pull, the fused PushPull and Release, all for one job and one worker.
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

  async init(tensors: AnyTensorMap, rule: UpdateRuleSpec): Promise<string[]> {
    const res = await this.call<tfleet.ps.InitResponse>('init', {
      jobId: this.jobId, workerId: this.workerId, tensors: mapToWire(tensors), rule: ruleToWire(rule),
    });
    return res.created;
  }

  /** Creates zero-valued keys; only their shapes travel. */
  async create(shapes: readonly KeyShape[], rule: UpdateRuleSpec): Promise<string[]> {
    const res = await this.call<tfleet.ps.InitResponse>('init', {
      jobId: this.jobId, workerId: this.workerId, tensors: shapesToWire(shapes), rule: ruleToWire(rule), zeros: true,
    });
    return res.created;
  }

  /** Creates row tables; only their shapes and initializer travel. */
  async createTables(tables: readonly TableShape[], rule: UpdateRuleSpec, init: RowInit): Promise<string[]> {
    const shapes = tables.map((t) => ({ key: t.key, dtype: 'float32' as const, shape: [t.rows, t.width] }));
    const res = await this.call<tfleet.ps.InitResponse>('init', {
      jobId: this.jobId, workerId: this.workerId, tensors: shapesToWire(shapes), rule: ruleToWire(rule), zeros: true, table: rowInitToWire(init),
    });
    return res.created;
  }

  async push(step: number, weight: number, tensors: AnyTensorMap): Promise<number> {
    this.traffic.pushed?.(byteSize(tensors));
    const res = await this.call<tfleet.ps.PushResponse>('push', this.pushRequest(step, weight, tensors));
    return res.version;
  }

  /** Waits until every key reaches `minVersion`, then returns their values (only rows `rowIds` when given). */
  async pull(keys: readonly string[], minVersion: number, rowIds?: Uint32Array): Promise<PullResult> {
    const res = await this.call<tfleet.ps.PullResponse>('pull', {
      jobId: this.jobId, workerId: this.workerId, keys: [...keys], minVersion, ...(rowIds ? { rows: true, rowIds: rowIdsToWire(rowIds) } : {}),
    });
    return this.decode(res);
  }

  /** Pushes step `step` and returns the keys' values at version step + 1: one round trip per step. */
  async pushPull(step: number, weight: number, tensors: AnyTensorMap, options: PushPullOptions = {}): Promise<PullResult> {
    this.traffic.pushed?.(byteSize(tensors));
    const res = await this.call<tfleet.ps.PullResponse>('pushPull', {
      push: this.pushRequest(step, weight, tensors), sparseReply: options.sparseReply ?? false,
      ...(options.pullRows ? { pullRows: true, pullRowIds: rowIdsToWire(options.pullRows) } : {}),
    });
    return this.decode(res);
  }

  /** This worker is done with the keys (dropped on the server once every member is). */
  async release(keys: readonly string[], drop = false): Promise<void> {
    await this.call<tfleet.ps.ReleaseResponse>('release', { jobId: this.jobId, workerId: this.workerId, keys: [...keys], drop });
  }

  close(): void {
    this.client.close();
  }

  private pushRequest(step: number, weight: number, tensors: AnyTensorMap): tfleet.ps.IPushRequest {
    return { jobId: this.jobId, workerId: this.workerId, step, weight, tensors: mapToWire(tensors) };
  }

  private decode(res: tfleet.ps.PullResponse): PullResult {
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
        await new Promise((r) => setTimeout(r, retryDelayMs(attempt)));
      }
    }
  }
}

