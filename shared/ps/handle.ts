import { AnyTensorMap, HostTensor, TensorMap } from '../codec/host-tensor';
import { KeyShape } from '../codec/wire';
import { RowInit, UpdateRuleSpec } from './rules';

/** Values read from the parameter server, at the lowest version among the keys. */
export interface PullResult {
  version: number;
  tensors: AnyTensorMap;
}

export interface PushPullOptions {
  /**
   * Reply with only the rows (first dimension) holding a nonzero value, as
   * row tensors (`rowIds` set): for sparse statistics.
   * @default false
   */
  sparseReply?: boolean;
  /**
   * Reply with only these rows of the pushed keys (the rows the next step
   * needs), as row tensors.
   */
  pullRows?: Uint32Array;
}

/** A row table to create: `rows` rows of `width` float32 values. */
export interface TableShape {
  key: string;
  rows: number;
  width: number;
}

/**
 * One step's statistic on its way out, in buckets that leave while the
 * rest is still being computed (the networks' overlapped exchange).
 */
export interface StepSink {
  /** `t` is read, never written: the sink copies what it keeps past the call. */
  add(key: string, t: HostTensor): void;
  /** Sends what is left; resolves with every added key's value at the next version. */
  finish(): Promise<{ version: number; tensors: TensorMap }>;
}

/**
 * A training program's handle on the parameter server for one job and one
 * rank, ps-lite style: the program owns its loop and calls these.
 * Bulk-synchronous: a key's step t is applied once every rank pushed step t,
 * and a pull for version t + 1 waits for it.
 *
 * @example
 * await ps.init(new Map([['hist/0', hostTensor64([n])]]), { name: 'sum' });
 * const { tensors } = await ps.pushPull(0, rows, new Map([['hist/0', mine]]));
 * await ps.release(['hist/0']);           // dropped once every rank released it
 *
 * await ps.createTables([{ key: 'items', rows: 1682, width: 101 }], { name: 'sgd', learningRate: 0.005 }, { kind: 'zeros' });
 * let { tensors } = await ps.pullRows(['items'], Uint32Array.of(4, 17), 0); // two rows travel
 * ({ tensors } = await ps.pushPull(0, n, grads, { pullRows: nextRows }));    // rows of step 1
 */
export interface PsHandle {
  /** Creates keys with a rule; keys that exist keep their value (the first rank's init wins). */
  init(tensors: AnyTensorMap, rule: UpdateRuleSpec): Promise<void>;
  /** Creates zero-valued keys with a rule; only the shapes travel. Existing keys are kept. */
  create(shapes: readonly KeyShape[], rule: UpdateRuleSpec): Promise<void>;
  /**
   * Creates row tables (rows created on first touch with `init`); a push
   * names its rows, and the rule applies per row to the sum of the step's
   * pushes of it. Existing tables are kept.
   */
  createTables(tables: readonly TableShape[], rule: UpdateRuleSpec, init: RowInit): Promise<void>;
  /** Pushes this rank's statistic for `step`; `weight` is its sample count (the mean divides by the total). */
  push(step: number, weight: number, tensors: AnyTensorMap): Promise<number>;
  /** Waits until every key has at least `minVersion`, then returns their values. */
  pull(keys: readonly string[], minVersion: number): Promise<PullResult>;
  /** {@link pull} of just the rows `rowIds` of every key, as row tensors in that order. */
  pullRows(keys: readonly string[], rowIds: Uint32Array, minVersion: number): Promise<PullResult>;
  /**
   * Push of step `step` fused with the pull of the same keys at step + 1:
   * one round trip. A tensor with `rowIds` pushes just those rows of a table.
   */
  pushPull(step: number, weight: number, tensors: AnyTensorMap, options?: PushPullOptions): Promise<PullResult>;
  /**
   * This rank is done with the keys; the server drops each once every rank
   * released it, or at once with `drop` (this rank was the only reader).
   */
  release(keys: readonly string[], options?: { drop?: boolean }): Promise<void>;
  /** Starts an overlapped, bucketed step of `weight` samples (float32 statistics). */
  beginStep(step: number, weight: number): StepSink;
}
