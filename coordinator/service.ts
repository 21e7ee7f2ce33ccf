import * as grpc from '@grpc/grpc-js';
import { tfleet } from '../proto/generated/tfleet';
import { ArgumentError, TfleetError, errorMessage } from '../shared/errors';
import { coordinatorService } from '../shared/rpc/services';
import { toServiceError } from '../shared/rpc/status';
import { Coordinator } from './coordinator';
import { Upload, UploadStore } from './data/uploads';
import { isTerminal, toProtoRecord } from './jobs/job-record';

type Co = typeof tfleet.coordinator;

function required(value: string | null | undefined, field: string): string {
  if (!value) throw new ArgumentError(`'${field}' is required`);
  return value;
}

/** gRPC handlers of the coordinator service; each calls back exactly once. */
export function coordinatorHandlers(co: Coordinator, uploads: UploadStore): grpc.UntypedServiceImplementation {
  const unary = <Req, Res>(work: (req: Req) => Res | Promise<Res>): grpc.handleUnaryCall<Req, Res> =>
    (call, cb) => {
      Promise.resolve()
        .then(() => work(call.request))
        .then((res) => cb(null, res), (err) => cb(toServiceError(err)));
    };

  const watchJob: grpc.handleServerStreamingCall<InstanceType<Co['JobRef']>, tfleet.coordinator.IJobRecord> = (call) => {
    let unsubscribe = (): void => undefined;
    try {
      unsubscribe = co.watch(required(call.request.id, 'id'), (record) => {
        call.write(toProtoRecord(record));
        if (isTerminal(record.state)) {
          unsubscribe();
          call.end();
        }
      });
    } catch (err) {
      call.emit('error', toServiceError(err));
      return;
    }
    call.on('cancelled', () => unsubscribe());
  };

  const tasks: grpc.handleServerStreamingCall<InstanceType<Co['WorkerRef']>, tfleet.coordinator.ITaskMessage> = (call) => {
    const workerId = call.request.workerId ?? '';
    let open = true;
    const sink = {
      send: (m: tfleet.coordinator.ITaskMessage) => { if (open) call.write(m); },
      end: () => { if (open) { open = false; call.end(); } },
    };
    try {
      co.attachTasks(required(workerId, 'worker_id'), sink);
    } catch (err) {
      open = false;
      call.emit('error', toServiceError(err));
      return;
    }
    const closed = (): void => {
      if (!open) return;
      open = false;
      co.detachTasks(workerId, sink);
    };
    call.on('cancelled', closed);
    call.on('close', closed);
    call.on('error', closed);
  };

  const fetchShard: grpc.handleServerStreamingCall<InstanceType<Co['ShardRequest']>, tfleet.coordinator.IShardChunk> = (call) => {
    co.shard(call.request).then(async (chunks) => {
      for (const chunk of chunks) {
        if (call.cancelled) return;
        // Respect backpressure: a shard can be far larger than the socket's buffers.
        if (!call.write(chunk)) await new Promise((resolve) => call.once('drain', resolve));
      }
      call.end();
    }).catch((err) => call.emit('error', toServiceError(err)));
  };

  // One file per call: the first piece names it, the pieces are written in
  // order (the stream paused meanwhile), and the reply comes once it is
  // checked and in place.
  const upload: grpc.handleClientStreamingCall<InstanceType<Co['UploadChunk']>, tfleet.coordinator.IUploadReply> = (call, cb) => {
    let settled = false;
    let file: Upload | null = null;
    let work: Promise<void> = Promise.resolve();
    // The temporary file is gone before the refusal goes out.
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      (file ? file.abort() : Promise.resolve()).then(
        () => cb(toServiceError(err)),
        (removal: unknown) => cb(toServiceError(new TfleetError('INTERNAL', `${errorMessage(err)}; its temporary file could not be removed: ${errorMessage(removal)}`, { cause: err }))),
      );
    };
    call.on('data', (chunk: InstanceType<Co['UploadChunk']>) => {
      call.pause();
      work = work.then(async () => {
        if (settled) return;
        file ??= await uploads.begin({ name: chunk.name ?? '', sizeBytes: chunk.size ?? 0, sha256: chunk.sha256 ?? '' });
        if (chunk.data && chunk.data.byteLength > 0) await file.write(chunk.data);
        call.resume();
      }).catch(fail);
    });
    call.on('end', () => {
      work = work.then(async () => {
        if (settled) return;
        if (!file) throw new ArgumentError('upload: the stream ended before its first piece');
        const stored = await file.finish();
        settled = true;
        cb(null, { path: stored.path, stored: stored.stored, size: stored.sizeBytes, sha256: stored.sha256 });
      }).catch(fail);
    });
    // A client that goes away leaves no temporary file behind.
    call.on('cancelled', () => { work = work.then(() => fail(new ArgumentError('upload: cancelled by the client'))); });
  };

  return {
    submit: unary(async (req: InstanceType<Co['SubmitRequest']>) => toProtoRecord(await co.submit(required(req.specJson, 'spec_json')))),
    getJob: unary((req: InstanceType<Co['JobRef']>) => toProtoRecord(co.get(required(req.id, 'id')))),
    listJobs: unary(() => ({ jobs: co.list().map(toProtoRecord) })),
    cancelJob: unary(async (req: InstanceType<Co['JobRef']>) => toProtoRecord(await co.cancel(required(req.id, 'id')))),
    watchJob,
    upload,
    registerWorker: unary((req: InstanceType<Co['RegisterRequest']>) => {
      const w = co.registerWorker(required(req.name, 'name'), req.backend ?? '', req.metricsUrl ?? '');
      return { workerId: w.id, leaseMs: co.heartbeat(w.id) };
    }),
    heartbeat: unary((req: InstanceType<Co['WorkerRef']>) => ({ leaseMs: co.heartbeat(required(req.workerId, 'worker_id')) })),
    tasks,
    reportProgress: unary(async (req: InstanceType<Co['ProgressReport']>) => ({ checkpoint: await co.reportProgress(req) })),
    saveCheckpoint: unary(async (req: InstanceType<Co['CheckpointPart']>) => { await co.saveCheckpoint(req); return {}; }),
    completeTask: unary(async (req: InstanceType<Co['TaskResult']>) => { await co.completeTask(req); return {}; }),
    fetchShard,
  } as grpc.UntypedServiceImplementation;
}

export { coordinatorService };
