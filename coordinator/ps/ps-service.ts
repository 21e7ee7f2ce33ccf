import * as grpc from '@grpc/grpc-js';
import { Counter, Histogram, Registry } from 'prom-client';
import { tfleet } from '../../proto/generated/tfleet';
import { AnyTensorMap, byteSize, nonzeroRows } from '../../shared/codec/host-tensor';
import { mapFromWire, mapToWire, rowIdsFromWire, shapesFromWire, zerosFromWire } from '../../shared/codec/wire';
import { ArgumentError } from '../../shared/errors';
import { rowInitFromWire, ruleFromWire } from '../../shared/ps/rules';
import { parameterServerService } from '../../shared/rpc/services';
import { toServiceError } from '../../shared/rpc/status';
import { ParameterStore, PullResult } from './parameter-store';

type Unary<Req, Res> = grpc.handleUnaryCall<Req, Res>;

/** Parameter-server metrics; labels are bounded (job only, never a key). */
export class PsMetrics {
  readonly pushBytes: Counter<'job_id'>;
  readonly pullBytes: Counter<'job_id'>;
  readonly updateSeconds: Histogram<'job_id'>;

  constructor(registry: Registry) {
    this.pushBytes = new Counter({ name: 'tfleet_ps_push_bytes_total', help: 'Tensor bytes received in pushes.', labelNames: ['job_id'], registers: [registry] });
    this.pullBytes = new Counter({ name: 'tfleet_ps_pull_bytes_total', help: 'Tensor bytes sent in pulls.', labelNames: ['job_id'], registers: [registry] });
    this.updateSeconds = new Histogram({
      name: 'tfleet_ps_update_duration_seconds', help: 'Time to reduce one key and apply its update rule.',
      labelNames: ['job_id'], buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5], registers: [registry],
    });
  }

  /** Drops a finished job's series. */
  forget(job: string): void {
    this.pushBytes.remove({ job_id: job });
    this.pullBytes.remove({ job_id: job });
    this.updateSeconds.remove({ job_id: job });
  }
}

/** The job a parameter table belongs to (`<job>@<attempt>`): metrics are labelled by job, not attempt. */
export function jobOfTable(table: string): string {
  const at = table.lastIndexOf('@');
  return at > 0 ? table.slice(0, at) : table;
}

function requireId(value: string | null | undefined, field: string): string {
  if (!value) throw new ArgumentError(`'${field}' is required`);
  return value;
}

/** The parameter server over a {@link ParameterStore}: its gRPC handlers, and the exchange step the tensor port serves. */
export interface ParameterServer {
  handlers: grpc.UntypedServiceImplementation;
  /** One exchange request: a pull, a push answered with its version alone, or a fused push-pull. */
  exchangeStep(req: tfleet.ps.ExchangeRequest): Promise<tfleet.ps.IPullResponse>;
}

/**
 * The parameter server's handlers over a {@link ParameterStore}. Every gRPC
 * handler calls back exactly once, errors mapped in one place; gRPC's
 * `Exchange` and the tensor port share one {@link ParameterServer.exchangeStep},
 * so the workers of a step get one reply object whichever way they came.
 */
export function parameterServer(store: ParameterStore, metrics: PsMetrics): ParameterServer {
  const respond = <Res>(cb: grpc.sendUnaryData<Res>, work: () => Res | Promise<Res>): void => {
    Promise.resolve()
      .then(work)
      .then((res) => cb(null, res), (err) => cb(toServiceError(err)));
  };
  /**
   * Dense replies made in this turn of the event loop, by table, version
   * and keys. The workers of a bulk-synchronous step all wait for the same
   * version and are answered in the same turn: they get one reply object,
   * which the service's encoder encodes once (shared/codec/ps-frames.ts).
   */
  const sharedReplies = new Map<string, tfleet.ps.IPullResponse>();
  const sharedReply = (jobId: string, r: PullResult): tfleet.ps.IPullResponse => {
    const id = `${jobId}\0${r.version}\0${[...r.tensors.keys()].join('\0')}`;
    let reply = sharedReplies.get(id);
    if (!reply) {
      if (sharedReplies.size === 0) setImmediate(() => sharedReplies.clear());
      reply = { version: r.version, tensors: mapToWire(r.tensors) };
      sharedReplies.set(id, reply);
    }
    return reply;
  };
  /** A pull's reply; `sparse`: each tensor as its rows that hold a nonzero value; `rows`: rows were selected. */
  const pullResponse = (jobId: string, r: PullResult, sparse = false, rows = false): tfleet.ps.IPullResponse => {
    const tensors: AnyTensorMap = sparse ? new Map([...r.tensors].map(([k, t]) => [k, nonzeroRows(t)])) : r.tensors;
    metrics.pullBytes.inc({ job_id: jobOfTable(jobId) }, byteSize(tensors));
    return sparse || rows ? { version: r.version, tensors: mapToWire(tensors) } : sharedReply(jobId, r);
  };
  const doPush = (req: tfleet.ps.IPushRequest): { jobId: string; keys: string[]; version: number } => {
    const jobId = requireId(req.jobId, 'job_id');
    const tensors = mapFromWire(req.tensors);
    if (tensors.size === 0) throw new ArgumentError('push needs at least one tensor');
    metrics.pushBytes.inc({ job_id: jobOfTable(jobId) }, byteSize(tensors));
    const version = store.push(jobId, requireId(req.workerId, 'worker_id'), req.step ?? 0, req.weight ?? 0, tensors);
    return { jobId, keys: [...tensors.keys()], version };
  };
  /**
   * The fused push of step t and pull of the pushed keys at t + 1, for
   * `PushPull` and `Exchange` alike; `rows`: only those rows are pulled.
   */
  const pushThenPull = async (push: tfleet.ps.IPushRequest | null | undefined, sparse = false, rows?: Uint32Array): Promise<tfleet.ps.IPullResponse> => {
    if (!push) throw new ArgumentError("'push' is required");
    const { jobId, keys } = doPush(push);
    return pullResponse(jobId, await store.pull(jobId, keys, (push.step ?? 0) + 1, rows), sparse, rows !== undefined);
  };
  /** A request's row selection (possibly no rows), when it makes one. */
  const selectedRows = (selects: boolean | null | undefined, bytes: Uint8Array | null | undefined): Uint32Array | undefined =>
    selects ? rowIdsFromWire(bytes ?? new Uint8Array(0), 'pull') : undefined;

  const init: Unary<tfleet.ps.InitRequest, tfleet.ps.IInitResponse> = (call, cb) =>
    respond(cb, () => {
      const jobId = requireId(call.request.jobId, 'job_id');
      const workerId = requireId(call.request.workerId, 'worker_id');
      if (call.request.table) {
        return { created: store.initTables(jobId, shapesFromWire(call.request.tensors), ruleFromWire(call.request.rule), rowInitFromWire(call.request.table), workerId) };
      }
      const tensors = call.request.zeros ? zerosFromWire(call.request.tensors) : mapFromWire(call.request.tensors);
      return { created: store.init(jobId, tensors, ruleFromWire(call.request.rule), workerId) };
    });

  const push: Unary<tfleet.ps.PushRequest, tfleet.ps.IPushResponse> = (call, cb) =>
    respond(cb, () => ({ version: doPush(call.request).version }));

  const doPull = async (req: tfleet.ps.IPullRequest): Promise<tfleet.ps.IPullResponse> => {
    const jobId = requireId(req.jobId, 'job_id');
    // Only the job's members read its parameters.
    store.requireMember(jobId, requireId(req.workerId, 'worker_id'));
    const rows = selectedRows(req.rows, req.rowIds);
    return pullResponse(jobId, await store.pull(jobId, req.keys ?? [], req.minVersion ?? 0, rows), req.sparse ?? false, rows !== undefined);
  };

  const pull: Unary<tfleet.ps.PullRequest, tfleet.ps.IPullResponse> = (call, cb) => respond(cb, () => doPull(call.request));

  /** One request of an exchange stream: a pull, a push answered with its version alone, or a fused push-pull. */
  const exchangeStep = async (req: tfleet.ps.ExchangeRequest): Promise<tfleet.ps.IPullResponse> => {
    if (req.pull && req.push) throw new ArgumentError("an exchange request is a 'push' or a 'pull', not both");
    if (req.pull) return doPull(req.pull);
    if (req.pushOnly) {
      if (!req.push) throw new ArgumentError("'push' is required");
      return { version: doPush(req.push).version };
    }
    return pushThenPull(req.push);
  };

  const pushPull: Unary<tfleet.ps.PushPullRequest, tfleet.ps.IPullResponse> = (call, cb) =>
    respond(cb, () => pushThenPull(call.request.push, call.request.sparseReply ?? false, selectedRows(call.request.pullRows, call.request.pullRowIds)));

  const release: Unary<tfleet.ps.ReleaseRequest, tfleet.ps.IReleaseResponse> = (call, cb) =>
    respond(cb, () => {
      store.release(requireId(call.request.jobId, 'job_id'), requireId(call.request.workerId, 'worker_id'), call.request.keys ?? [], call.request.drop ?? false);
      return {};
    });

  const exchange: grpc.handleBidiStreamingCall<tfleet.ps.ExchangeRequest, tfleet.ps.IExchangeReply> = (call) => {
    let outstanding = 0;
    let clientDone = false;
    let closed = false;
    const endIfDrained = () => {
      if (clientDone && outstanding === 0 && !closed) {
        closed = true;
        call.end();
      }
    };
    call.on('data', (req: tfleet.ps.ExchangeRequest) => {
      if (closed) return;
      outstanding++;
      Promise.resolve()
        .then(() => exchangeStep(req))
        .then(
          (pull) => {
            outstanding--;
            if (!closed && !call.cancelled) call.write({ id: req.id, pull });
            endIfDrained();
          },
          (err) => {
            outstanding--;
            if (closed) return;
            // The worker's step cannot go on without this request: end the stream with its status.
            closed = true;
            call.emit('error', toServiceError(err));
          },
        );
    });
    call.on('end', () => {
      clientDone = true;
      endIfDrained();
    });
    // A stream that breaks (the worker died, the connection dropped) ends here; pulls still waiting
    // settle into the void, as those of a dropped unary call do.
    call.on('error', () => {
      closed = true;
    });
  };

  return { handlers: { init, push, pull, pushPull, exchange, release } as grpc.UntypedServiceImplementation, exchangeStep };
}

export { parameterServerService };
