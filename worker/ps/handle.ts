import { AnyTensorMap } from '../../shared/codec/host-tensor';
import { KeyShape } from '../../shared/codec/wire';
import { PsHandle, PullResult, PushPullOptions, StepSink, TableShape } from '../../shared/ps/handle';
import { RowInit, UpdateRuleSpec } from '../../shared/ps/rules';
import { BucketPipeline } from './bucket-pipeline';
import { PsClient, PsTraffic } from './client';

/**
 * The worker's {@link PsHandle} for one task: unary calls for init, push,
 * pull and release, and a {@link BucketPipeline} (a background thread on
 * the Exchange stream) for bucketed steps, started on first use so that
 * programs that never take one (trees) start no thread.
 */
export class WorkerPsHandle implements PsHandle {
  private readonly client: PsClient;
  private pipeline: BucketPipeline | null = null;

  /** `tensorAddress`: the parameter server's tensor port, for bucketed steps; empty: its gRPC Exchange streams. */
  constructor(
    private readonly address: string,
    private readonly jobId: string,
    private readonly workerId: string,
    private readonly traffic: PsTraffic = {},
    private readonly tensorAddress = '',
  ) {
    this.client = new PsClient(address, jobId, workerId, traffic);
  }

  async init(tensors: AnyTensorMap, rule: UpdateRuleSpec): Promise<void> {
    await this.client.init(tensors, rule);
  }

  async create(shapes: readonly KeyShape[], rule: UpdateRuleSpec): Promise<void> {
    await this.client.create(shapes, rule);
  }

  async createTables(tables: readonly TableShape[], rule: UpdateRuleSpec, init: RowInit): Promise<void> {
    await this.client.createTables(tables, rule, init);
  }

  push(step: number, weight: number, tensors: AnyTensorMap): Promise<number> {
    return this.client.push(step, weight, tensors);
  }

  pull(keys: readonly string[], minVersion: number): Promise<PullResult> {
    return this.client.pull(keys, minVersion);
  }

  pullRows(keys: readonly string[], rowIds: Uint32Array, minVersion: number): Promise<PullResult> {
    return this.client.pull(keys, minVersion, rowIds);
  }

  pushPull(step: number, weight: number, tensors: AnyTensorMap, options?: PushPullOptions): Promise<PullResult> {
    return this.client.pushPull(step, weight, tensors, options);
  }

  release(keys: readonly string[], options: { drop?: boolean } = {}): Promise<void> {
    return this.client.release(keys, options.drop ?? false);
  }

  beginStep(step: number, weight: number): StepSink {
    this.pipeline ??= new BucketPipeline(this.address, this.jobId, this.workerId, this.traffic, this.tensorAddress);
    return this.pipeline.begin(step, weight);
  }

  async close(): Promise<void> {
    this.client.close();
    await this.pipeline?.close();
  }
}
