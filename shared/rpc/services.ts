import * as grpc from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import { Http2Session } from 'node:http2';
import { tfleet } from '../../proto/generated/tfleet';
import { encodeExchangeReply, encodeExchangeRequest, encodePullResponse, encodePushPullRequest, encodePushRequest } from '../codec/ps-frames';

/** A protobufjs-generated message class. */
interface MessageClass<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(reader: Uint8Array): T;
}

/** Wraps encoded bytes in a Buffer without copying them. */
function asBuffer(u8: Uint8Array): Buffer {
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

/** Encoders that replace protobufjs's for a method's request or response (same wire format). */
interface Encoders<Req, Res> {
  request?: (m: Req) => Buffer;
  response?: (m: Res) => Buffer;
}

function method<Req, Res>(
  path: string,
  req: MessageClass<Req>,
  res: MessageClass<Res>,
  responseStream = false,
  requestStream = false,
  encoders: Encoders<Req, Res> = {},
): grpc.MethodDefinition<Req, Res> {
  return {
    path,
    requestStream,
    responseStream,
    requestSerialize: encoders.request ?? ((m: Req) => asBuffer(req.encode(m).finish())),
    requestDeserialize: (b: Buffer) => req.decode(b),
    responseSerialize: encoders.response ?? ((m: Res) => asBuffer(res.encode(m).finish())),
    responseDeserialize: (b: Buffer) => res.decode(b),
  };
}

const ps = tfleet.ps;
const co = tfleet.coordinator;

/**
 * The parameter server's gRPC service, typed by the generated messages.
 * Messages that carry tensors are encoded by `shared/codec/ps-frames.ts`
 * (values aligned for the receiver, pull replies shared between workers).
 */
export const parameterServerService = {
  init: method('/tfleet.ps.ParameterServer/Init', ps.InitRequest, ps.InitResponse),
  push: method('/tfleet.ps.ParameterServer/Push', ps.PushRequest, ps.PushResponse, false, false, { request: encodePushRequest }),
  pull: method('/tfleet.ps.ParameterServer/Pull', ps.PullRequest, ps.PullResponse, false, false, { response: encodePullResponse }),
  pushPull: method('/tfleet.ps.ParameterServer/PushPull', ps.PushPullRequest, ps.PullResponse, false, false, { request: encodePushPullRequest, response: encodePullResponse }),
  exchange: method('/tfleet.ps.ParameterServer/Exchange', ps.ExchangeRequest, ps.ExchangeReply, true, true, { request: encodeExchangeRequest, response: encodeExchangeReply }),
  release: method('/tfleet.ps.ParameterServer/Release', ps.ReleaseRequest, ps.ReleaseResponse),
} satisfies grpc.ServiceDefinition;

/** The coordinator's gRPC service. */
export const coordinatorService = {
  submit: method('/tfleet.coordinator.Coordinator/Submit', co.SubmitRequest, co.JobRecord),
  getJob: method('/tfleet.coordinator.Coordinator/GetJob', co.JobRef, co.JobRecord),
  listJobs: method('/tfleet.coordinator.Coordinator/ListJobs', co.ListRequest, co.ListResponse),
  cancelJob: method('/tfleet.coordinator.Coordinator/CancelJob', co.JobRef, co.JobRecord),
  watchJob: method('/tfleet.coordinator.Coordinator/WatchJob', co.JobRef, co.JobRecord, true),
  upload: method('/tfleet.coordinator.Coordinator/Upload', co.UploadChunk, co.UploadReply, false, true),
  registerWorker: method('/tfleet.coordinator.Coordinator/RegisterWorker', co.RegisterRequest, co.RegisterResponse),
  heartbeat: method('/tfleet.coordinator.Coordinator/Heartbeat', co.WorkerRef, co.HeartbeatResponse),
  tasks: method('/tfleet.coordinator.Coordinator/Tasks', co.WorkerRef, co.TaskMessage, true),
  reportProgress: method('/tfleet.coordinator.Coordinator/ReportProgress', co.ProgressReport, co.ProgressReply),
  saveCheckpoint: method('/tfleet.coordinator.Coordinator/SaveCheckpoint', co.CheckpointPart, co.Ack),
  completeTask: method('/tfleet.coordinator.Coordinator/CompleteTask', co.TaskResult, co.Ack),
  fetchShard: method('/tfleet.coordinator.Coordinator/FetchShard', co.ShardRequest, co.ShardChunk, true),
} satisfies grpc.ServiceDefinition;

/** Default largest message in bytes either side accepts: a 16M-float model fits. */
export const DEFAULT_MAX_MESSAGE_BYTES = 80 * 1024 * 1024;

/**
 * HTTP/2 receive window of every connection and stream: the server's, and
 * the clients' except a parameter-server connection's (see
 * `parameterServerClient`: a wide window both ways can deadlock it).
 */
export const FLOW_CONTROL_WINDOW_BYTES = 32 * 1024 * 1024;

/** A connection silent this long gets a keepalive ping; no answer within the timeout drops it. */
export const KEEPALIVE_TIME_MS = 10_000;
export const KEEPALIVE_TIMEOUT_MS = 5_000;

/** Channel options shared by every client and server. */
export function channelOptions(maxMessageBytes: number): grpc.ChannelOptions {
  return {
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
    'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
    'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
    'grpc.keepalive_permit_without_calls': 1,
    // Large tensors: a 64 KiB HTTP/2 window costs a round trip per 64 KiB received.
    'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW_BYTES,
  };
}

/**
 * Gives a bound server's HTTP/2 sessions a receive window of `bytes`, as
 * 'grpc-node.flow_control_window' does for clients (grpc-js servers have no
 * such option). Without it every 900 KB push waits for about 14 window
 * updates of 64 KiB. Reaches into grpc-js's private `http2Servers`; where
 * a grpc-js version lacks it, the server keeps the default window.
 */
export function widenServerWindows(server: grpc.Server, bytes: number): void {
  const http2Servers = (server as unknown as { http2Servers?: Map<EventEmitter, unknown> }).http2Servers;
  for (const http2Server of http2Servers?.keys() ?? []) {
    http2Server.on('session', (session: Http2Session) => {
      session.settings({ initialWindowSize: bytes });
      session.setLocalWindowSize(bytes);
    });
  }
}

export const ParameterServerClient = grpc.makeGenericClientConstructor(parameterServerService, 'ParameterServer');
export const CoordinatorClient = grpc.makeGenericClientConstructor(coordinatorService, 'Coordinator');
